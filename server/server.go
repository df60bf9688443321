package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/clock"
)

// Version is the EpochDB server version INFO and HELLO report.
const Version = "0.1.0"

// RedisVersion is the Redis version whose protocol and commands the server
// follows; INFO and HELLO report it as redis_version / version, because
// clients decide which commands to use from it.
const RedisVersion = "7.2.0"

// Defaults of the Server limits, Redis's where Redis has the limit.
const (
	DefaultMaxClients        = 10000
	DefaultProtoMaxBulkLen   = 512 << 20
	DefaultMaxMultiBulkLen   = 1024 * 1024
	DefaultQueryBufferLimit  = 1 << 30
	DefaultWriteTimeout      = 60 * time.Second
	DefaultPubSubBufferLimit = 32 << 20
	DefaultSlowlogThreshold  = 10 * time.Millisecond
	DefaultSlowlogMaxLen     = 128
)

// Errors returned by Serve.
var (
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("server: Server closed")
	// ErrProtectedMode is returned by Serve for a listener on a non-loopback
	// address when no password is set and protected mode is on.
	ErrProtectedMode = errors.New("server: refusing to listen on a non-loopback address without requirepass (protected mode)")
)

// Server serves an EpochDB database over the Redis protocol. Set its fields,
// then call Serve; the fields must not be changed once serving (CONFIG SET
// changes the server's live copy of the settable ones).
type Server struct {
	// DB is the database served. Required. The server does not close it.
	DB *epochdb.DB
	// DBOptions are the options DB was opened with. The server reads its
	// clock (Clock) for TTL arithmetic, so it must be the same clock, and
	// shows the durability settings in INFO and CONFIG. Nil means the
	// defaults (wall clock).
	DBOptions *epochdb.Options

	// Handler answers commands. Nil means NewCommandMux(): every command of
	// EpochDB. A *ServeMux gets the full command policy (authentication,
	// MULTI queueing, pub/sub mode, EXEC's transaction) from its specs; any
	// other Handler gets every command but AUTH, HELLO, QUIT and RESET,
	// which the server answers itself, after authentication.
	Handler Handler

	// TLSConfig, if not nil, makes Serve speak TLS on every listener.
	TLSConfig *tls.Config

	// ForwardTLS, if not nil, is the client side of TLS for a replicated
	// server's connections to the leader's client address (forwarded
	// commands, tracked reads): set it when the nodes serve clients over
	// TLS. Its ServerName defaults to the leader address's host.
	ForwardTLS *tls.Config

	// RequirePass is the password of the default user (requirepass). Empty
	// means no authentication.
	RequirePass string
	// DisableProtectedMode lets the server listen on, and accept clients
	// from, non-loopback addresses without a password. By default (protected
	// mode) Serve refuses a non-loopback listener and the server refuses
	// non-loopback clients while no password is set.
	DisableProtectedMode bool

	// MaxClients bounds the connected clients (maxclients); a client beyond
	// it gets "ERR max number of clients reached". The default is 10000. At
	// start it is lowered, with a log line, to the process's descriptor
	// limit (RLIMIT_NOFILE) minus FDReserve, as Redis does.
	MaxClients int
	// FDReserve is the number of file descriptors kept for everything but
	// client connections (the storage engine's files above all). The
	// default is DefaultFDReserve.
	FDReserve int
	// IdleTimeout closes a client idle for that long (timeout); subscribed
	// clients are exempt. Zero (the default) never closes idle clients.
	IdleTimeout time.Duration
	// ProtoMaxBulkLen bounds one argument (proto-max-bulk-len). The default
	// is 512 MiB.
	ProtoMaxBulkLen int64
	// MaxMultiBulkLen bounds the arguments of one command. The default is
	// 1048576.
	MaxMultiBulkLen int64
	// QueryBufferLimit bounds the argument bytes of one command
	// (client-query-buffer-limit); a client beyond it is disconnected. The
	// default is 1 GiB.
	QueryBufferLimit int64
	// WriteTimeout disconnects a client that reads none of its replies for
	// that long. The server stops reading a client's commands while a reply
	// to it is being written, so a client that never reads holds at most one
	// reply of memory until then. The default is 60s.
	WriteTimeout time.Duration
	// OutputBufferLimit bounds the replies pending for a normal client
	// (client-output-buffer-limit normal hard limit); a client past it is
	// disconnected. The default is DefaultOutputBufferLimit (1 GiB).
	OutputBufferLimit int64
	// MaxMemory is the process's memory budget in bytes (maxmemory): a
	// reply or a write of 1 MiB or more that would take the process's
	// memory past it is refused with Redis's OOM error before the reply is
	// built or the database called. Zero (the
	// default) means no budget. The server does not set the Go runtime's
	// limit itself (that is process-wide): epoch serve does.
	MaxMemory int64

	// ManageMemoryLimit says that MaxMemory is also the Go runtime's soft
	// memory limit (debug.SetMemoryLimit), which the process's owner set at
	// startup: CONFIG SET maxmemory then changes both.
	ManageMemoryLimit bool

	// Cluster, if set, is the replication DB runs on (the cluster
	// package's Node): writes run on its leader, reads are linearizable,
	// followers forward; see ClusterNode.
	Cluster ClusterNode

	// DebugClock, if set, enables EPOCH.DEBUG CLOCK, which moves it: a
	// test hook for fault-injection harnesses (epoch serve --debug-clock).
	// It must be the clock the DB reads (DBOptions.Clock). Nil (the
	// default) refuses the command.
	DebugClock DebugClock

	// DebugTrace, if set on a replicated server, receives a line for every
	// data command: where it ran (here after a leadership check, here as a
	// READONLY read, forwarded to the leader, refused), raft's view at that
	// moment, and the start of the reply. A test hook for fault-injection
	// harnesses (epoch serve --debug-trace FILE), to tell which node
	// answered what; it costs a lock and a write per command.
	DebugTrace io.Writer

	// ConfigRewrite, if set, is what CONFIG REWRITE calls with every
	// parameter's current value, in CONFIG GET's order, to write them to the
	// configuration file. Without it CONFIG REWRITE answers that the server
	// runs without a configuration file.
	ConfigRewrite func(params []ConfigParam) error
	// PubSubBufferLimit bounds the messages queued for a subscribed client
	// (client-output-buffer-limit pubsub hard limit); a client beyond it is
	// disconnected. The default is 32 MiB.
	PubSubBufferLimit int64
	// SlowlogThreshold is slowlog-log-slower-than; negative disables the
	// slow log. The default is 10ms.
	SlowlogThreshold time.Duration
	// SlowlogMaxLen is slowlog-max-len. The default is 128.
	SlowlogMaxLen int

	// NotifyKeyspaceEvents selects the keyspace notifications published
	// (notify-keyspace-events, Redis's letters). Empty disables them.
	NotifyKeyspaceEvents string

	// BackupDir is the directory EPOCH.BACKUP writes into (epoch serve
	// defaults it to the data directory's sibling "<dir>-backups"). A client
	// may name a sub-folder or a file inside it, never a path outside it.
	// Empty disables EPOCH.BACKUP.
	BackupDir string
	// BackupRetain is how many backup files EPOCH.BACKUP keeps under
	// BackupDir (backup-retain): after each backup the oldest beyond it are
	// removed. Zero keeps them all.
	BackupRetain int

	// ConfigFile is the configuration file the server was started from,
	// reported by INFO.
	ConfigFile string
	// Logger receives the server's log messages. Nil discards them.
	Logger *slog.Logger

	initOnce sync.Once
	handler  Handler
	mux      *ServeMux // handler as a *ServeMux, or nil
	connMux  *ServeMux // with a custom handler: AUTH HELLO QUIT RESET
	clock    epochdb.Clock
	log      *slog.Logger
	cfg      liveConfig

	traceMu    sync.Mutex // serializes DebugTrace lines
	mu         sync.Mutex // guards listeners, conns
	listeners  map[*net.Listener]struct{}
	conns      map[*Conn]struct{}
	inShutdown atomic.Bool
	connWG     sync.WaitGroup // connection goroutines
	drainOnce  sync.Once
	drained    chan struct{} // closed when every connection has ended

	evMu        sync.Mutex            // guards events, eventsDone, eventsEnded
	events      *epochdb.Subscription // lifecycle events → keyspace notifications
	eventsDone  chan struct{}
	eventsEnded bool

	// baseCtx ends when shutdown begins: blocking commands (EPOCH.EVENTS
	// BLOCK) wait on a context derived from it.
	baseCtx    context.Context
	cancelBase context.CancelFunc
	bg         bgsave
	backupMu   sync.Mutex // one EPOCH.BACKUP and its pruning at a time

	auth     authLimiter
	authWait func(ctx context.Context, d time.Duration) // sleepCtx; tests record instead

	nextID  atomic.Int64
	hub     hub
	cursors cursorTable
	slow    slowlog
	st      serverStats
	intro   introState // command statistics, latency, MONITOR, CLIENT PAUSE (intro.go)
	started time.Time

	waits waitRegistry // clients blocked on keys (blocking.go)
}

