// Package dashboard is the web side of epoch serve: a live dashboard page,
// embedded in the binary, and the small JSON API behind it (documented in
// docs/DASHBOARD.md). Its figures come from the server itself, through a
// Redis-protocol connection (INFO, EPOCH.INSPECT, CONFIG GET; see
// internal/live), and its retirement tail from the store's lifecycle
// events; its actions are server commands (EPOCH.BACKUP, EPOCH.PRUNE, DEL,
// CONFIG SET), so they follow the server's rules.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/inspect"
	"github.com/epochdb/epochdb/internal/live"
	"github.com/redis/go-redis/v9"
)

//go:embed static
var static embed.FS

// Config is what a Handler needs from the server it shows.
type Config struct {
	// DB is the store, for its lifecycle events (the retirement tail).
	DB *epochdb.DB
	// Client returns a client of the server for logical database db
	// (0-15), connected and authenticated. The handler calls it for each
	// request and does not close what it returns.
	Client func(db int) *redis.Client
	// CheckPassword reports whether p is the server's current password;
	// CheckPassword("") reports true when the server has none (then the
	// dashboard is read-only and needs no sign-in).
	CheckPassword func(p string) bool
	// SignedIn, if not nil, is called with the password of each
	// successful sign-in (the server's client may need the current one).
	SignedIn func(password string)
	// Logger receives the dashboard's log lines; nil discards them.
	Logger *slog.Logger
}

// Limits of the API.
const (
	historyLen      = 300 // seconds of figures kept for a new page
	retiredLen      = 100 // retirements kept for a new page
	maxStreams      = 16  // SSE streams at once (each holds an HTTP connection)
	maxBodyBytes    = 64 << 10
	maxPatternBytes = 1024
	maxScanCount    = 500
	previewBytes    = 4096 // of a value
	lifecycleTTL    = 5 * time.Second
	idleAfter       = time.Minute // no viewer for this long: the collector stops reading
	minInterval     = 900 * time.Millisecond
)

// Handler serves the dashboard and its API. Create it with New; Close it
// before shutting the HTTP server down (SSE streams end then).
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	log      *slog.Logger
	sessions sessions
	logins   loginLimiter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	sampleMu sync.Mutex // one reading at a time

	mu        sync.Mutex // guards the fields below
	history   []live.Figures
	retired   []inspect.Retired
	subs      map[chan streamMsg]struct{}
	lastSeen  time.Time // the latest viewer's request
	prev      live.Reading
	started   bool // the collector and the event subscription run
	lifecycle map[int]cachedLifecycle
	lastErr   string
}

type cachedLifecycle struct {
	at  time.Time
	val *Lifecycle
}

// streamMsg is one SSE message.
type streamMsg struct {
	event string
	data  []byte
}

// New returns the dashboard of the server cfg describes.
func New(cfg Config) *Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{cfg: cfg, log: log, ctx: ctx, cancel: cancel, subs: map[chan streamMsg]struct{}{},
		lifecycle: map[int]cachedLifecycle{}}
	h.logins.wait = time.Sleep
	sub, _ := fs.Sub(static, "static")
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", h.page(sub))
	m.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(sub)))
	m.HandleFunc("GET /api/session", h.getSession)
	m.HandleFunc("POST /api/login", h.login)
	m.HandleFunc("POST /api/logout", h.read(h.logout))
	m.HandleFunc("GET /api/stats", h.read(h.getStats))
	m.HandleFunc("GET /api/history", h.read(h.getHistory))
	m.HandleFunc("GET /api/events", h.read(h.stream))
	m.HandleFunc("GET /api/lifecycle", h.read(h.getLifecycle))
	m.HandleFunc("GET /api/keys", h.read(h.getKeys))
	m.HandleFunc("GET /api/key", h.read(h.getKey))
	m.HandleFunc("GET /api/config", h.read(h.getConfig))
	m.HandleFunc("POST /api/config", h.act(h.setConfig))
	m.HandleFunc("POST /api/backup", h.act(h.backup))
	m.HandleFunc("POST /api/prune", h.act(h.prune))
	m.HandleFunc("POST /api/delete", h.act(h.deleteKey))
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API: "+r.Method+" "+r.URL.Path)
	})
	h.mux = m
	return h
}

