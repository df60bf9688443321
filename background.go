package epochdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// The background goroutines. startBackground starts each through goFunc;
// each exits when the stop channel it was given closes, which Close (and a
// reopen after an engine failure) does before closing Pebble, waiting for
// them.

// syncLoop flushes and fsyncs the WAL every half SyncInterval when NoSync
// writes happened since the last sync: a write waits at most half an
// interval for a sync to start, which leaves the other half for the fsync
// itself, so that a write acknowledged one interval ago is durable unless an
// fsync takes longer than half an interval. With SyncWrites, or no periodic
// sync, it idles until Reconfigure changes that.
func (db *DB) syncLoop(stop <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s := db.cfg()
		if s.SyncInterval > 0 {
			t.Reset(max(s.SyncInterval/2, time.Millisecond))
		} else {
			t.Stop()
		}
		select {
		case <-stop:
			return
		case <-db.syncKick:
			// The mode changed: cover what the old one left unsynced.
		case <-t.C:
		}
		if err := db.syncWAL(false); err != nil {
			db.log.Error("epochdb: periodic wal sync failed", "err", err)
		}
	}
}

// Sync makes every write acknowledged before the call durable (the WAL is
// fsynced), whatever the durability mode: with SyncWrites it returns at
// once; otherwise it does the periodic sync's work now. It is Redis's SAVE
// for a store whose writes are already in its log.
func (db *DB) Sync() error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	if db.cfg().SyncWrites && db.writeSeq.Load() == db.syncedSeq.Load() {
		return nil
	}
	if err := db.syncWAL(true); err != nil {
		return fmt.Errorf("epochdb: sync: %w", err)
	}
	return nil
}

// syncWAL makes every NoSync write committed so far durable; unless
// always, only if there is one since the last sync.
func (db *DB) syncWAL(always bool) error {
	seq := db.writeSeq.Load()
	if seq == db.syncedSeq.Load() && !always {
		return nil
	}
	last := db.assignedEventSeq()
	at := db.unsyncedAt.Load()
	if err := db.syncLog(); err != nil {
		return err
	}
	db.eventsDurable(last)
	db.syncedSeq.Store(seq)
	db.st.walSyncs.Add(1)
	if db.writeSeq.Load() == seq {
		db.unsyncedAt.CompareAndSwap(at, 0)
	} else {
		// Writes came during the fsync: the oldest is from about now (or
		// set its own time, if at was 0).
		db.unsyncedAt.CompareAndSwap(at, monoNanos())
	}
	return nil
}

// expiryLoop deletes due keys every ExpiryInterval.
func (db *DB) expiryLoop(stop <-chan struct{}) {
	t := time.NewTicker(db.opts.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if !db.writesHere() {
				continue
			}
			if _, err := db.expireDue(stop); err != nil {
				db.log.Error("epochdb: expiry sweep failed", "err", err)
			}
			if _, err := db.expireFieldsDue(stop); err != nil {
				db.log.Error("epochdb: field expiry sweep failed", "err", err)
			}
		}
	}
}

// expireDue removes every key whose deadline is at or before now, in atomic
// batches of at most ExpiryBatchSize keys, and returns how many it removed.
// It stops early when stop closes.
//
// A sweep starts at sweepFrom, not at the start of the ttl index: the
// entries before it were deleted by earlier sweeps, and iterating over their
// tombstones again (until a compaction drops them) would make each sweep
// cost as much as all earlier ones. A sweep first raises sweepFrom past the
// deadlines it will cover; a writer that then writes an earlier deadline
// (ExpireAt in the past) lowers it again, after its batch is applied, so the
// next sweep starts early enough to see the entry (noteDeadline).
func (db *DB) expireDue(stop <-chan struct{}) (int, error) {
	db.st.sweeps.Add(1)
	now := db.nowMs()
	from := db.sweepFrom.Load()
	for !db.sweepFrom.CompareAndSwap(from, max(from, now+1)) {
		from = db.sweepFrom.Load()
	}
	if from > now {
		return 0, nil
	}
	total := 0
	lower := keyspace.TTLBound(from)
	for {
		n, next, err := db.expireBatch(now, lower)
		total += n
		if err == nil && next != nil {
			select {
			case <-stop:
				err = errStopped
			default:
			}
		}
		if err != nil {
			// Start the next sweep where this one stopped (the very
			// start of the index when that is where it failed).
			exp, _, _ := keyspace.DecodeTTLKey(lower)
			db.lowerSweepFrom(exp)
			if err == errStopped {
				err = nil
			}
			return total, err
		}
		if next == nil {
			return total, nil
		}
		lower = next
	}
}

// prefetch reads the records (and metas, if withMeta) of keys without
// locks, to bring their blocks into the cache before a locked pass over
// them. Errors are left for that pass to find.
func (db *DB) prefetch(keys [][]byte, withMeta bool) {
	for _, k := range keys {
		rec, _, _ := db.getRecord(db.pdb, k)
		rec.release()
		if withMeta {
			_, _ = db.getMeta(db.pdb, k)
		}
	}
}

