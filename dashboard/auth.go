package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Sign-in: with a server password, a browser signs in once with it
// (POST /api/login) and gets a session cookie; every state-changing request
// of a cookie's session must also carry the session's CSRF token in the
// X-CSRF-Token header. Scripts may send the password as
// "Authorization: Bearer <password>" instead (no cookie, no token).

const (
	sessionCookie = "epoch_session"
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 12 * time.Hour
	maxSessions   = 1024
)

type session struct {
	csrf    string
	expires time.Time
}

// sessions are the signed-in browsers, in memory: a restart signs every
// browser out.
type sessions struct {
	mu sync.Mutex // guards m
	m  map[string]*session
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// create starts a session and returns its cookie token and CSRF token.
func (s *sessions) create(now time.Time) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*session{}
	}
	for tok, se := range s.m {
		if now.After(se.expires) {
			delete(s.m, tok)
		}
	}
	if len(s.m) >= maxSessions { // drop the one closest to expiring
		var oldest string
		for tok, se := range s.m {
			if oldest == "" || se.expires.Before(s.m[oldest].expires) {
				oldest = tok
			}
		}
		delete(s.m, oldest)
	}
	tok, csrf := randomToken(), randomToken()
	s.m[tok] = &session{csrf: csrf, expires: now.Add(sessionTTL)}
	return tok, csrf
}

// lookup returns the session of r's cookie, if it is valid.
func (s *sessions) lookup(r *http.Request, now time.Time) (tok string, se session, ok bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.m[c.Value]
	if p == nil || now.After(p.expires) {
		return "", session{}, false
	}
	return c.Value, *p, true
}

func (s *sessions) remove(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, tok)
}

// access is how a request is authorized.
type access int

const (
	accessNone    access = iota // not signed in (or no password to sign in with)
	accessOpen                  // the server has no password: read-only
	accessSession               // a signed-in browser: actions need the CSRF token
	accessBearer                // the password as a bearer token or basic auth
)

// authorize says how r is authorized, and for a session its CSRF token.
func (h *Handler) authorize(r *http.Request) (access, string) {
	if !h.hasPassword() {
		return accessOpen, ""
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && h.cfg.CheckPassword(tok) {
		return accessBearer, ""
	}
	if _, pass, ok := r.BasicAuth(); ok && h.cfg.CheckPassword(pass) {
		return accessBearer, ""
	}
	if _, se, ok := h.sessions.lookup(r, time.Now()); ok {
		return accessSession, se.csrf
	}
	return accessNone, ""
}

func (h *Handler) hasPassword() bool { return !h.cfg.CheckPassword("") }

// sameOrigin refuses a browser request made by another site: its Origin
// (or, without one, Sec-Fetch-Site) must be this host's.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// csrfOK checks the CSRF token of a session's state-changing request.
func csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	return want != "" && sameOrigin(r) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// loginLimiter delays failed sign-ins per client address: 10 ms doubling
// with each failure up to 2 s, forgotten after a minute without failure, so
// that guessing the password over HTTP is as slow as over AUTH.
type loginLimiter struct {
	mu   sync.Mutex // guards m
	m    map[string]*loginFailures
	wait func(time.Duration) // time.Sleep; tests may record
}

type loginFailures struct {
	n    int
	last time.Time
}

func clientHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// failed records a failure of host and returns the delay to serve.
func (l *loginLimiter) failed(host string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*loginFailures{}
	}
	for h, f := range l.m {
		if now.Sub(f.last) > time.Minute {
			delete(l.m, h)
		}
	}
	f := l.m[host]
	if f == nil {
		f = &loginFailures{}
		l.m[host] = f
	}
	f.n++
	f.last = now
	d := 10 * time.Millisecond << min(f.n-1, 8)
	return min(d, 2*time.Second)
}
