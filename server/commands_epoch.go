package server

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/epochdb/epochdb"
)

// EpochDB's own commands, and the wire commands of the Rust epoch-db 0.3
// server, so that its clients keep working.

func epochCommands() []command {
	const g = "epochdb"
	k1 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: g, Summary: summary}
	}
	return []command{
		{k1("epoch.meta", 2, FlagReadOnly, "Returns a key's metadata: frequency, heat, created/updated/last-access/expires times in Unix ms."), cmdEpochMeta},
		{k1("epoch.incrfreq", 2, FlagWrite, "Counts one access of a key and returns its new frequency."), cmdEpochIncrFreq},
		// The backup is online (a library snapshot); the event log and the
		// preview are read by the library consistently.
		{CommandSpec{Name: "epoch.backup", Arity: -1, Flags: FlagAdmin | FlagNoMulti, Group: g, Summary: "Writes an online backup of the database into the backup directory (or a file or sub-folder inside it) and returns the file's path."}, cmdEpochBackup},
		{CommandSpec{Name: "epoch.events", Arity: -1, Flags: FlagReadOnly | FlagBlocking, Group: g, Summary: "Reads the durable event log (expired, pruned, evicted keys) from a cursor, optionally blocking."}, cmdEpochEvents},
		{CommandSpec{Name: "epoch.prune", Arity: -2, Flags: FlagReadOnly | FlagLoose, Group: g, Summary: "A container for pruning commands: PREVIEW lists what the prune rule and the budget would retire now."}, cmdEpochPrune},
		{CommandSpec{Name: "epoch.reads", Arity: -4, Flags: FlagWrite, Group: g, Summary: "Counts reads another node of the cluster served (its tracked reads, sent by the node itself)."}, cmdEpochReads},
		{k1("increment_frequency", 2, FlagWrite, "epoch-db 0.3: counts one access of a key."), cmdEpochIncrFreq},
		{k1("get_metadata", 2, FlagReadOnly, "epoch-db 0.3: returns frequency, created_at and ttl (Unix seconds) of a key."), cmdGetMetadata},
		{k1("rm", 2, FlagWrite, "epoch-db 0.3: deletes a key."), cmdRm},
		{CommandSpec{Name: "size", Arity: 1, Flags: FlagReadOnly, Group: g, Summary: "epoch-db 0.3: returns the number of keys stored."}, cmdSize},
		{CommandSpec{Name: "flush", Arity: 1, Flags: FlagAdmin | FlagNoMulti, Group: g, Summary: "epoch-db 0.3: makes every acknowledged write durable on disk."}, cmdSave},
	}
}

// cmdEpochMeta answers a map (RESP3) or flat pairs (RESP2) of the key's
// metadata; times are Unix ms, expires_at is -1 without deadline, heat is a
// double (a bulk string in RESP2). Reading metadata is not an access.
func cmdEpochMeta(c *Conn, cmd Command) {
	md, err := c.kv().Metadata(c.key(cmd.Args[1]))
	if errors.Is(err, epochdb.ErrNotFound) {
		c.WriteNull()
		return
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteMap(6)
	writeMetaFields(c, md, true)
}

// writeMetaFields writes md as the pairs frequency, heat, created_at,
// [updated_at,] last_access, expires_at (times in Unix ms, -1 for no
// deadline): 5 pairs, 6 with updated.
func writeMetaFields(c *Conn, md epochdb.Metadata, updated bool) {
	c.WriteBulkString("frequency")
	c.WriteUint(md.Frequency)
	c.WriteBulkString("heat")
	c.WriteDouble(md.Heat)
	c.WriteBulkString("created_at")
	c.WriteInt(md.CreatedAt.UnixMilli())
	if updated {
		c.WriteBulkString("updated_at")
		c.WriteInt(md.UpdatedAt.UnixMilli())
	}
	c.WriteBulkString("last_access")
	c.WriteInt(md.LastAccess.UnixMilli())
	c.WriteBulkString("expires_at")
	c.WriteInt(unixMsOrNone(md.ExpiresAt))
}

// cmdEpochIncrFreq is EPOCH.INCRFREQ (the new frequency) and epoch-db 0.3's
// INCREMENT_FREQUENCY (OK); both answer null for a missing key.
func cmdEpochIncrFreq(c *Conn, cmd Command) {
	n, err := c.kv().IncrementFrequency(c.key(cmd.Args[1]))
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteNull()
	case err != nil:
		c.writeErr(err)
	case equalFold(cmd.Args[0], "increment_frequency"):
		c.WriteOK()
	default:
		c.WriteUint(n)
	}
}

// cmdGetMetadata is epoch-db 0.3's GET_METADATA: a flat array of
// "frequency", "created_at" (Unix seconds) and "ttl" (the deadline in Unix
// seconds, or null), or null for a missing key.
func cmdGetMetadata(c *Conn, cmd Command) {
	md, err := c.kv().Metadata(c.key(cmd.Args[1]))
	if errors.Is(err, epochdb.ErrNotFound) {
		c.WriteNull()
		return
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteArray(6)
	c.WriteBulkString("frequency")
	c.WriteUint(md.Frequency)
	c.WriteBulkString("created_at")
	c.WriteInt(md.CreatedAt.Unix())
	c.WriteBulkString("ttl")
	if md.ExpiresAt.IsZero() {
		c.WriteNull()
	} else {
		c.WriteInt((md.ExpiresAt.UnixMilli() + 999) / 1000)
	}
}

// cmdRm is epoch-db 0.3's RM: deletes a key, OK whether or not it existed.
func cmdRm(c *Conn, cmd Command) {
	if _, err := c.kv().remove(c.key(cmd.Args[1])); err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyGeneric, "del", cmd.Args[1])
	c.WriteOK()
}

