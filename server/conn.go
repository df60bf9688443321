package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/epochdb/epochdb"
	"io"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

const (
	// flushThreshold is the reply size at which the server writes replies
	// even though more pipelined commands are buffered.
	flushThreshold = 64 << 10
	// writeChunk is the most written per write deadline: a client that
	// reads, however slowly, is not disconnected.
	writeChunk = 1 << 20
	// handshakeTimeout bounds a TLS handshake.
	handshakeTimeout = 10 * time.Second
)

// Conn is one client connection. Its reply methods (Write*) buffer a reply
// for the command being served; the server writes buffered replies to the
// network. A Conn is used by its own goroutine only: handlers must not keep
// it or call it from other goroutines.
type Conn struct {
	incr     incrOp     // the INCR family's step, reused (commands_string.go)
	fwd      *forwarder // the link to the leader, on a follower (cluster.go)
	readOnly bool       // READONLY: reads served here even on a follower
	route    string     // where routeCluster sent the command (DebugTrace)
	srv      *Server
	nc       net.Conn // possibly *tls.Conn
	raw      net.Conn // the transport under nc, closed to abort
	rd       *reader
	out      []byte
	// segs are replies queued before out, by reference: the buffered
	// bytes up to a large value, then the value (see writeBulkOwned).
	segs     [][]byte
	segBytes int
	werr     error

	id         int64
	raddr      string
	laddr      string
	created    time.Time
	lastActive atomic.Int64 // Unix ns of the latest command
	lastCmd    atomic.Pointer[entry]

	// State of the connection's goroutine.
	resp        int // 2 or 3
	authed      bool
	authFails   int // failed AUTH attempts (see authlimit.go)
	db          int
	tx          *txState       // non-nil inside MULTI
	execTx      *epochdb.Tx    // the transaction running EXEC's queued commands, nil otherwise
	execNotes   []note         // keyspace notifications of EXEC's commands, published if it commits
	written     []waitKey      // keys the command wrote, whose blocked clients it serves (blocking.go)
	group       *epochdb.Batch // pipelined SETs committed together (group.go)
	groupBuf    *epochdb.Batch // the batch groups reuse
	grouped     []groupedSet   // their replies to write
	quit        bool           // close after writing the replies
	nameBuf     []byte
	keyArena    []byte
	watches     []watchSet
	subs        map[string]struct{}
	psubs       map[string]struct{}
	pushing     bool          // output goes through the push queue (see pubsub.go)
	deadlineSet bool          // an idle-timeout read deadline is armed
	blocking    bool          // a blocking command's watcher reads ahead (see block.go)
	blockedFor  time.Duration // how long the current command waited blocked
	shared      connShared
	in          connIntro // statistics and CLIENT modes (intro.go)
	push        pushQueue
	closeOnce   sync.Once
}

// connShared is what other goroutines read for CLIENT LIST and INFO.
type connShared struct {
	mu      sync.Mutex // guards name, libName, libVer, unblock
	name    string
	libName string
	libVer  string
	db      atomic.Int32
	resp    atomic.Int32
	nsub    atomic.Int32
	npsub   atomic.Int32
	multi   atomic.Int32 // queued commands, -1 outside MULTI
	killed  atomic.Bool
	blocked atomic.Bool // in a blocking command (CLIENT LIST flag b)

	// unblock ends the current wait of a blocking command (nil when not
	// blocked), recording why in unblocked: CLIENT UNBLOCK (block.go).
	unblock   func(reason int32)
	unblocked atomic.Int32
}

