package epochdb

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// Namespaces. A key's first byte is its namespace (the server keeps
// Redis's database number there). The DB keeps its persistent counters per
// namespace, so that the size of one is known without a scan, and drops a
// whole namespace at once with range deletions (DropNamespace).

// sysNSCounts prefixes the counts vector (keys, keys with a deadline, live
// bytes) of each namespace in the system keyspace: sysNSCounts + ns.
const sysNSCounts = "ns-counts/"

// NamespaceStats are the counters of one namespace.
type NamespaceStats struct {
	Keys        int64 // keys stored, including expired ones not yet swept
	KeysWithTTL int64 // of which have a deadline
	LiveBytes   int64 // the length of their keys and values
}

// nsCounters are the in-memory counters of a namespace.
type nsCounters struct{ keys, ttlKeys, bytes atomic.Int64 }

// Namespace returns the counters of the keys whose first byte is ns.
func (db *DB) Namespace(ns byte) NamespaceStats {
	c := &db.ns[ns]
	return NamespaceStats{Keys: c.keys.Load(), KeysWithTTL: c.ttlKeys.Load(), LiveBytes: c.bytes.Load()}
}

// tally accumulates the counter changes of a write, in total and per
// namespace.
type tally struct {
	total counts
	first nsDelta   // the first namespace touched
	rest  []nsDelta // the others
}

type nsDelta struct {
	ns   byte
	used bool
	c    counts
}

// add counts c for key's namespace.
func (t *tally) add(key []byte, c counts) {
	t.total.add(c)
	ns := key[0]
	switch {
	case !t.first.used:
		t.first = nsDelta{ns: ns, used: true, c: c}
		return
	case t.first.ns == ns:
		t.first.c.add(c)
		return
	}
	for i := range t.rest {
		if t.rest[i].ns == ns {
			t.rest[i].c.add(c)
			return
		}
	}
	t.rest = append(t.rest, nsDelta{ns: ns, used: true, c: c})
}

// each calls fn for every namespace touched.
func (t *tally) each(fn func(ns byte, c counts)) {
	if t.first.used {
		fn(t.first.ns, t.first.c)
	}
	for _, d := range t.rest {
		fn(d.ns, d.c)
	}
}

// addCounters records the counter changes of t in b: one merge operand of
// its counts vector per namespace.
func addCounters(b *pebble.Batch, t *tally) {
	t.each(func(ns byte, c counts) {
		if c.keys != 0 || c.ttlKeys != 0 || c.bytes != 0 {
			var buf [24]byte
			_ = b.Merge(nsCountsKey(ns), keyspace.AppendCounters(buf[:0], c.keys, c.ttlKeys, c.bytes), nil)
		}
	})
}

func nsCountsKey(ns byte) []byte { return keyspace.SysKey(sysNSCounts + string([]byte{ns})) }

// applyCounters applies committed counter changes to the in-memory copies,
// and lets the sweeper know of a new deadline. Called after the batch is
// applied, under the shard locks of the keys it wrote.
func (db *DB) applyCounters(t *tally) {
	c := t.total
	t.each(func(ns byte, c counts) { db.addNSCounters(ns, c.keys, c.ttlKeys, c.bytes) })
	db.noteDeadline(c.minExp)
	if c.minFieldExp > 0 {
		db.lowerFieldSweepFrom(c.minFieldExp)
	}
}

// loadCounters loads the per-namespace counters. A store written before
// they existed has only totals: it is counted once by a scan, and the
// result written in the new form.
func (db *DB) loadCounters() error {
	it, err := db.pdb.NewIter(&pebble.IterOptions{
		LowerBound: keyspace.SysKey(sysNSCounts),
		UpperBound: keyspace.PrefixEnd(keyspace.SysKey(sysNSCounts)),
	})
	if err != nil {
		return err
	}
	var vec []int64
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != len(keyspace.SysKey(sysNSCounts))+1 {
			_ = it.Close()
			return fmt.Errorf("%w: system record %q", ErrCorrupt, k)
		}
		if vec, err = keyspace.DecodeCounters(vec, it.Value()); err == nil && len(vec) != 3 {
			err = fmt.Errorf("a counts vector of %d values, want 3", len(vec))
		}
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("%w: system record %q: %v", ErrCorrupt, k, err)
		}
		db.setNSCounters(k[len(k)-1], vec[0], vec[1], vec[2])
	}
	if err := it.Close(); err != nil {
		return err
	}
	legacy := false
	for _, name := range []string{sysKeys, sysTTLKeys, sysBytes, sysCounts} {
		_, closer, err := db.pdb.Get(keyspace.SysKey(name))
		if err == nil {
			_ = closer.Close()
			legacy = true
		}
	}
	if legacy {
		return db.recount()
	}
	return nil
}

func (db *DB) setNSCounters(ns byte, keys, ttlKeys, nbytes int64) {
	n := &db.ns[ns]
	n.keys.Store(keys)
	n.ttlKeys.Store(ttlKeys)
	n.bytes.Store(nbytes)
	db.keys.Add(keys)
	db.ttlKeys.Add(ttlKeys)
	db.bytes.Add(nbytes)
}

