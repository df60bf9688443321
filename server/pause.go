package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// CLIENT PAUSE timeout [WRITE|ALL] holds clients' commands until the pause
// ends (the timeout passes, or CLIENT UNPAUSE): with ALL every command,
// with WRITE the commands that may write (write commands, PUBLISH, WAIT,
// WAITAOF, and EXEC of a transaction that queued one). As in Redis, the
// client that paused is held too, a command queued inside MULTI is held
// like the command itself, and monitors are never held. A held client
// waits in its own goroutine: nothing else waits for it, and its replies
// before the held command are written first. Unlike Redis, the
// library's background lifecycle (expiry, pruning, eviction) goes on
// during a pause.

type pauseState struct {
	on    atomic.Bool // a pause is in effect; read on every command
	mu    sync.Mutex  // guards the rest
	all   bool        // ALL rather than WRITE
	until time.Time
	ended chan struct{} // closed when this pause ends
	timer *time.Timer
}

// pause starts a pause of d, or extends the one in effect: the later end
// and the stronger mode win, as in Redis.
func (p *pauseState) pause(d time.Duration, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	until := time.Now().Add(d)
	if p.on.Load() {
		p.all = p.all || all
		if until.After(p.until) {
			p.until = until
			p.timer.Reset(d)
		}
		return
	}
	p.all, p.until = all, until
	p.ended = make(chan struct{})
	ended := p.ended
	p.timer = time.AfterFunc(d, func() { p.expire(ended) })
	p.on.Store(true)
}

// expire ends the pause whose channel is ended, when its time has come (a
// timer reset by an extension may still fire for the old end).
func (p *pauseState) expire(ended chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended != ended || !p.on.Load() {
		return
	}
	if d := time.Until(p.until); d > 0 {
		p.timer.Reset(d)
		return
	}
	p.endLocked()
}

// unpause ends the pause in effect, if any (CLIENT UNPAUSE).
func (p *pauseState) unpause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on.Load() {
		p.timer.Stop()
		p.endLocked()
	}
}

func (p *pauseState) endLocked() {
	p.on.Store(false)
	close(p.ended)
	p.ended, p.timer = nil, nil
}

// holds reports whether the pause in effect holds a command: nil if none.
func (p *pauseState) holds(write bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on.Load() || !p.all && !write {
		return nil
	}
	return p.ended
}

// waitUnpaused holds the connection while a pause holds command e.
func (c *Conn) waitUnpaused(e *entry) {
	s := c.srv
	if !s.intro.pause.on.Load() || c.in.has(connMonitor) {
		return
	}
	write := c.mayWrite(e)
	for {
		ended := s.intro.pause.holds(write)
		if ended == nil {
			return
		}
		// The replies of the commands before go out first.
		c.flushGroup()
		if c.flush() != nil {
			return
		}
		c.shared.blocked.Store(true)
		s.st.blocked.Add(1)
		select {
		case <-ended:
		case <-s.baseCtx.Done():
		}
		s.st.blocked.Add(-1)
		c.shared.blocked.Store(false)
		if s.baseCtx.Err() != nil {
			return
		}
	}
}

// mayWrite reports whether e is held by CLIENT PAUSE WRITE: a write
// command, a command that may propagate (PUBLISH, WAIT), or an EXEC whose
// transaction queued one.
func (c *Conn) mayWrite(e *entry) bool {
	if writeLike(&e.spec) {
		return true
	}
	if e.spec.Name == "exec" && c.tx != nil {
		for _, q := range c.tx.cmds {
			if writeLike(&q.e.spec) {
				return true
			}
		}
	}
	return false
}

func writeLike(s *CommandSpec) bool {
	switch s.Name {
	case "publish", "spublish", "wait", "waitaof":
		return true
	}
	return s.Flags&FlagWrite != 0
}