func newConn(s *Server, nc net.Conn) *Conn {
	c := &Conn{
		srv:     s,
		nc:      nc,
		raw:     nc,
		id:      s.nextID.Add(1),
		raddr:   addrString(nc.RemoteAddr()),
		laddr:   addrString(nc.LocalAddr()),
		created: time.Now(),
		resp:    2,
	}
	if tc, ok := nc.(*tls.Conn); ok {
		c.raw = tc.NetConn()
	}
	c.rd = newReader(deadlineReader{c})
	c.lastActive.Store(c.created.UnixNano())
	c.shared.resp.Store(2)
	c.shared.multi.Store(-1)
	return c
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// deadlineReader reads from the connection, arming the idle timeout before
// each read and refusing to wait for input once the server shuts down.
type deadlineReader struct{ c *Conn }

func (r deadlineReader) Read(p []byte) (int, error) {
	c := r.c
	if t := c.srv.cfg.idleTimeout(); t > 0 && len(c.subs)+len(c.psubs) == 0 && !c.blocking {
		_ = c.nc.SetReadDeadline(time.Now().Add(t))
		c.deadlineSet = true
	} else if c.deadlineSet { // subscribers and blocked clients never time out
		_ = c.nc.SetReadDeadline(time.Time{})
		c.deadlineSet = false
	}
	// Checked after arming the deadline: Shutdown sets the flag, then a
	// deadline in the past, so one of the two always stops this read (a
	// deadline is only ever replaced here by a later one or cleared before
	// this check).
	if c.srv.inShutdown.Load() {
		return 0, ErrServerClosed
	}
	n, err := c.nc.Read(p)
	c.srv.st.netIn.Add(uint64(n))
	return n, err
}

// wake interrupts a read in progress, for shutdown.
func (c *Conn) wake() { _ = c.nc.SetReadDeadline(time.Now()) }

// kill closes the connection at once, from any goroutine.
func (c *Conn) kill() {
	c.shared.killed.Store(true)
	_ = c.raw.Close()
}

// serve is the connection's goroutine: read a command, execute it, write
// the replies once the pipeline is drained.
func (c *Conn) serve() {
	defer c.close()
	defer c.recoverPanic()
	if tc, ok := c.nc.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			c.srv.log.Debug("server: tls handshake failed", "client", c.raddr, "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	for {
		args, err := c.rd.readCommand(c.limits())
		if err != nil {
			c.readFailed(err)
			return
		}
		c.execute(args)
		if int64(c.pending()) > c.srv.outputLimit() {
			c.srv.log.Warn("server: closing client over the output buffer limit (client-output-buffer-limit normal)",
				"client", c.raddr, "reply_bytes", c.pending(), "limit", c.srv.outputLimit())
			c.dropReplies()
			c.quit = true
		}
		if c.quit {
			c.flushGroup()
			_ = c.flush()
			return
		}
		if !c.rd.buffered() || c.pending() >= flushThreshold {
			c.flushGroup()
			if c.flush() != nil {
				return
			}
		}
	}
}

// recoverPanic confines a panic in a command handler to its connection:
// the panic is logged with its stack and the connection is closed without
// writing the replies still buffered (the one being built may be
// incomplete). Every other client, and the process, carry on: the library
// released its locks as the panic unwound.
func (c *Conn) recoverPanic() {
	if r := recover(); r != nil {
		c.srv.log.Error("server: panic serving a command; client disconnected",
			"client", c.raddr, "command", string(c.nameBuf), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		c.dropReplies()
	}
}

// readFailed handles the end of a connection's input: a protocol error gets
// its error reply first; everything else just ends the connection.
func (c *Conn) readFailed(err error) {
	c.flushGroup() // the replies of the commands before the failure
	var pe protocolError
	switch {
	case errors.As(err, &pe):
		c.srv.log.Debug("server: protocol error", "client", c.raddr, "err", err)
		c.WriteError("ERR " + pe.Error())
		if c.flush() == nil {
			c.lingerClose()
		}
	case errors.Is(err, errQueryBufferLimit), errors.Is(err, errSecurity):
		c.srv.log.Warn("server: closing client", "client", c.raddr, "reason", err)
		_ = c.flush()
	case errors.Is(err, io.EOF), errors.Is(err, ErrServerClosed), errors.Is(err, net.ErrClosed):
		_ = c.flush()
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !c.srv.inShutdown.Load() {
			c.srv.log.Debug("server: closing idle client", "client", c.raddr)
		}
		_ = c.flush()
	}
}

// lingerClose ends a connection the server gives up on while the client
// may still be sending (a request over a limit): it closes the sending
// side, then reads and discards what the client sends for a bounded time
// and amount, so that the client can finish its write and read the error
// reply rather than having it destroyed by a connection reset.
func (c *Conn) lingerClose() {
	tc, ok := c.raw.(*net.TCPConn)
	if !ok || c.raw != c.nc { // TLS: no half-close
		return
	}
	_ = tc.CloseWrite()
	_ = tc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, tc, lingerBytes)
}

// The bounds of lingerClose.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 64 << 20
)

// close releases everything the connection holds.
func (c *Conn) close() {
	c.closeOnce.Do(func() {
		c.srv.hub.unsubscribeAll(c)
		c.unwatchAll()
		c.stopPushing()
		c.closeForward()
		_ = c.nc.Close()
		c.srv.trackConn(c, false)
	})
}

// limits are the request limits for the next command.
func (c *Conn) limits() limits {
	cfg := &c.srv.cfg
	return limits{
		maxBulk:      cfg.protoMaxBulkLen.Load(),
		maxMultiBulk: c.srv.maxMultiBulk(),
		maxQuery:     c.srv.queryLimit(),
		unauth:       !c.authed && cfg.hasPassword(),
	}
}

