package epochdb

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// KeySize is what one key takes: in the storage engine and in the record
// cache.
type KeySize struct {
	// Stored is the length of the key's records as the store writes them
	// to the engine: its data record (key, header, value), its metadata
	// record (key and access counts, once it has one) and its deadline's
	// index entry (when it has a deadline). The engine's files hold them
	// compressed, with per-entry overhead, and for a while with the older
	// versions compaction has not yet removed, so the disk usage a key
	// causes differs; Stored is what the key adds to the data the engine
	// keeps.
	Stored int64
	// Cached is the memory the record cache holds for the key: its entry,
	// key and (when it is small enough to be cached) value; 0 when the key
	// is not cached.
	Cached int64
}

// KeySize returns the size of key's records and of its record-cache entry,
// or ErrNotFound if the key is absent or expired. It is not an access.
func (db *DB) KeySize(key []byte) (KeySize, error) {
	if err := checkKey(key); err != nil {
		return KeySize{}, err
	}
	if err := db.enter(); err != nil {
		return KeySize{}, err
	}
	defer db.leave()
	sh := db.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	rec, ok, err := db.getRecord(db.pdb, key)
	rec.release()
	if err != nil {
		return KeySize{}, err
	}
	if !ok || rec.hdr.Expired(db.nowMs()) {
		return KeySize{}, ErrNotFound
	}
	var ks KeySize
	ks.Stored = int64(1 + len(key) + keyspace.HeaderLen + len(rec.value))
	var kbuf [64]byte
	v, closer, err := db.pdb.Get(keyspace.MetaKey(kbuf[:0], key))
	switch {
	case err == nil:
		ks.Stored += int64(1 + len(key) + len(v))
		_ = closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		return KeySize{}, fmt.Errorf("epochdb: get metadata of %q: %w", key, err)
	}
	if rec.hdr.ExpiresAt != 0 {
		ks.Stored += int64(len(keyspace.TTLKey(kbuf[:0], rec.hdr.ExpiresAt, key)))
	}
	if db.cacheOn() {
		if e := sh.cache.peek(key); e != nil {
			ks.Cached = int64(len(key) + len(e.value) + cacheEntryOverhead) // e.size
		}
	}
	return ks, nil
}
