package server

import (
	"context"
	"time"
)

// Blocking commands (EPOCH.EVENTS BLOCK, and the commands that block on
// keys: blocking.go). A blocking command waits in its
// handler, on the connection's goroutine (holding no lock), on a context
// that ends when:
//
//   - the server begins to shut down (Server.baseCtx), so that SHUTDOWN,
//     Shutdown and Close never wait for a blocked client;
//   - the client closes its connection or it is killed (CLIENT KILL, Close):
//     while the command waits, a watcher goroutine reads ahead on the
//     connection, and a read error (EOF, a closed socket) cancels the
//     context. Bytes the client sends meanwhile (pipelined commands) stay in
//     the connection's buffer and are served after the blocking command;
//     once they fill the buffer (16 KiB), only shutdown or an event ends
//     the wait;
//   - CLIENT UNBLOCK ends it (as a timeout, or with an error).
//
// Inside EXEC a blocking command does not block (as in Redis).

// Why CLIENT UNBLOCK ended a wait (connShared.unblocked).
const (
	unblockNone int32 = iota
	unblockTimeout
	unblockError
)

// setUnblock sets (nil: clears) how CLIENT UNBLOCK ends the connection's
// wait.
func (sh *connShared) setUnblock(fn func(reason int32)) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.unblock = fn
}

// blockContext returns the context a blocking command waits on, and the
// function that ends the wait (idempotent); call it before writing the
// reply. CLIENT UNBLOCK cancels the context too, having set the reason
// unblockReason reports.
func (c *Conn) blockContext() (context.Context, func()) {
	s := c.srv
	blockedAt := time.Now()
	ctx, cancel := context.WithCancel(s.baseCtx)
	s.st.blocked.Add(1)
	c.shared.blocked.Store(true)
	c.shared.unblocked.Store(unblockNone)
	c.shared.setUnblock(func(reason int32) {
		c.shared.unblocked.Store(reason)
		cancel()
	})
	// Disarm the idle timeout: blocked clients do not time out (Redis
	// exempts them too). From here until the watcher has exited, only
	// wake-ups (shutdown, stop below) set the read deadline, so a wake-up
	// can never be overwritten.
	if c.deadlineSet {
		_ = c.nc.SetReadDeadline(time.Time{})
		c.deadlineSet = false
	}
	c.blocking = true
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Peek does not consume input: what the client sends meanwhile
		// accumulates in the reader's buffer (up to its size; then the
		// watch ends and shutdown alone ends the wait). A read error (the
		// socket closed or at EOF, shutdown, stop's wake-up) is not kept
		// by the reader, so the connection's next read sees it again or
		// reads normally.
		br := c.rd.br
		for n := br.Buffered() + 1; n <= br.Size(); n = br.Buffered() + 1 {
			if _, err := br.Peek(n); err != nil {
				cancel()
				return
			}
		}
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		c.shared.setUnblock(nil)
		cancel()
		_ = c.nc.SetReadDeadline(time.Now()) // wake the watcher
		<-done
		_ = c.nc.SetReadDeadline(time.Time{})
		c.blocking = false
		c.blockedFor += time.Since(blockedAt)
		c.shared.blocked.Store(false)
		s.st.blocked.Add(-1)
	}
	return ctx, stop
}

// unblockReason is why CLIENT UNBLOCK ended the current (or last) wait,
// unblockNone if it did not.
func (c *Conn) unblockReason() int32 { return c.shared.unblocked.Load() }

// unblockBy ends o's wait for CLIENT UNBLOCK (from any goroutine), and
// reports whether o was blocked.
func (o *Conn) unblockBy(reason int32) bool {
	o.shared.mu.Lock()
	defer o.shared.mu.Unlock()
	if o.shared.unblock == nil {
		return false
	}
	o.shared.unblock(reason)
	return true
}
