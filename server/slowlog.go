package server

import (
	"strconv"
	"sync"
	"time"
)

// slowlog keeps the latest commands that took longer than
// slowlog-log-slower-than, at most slowlog-max-len of them.
type slowlog struct {
	mu      sync.Mutex // guards entries, nextID
	entries []slowEntry
	nextID  int64
}

type slowEntry struct {
	id   int64
	at   time.Time
	took time.Duration
	args []string
	addr string
	name string
}

// Redis's bounds on what a slow log entry keeps of a command.
const (
	slowlogMaxArgs   = 32
	slowlogMaxArgLen = 128
)

func (l *slowlog) record(s *Server, c *Conn, args [][]byte, start time.Time, took time.Duration) {
	th := s.cfg.slowlogThreshold.Load()
	if th < 0 || took.Microseconds() < th {
		return
	}
	max := int(s.cfg.slowlogMaxLen.Load())
	e := slowEntry{at: start, took: took, addr: c.raddr}
	c.shared.mu.Lock()
	e.name = c.shared.name
	c.shared.mu.Unlock()
	for i, a := range args {
		if i == slowlogMaxArgs-1 && len(args) > slowlogMaxArgs {
			e.args = append(e.args, "... ("+strconv.Itoa(len(args)-i)+" more arguments)")
			break
		}
		if len(a) > slowlogMaxArgLen {
			e.args = append(e.args, string(a[:slowlogMaxArgLen])+"... ("+strconv.Itoa(len(a)-slowlogMaxArgLen)+" more bytes)")
		} else {
			e.args = append(e.args, string(a))
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, e)
	if over := len(l.entries) - max; over > 0 {
		l.entries = append(l.entries[:0], l.entries[over:]...)
	}
}

// get returns up to n entries, newest first.
func (l *slowlog) get(n int) []slowEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slowEntry
	for i := len(l.entries) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, l.entries[i])
	}
	return out
}

func (l *slowlog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *slowlog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}
