package server

import "time"

// EPOCH.DEBUG: hooks for fault-injection harnesses, refused unless the
// server was given them (Server.DebugClock; epoch serve --debug-clock).
//
//	EPOCH.DEBUG CLOCK             the clock's offset from the wall clock, in ms
//	EPOCH.DEBUG CLOCK JUMP <ms>   moves the clock by ms (negative: back); the new offset
//	EPOCH.DEBUG CLOCK SET <ms>    sets the offset; the new offset
//
// The clock is the store's (TTL deadlines, creation and access times,
// expiry, pruning): a jump makes this process's lifecycle decisions as a
// machine whose clock jumped would. Raft's timers are not affected.

// DebugClock is a clock whose offset from the wall clock can be moved at
// run time (the internal clock package's Offset). It must be the clock the
// server's DB reads (DBOptions.Clock).
type DebugClock interface {
	Offset() time.Duration
	SetOffset(time.Duration)
}

func cmdEpochDebug(c *Conn, cmd Command) {
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	if sub == "help" && len(args) == 2 {
		writeHelp(c, "EPOCH.DEBUG", []string{
			"CLOCK",
			"    The store clock's offset from the wall clock, in milliseconds.",
			"CLOCK JUMP <ms>",
			"    Move the store's clock by ms (negative: back); returns the new offset.",
			"CLOCK SET <ms>",
			"    Set the store clock's offset; returns it.",
			"Refused unless the server runs with --debug-clock (a test hook).",
		})
		return
	}
	if sub != "clock" {
		c.WriteError(unknownSubcommand(args[1], "EPOCH.DEBUG"))
		return
	}
	clk := c.srv.DebugClock
	if clk == nil {
		c.WriteError("ERR EPOCH.DEBUG CLOCK is disabled: it is a test hook (start epoch serve with --debug-clock)")
		return
	}
	switch {
	case len(args) == 2:
	case len(args) == 4 && (equalFold(args[2], "jump") || equalFold(args[2], "set")):
		ms, ok := parseInt(args[3])
		// A year either way is more than any test needs, and keeps the
		// arithmetic far from overflowing.
		const limit = 366 * 24 * 3600 * 1000
		if !ok || ms < -limit || ms > limit {
			c.WriteError("ERR the offset must be an integer number of milliseconds within a year")
			return
		}
		d := time.Duration(ms) * time.Millisecond
		if equalFold(args[2], "jump") {
			d += clk.Offset()
			if d < -limit*time.Millisecond || d > limit*time.Millisecond {
				c.WriteError("ERR the offset would move more than a year from the wall clock")
				return
			}
		}
		clk.SetOffset(d)
		c.srv.log.Warn("server: EPOCH.DEBUG CLOCK moved the store's clock", "offset", d, "client", c.raddr)
	default:
		c.WriteError(wrongArgs("epoch.debug|clock"))
		return
	}
	c.WriteInt(clk.Offset().Milliseconds())
}
