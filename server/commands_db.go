package server

import (
	"errors"

	"github.com/epochdb/epochdb"
)

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
		var swapped map[string]bool
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
				if err := swapKeys(tx, ka, kb); err != nil {
					return err
				}
			}
			swapped = names
			return nil
		})
		if err != nil {
			c.writeErr(err)
			return
		}
		// The keys changed databases without notifications: the clients
		// blocked on them in either database are served as after a write.
		for name := range swapped {
			c.wakeLater(a, []byte(name))
			c.wakeLater(b, []byte(name))
		}
	}
	c.WriteOK()
}

// swapTemp is the library key swapKeys parks a key under inside its
// transaction: outside every database's namespace (0–15), and deleted
// before the transaction commits.
var swapTemp = []byte("\xffswapdb")

// swapKeys exchanges library keys a and b in tx: strings with their
// history (Tx.Swap), collections member by member (copyCollection), by
// way of a temporary key.
func swapKeys(tx *epochdb.Tx, a, b []byte) error {
	ma, aok, err := txMetadata(tx, a)
	if err != nil {
		return err
	}
	mb, bok, err := txMetadata(tx, b)
	if err != nil {
		return err
	}
	if (!aok || ma.Type == epochdb.TypeString) && (!bok || mb.Type == epochdb.TypeString) {
		return tx.Swap(a, b)
	}
	if err := moveKey(tx, a, swapTemp, ma, aok); err != nil {
		return err
	}
	if err := moveKey(tx, b, a, mb, bok); err != nil {
		return err
	}
	return moveKey(tx, swapTemp, b, ma, aok)
}

// moveKey moves src (metadata md; ok false if it does not exist) to dst
// in tx, replacing whatever dst holds (deleting it if src is missing).
func moveKey(tx *epochdb.Tx, src, dst []byte, md epochdb.Metadata, ok bool) error {
	if !ok {
		return tx.Delete(dst)
	}
	if md.Type == epochdb.TypeString {
		if err := tx.Copy(src, dst); err != nil {
			return err
		}
	} else if err := copyCollection(tx, src, dst, md); err != nil {
		return err
	}
	return tx.Delete(src)
}

// txMetadata is tx.Metadata with a missing key as ok false.
func txMetadata(tx *epochdb.Tx, key []byte) (epochdb.Metadata, bool, error) {
	md, err := tx.Metadata(key)
	if errors.Is(err, epochdb.ErrNotFound) {
		return md, false, nil
	}
	return md, err == nil, err
}
