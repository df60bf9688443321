package server

import (
	"bytes"
	"errors"

	"github.com/epochdb/epochdb"
)

// Transactions: MULTI queues commands, EXEC runs them in one library
// transaction (serializable, atomic, durable as one batch: a crash keeps
// all of an EXEC or none of it). WATCH is optimistic locking as in Redis,
// on the library's Watch: EXEC fails if a watched key was written since
// WATCH (by anyone: a client, the expiry sweeper, pruning, eviction, an
// embedder), or appeared or disappeared (expired) in between.

func txCommands() []command {
	return []command{
		{CommandSpec{Name: "multi", Arity: 1, Flags: FlagTx, Group: "transactions", Summary: "Starts a transaction."}, cmdMulti},
		{CommandSpec{Name: "exec", Arity: 1, Flags: FlagTx, Group: "transactions", Summary: "Executes all commands in a transaction."}, cmdExec},
		{CommandSpec{Name: "discard", Arity: 1, Flags: FlagTx, Group: "transactions", Summary: "Discards a transaction."}, cmdDiscard},
		{CommandSpec{Name: "watch", Arity: -2, Flags: FlagNoMulti | FlagKeyspace, FirstKey: 1, LastKey: -1, Step: 1, Group: "transactions", Summary: "Monitors changes to keys to determine the execution of a transaction."}, cmdWatch},
		{CommandSpec{Name: "unwatch", Arity: 1, Group: "transactions", Summary: "Forgets about watched keys of a transaction."}, cmdUnwatch},
	}
}

// txState is a transaction being queued.
type txState struct {
	cmds    []queued
	aborted bool // a command failed to queue: EXEC answers EXECABORT
}

type queued struct {
	e    *entry
	args [][]byte
}

// queue appends a copy of args.
func (tx *txState) queue(e *entry, args [][]byte) {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	cp := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		cp[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	tx.cmds = append(tx.cmds, queued{e: e, args: cp})
}

// abortTx marks the transaction in progress, if any, as failed.
func (c *Conn) abortTx() {
	if c.tx != nil {
		c.tx.aborted = true
	}
}

func (c *Conn) endTx() {
	c.tx = nil
	c.shared.multi.Store(-1)
}

func cmdMulti(c *Conn, cmd Command) {
	if c.tx != nil {
		c.WriteError("ERR MULTI calls can not be nested")
		return
	}
	c.tx = &txState{}
	c.shared.multi.Store(0)
	c.WriteOK()
}

func cmdDiscard(c *Conn, cmd Command) {
	if c.tx == nil {
		c.WriteError("ERR DISCARD without MULTI")
		return
	}
	c.endTx()
	c.unwatchAll()
	c.WriteOK()
}

func cmdExec(c *Conn, cmd Command) {
	if c.tx == nil {
		c.WriteError("ERR EXEC without MULTI")
		return
	}
	queued := c.tx
	c.endTx()
	defer c.unwatchAll()
	if queued.aborted {
		c.WriteError("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	// One library transaction for all the queued commands: their writes
	// reach the store atomically, with one commit (and one sync), or not at
	// all. A conflict re-runs them on a fresh snapshot, so the replies and
	// notifications of an attempt are kept only if it commits.
	start, db := len(c.out), c.db
	watchFailed := false
	err := c.srv.DB.Update(func(tx *epochdb.Tx) error {
		c.out, c.execNotes = c.out[:start], c.execNotes[:0]
		c.selectDB(db)
		ok, err := c.watchesHold(tx)
		if err != nil || !ok {
			watchFailed = err == nil
			if watchFailed {
				return errWatchFailed
			}
			return err
		}
		c.execTx = tx
		defer func() { c.execTx = nil }()
		c.WriteArray(len(queued.cmds))
		for _, q := range queued.cmds {
			c.call(q.e, Command{Args: q.args})
		}
		return nil
	})
	if err != nil {
		c.out, c.execNotes = c.out[:start], c.execNotes[:0]
		if watchFailed {
			c.WriteNullArray()
		} else {
			c.writeErr(err)
		}
		return
	}
	for _, n := range c.execNotes {
		c.srv.notifyKey(n.db, n.class, n.event, n.key)
		c.wakeLater(n.db, n.key)
	}
	clear(c.execNotes)
	c.execNotes = c.execNotes[:0]
}

// errWatchFailed ends EXEC's transaction when a watched key changed.
var errWatchFailed = errors.New("watched key changed")

func cmdWatch(c *Conn, cmd Command) {
	keys := make([][]byte, 0, len(cmd.Args)-1)
	for _, k := range cmd.Args[1:] {
		keys = append(keys, bytes.Clone(c.key(k)))
	}
	// The library watch sees every later write of the keys, by anyone; the
	// existence recorded after it started catches keys that expire (lazily,
	// with no write) before EXEC.
	w, err := c.srv.DB.Watch(keys...)
	if err != nil {
		c.writeErr(err)
		return
	}
	ws := watchSet{w: w, existed: make([]bool, len(keys)), keys: keys}
	for i, k := range keys {
		if ws.existed[i], err = exists(dbKV{c.srv.DB}, k); err != nil {
			w.Close()
			c.writeErr(err)
			return
		}
	}
	c.watches = append(c.watches, ws)
	c.WriteOK()
}

func cmdUnwatch(c *Conn, cmd Command) {
	c.unwatchAll()
	c.WriteOK()
}

// watchSet is the keys of one WATCH command.
type watchSet struct {
	w       *epochdb.Watch
	keys    [][]byte // library keys
	existed []bool   // each key was live just after the watch began
}

// watchesHold reports whether c's transaction may run: no watched key was
// written since its WATCH, and each is live in tx exactly when it was then
// (a key whose deadline passed in between counts as changed, as in Redis).
// It makes tx's commit check the watches again, so that a write between
// this check and the commit fails the commit.
func (c *Conn) watchesHold(tx *epochdb.Tx) (bool, error) {
	for _, ws := range c.watches {
		if ws.w.Changed() {
			return false, nil
		}
		for i, k := range ws.keys {
			now, err := txExists(tx, k)
			if err != nil {
				return false, err
			}
			if now != ws.existed[i] {
				return false, nil
			}
		}
		if err := tx.Watch(ws.w); err != nil {
			return false, err
		}
	}
	return true, nil
}

// unwatchAll forgets c's watched keys.
func (c *Conn) unwatchAll() {
	for _, ws := range c.watches {
		ws.w.Close()
	}
	clear(c.watches)
	c.watches = c.watches[:0]
}
