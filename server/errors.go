package server

import (
	"errors"

	"github.com/epochdb/epochdb"
)

// Redis's error replies, word for word.
const (
	errSyntax       = "ERR syntax error"
	errWrongType    = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errNotInteger   = "ERR value is not an integer or out of range"
	errNotFloat     = "ERR value is not a valid float"
	errOverflow     = "ERR increment or decrement would overflow"
	errNaNInf       = "ERR increment would produce NaN or Infinity"
	errNoSuchKey    = "ERR no such key"
	errDBIndex      = "ERR DB index is out of range"
	errTooBig       = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	errOffset       = "ERR offset is out of range"
	errSameObject   = "ERR source and destination objects are the same"
	errWrongPass    = "WRONGPASS invalid username-password pair or user is disabled."
	errEventLogOff  = "ERR the event log is off (start epoch serve with --event-log yes)"
	errPositive     = "ERR value is out of range, must be positive"
	errNoPassConfig = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
)

// replyError is an error whose text is the reply itself; returned from
// inside Modify callbacks to abort with a Redis error.
type replyError string

func (e replyError) Error() string { return string(e) }

// errInvalidExpire is Redis's error for a bad expire time of the named
// command.
func errInvalidExpire(cmd string) replyError {
	return replyError("ERR invalid expire time in '" + cmd + "' command")
}

// writeErr writes err as an error reply: a replyError as is, library errors
// as the Redis error closest in meaning, anything else as ERR with the
// library's message (and a log line, as it is unexpected).
func (c *Conn) writeErr(err error) {
	var re replyError
	switch {
	case errors.As(err, &re):
		c.WriteError(string(re))
	case errors.Is(err, epochdb.ErrWrongType):
		c.WriteError(errWrongType)
	case errors.Is(err, epochdb.ErrValueTooLarge):
		c.WriteError(errTooBig)
	case errors.Is(err, epochdb.ErrKeyTooLarge):
		c.WriteError("ERR key is too large (the limit is 65535 bytes)")
	case errors.Is(err, epochdb.ErrInvalidTTL):
		c.WriteError("ERR invalid expire time")
	case errors.Is(err, epochdb.ErrNotLeader):
		c.WriteError("READONLY You can't write against a read only replica.")
	case errors.Is(err, epochdb.ErrOutcomeUnknown):
		// Not READONLY or TRYAGAIN, which say that nothing happened and
		// which clients retry on their own.
		c.WriteError(errOutcomeUnknown)
	case errors.Is(err, epochdb.ErrEngine):
		// Redis's answer when it cannot persist; the store keeps serving
		// reads, and reopens its engine once the disk takes writes again.
		c.WriteError("MISCONF the store cannot write to disk and refuses writes until it can again (retried every second): " + err.Error())
	case errors.Is(err, epochdb.ErrFull):
		c.WriteError(budgetOOM(err))
	case errors.Is(err, epochdb.ErrConflict):
		c.WriteError("ERR transaction conflict persisted after retries; try again")
	case errors.Is(err, epochdb.ErrInstallingImage):
		// A replica switching to a snapshot it received, as a Redis replica
		// loading the leader's dataset: clients retry.
		c.WriteError("LOADING the node is installing a snapshot from the leader; try again in a moment")
	case errors.Is(err, epochdb.ErrClosed):
		c.WriteError("ERR the server is shutting down")
	case errors.Is(err, epochdb.ErrEventLogOff):
		c.WriteError(errEventLogOff)
	default:
		c.srv.log.Error("server: command failed", "client", c.raddr, "err", err)
		c.WriteError("ERR " + err.Error())
	}
}

// budgetOOM is the OOM error of a write refused for the store's budget: it
// names the limit that is full (maxkeys, maxdisk), in the words of Redis's
// maxmemory error.
func budgetOOM(err error) string {
	var be *epochdb.BudgetError
	if !errors.As(err, &be) {
		return "OOM command not allowed when the store is at its budget (maxkeys/maxdisk)."
	}
	switch {
	case be.KeysFull && be.DiskFull:
		return "OOM command not allowed when keys > 'maxkeys' and used disk > 'maxdisk'."
	case be.DiskFull:
		return "OOM command not allowed when used disk > 'maxdisk'."
	}
	return "OOM command not allowed when keys > 'maxkeys'."
}
