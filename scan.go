package epochdb

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
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
// key and value are valid only until fn returns; copy them to keep them. If
// fn returns an error the scan stops and Scan returns it (nil for
// ErrStopScan). fn may call other DB methods.
func (db *DB) Scan(opts ScanOptions, fn func(key, value []byte, md Metadata) error) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	snap := db.pdb.NewSnapshot()
	defer snap.Close()

	lower := keyspace.DataKey(nil, opts.Prefix)
	if opts.After != nil && bytes.Compare(opts.After, opts.Prefix) >= 0 {
		lower = append(keyspace.DataKey(nil, opts.After), 0) // the first key after After
	}
	upper := keyspace.PrefixEnd(keyspace.DataKey(nil, opts.Prefix))
	data, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("epochdb: scan: %w", err)
	}
	defer data.Close()
	meta, err := snap.NewIter(&pebble.IterOptions{
		LowerBound: []byte{keyspace.PrefixMeta},
		UpperBound: []byte{keyspace.PrefixMeta + 1},
	})
	if err != nil {
		return fmt.Errorf("epochdb: scan: %w", err)
	}
	defer meta.Close()

	now := db.nowMs()
	seen := 0
	var mkey []byte
	for data.First(); data.Valid(); data.Next() {
		if opts.Limit > 0 && seen >= opts.Limit {
			break
		}
		key := keyspace.UserKey(data.Key())
		raw, err := data.ValueAndErr()
		if err != nil {
			return fmt.Errorf("epochdb: scan %q: %w", key, err)
		}
		hdr, value, err := keyspace.DecodeRecord(raw)
		if err != nil {
			return corruptErr(key, err)
		}
		if hdr.Expired(now) {
			continue
		}
		var m keyspace.Meta
		mkey = keyspace.MetaKey(mkey[:0], key)
		if meta.SeekGE(mkey) && bytes.Equal(meta.Key(), mkey) {
			mv, err := meta.ValueAndErr()
			if err != nil {
				return fmt.Errorf("epochdb: scan metadata of %q: %w", key, err)
			}
			if m, err = keyspace.DecodeMeta(mv); err != nil {
				return corruptErr(key, err)
			}
		}
		if !db.opts.DisableReadTracking {
			sh := db.shardFor(key)
			sh.mu.Lock()
			if a, ok := sh.pending[string(key)]; ok {
				m = db.mergeMeta(m, a.meta())
			}
			sh.mu.Unlock()
		}
		seen++
		if err := fn(key, value, db.makeMetadata(hdr, m, now)); err != nil {
			if errors.Is(err, ErrStopScan) {
				return nil
			}
			return err
		}
	}
	if err := data.Error(); err != nil {
		return fmt.Errorf("epochdb: scan: %w", err)
	}
	return nil
}
