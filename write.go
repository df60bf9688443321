package epochdb

import (
	"fmt"
	"runtime/debug"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// writeOp is one atomic change of the store, and the only way the store is
// changed: Set, Delete, Modify, deadline changes, transaction and batch
// commits, expiry, pruning and eviction all build one. It owns, from start
// to end,
//
//   - the locks of the shards of the keys it writes (taken in ascending
//     order, the one order every writer uses);
//   - the Pebble batch its changes are staged in;
//   - the lifecycle events it stages (and the event-log order, once it
//     stages one);
//   - the changes of the persistent counters;
//   - the data keys whose records it changes, which it registers with the
//     conflict detection (versions) once applied;
//   - the record cache changes of those keys.
//
// The protocol, written once in commit: admit against the budget, apply,
// publish events, stamp versions, update the record cache and the
// counters, unlock, wait for durability, evict. release undoes whatever a writeOp still holds and is
// deferred by every user right after start, so that an error or a panic at
// any point (a Modify callback's, an engine's) leaves no lock held.
//
// A writeOp is used by one goroutine.
type writeOp struct {
	db     *DB
	now    int64 // Unix ms every deadline of the operation is judged at
	b      *pebble.Batch
	shards []int // the shards locked, ascending; nil: the one shard one
	one    int
	locked bool  // the shards are locked
	t      tally // counter changes
	r      retired
	keys   keyList // data keys whose record the batch changes
	regrp  bool    // regroup the batch by keyspace before applying (large batches)
	done   bool

	dropping bool // the batch drops namespace dropped (every shard is locked)
	dropped  byte

	cops      cacheOps // record cache changes, made once the batch is applied
	cacheBusy bool     // the cache knows of the write (cacheWriting)
	cacheDone bool     // and was updated
	applied   []func() // run once the batch is applied, still under the shard locks
}

// startWrite locks the shards of keys and prepares an empty batch. The
// caller must defer w.release().
func (db *DB) startWrite(w *writeOp, now int64, keys ...[]byte) {
	w.db, w.now, w.r.db = db, now, db
	if len(keys) == 1 {
		w.one, w.locked = int(db.shardIndex(keys[0])), true
	} else {
		w.shards, w.locked = db.shardSet(keys), true
	}
	w.b = db.pdb.NewBatch()
	w.lock() // the last step: the caller's deferred release follows at once
}

// startWriteAll is startWrite over every shard: for operations whose keys
// are not known in advance (a range drop, a transaction that scanned).
func (db *DB) startWriteAll(w *writeOp, now int64) {
	w.db, w.now, w.r.db = db, now, db
	w.shards, w.locked = allShards[:], true
	w.b = db.pdb.NewBatch()
	w.lock() // the last step: the caller's deferred release follows at once
}

// lockAllShards locks every shard, as a writer, and returns the function
// that unlocks them: for work that must see no write half done (a backup's
// snapshot, a repair) without writing through a writeOp itself.
func (db *DB) lockAllShards() (unlock func()) {
	for i := range db.shards {
		db.shards[i].mu.Lock()
	}
	return func() {
		for i := range db.shards {
			db.shards[i].mu.Unlock()
		}
	}
}

var allShards = func() (a [numShards]int) {
	for i := range a {
		a[i] = i
	}
	return a
}()

// shardSet returns the distinct shard indexes of keys, ascending.
func (db *DB) shardSet(keys [][]byte) []int {
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, int(db.shardIndex(k)))
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

func (w *writeOp) lock() {
	if w.shards == nil {
		w.db.shards[w.one].mu.Lock()
		return
	}
	for _, i := range w.shards {
		w.db.shards[i].mu.Lock()
	}
}

// unlock releases the shard locks (once).
func (w *writeOp) unlock() {
	if !w.locked {
		return
	}
	w.locked = false
	if w.shards == nil {
		w.db.shards[w.one].mu.Unlock()
		return
	}
	for _, i := range w.shards {
		w.db.shards[i].mu.Unlock()
	}
}

// release gives up everything the operation still holds: the event-log
// order, the shard locks, the batch. It is a no-op after commit and safe to
// call more than once; every user defers it.
func (w *writeOp) release() {
	if w.done {
		return
	}
	w.done = true
	w.r.finish(false)
	if w.cacheBusy && !w.cacheDone {
		// Failed or interrupted (a panic) between the cache's notice and
		// its update: forget what it holds of the keys, applied or not.
		for i := range w.cops.n {
			op := w.cops.at(i)
			w.db.cacheForget(w.db.shardFor(op.key), op.key, true)
		}
	}
	w.unlock()
	if w.b != nil {
		_ = w.b.Close()
		w.b = nil
	}
}

// wrote notes that the batch changes key's data record (not just its
// frequency), so that watches and transactions that read key conflict.
func (w *writeOp) wrote(key []byte) { w.keys.add(key) }

// keyList is a list of keys that holds one without allocating. (A writeOp
// cannot keep its first key in an array of its own behind a slice: a
// pointer into itself would make every writeOp escape to the heap.)
type keyList struct {
	first []byte
	rest  [][]byte
	n     int
}

func (l *keyList) add(k []byte) {
	if l.n == 0 {
		l.first = k
	} else {
		l.rest = append(l.rest, k)
	}
	l.n++
}

func (l *keyList) at(i int) []byte {
	if i == 0 {
		return l.first
	}
	return l.rest[i-1]
}

// slice returns the keys as a new slice.
func (l *keyList) slice() [][]byte {
	if l.n == 0 {
		return nil
	}
	return append([][]byte{l.first}, l.rest...)
}

// cacheOps is keyList's counterpart for cache changes.
type cacheOps struct {
	first cacheOp
	rest  []cacheOp
	n     int
}

func (l *cacheOps) add(op cacheOp) {
	if l.n == 0 {
		l.first = op
	} else {
		l.rest = append(l.rest, op)
	}
	l.n++
}

func (l *cacheOps) at(i int) *cacheOp {
	if i == 0 {
		return &l.first
	}
	return &l.rest[i-1]
}

// empty reports whether nothing was staged.
func (w *writeOp) empty() bool { return w.b.Empty() }

// commit runs the write protocol on what was staged: admission against the
// budget (the whole operation fails with ErrFull under NoEviction), apply,
// events, versions, counters, unlock, durability, then eviction if the
// write grew the store over its budget. spare (nil: the keys written)
// reports the keys eviction must spare. commit ends the operation whatever
// happens; an empty operation commits trivially.
func (w *writeOp) commit(spare func([]byte) bool) error {
	db := w.db
	defer w.release()
	if w.b.Empty() {
		return nil
	}
	if err := db.admit(w.t.total); err != nil {
		return err
	}
	addCounters(w.b, &w.t)
	if w.dropping {
		// After the namespace's merge operand: its counters start over.
		_ = w.b.Delete(nsCountsKey(w.dropped), nil)
	}
	if w.regrp {
		sorted, err := regroup(db.pdb, w.b)
		if err != nil {
			return err
		}
		_ = w.b.Close()
		w.b = sorted
	}
	if db.cacheOn() {
		for i := range w.cops.n {
			db.shardFor(w.cops.at(i).key).cache.cacheWriting()
		}
		w.cacheBusy = true
	}
	sync := db.cfg().SyncWrites && db.repl == nil
	if err := db.applyBatch(w.b, sync); err != nil {
		w.b = nil // applyBatch closed it
		return err
	}
	lastSeq := w.r.lastSeq()
	w.r.finish(true)
	db.bumpVersions(&w.keys)
	db.applyCacheOps(&w.cops)
	for _, fn := range w.applied {
		fn()
	}
	if w.dropping {
		db.droppedNamespace(w.dropped)
	}
	w.cacheDone = true
	db.applyCounters(&w.t)
	w.unlock()
	b := w.b
	w.b = nil
	w.done = true
	if err := db.awaitDurable(b, sync, lastSeq); err != nil {
		return err
	}
	if spare == nil && db.mayEvict(w.t.total) {
		spare = spareKeys(w.keys.slice())
	}
	return db.afterWrite(w.t.total, spare)
}

// spareKeys returns the spare func for afterWrite that spares keys.
func spareKeys(keys [][]byte) func([]byte) bool {
	return func(key []byte) bool {
		for _, k := range keys {
			if string(k) == string(key) {
				return true
			}
		}
		return false
	}
}

// applyBatch applies b, making it visible. Without sync (the default mode)
// it does not sync; with sync (SyncWrites) it does not wait for the fsync:
// call awaitDurable with the same sync after releasing locks. On error it
// closes b.
func (db *DB) applyBatch(b *pebble.Batch, sync bool) error {
	if db.repl != nil {
		if err := db.replicate(b); err != nil {
			_ = b.Close()
			return err
		}
		return nil
	}
	if sync {
		return db.apply(b, pebble.Sync)
	}
	return db.apply(b, pebble.NoSync)
}

// apply applies b with wo (Sync: without waiting for the fsync, see
// awaitDurable). On error it closes b.
//
// Pebble panics when it cannot write its log (a full disk, an I/O error):
// the panic is contained here, returned as an error wrapping ErrEngine, and
// the DB refuses further writes (see engineFailed), since Pebble does not
// recover from it in place.
func (db *DB) apply(b *pebble.Batch, wo *pebble.WriteOptions) (err error) {
	if ferr := db.engineErr(); ferr != nil {
		_ = b.Close()
		return ferr
	}
	defer func() {
		if p := recover(); p != nil {
			err = db.engineFailed(fmt.Errorf("%v", p), debug.Stack())
		}
		if err != nil {
			_ = b.Close()
		}
	}()
	if wo.Sync {
		err = db.pdb.ApplyNoSyncWait(b, wo)
	} else {
		err = db.pdb.Apply(b, wo)
	}
	if err != nil {
		// Pebble's log keeps a write error for good: every later commit
		// would fail the same way.
		return db.engineFailed(err, nil)
	}
	return nil
}

// awaitDurable completes a successful applyBatch: with sync it waits for
// the WAL fsync; otherwise it counts the write for the periodic sync.
// lastEvent is the highest event-log sequence number the batch wrote (0:
// none), readable once durable. It closes b.
func (db *DB) awaitDurable(b *pebble.Batch, sync bool, lastEvent uint64) error {
	if db.repl != nil {
		// Committed to the replicated log, which is the durable record.
		_ = b.Close()
		db.eventsDurable(lastEvent)
		return nil
	}
	if !sync {
		_ = b.Close()
		db.writeSeq.Add(1)
		db.unsyncedAt.CompareAndSwap(0, monoNanos())
		if db.cfg().SyncInterval < 0 {
			// No periodic sync ("appendfsync no"): nothing ever makes
			// the log durable on its own, so events are readable once
			// applied.
			db.eventsDurable(lastEvent)
		}
		return nil
	}
	err := b.SyncWait()
	_ = b.Close()
	if err != nil {
		return db.engineFailed(fmt.Errorf("sync: %w", err), nil)
	}
	db.eventsDurable(lastEvent)
	return nil
}

// read returns key's current data record (ok false if absent, expired
// records included), from the record cache when it holds the key. The
// caller must release it.
func (w *writeOp) read(key []byte) (record, bool, error) { return w.db.readLocked(key) }

// readLocked is writeOp.read for a caller that holds key's shard lock.
func (db *DB) readLocked(key []byte) (record, bool, error) {
	if db.cacheOn() {
		if e := db.shardFor(key).cache.peek(key); e != nil && e.hasVal {
			db.st.cacheHits.Add(1)
			return record{hdr: e.hdr, value: e.value}, !e.absent, nil
		}
		db.st.cacheMisses.Add(1)
	}
	return db.getRecord(db.pdb, key)
}

// applyCacheOps brings the record cache up to date with a batch just
// applied. The caller holds the keys' shard locks.
func (db *DB) applyCacheOps(ops *cacheOps) {
	if !db.cacheOn() {
		return
	}
	for i := range ops.n {
		op := ops.at(i)
		sh := db.shardFor(op.key)
		if op.del {
			db.cacheDelete(sh, op.key)
		} else {
			db.cacheSet(sh, op.key, op.hdr, op.value, op.keepReads)
		}
	}
}

// put stages the write of the string value with deadline exp under key,
// whose current record is (old, oldValue) if existed (an expired one must
// have been staged as expired first: see expireLazily). A live key keeps
// its CreatedAt and meta; a new key, or one replacing an expired record,
// starts both afresh. With keep false, a live key is replaced as if it had
// been deleted first. A collection replaced loses its members.
func (w *writeOp) put(key []byte, old keyspace.Header, oldValue []byte, existed, keep bool, exp int64, value []byte) {
	now := w.now
	live := keep && existed && !old.Expired(now)
	hdr := keyspace.Header{CreatedAt: now, UpdatedAt: now, ExpiresAt: exp}
	if live {
		hdr.CreatedAt = old.CreatedAt
	}
	var oldHdr *keyspace.Header
	oldLen := 0
	if existed {
		oldHdr = &old
		oldLen = w.dropOld(key, old, oldValue)
	}
	w.t.add(key, stageRecord(w.b, key, oldHdr, oldLen, hdr, value))
	w.wrote(key)
	w.cacheOp(cacheOp{key: key, hdr: hdr, value: value, keepReads: live})
	// Overwriting a live key leaves its meta alone: the write's time is the
	// record's UpdatedAt, which lastAccess takes into account.
	if !live {
		// A new key starts at frequency 0 and heat 1 (its creation), so
		// that it is not the first victim of eviction.
		_ = w.b.Set(keyspace.MetaKey(nil, key), keyspace.AppendMeta(nil, keyspace.Meta{LastAccess: now, Heat: 1}), nil)
		sh := w.db.shardFor(key)
		sh.dropPending(key)
		delete(sh.runs, string(key))
	}
}

// putCarried stages the write of the record (hdr, value) and the meta m
// under key, replacing whatever key held, its history included: the put of
// a key that takes over another key's history (Tx.Copy).
func (w *writeOp) putCarried(key []byte, old keyspace.Header, oldValue []byte, existed bool, hdr keyspace.Header, value []byte, m keyspace.Meta) {
	var oldHdr *keyspace.Header
	oldLen := 0
	if existed {
		oldHdr = &old
		oldLen = w.dropOld(key, old, oldValue)
	}
	w.t.add(key, stageRecord(w.b, key, oldHdr, oldLen, hdr, value))
	w.wrote(key)
	w.cacheOp(cacheOp{key: key, hdr: hdr, value: value})
	_ = w.b.Set(keyspace.MetaKey(nil, key), keyspace.AppendMeta(nil, m), nil)
	sh := w.db.shardFor(key)
	sh.dropPending(key)
	delete(sh.runs, string(key))
}

// setDeadline stages a new deadline exp for key's live record rec.
func (w *writeOp) setDeadline(key []byte, rec record, exp int64) {
	hdr := rec.hdr
	hdr.ExpiresAt = exp
	w.t.add(key, stageRecord(w.b, key, &rec.hdr, len(rec.value), hdr, rec.value))
	w.wrote(key)
	w.cacheOp(cacheOp{key: key, hdr: hdr, value: rec.value, keepReads: true})
}

// cacheOp queues a record cache change for when the batch is applied.
func (w *writeOp) cacheOp(op cacheOp) {
	if w.db.cacheOn() {
		w.cops.add(op)
	}
}

// del stages the removal of key, whose record is (hdr, value); a
// collection's members go too.
func (w *writeOp) del(key []byte, hdr keyspace.Header, value []byte) {
	w.t.add(key, stageDelete(w.b, key, hdr, w.dropOld(key, hdr, value)))
	w.wrote(key)
	w.cacheOp(cacheOp{key: key, del: true})
	w.db.shardFor(key).dropPending(key)
}

// retire stages the removal of key (record rec, meta m including unflushed
// reads) with a lifecycle event of the given kind.
func (w *writeOp) retire(kind EventKind, key []byte, rec record, m keyspace.Meta) {
	w.r.stage(w.b, kind, key, rec.hdr, m, rec.value, w.now)
	w.del(key, rec.hdr, rec.value)
}

// expireLazily stages, as an expiry like the sweeper's (with its event),
// that the expired record rec of key is being replaced or deleted by this
// operation; the caller stages the replacement or deletion itself.
func (w *writeOp) expireLazily(key []byte, rec record) {
	db := w.db
	if !db.wantEvents() {
		db.st.expired.Add(1)
		return
	}
	m, err := db.currentMetaLocked(db.shardFor(key), key)
	if err != nil {
		db.log.Warn("epochdb: reading the metadata of an expired key", "key", key, "err", err)
	}
	w.r.stage(w.b, EventExpired, key, rec.hdr, m, rec.value, w.now)
}

// dropPending forgets key's unflushed tracked reads (the key is deleted or
// starts afresh): those in the pending map now, those on its cache entry
// when the write updates the cache. The caller holds sh.mu.
func (sh *shard) dropPending(key []byte) {
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	delete(sh.pending, string(key))
}
