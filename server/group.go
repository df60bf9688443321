package server

import (
	"bytes"
	"time"
)

// Group commit. A client that pipelines writes sends many commands before
// it reads a reply; consecutive plain SETs read from one connection's
// input buffer (SET key value, with EX or PX seconds or milliseconds at
// most) are therefore staged in one library Batch and committed together
// when the group ends: when the input buffer is drained, before any other
// command (so a read after a SET in the pipeline sees it), or at groupMax
// commands. One commit, one sync with appendfsync always; the replies and
// keyspace notifications follow in order. If the commit fails, every SET of
// the group gets the error.
//
// A group is atomic, which a pipeline of single SETs need not be: the only
// visible difference is under a budget with noeviction, where a group that
// would exceed the budget is refused as a whole.

// groupMax bounds the SETs of one group.
const groupMax = 512

// groupedSet is a SET waiting in a group for its reply.
type groupedSet struct {
	key    []byte // the client key, for notifications (nil when they are off)
	expire bool
}

// groupable reports whether args is a SET that may join a group, and its
// ttl: SET key value, or with one EX/PX option of a positive amount.
func groupable(args [][]byte) (time.Duration, bool) {
	switch len(args) {
	case 3:
		return 0, true
	case 5:
		unit := lower(nil, args[3])
		ttl := relativeTTL(string(unit), args[4])
		return ttl, ttl > 0
	}
	return 0, false
}

// isGroupableSet reports whether args is a SET that may join a group.
func isGroupableSet(args [][]byte) bool {
	if len(args[0]) != 3 || !equalFold(args[0], "set") {
		return false
	}
	_, ok := groupable(args)
	return ok
}

// tryGroup adds a SET that passed the command policy to the connection's
// group, and reports whether it did. It does not when the SET is alone
// (nothing more is buffered and no group is open), inside MULTI or EXEC, or
// not a plain SET.
func (c *Conn) tryGroup(e *entry, args [][]byte) bool {
	if e.spec.Name != "set" || c.tx != nil || c.execTx != nil || (c.group == nil && !c.rd.buffered()) {
		return false
	}
	ttl, ok := groupable(args)
	if !ok {
		return false
	}
	if c.group == nil {
		if c.groupBuf == nil {
			c.groupBuf = c.srv.DB.NewBatch()
		}
		c.group = c.groupBuf
	}
	c.keyArena = c.keyArena[:0]
	if err := c.group.Set(c.key(args[1]), args[2], ttl); err != nil {
		// Not staged: the group is committed, then the SET runs alone and
		// reports the error in its place.
		c.flushGroup()
		return false
	}
	g := groupedSet{expire: ttl > 0}
	if c.srv.cfg.notifyFlags.Load() != 0 {
		g.key = bytes.Clone(args[1])
	}
	c.grouped = append(c.grouped, g)
	if len(c.grouped) >= groupMax {
		c.flushGroup()
	}
	return true
}

// flushGroup commits the open group, if any, and writes its replies.
func (c *Conn) flushGroup() {
	if c.group == nil {
		return
	}
	b := c.group
	c.group = nil
	start := time.Now()
	err := b.Commit()
	c.observeGroup(len(c.grouped), time.Since(start), err != nil)
	for _, g := range c.grouped {
		if err != nil {
			c.writeErr(err)
			continue
		}
		if g.key != nil {
			c.notify(notifyString, "set", g.key)
			if g.expire {
				c.notify(notifyGeneric, "expire", g.key)
			}
		}
		c.WriteOK()
	}
	clear(c.grouped)
	c.grouped = c.grouped[:0]
	if b.Size() > groupKeepBytes {
		c.groupBuf = nil // do not keep a large value's copy per connection
	} else {
		b.Reset()
	}
}

// groupKeepBytes bounds the batch a connection keeps for its next group.
const groupKeepBytes = 64 << 10