// serverStats are the server's counters for INFO.
type serverStats struct {
	connections atomic.Int64 // connected clients
	received    atomic.Uint64
	blocked     atomic.Int64 // clients in a blocking command
	rejected    atomic.Uint64
	commands    atomic.Uint64
	netIn       atomic.Uint64
	netOut      atomic.Uint64
	oomRejected atomic.Uint64 // replies and writes refused for the memory budget
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.handler = s.Handler
		if s.handler == nil {
			s.handler = NewCommandMux()
		}
		s.mux, _ = s.handler.(*ServeMux)
		if s.mux == nil {
			s.connMux = connectionMux()
		}
		if s.DBOptions != nil && s.DBOptions.Clock != nil {
			s.clock = s.DBOptions.Clock
		} else {
			s.clock = clock.Real{}
		}
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.cfg.init(s)
		s.intro.init(s)
		s.adjustMaxClients()
		if s.authWait == nil {
			s.authWait = sleepCtx
		}
		s.listeners = make(map[*net.Listener]struct{})
		s.conns = make(map[*Conn]struct{})
		s.drained = make(chan struct{})
		s.hub.init()
		s.cursors.init()
		s.started = time.Now()
		s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	})
}

// CheckPassword reports whether p is the password of the default user as
// it is now (CONFIG SET requirepass changes it), compared in constant
// time. epoch serve's HTTP endpoints authenticate with it.
func (s *Server) CheckPassword(p string) bool {
	s.init()
	return s.cfg.checkPassword([]byte(p))
}

