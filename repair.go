package epochdb

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// RepairReport is what Repair changed.
type RepairReport struct {
	TTLAdded    int64 // deadline index entries added for records that lacked theirs
	TTLRemoved  int64 // stale deadline index entries removed
	MetaRemoved int64 // metadata records without a data record removed
	// CountersFixed lists the namespaces whose counters differed from
	// their records and were rewritten.
	CountersFixed []byte
}

// repairBatchOps bounds the changes Repair applies in one batch.
const repairBatchOps = 1 << 14

// Repair fixes what Check finds that can be fixed without losing data:
// it adds the deadline index entries records lack (so that their keys are
// swept again), removes stale index entries and metadata without a data
// record, and rewrites every namespace's counters from a scan of the
// records. It never changes a data record.
//
// It holds every shard lock while it runs, so writes wait for it: meant for
// a store no server is using (epoch check --repair opens it offline).
func (db *DB) Repair() (RepairReport, error) {
	if db.repl != nil {
		return RepairReport{}, errors.New("epochdb: Repair does not run on a replicated store (its fixes would not be replicated)")
	}
	if err := db.enter(); err != nil {
		return RepairReport{}, err
	}
	defer db.leave()
	unlock := db.lockAllShards() // the repair applies its own batches
	defer unlock()
	var r RepairReport
	b := db.pdb.NewBatch()
	ops := 0
	flush := func() error {
		if ops == 0 {
			return nil
		}
		if err := db.pdb.Apply(b, pebble.Sync); err != nil {
			return fmt.Errorf("epochdb: repair: %w", err)
		}
		b.Reset()
		ops = 0
		return nil
	}
	stage := func(err error) error {
		ops++
		if err == nil && ops >= repairBatchOps {
			err = flush()
		}
		return err
	}
	defer func() { _ = b.Close() }()

	// The records: counters per namespace, and their index entries.
	var per [256]counts
	it, err := newRecordIter(db.pdb, nil, nil)
	if err != nil {
		return r, err
	}
	for ok := it.First(); ok && err == nil; ok = it.Next() {
		c := &per[it.key[0]]
		c.keys++
		c.bytes += int64(len(it.key)) + recordSize(it.hdr, it.value)
		if it.hdr.ExpiresAt == 0 {
			continue
		}
		c.ttlKeys++
		tk := keyspace.TTLKey(nil, it.hdr.ExpiresAt, it.key)
		if _, closer, gerr := db.pdb.Get(tk); errors.Is(gerr, pebble.ErrNotFound) {
			r.TTLAdded++
			err = stage(b.Set(tk, nil, nil))
		} else if gerr != nil {
			err = gerr
		} else {
			_ = closer.Close()
		}
	}
	if ierr := it.Err(); err == nil {
		err = ierr
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return r, fmt.Errorf("epochdb: repair: %w", err)
	}

	// Stale index entries and orphaned metadata.
	err = db.repairScan(keyspace.PrefixTTL, func(k []byte) (bool, error) {
		exp, key, derr := keyspace.DecodeTTLKey(k)
		if derr != nil {
			return true, nil // undecodable: not an entry the sweeper can use
		}
		rec, ok, gerr := db.getRecord(db.pdb, key)
		defer rec.release()
		return gerr == nil && (!ok || rec.hdr.ExpiresAt != exp), gerr
	}, func(k []byte) error {
		r.TTLRemoved++
		return stage(b.Delete(k, nil))
	})
	if err == nil {
		err = db.repairScan(keyspace.PrefixMeta, func(k []byte) (bool, error) {
			rec, ok, gerr := db.getRecord(db.pdb, keyspace.UserKey(k))
			rec.release()
			return gerr == nil && !ok, gerr
		}, func(k []byte) error {
			r.MetaRemoved++
			return stage(b.Delete(k, nil))
		})
	}
	if err != nil {
		return r, err
	}

	// The counters, as the records count them.
	for ns, c := range per {
		if got := db.Namespace(byte(ns)); got != (NamespaceStats{Keys: c.keys, KeysWithTTL: c.ttlKeys, LiveBytes: c.bytes}) {
			r.CountersFixed = append(r.CountersFixed, byte(ns))
		}
		if c.keys != 0 {
			err = stage(b.Set(nsCountsKey(byte(ns)), keyspace.AppendCounters(nil, c.keys, c.ttlKeys, c.bytes), nil))
		} else {
			err = stage(b.Delete(nsCountsKey(byte(ns)), nil))
		}
		if err != nil {
			return r, err
		}
	}
	if err := flush(); err != nil {
		return r, err
	}
	db.keys.Store(0)
	db.ttlKeys.Store(0)
	db.bytes.Store(0)
	for ns, c := range per {
		db.setNSCounters(byte(ns), c.keys, c.ttlKeys, c.bytes)
	}
	db.lowerSweepFrom(0) // the index entries added may be due
	return r, nil
}

// repairScan calls fix for every key of the keyspace prefix that bad
// reports.
func (db *DB) repairScan(prefix byte, bad func(k []byte) (bool, error), fix func(k []byte) error) error {
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return err
	}
	for ok := it.First(); ok && err == nil; ok = it.Next() {
		var isBad bool
		if isBad, err = bad(it.Key()); err == nil && isBad {
			err = fix(append([]byte(nil), it.Key()...))
		}
	}
	if ierr := it.Error(); err == nil {
		err = ierr
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("epochdb: repair: %w", err)
	}
	return nil
}
