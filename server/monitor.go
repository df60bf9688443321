package server

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// MONITOR streams every command the server executes to the monitoring
// clients, one line each, as Redis does:
//
//	+1700000000.123456 [0 127.0.0.1:50000] "SET" "key" "value"
//
// Commands flagged admin (CONFIG, SLOWLOG, SHUTDOWN, ...) are not shown,
// and the arguments of AUTH, and HELLO's AUTH username and password, are
// replaced by "(redacted)". A line is built once and queued to each
// monitor's output queue, which a goroutine per monitor writes: the
// command's own connection never waits for a monitor. A monitor whose
// queue grows past the pubsub output buffer limit
// (client-output-buffer-limit pubsub) because it reads too slowly is
// disconnected, so a slow monitor costs bounded memory and never blocks
// the server.

// monitorSet is the connections in MONITOR mode.
type monitorSet struct {
	mu    sync.RWMutex // guards conns
	conns map[*Conn]struct{}
	n     atomic.Int32 // len(conns), read on every command
}

func (m *monitorSet) add(c *Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns == nil {
		m.conns = make(map[*Conn]struct{})
	}
	m.conns[c] = struct{}{}
	m.n.Store(int32(len(m.conns)))
}

func (m *monitorSet) remove(c *Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.conns, c)
	m.n.Store(int32(len(m.conns)))
}

func (m *monitorSet) snapshot() []*Conn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Conn, 0, len(m.conns))
	for c := range m.conns {
		out = append(out, c)
	}
	return out
}

func cmdMonitor(c *Conn, cmd Command) {
	if c.in.has(connMonitor) {
		c.WriteOK()
		return
	}
	// Replies owed before MONITOR go first; then the OK, queued ahead of
	// the feed but not sent until the monitor is registered, so that a
	// client that sees the OK sees every command executed after it.
	c.flushGroup()
	if c.flush() != nil {
		return
	}
	c.startPushing()
	q := &c.push
	q.queueQuietly([]byte("+OK\r\n"))
	c.in.setFlag(connMonitor, true)
	c.srv.intro.monitors.add(c)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stopMonitor leaves monitor mode (RESET).
func (c *Conn) stopMonitor() {
	if c.in.has(connMonitor) {
		c.in.setFlag(connMonitor, false)
		c.srv.intro.monitors.remove(c)
	}
}

// feedMonitors sends the command args, just executed by c, to every
// monitor. A monitor that is gone, or over its limit (then disconnected),
// leaves the set.
func (c *Conn) feedMonitors(args [][]byte) {
	line := monitorLine(nil, c.srv.now().UnixMicro(), c.db, c.raddr, args)
	for _, m := range c.srv.intro.monitors.snapshot() {
		if m.push.enqueue(m, line) != nil {
			m.in.setFlag(connMonitor, false)
			c.srv.intro.monitors.remove(m)
		}
	}
}

// monitorLine appends the MONITOR line of a command to dst.
func monitorLine(dst []byte, usec int64, db int, addr string, args [][]byte) []byte {
	dst = append(dst, '+')
	dst = strconv.AppendInt(dst, usec/1e6, 10)
	dst = append(dst, '.')
	frac := usec % 1e6
	for d := int64(100000); d > 1 && frac < d; d /= 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendInt(dst, frac, 10)
	dst = append(dst, " ["...)
	dst = strconv.AppendInt(dst, int64(db), 10)
	dst = append(dst, ' ')
	dst = append(dst, addr...)
	dst = append(dst, ']')
	redact := redactedArgs(args)
	for i, a := range args {
		dst = append(dst, ' ')
		if redact(i) {
			dst = append(dst, `"(redacted)"`...)
			continue
		}
		dst = appendRepr(dst, a)
	}
	return append(dst, '\r', '\n')
}

// redactedArgs reports which arguments MONITOR hides: every argument of
// AUTH, and the username and password after HELLO's AUTH.
func redactedArgs(args [][]byte) func(i int) bool {
	switch {
	case equalFold(args[0], "auth"):
		return func(i int) bool { return i > 0 }
	case equalFold(args[0], "hello"):
		return func(i int) bool {
			for j := 2; j < len(args); j++ {
				if equalFold(args[j], "auth") && j+2 < len(args) {
					if i == j+1 || i == j+2 {
						return true
					}
					j += 2
				} else if equalFold(args[j], "setname") {
					j++
				}
			}
			return false
		}
	}
	return func(int) bool { return false }
}

// appendRepr appends a quoted, escaped copy of b as Redis's sdscatrepr
// writes it.
func appendRepr(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, ch := range b {
		switch ch {
		case '\\', '"':
			dst = append(dst, '\\', ch)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\a':
			dst = append(dst, '\\', 'a')
		case '\b':
			dst = append(dst, '\\', 'b')
		default:
			if ch >= ' ' && ch <= '~' {
				dst = append(dst, ch)
			} else {
				dst = append(dst, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(dst, '"')
}
