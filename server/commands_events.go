package server

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/epochdb/epochdb"
)

// EPOCH.EVENTS [FROM seq|$] [COUNT n] [BLOCK ms]: the library's durable
// event log (Options.EventLog) read from a cursor, like XREAD.
//
// The reply is [cursor, [event, …]]: cursor is the sequence number to pass
// as FROM next, events are those of the selected database with a sequence
// number above FROM, oldest first, at most COUNT (default 100). Each event
// is a map (flat pairs in RESP2) of seq, kind (expired, pruned, evicted),
// key, time (Unix ms), frequency, created_at, expires_at (-1 without
// deadline) and, when the log carries values (event-log-values), value.
// FROM $ starts after the newest event. BLOCK waits, without the keyspace
// lock, until an event arrives or ms pass (0: forever); a timeout answers
// the cursor and an empty array.

const (
	eventsDefaultCount = 100
	// eventsExamineMax bounds the events of other databases one call skips
	// (beyond 10×COUNT): the cursor still advances past them.
	eventsExamineMax = 10000
)

func cmdEpochEvents(c *Conn, cmd Command) {
	var (
		after    uint64
		fromLast bool
		count    = eventsDefaultCount
		block    = time.Duration(-1) // no BLOCK
	)
	opts := cmd.Args[1:]
	for ; len(opts) > 0; opts = opts[2:] {
		if len(opts) < 2 {
			c.WriteError(errSyntax)
			return
		}
		v := opts[1]
		switch {
		case equalFold(opts[0], "from"):
			if string(v) == "$" {
				fromLast = true
				continue
			}
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				c.WriteError("ERR FROM must be a sequence number (an integer >= 0) or $")
				return
			}
			after, fromLast = n, false
		case equalFold(opts[0], "count"):
			n, ok := parseCount(c, v, 1<<20)
			if !ok {
				return
			}
			count = n
		case equalFold(opts[0], "block"):
			n, ok := parseInt(v)
			if !ok {
				c.WriteError("ERR timeout is not an integer or out of range")
				return
			}
			if n < 0 {
				c.WriteError("ERR timeout is negative")
				return
			}
			// As Redis: a timeout whose deadline overflows is refused.
			if n > math.MaxInt64-c.srv.now().UnixMilli() {
				c.WriteError("ERR timeout is out of range")
				return
			}
			block = time.Duration(n) * time.Millisecond
			if n > math.MaxInt64/int64(time.Millisecond) {
				block = 0 // beyond 292 years: forever
			}
		default:
			c.WriteError(errSyntax)
			return
		}
	}

	db := c.srv.DB
	// The events of every write acknowledged so far are listed (and FROM $
	// starts after them), though the log makes them readable only once
	// durable: sync it now if some are not yet.
	if err := db.SyncEvents(); err != nil {
		c.writeErr(err)
		return
	}
	if fromLast {
		after = lastEventSeq(db, 0)
	}
	evs, cursor, err := c.readEventsTo(after, count)
	if err != nil {
		c.writeErr(err)
		return
	}
	// Inside EXEC nothing blocks (as in Redis): EXEC's commands run in one
	// transaction, which must not wait.
	if len(evs) == 0 && block >= 0 && c.execTx == nil {
		ctx, stop := c.blockContext()
		if block > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, block)
			defer cancel()
		}
		for len(evs) == 0 && err == nil {
			if err = db.WaitEvents(ctx, cursor); err != nil {
				break
			}
			evs, cursor, err = c.readEventsTo(cursor, count)
		}
		stop()
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled) && c.unblockReason() == unblockTimeout:
			err = nil // BLOCK ms passed: the cursor and no events
		case errors.Is(err, context.Canceled) && c.unblockReason() == unblockError:
			c.WriteError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
			return
		case errors.Is(err, context.Canceled):
			err = epochdb.ErrClosed // shutdown, or the client went away
		}
		if err != nil {
			c.writeErr(err)
			return
		}
	}
	c.WriteArray(2)
	c.WriteUint(cursor)
	c.WriteArray(len(evs))
	for _, ev := range evs {
		n := 7
		if ev.Value != nil {
			n++
		}
		c.WriteMap(n)
		c.WriteBulkString("seq")
		c.WriteUint(ev.Seq)
		c.WriteBulkString("kind")
		c.WriteBulkString(ev.Kind.String())
		c.WriteBulkString("key")
		c.WriteBulk(ev.Key[1:])
		c.WriteBulkString("time")
		c.WriteInt(ev.Time.UnixMilli())
		c.WriteBulkString("frequency")
		c.WriteUint(ev.Metadata.Frequency)
		c.WriteBulkString("created_at")
		c.WriteInt(ev.Metadata.CreatedAt.UnixMilli())
		c.WriteBulkString("expires_at")
		c.WriteInt(unixMsOrNone(ev.Metadata.ExpiresAt))
		if ev.Value != nil {
			c.WriteBulkString("value")
			c.WriteBulk(ev.Value)
		}
	}
}

// readEventsTo reads up to count events of the selected database after
// the cursor after, and returns them with the new cursor: the last
// sequence number examined. When it reaches the end of the log without an
// event to return, the cursor moves to the log's last sequence number, so
// that events dropped by retention (event-log-max-entries/-max-age)
// before anyone read them are not waited for again.
func (c *Conn) readEventsTo(after uint64, count int) ([]epochdb.Event, uint64, error) {
	db := c.srv.DB
	// Taken before reading: every event up to last is in the log by now,
	// or was dropped by retention.
	last := lastEventSeq(db, after)
	cursor := after
	var out []epochdb.Event
	examined, examineMax := 0, 10*count+eventsExamineMax
	for len(out) < count {
		if examined >= examineMax {
			return out, cursor, nil // more to skip: the next call goes on
		}
		evs, _, err := db.ReadEvents(cursor, count-len(out))
		if err != nil {
			return nil, after, err
		}
		if len(evs) == 0 {
			break // the end of the log
		}
		for _, ev := range evs {
			examined++
			cursor = ev.Seq
			if len(ev.Key) > 0 && int(ev.Key[0]) == c.db {
				out = append(out, ev)
			}
		}
	}
	if len(out) == 0 {
		cursor = max(cursor, last)
	}
	return out, cursor, nil
}

// lastEventSeq returns the sequence number of the newest event logged, at
// least from.
func lastEventSeq(db *epochdb.DB, from uint64) uint64 { return max(from, db.LastEventSeq()) }
