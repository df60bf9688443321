package server

import (
	"context"
	"encoding/json"

	"github.com/epochdb/epochdb/internal/inspect"
)

// EPOCH.INSPECT: the inspection commands of the epoch CLI, online. The
// request and the reply are JSON, computed by the same code that inspects
// a store offline (internal/inspect), so that both print the same.

func inspectCommands() []command {
	return []command{
		// No keyspace lock: the library reads one consistent snapshot.
		{CommandSpec{Name: "epoch.inspect", Arity: 2, Flags: FlagReadOnly, Group: "epochdb",
			Summary: "Inspects the store (stats and histograms, keys, hot and cold keys, a key, the prune preview, a consistency check): a JSON request, a JSON reply."}, cmdEpochInspect},
		{CommandSpec{Name: "epoch.compact", Arity: 1, Flags: FlagAdmin | FlagNoMulti, Group: "epochdb",
			Summary: "Compacts the whole store now and returns the disk space in use before and after."}, cmdEpochCompact},
	}
}

// cmdEpochInspect answers EPOCH.INSPECT <json request> with the JSON of
// inspect.Do's result. A request without "db" inspects the connection's
// selected database.
func cmdEpochInspect(c *Conn, cmd Command) {
	req := inspect.Request{DB: c.DB()}
	if err := json.Unmarshal(cmd.Args[1], &req); err != nil {
		c.WriteError("ERR invalid inspection request: " + err.Error())
		return
	}
	res, err := inspect.Do(c.srv.DB, req, c.srv.now(), nil)
	if inspect.IsNotFound(err) {
		c.WriteNull()
		return
	}
	if err != nil {
		c.WriteError("ERR " + err.Error())
		return
	}
	out, err := json.Marshal(res)
	if err != nil {
		c.WriteError("ERR " + err.Error())
		return
	}
	c.WriteBulk(out)
}

// cmdEpochCompact answers EPOCH.COMPACT with the disk space in use, of the
// whole store and of its table files, before and after a manual compaction
// of the whole store (DB.Compact).
func cmdEpochCompact(c *Conn, _ Command) {
	info, err := c.srv.DB.Compact(context.Background())
	if err != nil {
		c.WriteError("ERR compact failed: " + err.Error())
		return
	}
	c.WriteMap(4)
	for _, f := range []struct {
		name string
		n    uint64
	}{{"disk_before", info.DiskBefore}, {"disk_after", info.DiskAfter}, {"tables_before", info.TablesBefore}, {"tables_after", info.TablesAfter}} {
		c.WriteBulkString(f.name)
		c.WriteInt(int64(f.n))
	}
}
