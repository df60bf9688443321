package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/dashboard"
	"github.com/epochdb/epochdb/server"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The web dashboard on the HTTP listener reads its figures and runs its
// actions as a client of the server, over in-memory connections (no port,
// no network): the server's own commands compute the figures and enforce
// its rules, so the dashboard shows and does what a Redis client would.

// dashboardServer is the dashboard of srv with its in-memory connections.
type dashboardServer struct {
	*dashboard.Handler
	ln       *pipeListener
	password atomic.Pointer[string]
	mu       sync.Mutex // guards clients
	clients  [16]*redis.Client
	tls      bool
}

// newDashboard serves srv on an in-memory listener and returns the
// dashboard that reads through it. Close it before the HTTP server.
func newDashboard(srv *server.Server, db *epochdb.DB, password string, log *slog.Logger) *dashboardServer {
	d := &dashboardServer{ln: newPipeListener(srv), tls: srv.TLSConfig != nil}
	d.password.Store(&password)
	d.Handler = dashboard.New(dashboard.Config{
		DB: db, Client: d.client, CheckPassword: srv.CheckPassword, Logger: log,
		SignedIn: func(p string) { d.password.Store(&p) },
	})
	return d
}

// client returns the client of logical database db, made on first use.
func (d *dashboardServer) client(db int) *redis.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.clients[db]; c != nil {
		return c
	}
	o := &redis.Options{
		Addr: "dashboard", DB: db, Protocol: 2, DisableIdentity: true, ClientName: "epoch-dashboard",
		Dialer:   d.dial,
		PoolSize: 4, MaxIdleConns: 2, ConnMaxIdleTime: time.Minute, MaxRetries: -1,
		CredentialsProvider: func() (string, string) {
			if p := *d.password.Load(); p != "" {
				return "default", p
			}
			return "", ""
		},
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	c := redis.NewClient(o)
	d.clients[db] = c
	return c
}

// dial opens an in-memory connection to the server, over TLS when the
// server speaks TLS on every listener (this one too; nothing is on a
// network to verify, so its certificate is not checked).
func (d *dashboardServer) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c, err := d.ln.dial(ctx)
	if err != nil || !d.tls {
		return c, err
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return tc, nil
}

// Close ends the dashboard's streams and closes its clients.
func (d *dashboardServer) Close() {
	d.Handler.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.clients {
		if c != nil {
			_ = c.Close()
		}
	}
	_ = d.ln.Close()
}

// pipeListener is an in-memory listener of srv, served from the first
// dial on: dial returns one end of a net.Pipe and Accept the other. Its
// connections report loopback addresses (they come from this process).
type pipeListener struct {
	srv       *server.Server
	startOnce sync.Once
	conns     chan net.Conn
	done      chan struct{}
	once      sync.Once
}

func newPipeListener(srv *server.Server) *pipeListener {
	return &pipeListener{srv: srv, conns: make(chan net.Conn), done: make(chan struct{})}
}

// pipeAddr is the in-memory listener's address ("pipe", which the server
// treats as local).
type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "dashboard-in-memory" }

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

var loopback = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	l.startOnce.Do(func() {
		go func() { _ = l.srv.Serve(l) }() // until the server shuts down
	})
	a, b := net.Pipe()
	select {
	case l.conns <- loopConn{b}:
		return loopConn{a}, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// loopConn is an in-memory connection with loopback addresses.
type loopConn struct{ net.Conn }

func (loopConn) LocalAddr() net.Addr  { return loopback }
func (loopConn) RemoteAddr() net.Addr { return loopback }
