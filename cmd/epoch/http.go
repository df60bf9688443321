package main

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/cluster"
	"github.com/epochdb/epochdb/dashboard"
)

// httpRoutes are handlers mounted on the HTTP listener (--http-addr) beside
// /healthz, each added from its own file in this directory by an init
// function, given the store and the cluster node (nil unless --cluster);
// metrics.go mounts /metrics this way:
//
//	func init() {
//		httpRoutes = append(httpRoutes, func(mux *http.ServeMux, db *epochdb.DB, node *cluster.Node) {
//			mux.Handle("GET /metrics", metricsHandler(db, node))
//		})
//	}
var httpRoutes []func(mux *http.ServeMux, db *epochdb.DB, node *cluster.Node)

// The HTTP listener's limits: a client gets httpReadHeaderTimeout to send
// its request headers and httpReadTimeout for the whole request, a reply
// must be written within httpWriteTimeout, an idle keep-alive connection
// is closed after httpIdleTimeout, and at most httpMaxConns connections
// are open at once (one more is answered 503 and closed).
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 30 * time.Second
	httpWriteTimeout      = 60 * time.Second
	httpIdleTimeout       = 60 * time.Second
	httpMaxHeaderBytes    = 16 << 10
	httpMaxConns          = 64
)

// newHTTPHandler returns the HTTP side of epoch serve. /healthz answers 200
// "ok" while the server serves and accepts writes, and 503 with the reason
// once it shuts down or the store refuses writes (an engine failure: a
// full disk, an I/O error). With check not nil every path requires the
// password it accepts (see requireAuth), but the dashboard's (dash, if not
// nil), which requires sign-in itself whenever the server has a password.
func newHTTPHandler(db *epochdb.DB, node *cluster.Node, stopping *atomic.Bool, check func(password string) bool, dash *dashboard.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if stopping.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		if err := db.Health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("unhealthy: " + err.Error() + "\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	for _, route := range httpRoutes {
		route(mux, db, node)
	}
	if dash != nil {
		for _, p := range []string{"GET /{$}", "/api/", "GET /assets/"} {
			mux.Handle(p, dash)
		}
	}
	if check != nil {
		auth := requireAuth(mux, check)
		if dash == nil {
			return auth
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if dash.Owns(r.URL.Path) {
				mux.ServeHTTP(w, r) // signs in on its page
				return
			}
			auth.ServeHTTP(w, r)
		})
	}
	return mux
}

// newHTTPServer returns the HTTP server with its timeouts.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
	}
}

// requireAuth serves next only to requests that carry the password, as
// HTTP basic authentication (any user name) or as "Authorization: Bearer
// <password>"; others get 401.
func requireAuth(next http.Handler, check func(password string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); ok && check(pass) {
			next.ServeHTTP(w, r)
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && check(tok) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="epoch", charset="UTF-8"`)
		http.Error(w, "authentication required: the server's password as basic auth or a bearer token", http.StatusUnauthorized)
	})
}

// limitListener accepts at most max connections at once. One more is
// answered "503 Service Unavailable" and closed at once, so that a flood
// of idle connections cannot exhaust the process's descriptors and a
// client over the limit learns so instead of waiting.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func newLimitListener(ln net.Listener, max int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, max)}
}

const httpBusyReply = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n\r\ntoo many connections to HTTP\n"

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			go refuseBusy(c) // never block the accept loop on a slow client
		}
	}
}

// refuseBusy answers 503 to a connection over the limit: after reading its
// request headers (a reply sent before the request confuses clients), for
// at most a second and 8 KiB.
func refuseBusy(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 0, 8<<10)
	for len(buf) < cap(buf) && !bytes.Contains(buf, []byte("\r\n\r\n")) {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	_, _ = c.Write([]byte(httpBusyReply))
}

// limitConn gives its slot back when closed (once).
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
