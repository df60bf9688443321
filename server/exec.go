package server

import (
	"time"
)

// execute runs one command with the server's command policy: authentication,
// MULTI queueing, arity, pub/sub mode and the slow log.
func (c *Conn) execute(args [][]byte) {
	s := c.srv
	s.st.commands.Add(1)
	if c.group != nil && !isGroupableSet(args) {
		c.flushGroup() // its replies come first, and what follows sees its writes
	}
	defer c.countRejected(c.in.errReplies)
	c.lastActive.Store(time.Now().UnixNano())
	c.nameBuf = lower(c.nameBuf[:0], args[0])
	var e *entry
	if s.mux != nil {
		e = s.mux.lookup(c.nameBuf)
	} else if e = s.connMux.lookup(c.nameBuf); e != nil && e.spec.arityOK(len(args)) {
		e.h.ServeRESP(c, Command{Args: args}) // AUTH HELLO QUIT RESET
		return
	}
	if e != nil {
		c.lastCmd.Store(e)
	}
	c.in.cur = e
	cmd := Command{Args: args}

	if !c.authed && s.cfg.hasPassword() && (e == nil || e.spec.Flags&FlagNoAuth == 0) {
		c.WriteError("NOAUTH Authentication required.")
		return
	}
	if s.mux == nil { // a custom Handler: no further policy
		s.handler.ServeRESP(c, cmd)
		return
	}
	if e == nil {
		c.WriteError(unknownCommand(args))
		c.abortTx()
		return
	}
	if !e.spec.arityOK(len(args)) {
		c.WriteError(wrongArgs(e.spec.Name))
		c.abortTx()
		return
	}
	c.waitUnpaused(e)
	if c.tx != nil && e.spec.Flags&FlagTx == 0 {
		if e.spec.Flags&FlagNoMulti != 0 {
			if e.spec.Name == "watch" {
				c.WriteError("ERR WATCH inside MULTI is not allowed")
				return
			}
			c.WriteError("ERR Command not allowed inside a transaction")
			c.abortTx()
			return
		}
		c.tx.queue(e, args)
		c.shared.multi.Store(int32(len(c.tx.cmds)))
		c.WriteString("QUEUED")
		return
	}
	if c.resp == 2 && len(c.subs)+len(c.psubs) > 0 && e.spec.Flags&FlagPubSub == 0 {
		c.WriteError("ERR Can't execute '" + e.spec.Name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return
	}
	if s.Cluster != nil {
		mark := len(c.out)
		here := c.routeCluster(e, args)
		if s.DebugTrace != nil && e.spec.Flags&(FlagKeyspace|FlagWrite|FlagTx) != 0 {
			defer c.traceRoute(e, args, mark)
		}
		if !here {
			return
		}
	}
	if c.tryGroup(e, args) {
		c.grouped1(e, args)
		c.route = "grouped"
		return
	}
	c.flushGroup()
	c.call(e, cmd)
}

// call runs a command's handler and records it in the slow log. No
// server-wide lock is held: each command is atomic through the library (one
// write operation, a transaction or a batch), and EXEC's commands share one
// transaction.
func (c *Conn) call(e *entry, cmd Command) {
	s := c.srv
	c.keyArena = c.keyArena[:0]
	errs := c.in.errReplies
	start := time.Now()
	c.blockedFor = 0
	e.h.ServeRESP(c, cmd)
	if c.execTx == nil {
		c.wakeWritten() // the clients blocked on the keys it wrote
	}
	// As in Redis, the time a blocking command spent waiting is not
	// execution time.
	took := time.Since(start) - c.blockedFor
	if len(c.keyArena) > arenaMax {
		c.keyArena = nil
	}
	if e.spec.Flags&FlagNoAuth == 0 { // AUTH and HELLO carry passwords
		s.slow.record(s, c, cmd.Args, start, took)
	}
	c.observe(e, cmd.Args, took, c.in.errReplies != errs)
}

// key returns the library key of the client key k in the selected
// database: one byte holding the database index, then k. The result lives
// until the command returns.
func (c *Conn) key(k []byte) []byte { return c.keyIn(c.db, k) }

// keyIn is key for database db.
func (c *Conn) keyIn(db int, k []byte) []byte {
	start := len(c.keyArena)
	c.keyArena = append(c.keyArena, byte(db))
	c.keyArena = append(c.keyArena, k...)
	return c.keyArena[start:len(c.keyArena):len(c.keyArena)]
}
