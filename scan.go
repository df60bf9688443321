package epochdb

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/epochdb/epochdb/internal/keyspace"
)

// ScanOptions select the keys a Scan visits. The zero value visits every
// live key.
type ScanOptions struct {
	// Prefix restricts the scan to keys that start with it.
	Prefix []byte
	// After starts the scan strictly after this key: pass the last key of one
	// page to get the next.
	After []byte
	// Limit stops the scan after this many keys; 0 means no limit.
	Limit int
}

// ErrStopScan may be returned by a Scan callback to end the scan early;
// Scan then returns nil.
var ErrStopScan = errors.New("epochdb: stop scan")

// Scan calls fn for each live key selected by opts, in ascending byte order,
// with its value and metadata, as of one consistent snapshot taken when Scan
// starts (tracked reads not yet flushed are added as of the call to fn).
// Expired keys are skipped. Scanning is not an access: frequencies do not
// change.
//
// The value of a collection (a hash, a set) is nil; md.Type says the
// type. key and value are valid only until fn returns; copy them to keep them. If
// fn returns an error the scan stops and Scan returns it (nil for
// ErrStopScan). fn may call other DB methods.
func (db *DB) Scan(opts ScanOptions, fn func(key, value []byte, md Metadata) error) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	snap := db.pdb.NewSnapshot()
	defer snap.Close()

	lower := opts.Prefix
	if opts.After != nil && bytes.Compare(opts.After, opts.Prefix) >= 0 {
		lower = append(bytes.Clone(opts.After), 0) // the first key after After
	}
	it, err := newRecordIter(snap, lower, keyspace.PrefixEnd(opts.Prefix))
	if err != nil {
		return fmt.Errorf("epochdb: scan: %w", err)
	}
	defer it.Close()

	now := db.nowMs()
	seen := 0
	for ok := it.First(); ok && (opts.Limit <= 0 || seen < opts.Limit); ok = it.Next() {
		if it.hdr.Expired(now) {
			continue
		}
		seen++
		value := it.value
		if it.hdr.Type.IsCollection() {
			value = nil // its members are read through Hash or Set
		}
		if err := fn(it.key, value, db.makeMetadata(it.hdr, db.withPending(it.key, it.m), now)); err != nil {
			if errors.Is(err, ErrStopScan) {
				return nil
			}
			return err
		}
	}
	return it.Err()
}
