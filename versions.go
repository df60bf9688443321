package epochdb

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// Conflict detection for optimistic transactions and watches.
//
// Every writeOp that changes data records takes the next commit sequence
// number (DB.commitSeq) after its batch is applied, while it still holds
// the locks of its keys' shards, and stamps each key it wrote with it:
//
//   - in its shard's version table, a fixed array indexed by a hash of the
//     key (several keys share a slot: a transaction may conflict with a
//     write to another key of its slot, never miss one to its own);
//   - on the Watches of the key, which a shard keeps in an exact map
//     (memory grows with the keys watched, never with the writes made);
//   - in the range log, only while a read-write transaction is in progress,
//     so that a transaction that scanned a range sees keys written into it.
//
// A transaction reads commitSeq before taking its snapshot, so every write
// missing from the snapshot is stamped with a larger number. At commit it
// holds the shard locks of everything it read, wrote and watched (every
// shard if it scanned), so that a write is either wholly stamped or not yet
// applied while it validates: no window in which a write is visible but
// undetected.

// versionSlots is the size of each shard's version table (262,144 slots
// in all).
const versionSlots = 64

// slotOf returns key's shard and version slot.
func (db *DB) slotOf(key []byte) (shard, slot int) {
	h := db.hash(key)
	return int(h % numShards), int((h / numShards) % versionSlots)
}

// bumpVersions stamps keys, written by a batch just applied, with a new
// commit sequence number. The caller holds the keys' shard locks.
func (db *DB) bumpVersions(keys *keyList) {
	if keys.n == 0 {
		return
	}
	seq := db.commitSeq.Add(1)
	for i := range keys.n {
		k := keys.at(i)
		si, slot := db.slotOf(k)
		sh := &db.shards[si]
		sh.vers[slot] = seq
		if len(sh.watchers) > 0 {
			for _, w := range sh.watchers[string(k)] {
				w.dirty.Store(true)
			}
		}
	}
	if db.rlog.active.Load() > 0 {
		db.rlog.add(seq, keys.slice())
	}
}

// writtenSince reports whether key may have been written after seq. The
// caller holds key's shard lock.
func (db *DB) writtenSince(key []byte, seq uint64) bool {
	si, slot := db.slotOf(key)
	return db.shards[si].vers[slot] > seq
}

// rangeLog records the keys written while read-write transactions are in
// progress, for the validation of the ranges they scanned. It is bounded:
// past rangeLogMax entries the oldest half is dropped, and a transaction
// older than what was dropped conflicts (it can no longer be checked).
type rangeLog struct {
	active atomic.Int64 // read-write transactions in progress

	mu      sync.Mutex   // guards entries, lost
	entries []rangeEntry // ascending seq
	lost    uint64       // the highest seq dropped
}

type rangeEntry struct {
	seq uint64
	key []byte
}

const rangeLogMax = 1 << 16

func (l *rangeLog) begin() { l.active.Add(1) }

func (l *rangeLog) end() {
	if l.active.Add(-1) == 0 {
		l.mu.Lock()
		if l.active.Load() == 0 {
			clear(l.entries)
			l.entries = l.entries[:0]
		}
		l.mu.Unlock()
	}
}

func (l *rangeLog) add(seq uint64, keys [][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries)+len(keys) > rangeLogMax {
		drop := max(len(l.entries)/2, len(l.entries)+len(keys)-rangeLogMax)
		drop = min(drop, len(l.entries))
		if drop > 0 {
			l.lost = max(l.lost, l.entries[drop-1].seq)
			n := copy(l.entries, l.entries[drop:])
			clear(l.entries[n:])
			l.entries = l.entries[:n]
		}
	}
	for _, k := range keys {
		if len(l.entries) >= rangeLogMax {
			l.lost = seq
			break
		}
		l.entries = append(l.entries, rangeEntry{seq: seq, key: bytes.Clone(k)})
	}
}

// invalidate makes every transaction that began before seq conflict (a
// write whose keys are not known, such as a dropped namespace).
func (l *rangeLog) invalidate(seq uint64) {
	l.mu.Lock()
	l.lost = max(l.lost, seq)
	l.mu.Unlock()
}

// conflict reports whether a key written after seq lies in one of ranges.
// The caller holds every shard lock.
func (l *rangeLog) conflict(seq uint64, ranges []keyRange) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost > seq {
		return true
	}
	for i := len(l.entries) - 1; i >= 0 && l.entries[i].seq > seq; i-- {
		for _, r := range ranges {
			if r.contains(l.entries[i].key) {
				return true
			}
		}
	}
	return false
}

// keyRange is a scanned range [lo, hi); hi nil means unbounded.
type keyRange struct{ lo, hi []byte }

func (r keyRange) contains(k []byte) bool {
	return bytes.Compare(k, r.lo) >= 0 && (r.hi == nil || bytes.Compare(k, r.hi) < 0)
}

// Watch records writes to a set of keys from the moment it is created, so
// that a later transaction can require that none happened (Tx.Watch): the
// building block of Redis's WATCH. Writes by anyone count: transactions,
// plain writes, expiry, pruning, eviction, range drops. A Watch costs
// memory for its keys only, however many writes happen while it is open.
// Its methods are safe for concurrent use. A Watch must be closed.
type Watch struct {
	db     *DB
	keys   [][]byte
	dirty  atomic.Bool
	closed atomic.Bool
}

// Watch starts watching keys.
func (db *DB) Watch(keys ...[]byte) (*Watch, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	w := &Watch{db: db, keys: make([][]byte, 0, len(keys))}
	for _, k := range keys {
		w.keys = append(w.keys, bytes.Clone(k))
	}
	w.each(func(sh *shard, k []byte) {
		if sh.watchers == nil {
			sh.watchers = make(map[string][]*Watch)
		}
		sh.watchers[string(k)] = append(sh.watchers[string(k)], w)
	})
	return w, nil
}

// each calls fn for every watched key under its shard's lock.
func (w *Watch) each(fn func(sh *shard, k []byte)) {
	for _, k := range w.keys {
		sh := w.db.shardFor(k)
		func() {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			fn(sh, k)
		}()
	}
}

// Changed reports whether a watched key has been written since the watch
// began. It is false after Close.
func (w *Watch) Changed() bool { return !w.closed.Load() && w.dirty.Load() }

// Close stops the watch. Closing twice does nothing.
func (w *Watch) Close() {
	if w.closed.Swap(true) {
		return
	}
	w.each(func(sh *shard, k []byte) {
		ws := sh.watchers[string(k)]
		for i, o := range ws {
			if o == w {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(sh.watchers, string(k))
		} else {
			sh.watchers[string(k)] = ws
		}
	})
}