// flush writes the buffered replies: straight to the network, or into the
// push queue once the connection has subscribed.
func (c *Conn) flush() error {
	if c.pending() == 0 || c.werr != nil {
		return c.werr
	}
	if len(c.segs) > 0 && c.pushing { // the push queue takes one buffer
		c.out = append(slices.Concat(c.segs...), c.out...)
		c.segs, c.segBytes = nil, 0
	}
	for _, b := range c.segs {
		if c.werr = c.writeAll(b); c.werr != nil {
			break
		}
	}
	c.segs, c.segBytes = nil, 0
	switch {
	case c.werr != nil:
	case c.pushing:
		c.werr = c.push.enqueue(c, c.out)
	default:
		c.werr = c.writeAll(c.out)
	}
	if cap(c.out) > flushThreshold {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return c.werr
}

// writeAll writes b in chunks, each with the write timeout, so that only a
// client that stops reading is disconnected.
func (c *Conn) writeAll(b []byte) error {
	wt := c.srv.writeTimeout()
	for len(b) > 0 {
		n := min(len(b), writeChunk)
		if wt > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(wt))
		}
		m, err := c.nc.Write(b[:n])
		c.srv.st.netOut.Add(uint64(m))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.srv.log.Warn("server: closing client that does not read its replies", "client", c.raddr)
			}
			_ = c.raw.Close()
			return err
		}
		b = b[n:]
	}
	return nil
}

// pending is the size of the replies buffered and not yet written.
func (c *Conn) pending() int { return c.segBytes + len(c.out) }

// dropReplies discards the replies not yet written.
func (c *Conn) dropReplies() {
	c.segs, c.segBytes = nil, 0
	c.out = c.out[:0]
}

// ownedMin is the size from which writeBulkOwned queues a value by
// reference.
const ownedMin = 64 << 10

// writeBulkOwned writes v as a bulk string like WriteBulk, for a v that is
// the caller's to give away (a value the library returned: it is never
// changed afterwards). A large v is queued by reference instead of copied
// into the output buffer, so a GET of a large value holds one copy of it,
// not two.
func (c *Conn) writeBulkOwned(v []byte) {
	if len(v) < ownedMin || c.pushing {
		c.WriteBulk(v)
		return
	}
	c.out = append(strconv.AppendInt(append(c.out, '$'), int64(len(v)), 10), '\r', '\n')
	c.segs = append(c.segs, c.out, v)
	c.segBytes += len(c.out) + len(v)
	c.out = append(make([]byte, 0, 512), '\r', '\n')
}

// ID returns the connection's unique id (CLIENT ID).
func (c *Conn) ID() int64 { return c.id }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() string { return c.raddr }

// Protocol returns the RESP version in use: 2 or 3.
func (c *Conn) Protocol() int { return c.resp }

// DB returns the selected logical database (SELECT).
func (c *Conn) DB() int { return c.db }

// Server returns the server the connection belongs to.
func (c *Conn) Server() *Server { return c.srv }

// WriteOK writes the simple string OK.
func (c *Conn) WriteOK() { c.out = append(c.out, "+OK\r\n"...) }

// WriteString writes a simple string (no line breaks).
func (c *Conn) WriteString(s string) { c.out = redcon.AppendString(c.out, s) }

// WriteError writes an error reply. msg starts with the error code, as in
// "ERR syntax error"; line breaks are replaced.
func (c *Conn) WriteError(msg string) {
	c.out = redcon.AppendError(c.out, msg)
	c.noteError(msg)
}

// WriteInt writes an integer.
func (c *Conn) WriteInt(n int64) { c.out = redcon.AppendInt(c.out, n) }

// WriteUint writes an unsigned integer.
func (c *Conn) WriteUint(n uint64) { c.out = redcon.AppendUint(c.out, n) }

// WriteBulk writes a bulk string.
func (c *Conn) WriteBulk(b []byte) { c.out = redcon.AppendBulk(c.out, b) }

// WriteBulkString writes a bulk string.
func (c *Conn) WriteBulkString(s string) { c.out = redcon.AppendBulkString(c.out, s) }

// WriteNull writes a null (the null bulk string in RESP2).
func (c *Conn) WriteNull() { c.out = appendNull(c.out, c.resp) }

// WriteNullArray writes a null array (RESP2 "*-1").
func (c *Conn) WriteNullArray() { c.out = appendNullArray(c.out, c.resp) }

// WriteArray writes the header of an array of n elements; write the
// elements next.
func (c *Conn) WriteArray(n int) { c.out = redcon.AppendArray(c.out, n) }

// WriteMap writes the header of a map of n key-value pairs (a flat array of
// 2n elements in RESP2); write the keys and values next, alternating.
func (c *Conn) WriteMap(n int) { c.out = appendMap(c.out, n, c.resp) }

// WriteSet writes the header of a set of n elements (an array in RESP2).
func (c *Conn) WriteSet(n int) { c.out = appendSet(c.out, n, c.resp) }

// WriteDouble writes a floating-point number (a bulk string in RESP2).
func (c *Conn) WriteDouble(f float64) { c.out = appendDouble(c.out, f, c.resp) }

// WriteBool writes a boolean (the integers 1 and 0 in RESP2).
func (c *Conn) WriteBool(v bool) { c.out = appendBool(c.out, v, c.resp) }

// WriteVerbatim writes a verbatim text string (a bulk string in RESP2).
func (c *Conn) WriteVerbatim(s string) { c.out = appendVerbatim(c.out, s, c.resp) }
