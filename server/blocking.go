package server

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epochdb/epochdb"
)

// Blocking on keys: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP (and any command
// that waits for a key to hold something: the machinery knows nothing of
// lists).
//
// A blocking command first tries its operation on its keys in order, as
// the non-blocking command would. If none can serve it (and it is not
// inside EXEC, where nothing blocks and it answers as a timeout, as in
// Redis), the client registers a waiter on each of its keys in the
// server's registry (waits): per (database, key), the waiters in the order
// they blocked. It then waits on its own goroutine, holding no lock, until
// it is served, its timeout passes, CLIENT UNBLOCK ends the wait, the
// client disconnects or the server shuts down (block.go).
//
// Every write that may give a waiting client something publishes a
// keyspace notification for the key once it is committed (inside EXEC:
// once EXEC commits), and the connection notes every notified key, whether
// notifications are on or not (with nobody waiting that is one atomic
// load). Once the command is done (its reply written, all its
// notifications published), the connection hands the keys to the registry
// (wake), as Redis serves blocked clients after each command. wake serves
// the key's waiters oldest first, one server at a time per key (so the
// order holds when several clients write the key at once): it claims a
// waiter, runs the waiter's try function on the key (the pop: one atomic
// library operation, on the writing client's goroutine, before that client
// runs its next command), publishes the pop's notifications (so they
// follow the writer's own, as in Redis, and a BLMOVE's destination is
// served in turn) and hands the reply to the waiting goroutine, which
// writes it. wake stops at the first waiter whose try finds nothing: the
// key is empty again. A waiter whose try fails (the key holds another
// type) stays blocked, as in Redis, and the next is tried: a client
// blocked on the key for that type may be served.
//
// No item is popped for a client that has gone: a waiter is claimed only
// while its wait has not ended, and a wait that ends while its waiter is
// claimed waits for the outcome (an item popped for it is its reply). As
// in Redis, a client that disconnects unnoticed (its end not yet read) may
// still be served, and the reply is lost with the connection.
//
// A command blocks by handing blockingPop its keys, timeout and try
// function: the list pops' are in commands_list.go, the sorted set pops'
// (BZPOPMIN, BZPOPMAX, BZMPOP) in commands_bzpop.go.

// tryFunc attempts a blocking command's operation on key (a client key of
// the command's database) through s. It returns what it did (nil when the
// key has nothing for it), or an error (the key's type: WRONGTYPE) that
// the first attempt replies and a served waiter takes as nothing.
type tryFunc func(s kv, key []byte) (*popped, error)

// popped is what a successful try did: the reply to write on the blocked
// client's connection, and the keyspace notifications of its writes,
// published by whoever ran it (the writer that served the client, right
// after its own command's, as Redis publishes them).
type popped struct {
	reply func(c *Conn)
	notes []note
}

// publish publishes p's notifications from c (inside EXEC, once it
// commits), which serves the clients blocked on the keys they name once
// its command is done.
func (c *Conn) publish(p *popped) {
	for _, n := range p.notes {
		c.notifyIn(n.db, n.class, n.event, n.key)
	}
}

// waitKey names a key of a database.
type waitKey struct {
	db  int
	key string // the client key
}

// waitRegistry is the clients blocked on keys.
type waitRegistry struct {
	n    atomic.Int64 // waiters registered: wake's fast path
	mu   sync.Mutex   // guards keys
	keys map[waitKey][]*waiter
	// serving is held by wake while it serves a key (the stripe of its
	// hash): one server at a time per key keeps the order.
	serving [64]sync.Mutex
}

// waiter is one blocked client.
type waiter struct {
	db   int
	keys []string // client keys, distinct
	ctx  context.Context
	try  tryFunc

	mu    sync.Mutex // guards state and quit
	state waiterState
	quit  bool             // the wait ended while claimed
	done  chan func(*Conn) // the outcome once claimed: a reply, or nil
}

type waiterState uint8

