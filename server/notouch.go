package server

import "github.com/epochdb/epochdb"

// CLIENT NO-TOUCH: the connection's reads are not accesses. Its reads of
// values (GET, MGET, GETRANGE, ... and the reads inside its transactions)
// leave the keys' frequency, heat and last access as they were, through
// the library's Peek and Tx.SetNoTouch. Writes still count as writes, and
// commands that exist to count an access (EPOCH.INCRFREQ) still count.

// noTouchKV is kv on the DB for a NO-TOUCH connection.
type noTouchKV struct{ dbKV }

func (k noTouchKV) Get(key []byte) ([]byte, error) { return k.DB.Peek(key) }

func (k noTouchKV) Update(fn func(tx *epochdb.Tx) error) error {
	return k.DB.Update(func(tx *epochdb.Tx) error {
		tx.SetNoTouch(true)
		return fn(tx)
	})
}

func (k noTouchKV) View(fn func(tx *epochdb.Tx) error) error {
	return k.DB.View(func(tx *epochdb.Tx) error {
		tx.SetNoTouch(true)
		return fn(tx)
	})
}
