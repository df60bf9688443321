package epochdb

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// recordIter iterates the data records of a range of user keys in key order,
// each with its stored meta. The meta comes from a second iterator over the
// meta keyspace (sorted like the data keyspace) that moves forward with the
// first, so a walk costs two sequential scans rather than a point lookup of
// the meta per key. Meta records without data (possible after a race
// between a tracked-read flush and a delete) are skipped; a record without
// meta gets the zero Meta.
//
// Key, Value, Header and Meta describe the current record and are valid
// until the next positioning call.
type recordIter struct {
	data, meta *pebble.Iterator
	mkey       []byte

	key, value []byte
	hdr        keyspace.Header
	m          keyspace.Meta
	err        error
}

// newRecordIter returns an iterator over the data records of r whose user
// keys lie in [lower, upper); a nil upper means no upper bound.
func newRecordIter(r pebble.Reader, lower, upper []byte) (*recordIter, error) {
	ub := []byte{keyspace.PrefixData + 1}
	if upper != nil {
		ub = keyspace.DataKey(nil, upper)
	}
	data, err := r.NewIter(&pebble.IterOptions{LowerBound: keyspace.DataKey(nil, lower), UpperBound: ub})
	if err != nil {
		return nil, err
	}
	meta, err := r.NewIter(&pebble.IterOptions{
		LowerBound: []byte{keyspace.PrefixMeta},
		UpperBound: []byte{keyspace.PrefixMeta + 1},
	})
	if err != nil {
		_ = data.Close()
		return nil, err
	}
	return &recordIter{data: data, meta: meta}, nil
}

// First moves to the first record; it reports whether there is one.
func (it *recordIter) First() bool { return it.load(it.data.First()) }

// SeekGE moves to the first record whose key is >= key.
func (it *recordIter) SeekGE(key []byte) bool {
	var kbuf [64]byte
	return it.load(it.data.SeekGE(keyspace.DataKey(kbuf[:0], key)))
}

// Next moves to the next record.
func (it *recordIter) Next() bool { return it.load(it.data.Next()) }

// load decodes the record at the data iterator and looks up its meta.
func (it *recordIter) load(valid bool) bool {
	if !valid || it.err != nil {
		return false
	}
	it.key = keyspace.UserKey(it.data.Key())
	raw, err := it.data.ValueAndErr()
	if err != nil {
		it.err = fmt.Errorf("epochdb: read %q: %w", it.key, err)
		return false
	}
	if it.hdr, it.value, err = keyspace.DecodeRecord(raw); err != nil {
		it.err = corruptErr(it.key, err)
		return false
	}
	// Successive seeks move forward, which Pebble turns into nexts.
	it.m = keyspace.Meta{}
	it.mkey = keyspace.MetaKey(it.mkey[:0], it.key)
	if it.meta.SeekGE(it.mkey) && bytes.Equal(it.meta.Key(), it.mkey) {
		mv, err := it.meta.ValueAndErr()
		if err != nil {
			it.err = fmt.Errorf("epochdb: read metadata of %q: %w", it.key, err)
			return false
		}
		if it.m, err = keyspace.DecodeMeta(mv); err != nil {
			it.err = corruptErr(it.key, err)
			return false
		}
	}
	return true
}

// Err returns the error that ended the iteration, if any.
func (it *recordIter) Err() error {
	if it.err != nil {
		return it.err
	}
	if err := it.data.Error(); err != nil {
		return fmt.Errorf("epochdb: iterate records: %w", err)
	}
	if err := it.meta.Error(); err != nil {
		return fmt.Errorf("epochdb: iterate metadata: %w", err)
	}
	return nil
}

// Close releases the iterators.
func (it *recordIter) Close() error {
	err := it.data.Close()
	if merr := it.meta.Close(); err == nil {
		err = merr
	}
	return err
}

// withPending returns m plus the reads of key tracked but not yet flushed.
func (db *DB) withPending(key []byte, m keyspace.Meta) keyspace.Meta {
	if db.opts.DisableReadTracking {
		return m
	}
	if a := db.shardFor(key).pendingOf(key); a.count > 0 {
		m = db.mergeMeta(m, a.meta())
	}
	return m
}
