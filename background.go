package epochdb

import (
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// The background goroutines. Each is started by Open through goFunc, exits
// when closeCh closes, and Close waits for it before closing Pebble.

// syncLoop flushes and fsyncs the WAL every SyncInterval when NoSync writes
// happened since the last sync.
func (db *DB) syncLoop() {
	t := time.NewTicker(db.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-db.closeCh:
			return
		case <-t.C:
			if err := db.syncWAL(); err != nil {
				db.log.Error("epochdb: periodic wal sync failed", "err", err)
			}
		}
	}
}

// syncWAL makes every NoSync write committed so far durable.
func (db *DB) syncWAL() error {
	seq := db.writeSeq.Load()
	if seq == db.syncedSeq.Load() {
		return nil
	}
	if err := db.pdb.LogData(nil, pebble.Sync); err != nil {
		return err
	}
	db.syncedSeq.Store(seq)
	db.st.walSyncs.Add(1)
	return nil
}

// expiryLoop deletes due keys every ExpiryInterval.
func (db *DB) expiryLoop() {
	t := time.NewTicker(db.opts.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-db.closeCh:
			return
		case <-t.C:
			if _, err := db.expireDue(db.closeCh); err != nil {
				db.log.Error("epochdb: expiry sweep failed", "err", err)
			}
		}
	}
}

// expireDue removes every key whose deadline is at or before now, in atomic
// batches of at most ExpiryBatchSize keys, and returns how many it removed.
// It stops early when stop closes.
func (db *DB) expireDue(stop <-chan struct{}) (int, error) {
	db.st.sweeps.Add(1)
	total := 0
	for {
		n, more, err := db.expireBatch(db.nowMs())
		total += n
		if err != nil || !more {
			return total, err
		}
		select {
		case <-stop:
			return total, nil
		default:
		}
	}
}

type dueEntry struct {
	exp   int64
	key   []byte
	shard int
}

// expireBatch removes up to ExpiryBatchSize due keys. more reports whether
// the batch was full, so more keys may be due.
func (db *DB) expireBatch(now int64) (n int, more bool, err error) {
	limit := db.opts.ExpiryBatchSize
	iter, err := db.pdb.NewIter(&pebble.IterOptions{
		LowerBound: []byte{keyspace.PrefixTTL},
		UpperBound: keyspace.TTLBound(now + 1),
	})
	if err != nil {
		return 0, false, fmt.Errorf("epochdb: expiry: %w", err)
	}
	var due []dueEntry
	for iter.First(); iter.Valid() && len(due) < limit; iter.Next() {
		exp, key, err := keyspace.DecodeTTLKey(iter.Key())
		if err != nil {
			_ = iter.Close()
			return 0, false, fmt.Errorf("%w: ttl index: %v", ErrCorrupt, err)
		}
		k := append([]byte(nil), key...)
		due = append(due, dueEntry{exp: exp, key: k, shard: int(db.shardIndex(k))})
	}
	if err := iter.Close(); err != nil {
		return 0, false, fmt.Errorf("epochdb: expiry: %w", err)
	}
	if len(due) == 0 {
		return 0, false, nil
	}

	// Lock the shards involved in ascending order (every other writer holds
	// at most one shard lock, so this cannot deadlock), check each entry
	// against its record, and delete in one atomic batch.
	slices.SortFunc(due, func(a, b dueEntry) int { return a.shard - b.shard })
	var locked []int
	for _, d := range due {
		if len(locked) == 0 || locked[len(locked)-1] != d.shard {
			db.shards[d.shard].mu.Lock()
			locked = append(locked, d.shard)
		}
	}
	unlock := func() {
		for _, s := range locked {
			db.shards[s].mu.Unlock()
		}
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	var c counts
	var removed [][]byte
	want := db.wantEvents()
	r := retired{db: db}
	for _, d := range due {
		rec, ok, err := db.getRecord(db.pdb, d.key)
		if err != nil {
			unlock()
			r.finish(false)
			return 0, false, err
		}
		if !ok || rec.hdr.ExpiresAt != d.exp {
			// A stale index entry: the record was deleted or given another
			// deadline without its old entry being removed.
			rec.release()
			_ = b.Delete(keyspace.TTLKey(nil, d.exp, d.key), nil)
			continue
		}
		sh := &db.shards[d.shard]
		if want {
			m, err := db.currentMetaLocked(sh, d.key)
			if err != nil {
				db.log.Warn("epochdb: reading the metadata of an expired key", "key", d.key, "err", err)
			}
			r.stage(b, EventExpired, d.key, rec.hdr, m, rec.value, now)
		} else {
			db.st.expired.Add(1)
		}
		c.add(stageDelete(b, d.key, rec.hdr, len(rec.value)))
		rec.release()
		delete(sh.pending, string(d.key))
		removed = append(removed, d.key)
	}
	n = len(removed)
	addCounters(b, c)
	err = db.pdb.Apply(b, pebble.NoSync)
	r.finish(err == nil) // before the oracle: see the lock order in eventHub
	if err == nil {
		db.orc.record(removed...)
		db.applyCounters(c)
		db.writeSeq.Add(1)
	}
	unlock()
	if err != nil {
		return 0, false, fmt.Errorf("epochdb: expiry: %w", err)
	}
	return n, len(due) == limit, nil
}

// trackLoop writes tracked reads to the meta keyspace every
// TrackFlushInterval.
func (db *DB) trackLoop() {
	t := time.NewTicker(db.opts.TrackFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-db.closeCh:
			return
		case <-t.C:
			if err := db.flushTracked(); err != nil {
				db.log.Error("epochdb: flushing tracked reads failed", "err", err)
			}
		}
	}
}

// flushTracked writes every shard's tracked reads as meta merge operands, one
// batch per shard, under that shard's lock so that readers of Metadata never
// count a read twice or miss it.
func (db *DB) flushTracked() error {
	flushed := 0
	for i := range db.shards {
		sh := &db.shards[i]
		sh.mu.Lock()
		if len(sh.pending) == 0 {
			sh.mu.Unlock()
			continue
		}
		b := db.pdb.NewBatch()
		for k, a := range sh.pending {
			_ = b.Merge(keyspace.MetaKey(nil, []byte(k)), keyspace.AppendMeta(nil, a.meta()), nil)
		}
		err := db.pdb.Apply(b, pebble.NoSync)
		_ = b.Close()
		if err != nil {
			sh.mu.Unlock()
			return fmt.Errorf("epochdb: flush tracked reads: %w", err)
		}
		flushed += len(sh.pending)
		clear(sh.pending)
		sh.mu.Unlock()
	}
	db.noteTrackFlush()
	if flushed > 0 {
		db.writeSeq.Add(1)
		db.st.trackFlushes.Add(1)
		db.st.trackedKeysFlushed.Add(uint64(flushed))
	}
	return nil
}