// cmdSize is epoch-db 0.3's SIZE: the keys of the selected database.
func cmdSize(c *Conn, cmd Command) { cmdDBSize(c, cmd) }

// cmdEpochPrune is the EPOCH.PRUNE container: PREVIEW [COUNT n] and HELP.
func cmdEpochPrune(c *Conn, cmd Command) {
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	switch {
	case sub == "preview":
		limit, ok := countOption(c, args[2:], 100)
		if !ok {
			return
		}
		p, err := c.srv.DB.Preview(limit)
		if err != nil {
			c.writeErr(err)
			return
		}
		c.WriteMap(4)
		c.WriteBulkString("prune_total")
		c.WriteInt(int64(p.PruneTotal))
		c.WriteBulkString("evict_total")
		c.WriteInt(int64(p.EvictTotal))
		c.WriteBulkString("prune")
		writeCandidates(c, p.Prune)
		c.WriteBulkString("evict")
		writeCandidates(c, p.Evict)
	case sub == "now":
		limit, ok := countOption(c, args[2:], 0)
		if !ok {
			return
		}
		r, err := c.srv.DB.Prune(limit)
		if errors.Is(err, epochdb.ErrNoPruneRule) {
			c.WriteError(errNoPruneRule)
			return
		}
		if err != nil {
			c.writeErr(err)
			return
		}
		c.WriteMap(3)
		c.WriteBulkString("examined")
		c.WriteInt(int64(r.Examined))
		c.WriteBulkString("removed")
		c.WriteInt(int64(r.Removed))
		c.WriteBulkString("wrapped")
		c.WriteBool(r.Wrapped)
	case sub == "status" && len(args) == 2:
		writePruneStatus(c)
	case sub == "help" && len(args) == 2:
		writeHelp(c, "EPOCH.PRUNE", []string{
			"PREVIEW [COUNT <count>]",
			"    Return what the pruning rule and the budget would retire now, without retiring anything:",
			"    prune_total, evict_total and the first <count> keys of each (default: 100), with their",
			"    database, frequency, heat, creation, last access and deadline. Reads the whole keyspace.",
			"NOW [COUNT <count>]",
			"    Apply the pruning rule now: to every key, or to the next <count> keys from where the last",
			"    pass stopped. Return examined, removed and wrapped (the pass reached the last key).",
			"    Removed keys are retired as by the background pass (pruned notifications, event log).",
			"STATUS",
			"    Return the rule, the background pass's interval and progress: passes completed, keys",
			"    pruned, keys the pass under way has examined, when the last pass ended and when the next",
			"    one starts (Unix ms; 0: none).",
		})
	case sub == "help":
		c.WriteError(wrongArgs("epoch.prune|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "EPOCH.PRUNE"))
	}
}

// writeCandidates writes Preview candidates, each a map of db, key,
// frequency, heat, created_at, last_access and expires_at. A key the server
// did not write (its first byte is not a database index) has db -1 and is
// shown whole.
func writeCandidates(c *Conn, cs []epochdb.Candidate) {
	c.WriteArray(len(cs))
	for _, cd := range cs {
		db, key := -1, cd.Key
		if len(key) > 0 && int(key[0]) < numDBs {
			db, key = int(key[0]), key[1:]
		}
		c.WriteMap(7)
		c.WriteBulkString("db")
		c.WriteInt(int64(db))
		c.WriteBulkString("key")
		c.WriteBulk(key)
		writeMetaFields(c, cd.Metadata, false)
	}
}

// unixMsOrNone is t in Unix ms, or -1 for the zero time (no deadline).
func unixMsOrNone(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// countOption parses the options of an EPOCH.PRUNE subcommand: [COUNT n]
// (the last one counts), def without it. It writes the error reply itself.
func countOption(c *Conn, opts [][]byte, def int) (int, bool) {
	n := def
	for len(opts) > 0 {
		if !equalFold(opts[0], "count") || len(opts) < 2 {
			c.WriteError(errSyntax)
			return 0, false
		}
		v, ok := parseCount(c, opts[1], 1<<30)
		if !ok {
			return 0, false
		}
		n = v
		opts = opts[2:]
	}
	return n, true
}

// errNoPruneRule answers EPOCH.PRUNE NOW without a rule.
const errNoPruneRule = "ERR no pruning rule is set (CONFIG SET prune-min-frequency or prune-idle)"

// writePruneStatus answers EPOCH.PRUNE STATUS.
func writePruneStatus(c *Conn) {
	st := c.srv.DB.PruneStatus()
	set := c.srv.DB.Settings()
	unixMs := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	}
	rule := "off"
	if st.RuleOn {
		var parts []string
		if set.PruneMinFrequency > 0 {
			parts = append(parts, "frequency < "+strconv.FormatUint(set.PruneMinFrequency, 10))
		}
		if set.PruneIdle > 0 {
			parts = append(parts, "idle >= "+set.PruneIdle.String())
		}
		rule = strings.Join(parts, " or ") + ", age >= " + set.PruneGrace.String()
		if set.PruneSkipTTLKeys {
			rule += ", no deadline"
		}
	}
	c.WriteMap(7)
	c.WriteBulkString("rule")
	c.WriteBulkString(rule)
	c.WriteBulkString("interval")
	c.WriteBulkString(set.PruneInterval.String())
	c.WriteBulkString("passes")
	c.WriteInt(int64(st.Passes))
	c.WriteBulkString("pruned")
	c.WriteInt(int64(st.Pruned))
	c.WriteBulkString("pass_examined")
	c.WriteInt(st.PassSeen)
	c.WriteBulkString("last_pass_end")
	c.WriteInt(unixMs(st.LastPassEnd))
	c.WriteBulkString("next_pass")
	c.WriteInt(unixMs(st.NextPass))
}