// recount counts every namespace by a scan of the data keyspace and
// replaces the stored counters with the result (at Open, before any
// write).
func (db *DB) recount() error {
	var per [256]counts
	it, err := newRecordIter(db.pdb, nil, nil)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		c := &per[it.key[0]]
		c.keys++
		c.bytes += int64(len(it.key)) + recordSize(it.hdr, it.value)
		if it.hdr.ExpiresAt != 0 {
			c.ttlKeys++
		}
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("epochdb: count keys: %w", err)
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	db.keys.Store(0)
	db.ttlKeys.Store(0)
	db.bytes.Store(0)
	for ns, c := range per {
		db.setNSCounters(byte(ns), c.keys, c.ttlKeys, c.bytes)
		if c.keys != 0 {
			_ = b.Set(nsCountsKey(byte(ns)), keyspace.AppendCounters(nil, c.keys, c.ttlKeys, c.bytes), nil)
		} else {
			_ = b.Delete(nsCountsKey(byte(ns)), nil)
		}
	}
	for _, name := range []string{sysKeys, sysTTLKeys, sysBytes, sysCounts} {
		_ = b.Delete(keyspace.SysKey(name), nil)
	}
	if err := db.pdb.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("epochdb: write counters: %w", err)
	}
	return nil
}

// DropNamespace removes every key whose first byte is ns, and returns how
// many there were (expired ones not yet swept included). It is O(1) in the
// number of keys: the keys disappear at once, with one atomic write of two
// range deletions, and their space is reclaimed by a compaction in the
// background. It is Redis's FLUSHDB. Dropped keys are not retirements: no
// events. Watches of dropped keys see a write, and transactions that began
// before the drop conflict.
func (db *DB) DropNamespace(ns byte) (int64, error) {
	if err := db.enter(); err != nil {
		return 0, err
	}
	defer db.leave()
	var w writeOp
	db.startWriteAll(&w, db.nowMs())
	defer w.release()
	lo, hi := []byte{ns}, []byte{ns + 1}
	if ns == 0xff {
		hi = nil
	}
	mlo, mhi := keyspace.MemberNSRange(ns)
	zlo, zhi := keyspace.ScoreNSRange(ns)
	ranges := [][2][]byte{
		{keyspace.DataKey(nil, lo), rangeEnd(keyspace.PrefixData, hi)},
		{keyspace.MetaKey(nil, lo), rangeEnd(keyspace.PrefixMeta, hi)},
		{mlo, mhi}, // collections' members
		{zlo, zhi}, // sorted sets' score index
	}
	for _, r := range ranges {
		_ = w.b.DeleteRange(r[0], r[1], nil)
	}
	// The stale ttl-index and field-index entries are removed by the
	// sweeper when due.
	cur := db.Namespace(ns)
	w.t.add(lo, counts{keys: -cur.Keys, ttlKeys: -cur.KeysWithTTL, bytes: -cur.LiveBytes})
	w.dropped = ns
	w.dropping = true
	if err := w.commit(nil); err != nil {
		return 0, err
	}
	stop, pdb := db.bgStop, db.pdb
	db.goFunc(func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { // Close does not wait for the compaction to finish
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		// The memtable's copy of the dropped keys (and the log holding
		// it) goes with a flush; the tables' with a compaction.
		if err := pdb.Flush(); err != nil {
			db.log.Warn("epochdb: flushing after a dropped namespace", "ns", ns, "err", err)
		}
		for _, r := range ranges {
			if err := pdb.Compact(ctx, r[0], r[1], true); err != nil && ctx.Err() == nil {
				db.log.Warn("epochdb: compacting a dropped namespace", "ns", ns, "err", err)
			}
		}
	})
	return cur.Keys, nil
}

// rangeEnd is the end of the range of keyspace prefix whose user keys
// start before hi (nil: the whole rest of the keyspace).
func rangeEnd(prefix byte, hi []byte) []byte {
	if hi == nil {
		return []byte{prefix + 1}
	}
	return append([]byte{prefix}, hi...)
}

// droppedNamespace forgets, under every shard lock, the per-key state of
// a dropped namespace: tracked reads and merge runs; it marks its watches
// and every version (transactions that began before conflict).
func (db *DB) droppedNamespace(ns byte) {
	seq := db.commitSeq.Add(1)
	for i := range db.shards {
		sh := &db.shards[i]
		for j := range sh.vers {
			sh.vers[j] = seq
		}
		for k, ws := range sh.watchers {
			if k[0] == ns {
				for _, w := range ws {
					w.dirty.Store(true)
				}
			}
		}
		for k := range sh.runs {
			if k[0] == ns {
				delete(sh.runs, k)
			}
		}
		sh.dropPendingNamespace(ns)
	}
	db.rlog.invalidate(seq)
	db.cacheDropNamespace(ns)
}

// dropPendingNamespace forgets the shard's unflushed reads of namespace ns.
func (sh *shard) dropPendingNamespace(ns byte) {
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	for k := range sh.pending {
		if k[0] == ns {
			delete(sh.pending, k)
		}
	}
}