// errStopped ends a sweep early when the DB closes.
var errStopped = errors.New("epochdb: stopped")

// noteDeadline makes the next sweep start at or before exp; writers call it
// after applying a ttl-index entry.
func (db *DB) noteDeadline(exp int64) {
	if exp > 0 {
		db.lowerSweepFrom(exp)
	}
}

// lowerSweepFrom makes the next sweep start at or before from (>= 0).
func (db *DB) lowerSweepFrom(from int64) {
	for {
		cur := db.sweepFrom.Load()
		if from >= cur || db.sweepFrom.CompareAndSwap(cur, from) {
			return
		}
	}
}

type dueEntry struct {
	exp   int64
	key   []byte
	shard int
}

// expireBatch removes up to ExpiryBatchSize keys due at now, from the ttl
// index position lower on. next is where the following batch starts, nil if
// this one reached the end of what is due.
func (db *DB) expireBatch(now int64, lower []byte) (n int, next []byte, err error) {
	limit := db.opts.ExpiryBatchSize
	iter, err := db.pdb.NewIter(&pebble.IterOptions{
		LowerBound: lower,
		UpperBound: keyspace.TTLBound(now + 1),
	})
	if err != nil {
		return 0, nil, fmt.Errorf("epochdb: expiry: %w", err)
	}
	var due []dueEntry
	var keys [][]byte
	for iter.First(); iter.Valid() && len(due) < limit; iter.Next() {
		exp, key, err := keyspace.DecodeTTLKey(iter.Key())
		if err != nil {
			_ = iter.Close()
			return 0, nil, fmt.Errorf("%w: ttl index: %v", ErrCorrupt, err)
		}
		k := append([]byte(nil), key...)
		due = append(due, dueEntry{exp: exp, key: k, shard: int(db.shardIndex(k))})
		keys = append(keys, k)
		if len(due) == limit {
			next = append(bytes.Clone(iter.Key()), 0)
		}
	}
	if err := iter.Close(); err != nil {
		return 0, nil, fmt.Errorf("epochdb: expiry: %w", err)
	}
	if len(due) == 0 {
		return 0, nil, nil
	}

	// Check each entry against its record under the shard locks, and delete
	// in one atomic batch. The records are read once before locking, so
	// that the reads under the locks hit the block cache: the locks stall
	// foreground writers for a cache lookup per key, not a disk read.
	want := db.wantEvents()
	db.prefetch(keys, want)
	var w writeOp
	db.startWrite(&w, now, keys...)
	defer w.release()
	for _, d := range due {
		if err := db.expireEntry(&w, d, want); err != nil {
			return 0, nil, err
		}
	}
	n = w.keys.n
	if err := w.commit(nil); err != nil {
		return 0, nil, fmt.Errorf("epochdb: expiry: %w", err)
	}
	return n, next, nil
}

// expireEntry stages in w the removal of the key of the due ttl-index entry
// d, or of the entry alone if it is stale (the record was deleted or given
// another deadline without its old entry being removed). With want, the
// expiry is an event with the key's metadata.
func (db *DB) expireEntry(w *writeOp, d dueEntry, want bool) error {
	rec, ok, err := w.read(d.key)
	if err != nil {
		return err
	}
	defer rec.release()
	if !ok || rec.hdr.ExpiresAt != d.exp {
		_ = w.b.Delete(keyspace.TTLKey(nil, d.exp, d.key), nil)
		return nil
	}
	if !want {
		db.st.expired.Add(1)
		w.del(d.key, rec.hdr, rec.value)
		return nil
	}
	m, err := db.currentMetaLocked(&db.shards[d.shard], d.key)
	if err != nil {
		db.log.Warn("epochdb: reading the metadata of an expired key", "key", d.key, "err", err)
	}
	w.retire(EventExpired, d.key, rec, m)
	return nil
}

// expireFieldsDue removes every hash field whose deadline is at or before
// now, in atomic batches of at most ExpiryBatchSize fields, and returns how
// many it removed; it starts from fieldSweepFrom as expireDue does from
// sweepFrom. A hash that loses its last field goes with it.
func (db *DB) expireFieldsDue(stop <-chan struct{}) (int, error) {
	now := db.nowMs()
	from := db.fieldSweepFrom.Load()
	for !db.fieldSweepFrom.CompareAndSwap(from, max(from, now+1)) {
		from = db.fieldSweepFrom.Load()
	}
	if from > now {
		return 0, nil
	}
	total := 0
	lower := keyspace.FieldIndexBound(from)
	for {
		n, next, err := db.expireFieldBatch(now, lower)
		total += n
		if err == nil && next != nil {
			select {
			case <-stop:
				err = errStopped
			default:
			}
		}
		if err != nil {
			// Start the next sweep where this one stopped.
			db.lowerFieldSweepFrom(int64(binary.BigEndian.Uint64(lower[1:9])))
			if err == errStopped {
				err = nil
			}
			return total, err
		}
		if next == nil {
			return total, nil
		}
		lower = next
	}
}

