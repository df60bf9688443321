package server

import (
	"errors"

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
		{k1("epoch.meta", 2, FlagReadOnly, "Returns a key's metadata: frequency, created/updated/last-access/expires times in Unix ms."), cmdEpochMeta},
		{k1("epoch.incrfreq", 2, FlagWrite, "Counts one access of a key and returns its new frequency."), cmdEpochIncrFreq},
		{k1("increment_frequency", 2, FlagWrite, "epoch-db 0.3: counts one access of a key."), cmdEpochIncrFreq},
		{k1("get_metadata", 2, FlagReadOnly, "epoch-db 0.3: returns frequency, created_at and ttl (Unix seconds) of a key."), cmdGetMetadata},
		{k1("rm", 2, FlagWrite, "epoch-db 0.3: deletes a key."), cmdRm},
		{CommandSpec{Name: "size", Arity: 1, Flags: FlagReadOnly, Group: g, Summary: "epoch-db 0.3: returns the number of keys stored."}, cmdSize},
		{CommandSpec{Name: "flush", Arity: 1, Flags: FlagAdmin | FlagNoMulti, Group: g, Summary: "epoch-db 0.3: makes every acknowledged write durable on disk."}, cmdSave},
	}
}

// cmdEpochMeta answers a map (RESP3) or flat pairs (RESP2) of the key's
// metadata; times are Unix ms, expires_at is -1 without deadline. Reading
// metadata is not an access.
func cmdEpochMeta(c *Conn, cmd Command) {
	md, err := c.srv.DB.Metadata(c.key(cmd.Args[1]))
	if errors.Is(err, epochdb.ErrNotFound) {
		c.WriteNull()
		return
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	exp := int64(-1)
	if !md.ExpiresAt.IsZero() {
		exp = md.ExpiresAt.UnixMilli()
	}
	c.WriteMap(5)
	c.WriteBulkString("frequency")
	c.WriteUint(md.Frequency)
	c.WriteBulkString("created_at")
	c.WriteInt(md.CreatedAt.UnixMilli())
	c.WriteBulkString("updated_at")
	c.WriteInt(md.UpdatedAt.UnixMilli())
	c.WriteBulkString("last_access")
	c.WriteInt(md.LastAccess.UnixMilli())
	c.WriteBulkString("expires_at")
	c.WriteInt(exp)
}

// cmdEpochIncrFreq is EPOCH.INCRFREQ (the new frequency) and epoch-db 0.3's
// INCREMENT_FREQUENCY (OK); both answer null for a missing key.
func cmdEpochIncrFreq(c *Conn, cmd Command) {
	n, err := c.srv.DB.IncrementFrequency(c.key(cmd.Args[1]))
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
	md, err := c.srv.DB.Metadata(c.key(cmd.Args[1]))
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
	if _, err := c.srv.DB.Delete(c.key(cmd.Args[1])); err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyGeneric, "del", cmd.Args[1])
	c.WriteOK()
}

// cmdSize is epoch-db 0.3's SIZE: the keys of the selected database.
func cmdSize(c *Conn, cmd Command) { cmdDBSize(c, cmd) }
