package epochdb

// Reads that do not count as an access: a monitoring or administrative
// client reading keys must not make them look hot (or recently used) to the
// lifecycle, which keeps, evicts and prunes keys by their accesses.

// Peek is Get without the access: the key's frequency, heat and last
// access stay as they were, so the read changes nothing the lifecycle
// (eviction, pruning) judges the key by. It counts in Stats.Gets and
// Stats.Misses like Get.
func (db *DB) Peek(key []byte) ([]byte, error) { return db.get(key, false) }

// SetNoTouch sets whether the transaction's Gets from now on skip counting
// as accesses, like DB.Peek (on), or count like DB.Get (off, the default).
func (tx *Tx) SetNoTouch(on bool) { tx.noTouch = on }