// lowerFieldSweepFrom makes the next field sweep start at or before from.
func (db *DB) lowerFieldSweepFrom(from int64) {
	for {
		cur := db.fieldSweepFrom.Load()
		if from >= cur || db.fieldSweepFrom.CompareAndSwap(cur, from) {
			return
		}
	}
}

type dueField struct {
	exp        int64
	key, field []byte
	version    uint64
	indexEntry []byte
}

// expireFieldBatch removes up to ExpiryBatchSize fields due at now, from
// the field index position lower on; next is where the following batch
// starts, nil if this one reached the end of what is due. Each entry is
// checked against its hash under the shard locks: an entry of a hash
// deleted or recreated since (another version), or of a field given
// another deadline or removed, is stale and just removed.
func (db *DB) expireFieldBatch(now int64, lower []byte) (n int, next []byte, err error) {
	limit := db.opts.ExpiryBatchSize
	iter, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: keyspace.FieldIndexBound(now + 1)})
	if err != nil {
		return 0, nil, fmt.Errorf("epochdb: field expiry: %w", err)
	}
	var due []dueField
	var keys [][]byte
	for iter.First(); iter.Valid() && len(due) < limit; iter.Next() {
		exp, key, ver, field, err := keyspace.DecodeFieldIndexKey(iter.Key())
		if err != nil {
			_ = iter.Close()
			return 0, nil, fmt.Errorf("%w: field index: %v", ErrCorrupt, err)
		}
		due = append(due, dueField{exp: exp, key: key, field: bytes.Clone(field), version: ver, indexEntry: bytes.Clone(iter.Key())})
		keys = append(keys, key)
		if len(due) == limit {
			next = append(bytes.Clone(iter.Key()), 0)
		}
	}
	if err := iter.Close(); err != nil {
		return 0, nil, fmt.Errorf("epochdb: field expiry: %w", err)
	}
	if len(due) == 0 {
		return 0, nil, nil
	}
	var w writeOp
	db.startWrite(&w, now, keys...)
	defer w.release()
	views := make(map[string]*collView)
	var order []*collView
	for _, d := range due {
		v := views[string(d.key)]
		if v == nil {
			rec, ok, err := w.read(d.key)
			if err != nil {
				return 0, nil, err
			}
			v, err = db.newCollView(db.pdb, d.key, now, rec.hdr, rec.value, ok)
			rec.release()
			if err != nil {
				return 0, nil, err
			}
			views[string(d.key)] = v
			order = append(order, v)
		}
		stale := !v.live || v.hdr.Type != keyspace.TypeHash || v.coll.Version != d.version
		if !stale {
			s, err := v.state(d.field)
			if err != nil {
				return 0, nil, err
			}
			stale = !s.ok || s.exp != d.exp || s.changed
		}
		if stale {
			_ = w.b.Delete(d.indexEntry, nil)
			continue
		}
		// Removed as the sweeper's: no write of the caller's (the
		// record's UpdatedAt stays).
		if _, err := v.del(d.field); err != nil {
			return 0, nil, err
		}
		v.touched = false
		n++
	}
	for _, v := range order {
		v.flush(&w)
	}
	if err := w.commit(nil); err != nil {
		return 0, nil, fmt.Errorf("epochdb: field expiry: %w", err)
	}
	return n, next, nil
}

// trackLoop writes tracked reads to the meta keyspace every
// TrackFlushInterval.
func (db *DB) trackLoop(stop <-chan struct{}) {
	t := time.NewTicker(db.opts.TrackFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if !db.writesHere() {
				db.forwardTracked()
				continue
			}
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
		n, err := db.flushShard(&db.shards[i])
		if err != nil {
			return fmt.Errorf("epochdb: flush tracked reads: %w", err)
		}
		flushed += n
	}
	db.noteTrackFlush()
	if flushed > 0 {
		db.writeSeq.Add(1)
		db.st.trackFlushes.Add(1)
		db.st.trackedKeysFlushed.Add(uint64(flushed))
	}
	return nil
}

// flushShard writes sh's tracked reads as meta merge operands in one batch,
// holding sh.mu (as a writer: no write of the shard's keys interleaves, and
// Metadata never counts a read twice or misses it) but taking trackMu only
// to swap the pending reads out, so that Gets never wait for the apply.
// If the apply fails, the reads go back to pending.
func (db *DB) flushShard(sh *shard) (int, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	pending := sh.takeTracked()
	if len(pending) == 0 {
		return 0, nil
	}
	b := db.pdb.NewBatch()
	for k, a := range pending {
		db.stageMetaDelta(b, sh, []byte(k), a.meta())
	}
	if err := db.applyBatch(b, false); err != nil {
		for k, a := range pending { // they go back, for the next flush
			sh.addPending(k, a)
		}
		return 0, err
	}
	_ = b.Close()
	return len(pending), nil
}

// dropTracked forgets every shard's tracked reads: on a replicated node
// that does not lead, where only the leader's reads count.
func (db *DB) dropTracked() {
	for i := range db.shards {
		db.shards[i].takeTracked()
	}
}