// now is the server's clock: the database's.
func (s *Server) now() time.Time { return s.clock.Now() }

// Serve accepts connections on ln and serves each in its own goroutine. It
// always returns a non-nil error; after Shutdown or Close, ErrServerClosed.
// With TLSConfig set, ln is wrapped in a TLS listener.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	if s.DB == nil {
		return errors.New("server: Serve: Server.DB is nil")
	}
	if _, ok := parseNotifyFlags(s.NotifyKeyspaceEvents); !ok {
		return fmt.Errorf("server: invalid NotifyKeyspaceEvents %q", s.NotifyKeyspaceEvents)
	}
	if !s.DisableProtectedMode && s.RequirePass == "" && !isLoopback(ln.Addr()) {
		return fmt.Errorf("%w: %s", ErrProtectedMode, ln.Addr())
	}
	if s.TLSConfig != nil {
		ln = tls.NewListener(ln, s.TLSConfig)
	}
	if !s.trackListener(&ln, true) {
		return ErrServerClosed
	}
	s.syncEvents()
	s.startReadForwarding()
	defer s.trackListener(&ln, false)
	s.log.Info("server: listening", "addr", ln.Addr().String(), "tls", s.TLSConfig != nil)

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("server: accept failed; retrying", "err", err, "in", backoff)
				sleepCtx(s.baseCtx, backoff) // cut short by shutdown
				continue
			}
			return err
		}
		backoff = 0
		s.accept(nc)
	}
}

