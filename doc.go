// Package epochdb is a persistent, concurrent key-value store for data with
// a lifecycle. Every key carries its age, its deadline and its access
// frequency, and the store retires data that has outlived its use.
//
// # Basics
//
// Open a database in a directory, then store and read byte slices:
//
//	db, err := epochdb.Open("data", nil) // nil: default Options
//	if err != nil { ... }
//	defer db.Close()
//
//	err = db.Set([]byte("session:42"), []byte("alice"), 30*time.Minute) // 0 = never expires
//	v, err := db.Get([]byte("session:42"))                            // ErrNotFound when absent or expired
//	n, err := db.IncrementFrequency([]byte("session:42"))             // the new access count
//	md, err := db.Metadata([]byte("session:42"))                      // Frequency, CreatedAt, LastAccess, ExpiresAt …
//
// The core types are DB (all methods safe for concurrent use), Tx (a
// transaction, used by one goroutine) and Options (the zero value of every
// field means its documented default).
//
// # Time and expiry
//
// Deadlines are absolute Unix milliseconds, so they survive restarts. An
// expired key is invisible to every call from its deadline on; a background
// sweeper then deletes it within about Options.ExpiryInterval. All lifecycle
// decisions read Options.Clock, so tests can advance time instead of sleeping.
//
// # Frequency
//
// IncrementFrequency is exact under any concurrency. A Get also counts as an
// access unless Options.DisableReadTracking is set: reads are counted in
// memory and written in batches, never as a synchronous write on the read
// path; Metadata already includes counts not yet written. Peek (and a
// transaction after Tx.SetNoTouch) reads without counting an access.
//
// # Transactions
//
// Update runs a read-write transaction and View a read-only one:
//
//	err := db.Update(func(tx *epochdb.Tx) error {
//		v, err := tx.Get([]byte("balance:a"))
//		...
//		return tx.Set([]byte("balance:a"), newValue, 0)
//	})
//
// Read-write transactions are serializable: reads see one snapshot plus the
// transaction's own writes, and the commit fails with ErrConflict (Update then
// retries) if anything the transaction read, scanned or wrote was written by
// someone else — another transaction, a plain Set or Delete, an expiry —
// after its snapshot. Write skew is therefore impossible. Batch applies many
// blind writes atomically.
//
// # Durability
//
// By default writes are acknowledged from memory and the write-ahead log is
// fsynced every Options.SyncInterval (100ms): a crash loses at most the last
// interval's writes. With Options.SyncWrites every write is fsynced before it
// returns, concurrent writers sharing fsyncs (group commit).
//
// # Caveats
//
// Values live next to their header, so Expire and Persist rewrite the value:
// cheap for small values, a full copy for large ones. Len counts keys until
// the sweeper removes them, so it can include keys expired within the last
// ExpiryInterval. Slices passed to callbacks (Scan) are valid only during the
// call. A transaction from Begin must be committed or rolled back: Close waits
// for it.
package epochdb