// Owns reports whether the dashboard serves path, which it authorizes
// itself (the HTTP listener's password check must let its requests
// through: a browser signs in on the page).
func (h *Handler) Owns(path string) bool {
	return path == "/" || strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/assets/")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.mux.ServeHTTP(w, r)
}

// Close ends the SSE streams and the collector.
func (h *Handler) Close() {
	h.mu.Lock() // seen starts the goroutines under it, only before the cancel
	h.cancel()
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *Handler) page(sub fs.FS) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, sub, "index.html")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// read wraps an API that reads: with a server password it needs a signed-in
// session or the password.
func (h *Handler) read(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a, _ := h.authorize(r); a == accessNone {
			w.Header().Set("WWW-Authenticate", `Bearer realm="epoch"`)
			writeError(w, http.StatusUnauthorized, "sign in first: POST /api/login with the server's password, or send it as a bearer token")
			return
		}
		h.seen()
		f(w, r)
	}
}

// act wraps an action: it needs a server password and either the password
// (a script) or a signed-in session with its CSRF token (a browser).
func (h *Handler) act(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, csrf := h.authorize(r)
		switch a {
		case accessOpen:
			writeError(w, http.StatusForbidden, "read-only: actions need a server password (--requirepass) and a signed-in session")
			return
		case accessNone:
			writeError(w, http.StatusUnauthorized, "sign in first: actions need a signed-in session")
			return
		case accessSession:
			if !csrfOK(r, csrf) {
				writeError(w, http.StatusForbidden, "missing or wrong CSRF token (X-CSRF-Token), or a request from another site")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		h.seen()
		f(w, r)
	}
}

// Session is GET /api/session's reply.
type Session struct {
	PasswordSet bool   `json:"password_set"`
	SignedIn    bool   `json:"signed_in"`
	CanAct      bool   `json:"can_act"`        // actions are allowed
	CSRF        string `json:"csrf,omitempty"` // the token actions of this session send
}

func (h *Handler) getSession(w http.ResponseWriter, r *http.Request) {
	a, csrf := h.authorize(r)
	writeJSON(w, http.StatusOK, Session{
		PasswordSet: a != accessOpen, SignedIn: a == accessSession || a == accessBearer,
		CanAct: a == accessSession || a == accessBearer, CSRF: csrf,
	})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "sign-in from another site refused")
		return
	}
	if !h.hasPassword() {
		writeError(w, http.StatusBadRequest, "the server has no password: nothing to sign in to (the dashboard is read-only)")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	var body struct {
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be JSON: {\"password\": \"...\"}: "+err.Error())
		return
	}
	if !h.cfg.CheckPassword(body.Password) {
		h.logins.wait(h.logins.failed(clientHost(r), time.Now()))
		h.log.Warn("dashboard: sign-in failed", "from", clientHost(r))
		writeError(w, http.StatusUnauthorized, "wrong password")
		return
	}
	if h.cfg.SignedIn != nil {
		h.cfg.SignedIn(body.Password)
	}
	tok, csrf := h.sessions.create(time.Now())
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionTTL / time.Second)})
	writeJSON(w, http.StatusOK, Session{PasswordSet: true, SignedIn: true, CanAct: true, CSRF: csrf})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if tok, se, ok := h.sessions.lookup(r, time.Now()); ok {
		if !csrfOK(r, se.csrf) {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token (X-CSRF-Token)")
			return
		}
		h.sessions.remove(tok)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1,
		SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]bool{"signed_out": true})
}

// errStatus maps a server error reply to an HTTP status: the client's
// mistakes (a wrong argument, an immutable setting) are 400, the rest 502.
func errStatus(err error) int {
	var re redis.Error
	if errors.As(err, &re) {
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}