const (
	waiting  waiterState = iota
	claimed              // a wake runs its try
	finished             // served, or gone
)

// claim reserves w for a try: only a waiter still waiting whose wait has
// not ended.
func (w *waiter) claim() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != waiting || w.ctx.Err() != nil {
		return false
	}
	w.state = claimed
	return true
}

// unclaim ends a try that found nothing: w waits again, unless its wait
// ended meanwhile, when it learns that nothing came.
func (w *waiter) unclaim() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.quit {
		w.state = finished
		w.done <- nil
		return
	}
	w.state = waiting
}

// serve hands the reply of a successful try to w.
func (w *waiter) serve(reply func(*Conn)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state = finished
	w.done <- reply
}

// leave ends w's wait: it reports true if w was waiting (nothing will
// come), false if a try is running or done (the outcome is on done).
func (w *waiter) leave() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.state {
	case waiting:
		w.state = finished
		return true
	case claimed:
		w.quit = true
	}
	return false
}

// add registers w on each of its keys.
func (r *waitRegistry) add(w *waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = make(map[waitKey][]*waiter)
	}
	for _, k := range w.keys {
		wk := waitKey{w.db, k}
		r.keys[wk] = append(r.keys[wk], w)
	}
	r.n.Add(1)
}

// remove unregisters w from its keys.
func (r *waitRegistry) remove(w *waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range w.keys {
		wk := waitKey{w.db, k}
		ws := slices.DeleteFunc(r.keys[wk], func(o *waiter) bool { return o == w })
		if len(ws) == 0 {
			delete(r.keys, wk)
		} else {
			r.keys[wk] = ws
		}
	}
	r.n.Add(-1)
}

// has reports whether a client waits on the key.
func (r *waitRegistry) has(db int, key []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys[waitKey{db, string(key)}]) > 0
}

// waiters returns the key's waiters now, oldest first.
func (r *waitRegistry) waiters(db int, key []byte) []*waiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys[waitKey{db, string(key)}])
}

// wake serves the waiters of key of database db in the order they
// blocked, through s (the DB), until one finds nothing (one that fails is
// passed over); by publishes what the served clients' pops wrote.
func (r *waitRegistry) wake(by *Conn, s kv, db int, key []byte) {
	if r.n.Load() == 0 || !r.has(db, key) {
		return
	}
	h := fnv.New32a()
	_, _ = h.Write(key)
	mu := &r.serving[(h.Sum32()+uint32(db))%uint32(len(r.serving))]
	mu.Lock()
	defer mu.Unlock()
	for _, w := range r.waiters(db, key) {
		if !w.claim() {
			continue
		}
		p, err := w.try(s, key)
		if err != nil || p == nil {
			w.unclaim()
			if err != nil {
				continue // the key holds another type: a waiter of that type may follow
			}
			return
		}
		r.remove(w)
		by.publish(p)
		w.serve(p.reply)
	}
}

// wakeKey serves the clients blocked on the client key key of database db
// (see wake).
func (c *Conn) wakeKey(db int, key []byte) { c.srv.waits.wake(c, dbKV{c.srv.DB}, db, key) }

// wakeLater notes that the command wrote the client key key of database
// db, if any client is blocked on a key.
func (c *Conn) wakeLater(db int, key []byte) {
	if c.srv.waits.n.Load() == 0 {
		return
	}
	if n := len(c.written); n > 0 && c.written[n-1].db == db && c.written[n-1].key == string(key) {
		return // a command's several notifications of one key
	}
	c.written = append(c.written, waitKey{db, string(key)})
}

// wakeWritten serves the clients blocked on the keys the command wrote.
func (c *Conn) wakeWritten() {
	for len(c.written) > 0 {
		k := c.written[0]
		c.written = c.written[1:]
		c.wakeKey(k.db, []byte(k.key))
	}
	c.written = nil
}

