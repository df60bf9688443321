package server

import "github.com/epochdb/epochdb"

// Commands that move keys between databases: MOVE and SWAPDB. A database
// is a namespace, the first byte of every library key (see Conn.key), so
// both are transactions over the keys involved; they keep each key's
// lifecycle history (Tx.Copy, Tx.Swap), as RENAME and COPY do.

func dbCommands() []command {
	return []command{
		{CommandSpec{Name: "move", Arity: 3, Flags: FlagWrite | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: "generic",
			Summary: "Moves a key to another database."}, cmdMove},
		{CommandSpec{Name: "swapdb", Arity: 3, Flags: FlagWrite, Group: "server",
			Summary: "Swaps two Redis databases."}, cmdSwapDB},
	}
}

// parseDBIndex parses a database index argument as Redis does: an integer
// (else errInt), then in range (else "DB index is out of range").
func parseDBIndex(arg []byte, errInt string) (int, string) {
	n, ok := parseInt(arg)
	if !ok || n != int64(int32(n)) {
		return 0, errInt
	}
	if n < 0 || n >= numDBs {
		return 0, errDBIndex
	}
	return int(n), ""
}

// cmdMove is MOVE key db: 1 if moved, 0 if the key is absent or the target
// database has it already.
func cmdMove(c *Conn, cmd Command) {
	db, msg := parseDBIndex(cmd.Args[2], errNotInteger)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	if db == c.db {
		c.WriteError(errSameObject)
		return
	}
	outcome, err := c.copyKey(c.key(cmd.Args[1]), c.keyIn(db, cmd.Args[1]), true, false)
	switch {
	case err != nil:
		c.writeErr(err)
	case outcome != copyDone:
		c.WriteInt(0)
	default:
		c.notify(notifyGeneric, "move_from", cmd.Args[1])
		c.notifyIn(db, notifyGeneric, "move_to", cmd.Args[1])
		c.WriteInt(1)
	}
}

// cmdSwapDB is SWAPDB a b: one transaction that exchanges every key of the
// two databases (Tx.Swap on each key name live in either), so it takes
// time and memory in proportion to their size, where Redis swaps two
// pointers. A client WATCHing a key of either database sees it changed
// when the swap changes it (it was live in one of the two), as in Redis.
func cmdSwapDB(c *Conn, cmd Command) {
	a, msg := parseDBIndex(cmd.Args[1], "ERR invalid first DB index")
	if msg != "" {
		c.WriteError(msg)
		return
	}
	b, msg := parseDBIndex(cmd.Args[2], "ERR invalid second DB index")
	if msg != "" {
		c.WriteError(msg)
		return
	}
	if a != b {
		err := c.kv().Update(func(tx *epochdb.Tx) error {
			names := map[string]bool{}
			for _, db := range []int{a, b} {
				err := tx.Scan(epochdb.ScanOptions{Prefix: []byte{byte(db)}}, func(k, _ []byte, _ epochdb.Metadata) error {
					names[string(k[1:])] = true
					return nil
				})
				if err != nil {
					return err
				}
			}
			for name := range names {
				ka := append([]byte{byte(a)}, name...)
				kb := append([]byte{byte(b)}, name...)
				if err := tx.Swap(ka, kb); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			c.writeErr(err)
			return
		}
	}
	c.WriteOK()
}