// isTemporary reports accept errors worth retrying (too many open files).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// accept starts serving nc, or refuses it with a Redis error reply when the
// server is full or protected.
func (s *Server) accept(nc net.Conn) {
	s.st.received.Add(1)
	var refuse string
	switch {
	case s.st.connections.Load() >= s.cfg.maxClients.Load():
		refuse = "ERR max number of clients reached"
	case !s.DisableProtectedMode && !s.cfg.hasPassword() && !isLoopback(nc.RemoteAddr()):
		refuse = "DENIED EpochDB is running in protected mode: no password is set (requirepass), so only " +
			"loopback clients are accepted. Set a password, or start with protected mode disabled."
	}
	if refuse != "" {
		s.st.rejected.Add(1)
		// A TLS handshake may block, so never in the accept loop. The
		// goroutine ends within its one-second deadline.
		go func() {
			_ = nc.SetDeadline(time.Now().Add(time.Second))
			_, _ = nc.Write([]byte("-" + refuse + "\r\n"))
			_ = nc.Close()
		}()
		return
	}
	c := newConn(s, nc)
	if !s.trackConn(c, true) {
		_ = nc.Close()
		return
	}
	go c.serve()
}

func (s *Server) trackListener(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}

// trackConn adds or removes a live connection. Adding fails once shutdown
// began.
func (s *Server) trackConn(c *Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.st.connections.Add(1)
		return true
	}
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.st.connections.Add(-1)
		s.connWG.Done()
	}
	return true
}

// snapshotConns returns the live connections.
func (s *Server) snapshotConns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

// markShutdown marks the server shutting down (first: this call did), ends
// blocking commands, and returns the listeners to close.
func (s *Server) markShutdown() (first bool, lns []net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first = !s.inShutdown.Swap(true)
	s.cancelBase() // ends blocking commands
	lns = make([]net.Listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, *ln)
	}
	return first, lns
}

// beginShutdown stops accepting and wakes idle connections, which then
// end after finishing the commands they have already received.
func (s *Server) beginShutdown() {
	s.init()
	first, lns := s.markShutdown()
	for _, ln := range lns {
		_ = ln.Close()
	}
	for _, c := range s.snapshotConns() {
		c.wake()
	}
	if first {
		s.log.Info("server: shutting down")
		s.stopReadForwarding()
		s.drainOnce.Do(func() {
			go func() {
				s.connWG.Wait()
				close(s.drained)
			}()
		})
	}
}

// Shutdown stops the server gracefully: it closes the listeners, lets every
// connection finish the commands it has received (and write their replies),
// then closes it. It returns when all connections have ended, or with
// ctx's error when ctx ends first, after closing the remaining connections.
// Shutdown may be called several times and concurrently; each call waits.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	select {
	case <-s.drained:
		s.stopEvents()
		s.bg.wait()
		return nil
	case <-ctx.Done():
		s.closeConns()
		<-s.drained
		s.stopEvents()
		s.bg.wait()
		return ctx.Err()
	}
}

// Close stops the server at once: it closes the listeners and every
// connection, without waiting for commands in progress. Use Shutdown to
// stop gracefully. It waits for the connection goroutines to exit.
func (s *Server) Close() error {
	s.beginShutdown()
	s.closeConns()
	<-s.drained
	s.stopEvents()
	s.bg.wait()
	return nil
}

func (s *Server) closeConns() {
	for _, c := range s.snapshotConns() {
		c.kill()
	}
}

// requestShutdown is the SHUTDOWN command: a graceful Shutdown started from
// a connection (which must not wait for itself).
func (s *Server) requestShutdown() { go s.beginShutdown() }

// isLoopback reports whether a is a loopback or local (non-IP) address.
func isLoopback(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UDPAddr:
		return a.IP.IsLoopback()
	case nil:
		return false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.Network() == "unix" || a.Network() == "pipe"
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() || host == "localhost"
}
