package server

import (
	"context"
	"net"
	"sync"
	"time"
)

// Password guessing is slowed down: every failed AUTH (or HELLO … AUTH) is
// answered only after a delay that doubles with each failure of the
// connection and of its source address, from authDelayBase up to
// authDelayMax. The delays of one address are served one after another
// (a slot each), so opening more connections does not guess faster; while
// an address has more than authQueueMax of delays queued, its AUTH
// attempts are refused without checking the password. An address without
// a failure for authForget starts over, so a client that mistyped is
// never locked out for long. Failures are logged at most once per
// authLogInterval, with their count.
const (
	authDelayBase   = 10 * time.Millisecond
	authDelayMax    = 2 * time.Second
	authQueueMax    = 10 * time.Second
	authForget      = time.Minute
	authLogInterval = 10 * time.Second
	// authHostsMax bounds the addresses remembered; beyond it, addresses
	// whose failures are forgotten are dropped, and if none is, every new
	// address shares one entry.
	authHostsMax = 10000
)

// errAuthThrottled answers an AUTH from an address with too many recent
// failures; the password is not checked.
const errAuthThrottled = "ERR too many failed authentication attempts from this address; try again later"

// authLimiter is the server's record of failed authentications.
type authLimiter struct {
	mu       sync.Mutex // guards every field
	hosts    map[string]*authHost
	overflow authHost  // the entry shared by new addresses once hosts is full
	pending  int       // failures not yet logged
	lastLog  time.Time // when failures were last logged
	lastBy   string    // the client of the latest failure
}

// authHost is one source address's failures.
type authHost struct {
	failures int
	last     time.Time // latest failure
	next     time.Time // end of the latest delay slot handed out
}

// authHostOf is the source address of a client address (its IP), the unit
// failures are counted by.
func authHostOf(raddr string) string {
	host, _, err := net.SplitHostPort(raddr)
	if err != nil {
		return raddr
	}
	return host
}

// host returns the entry of addr, forgetting it when its last failure is
// older than authForget. Called with mu held.
func (l *authLimiter) host(addr string, now time.Time) *authHost {
	if l.hosts == nil {
		l.hosts = make(map[string]*authHost)
	}
	h := l.hosts[addr]
	if h == nil {
		if len(l.hosts) >= authHostsMax {
			for a, old := range l.hosts {
				if now.Sub(old.last) >= authForget {
					delete(l.hosts, a)
				}
			}
		}
		if len(l.hosts) >= authHostsMax {
			h = &l.overflow
		} else {
			h = &authHost{}
			l.hosts[addr] = h
		}
	}
	if now.Sub(h.last) >= authForget && now.After(h.next) {
		*h = authHost{}
	}
	return h
}

// throttled reports whether addr has more than authQueueMax of delays
// queued: its attempt is refused without a password check.
func (l *authLimiter) throttled(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.host(addr, now).next.Sub(now) > authQueueMax
}

// failed records a failed attempt of a connection that has failed connFails
// times before (this one included) and returns how long to wait before
// answering, and whether to log now (with the number of failures since the
// last log line).
func (l *authLimiter) failed(addr, client string, connFails int, now time.Time) (wait time.Duration, logNow bool, count int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.host(addr, now)
	h.failures++
	h.last = now
	delay := authDelay(max(h.failures, connFails))
	start := h.next
	if start.Before(now) {
		start = now
	}
	h.next = start.Add(delay)
	l.pending++
	l.lastBy = client
	if now.Sub(l.lastLog) >= authLogInterval {
		logNow, count = true, l.pending
		l.pending, l.lastLog = 0, now
	}
	return h.next.Sub(now), logNow, count
}

// authDelay is the delay after the n-th failure: authDelayBase doubled per
// earlier failure, at most authDelayMax.
func authDelay(n int) time.Duration {
	if n <= 1 {
		return authDelayBase
	}
	if n > 20 {
		return authDelayMax
	}
	return min(authDelayBase<<(n-1), authDelayMax)
}

// checkAuth authenticates the connection's user and password with the
// limiter's delays. It answers the error itself and returns false when
// the attempt is refused or fails.
func (c *Conn) checkAuth(user, pass []byte) bool {
	s := c.srv
	addr := authHostOf(c.raddr)
	if s.auth.throttled(addr, s.now()) {
		c.WriteError(errAuthThrottled)
		return false
	}
	if c.authenticate(user, pass) {
		c.authFails = 0
		return true
	}
	c.authFails++
	wait, logNow, count := s.auth.failed(addr, c.raddr, c.authFails, s.now())
	if logNow {
		s.log.Warn("server: authentication failed", "failures", count, "since", authLogInterval.String()+" or more", "latest_client", c.raddr)
	}
	// Inside EXEC the delay would hold up the transaction (and its locks at
	// commit), so a queued AUTH is not delayed (it is counted all the same).
	if c.execTx == nil {
		s.authWait(s.baseCtx, wait)
	}
	c.WriteError(errWrongPass)
	return false
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