// blockingPop runs a blocking command: try on each key in order, then,
// unless inside EXEC (where it answers timedOut at once), wait for one of
// them until timeout (0: for ever). timedOut writes the timeout reply.
//
// BZPOPMIN key... timeout, for instance, is
//
//	c.blockingPop(keys, timeout, zsetPopTry(c.db, false, 1, false), (*Conn).WriteNullArray)
func (c *Conn) blockingPop(keys [][]byte, timeout time.Duration, try tryFunc, timedOut func(*Conn)) {
	if c.tryKeys(keys, try) {
		return
	}
	if c.execTx != nil {
		timedOut(c)
		return
	}
	c.block(keys, timeout, try, timedOut)
}

// blockingPopKeys runs a blocking command of the form NAME key [key ...]
// timeout, whose timeout reply is the null array.
func (c *Conn) blockingPopKeys(args [][]byte, try tryFunc) {
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	c.blockingPop(args[1:len(args)-1], timeout, try, (*Conn).WriteNullArray)
}

// tryKeys runs try on each key in order until one answers (an error
// included), and reports whether one did: its reply is written.
func (c *Conn) tryKeys(keys [][]byte, try tryFunc) bool {
	for _, k := range keys {
		p, err := try(c.kv(), k)
		if err != nil {
			c.writeErr(err)
			return true
		}
		if p != nil {
			c.publish(p)
			p.reply(c)
			return true
		}
	}
	return false
}

// block waits until the waiter on keys is served or its wait ends, and
// writes the reply.
func (c *Conn) block(keys [][]byte, timeout time.Duration, try tryFunc, timedOut func(*Conn)) {
	s := c.srv
	ctx, stop := c.blockContext()
	defer stop()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	w := &waiter{db: c.db, ctx: ctx, try: try, done: make(chan func(*Conn), 1)}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !seen[string(k)] {
			seen[string(k)] = true
			w.keys = append(w.keys, string(k))
		}
	}
	s.waits.add(w)
	// A write that came between the first attempt and the registration
	// woke nobody: try again, in turn with the clients blocked before.
	for _, k := range w.keys {
		c.wakeKey(c.db, []byte(k))
	}
	var reply func(*Conn)
	select {
	case reply = <-w.done:
	case <-ctx.Done():
		if w.leave() {
			s.waits.remove(w)
		} else if reply = <-w.done; reply == nil {
			s.waits.remove(w)
		}
	}
	stop()
	switch {
	case reply != nil:
		reply(c)
	case c.unblockReason() == unblockError:
		c.WriteError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
	case errors.Is(ctx.Err(), context.DeadlineExceeded), c.unblockReason() == unblockTimeout:
		timedOut(c)
	default: // shutdown, or the client went away
		c.writeErr(epochdb.ErrClosed)
	}
}

// parseTimeout parses a blocking command's timeout in seconds as Redis 7
// does: a long double, in milliseconds rounded up; 0 waits for ever. It
// returns the error reply for a bad one.
func parseTimeout(arg []byte) (time.Duration, string) {
	x, ok := parseLongDouble(arg)
	if !ok {
		return 0, "ERR timeout is not a float or out of range"
	}
	// Redis converts the milliseconds to a long long: out of its range
	// (infinities included) the result is negative on x86-64.
	ms := new(big.Float).SetPrec(ldPrec).Mul(x, big.NewFloat(1000))
	if ms.IsInf() || ms.Cmp(big.NewFloat(math.MaxInt64)) >= 0 || ms.Cmp(big.NewFloat(math.MinInt64)) < 0 {
		return 0, "ERR timeout is negative"
	}
	n, acc := ms.Int64()
	if acc == big.Below { // rounded toward zero: up for a positive value
		n++
	}
	switch {
	case n < 0:
		return 0, "ERR timeout is negative"
	case n > int64(maxPause/time.Millisecond):
		return maxPause, ""
	}
	return time.Duration(n) * time.Millisecond, ""
}
