package epochdb

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Batch collects blind writes (no reads) and commits them atomically: after
// a crash either all of them are present or none. It is the fast path for
// bulk loads. A Batch is not safe for concurrent use; it can be committed
// once.
//
// Commit locks every shard the batch touches for the duration of the
// commit, so a very large batch briefly holds up writers (not readers).
type Batch struct {
	db    *DB
	ops   []batchOp
	idx   map[string]int // key → index of its op, once there are more than batchScanMax
	arena []byte         // the copies of the keys and values
	keys  [][]byte       // Commit's list of the keys
	size  int
	done  bool
}

// batchScanMax is the number of ops up to which a Batch finds a key's op
// by scanning them rather than through an index (a pipelined group of
// SETs: no map to build).
const batchScanMax = 32

type batchOp struct {
	key   []byte
	value []byte
	ttl   time.Duration
	del   bool
	fresh bool // a Set after a Delete of the same key in this batch
}

// NewBatch returns an empty batch.
func (db *DB) NewBatch() *Batch { return &Batch{db: db} }

// Reset empties the batch, committed or not, for reuse; the memory it
// holds is kept.
func (b *Batch) Reset() {
	clear(b.ops)
	b.ops = b.ops[:0]
	clear(b.keys)
	b.keys = b.keys[:0]
	b.arena = b.arena[:0]
	b.idx = nil
	b.size = 0
	b.done = false
}

// find returns the index of key's op, or -1.
func (b *Batch) find(key []byte) int {
	if b.idx != nil {
		if i, ok := b.idx[string(key)]; ok {
			return i
		}
		return -1
	}
	for i := range b.ops {
		if bytes.Equal(b.ops[i].key, key) {
			return i
		}
	}
	return -1
}

// copyIn returns a copy of p in the batch's arena. A copy stays valid when
// the arena grows (it keeps pointing into the old one).
func (b *Batch) copyIn(p []byte) []byte {
	start := len(b.arena)
	b.arena = append(b.arena, p...)
	return b.arena[start:len(b.arena):len(b.arena)]
}

// Set adds a write of value under key with ttl (0 = never expires; the
// deadline is measured from Commit), with the semantics of DB.Set. key and
// value are copied.
func (b *Batch) Set(key, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := b.db.checkValue(value); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: %v is negative", ErrInvalidTTL, ttl)
	}
	fresh := false
	if i := b.find(key); i >= 0 {
		fresh = b.ops[i].del || b.ops[i].fresh
	}
	b.add(batchOp{key: b.copyIn(key), value: b.copyIn(value), ttl: ttl, fresh: fresh})
	return nil
}

// Delete adds the removal of key.
func (b *Batch) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b.add(batchOp{key: b.copyIn(key), del: true})
	return nil
}

func (b *Batch) add(op batchOp) {
	if i := b.find(op.key); i >= 0 {
		b.size -= len(b.ops[i].value)
		b.ops[i] = op // the last write of a key wins
	} else {
		b.ops = append(b.ops, op)
		switch {
		case b.idx != nil:
			b.idx[string(op.key)] = len(b.ops) - 1
		case len(b.ops) > batchScanMax:
			b.idx = make(map[string]int, 2*len(b.ops))
			for i, o := range b.ops {
				b.idx[string(o.key)] = i
			}
		}
	}
	b.size += len(op.key) + len(op.value)
}

// Size returns the bytes of the keys and values the batch writes.
func (b *Batch) Size() int { return b.size }

// Len returns the number of distinct keys the batch writes.
func (b *Batch) Len() int { return len(b.ops) }

// Commit applies the batch atomically. With SyncWrites it returns once the
// batch is durable.
func (b *Batch) Commit() error {
	if b.done {
		return ErrTxClosed
	}
	b.done = true
	db := b.db
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	if len(b.ops) == 0 {
		return nil
	}
	if len(b.ops) >= regroupMin {
		// In key order: the staged Pebble batch comes out sorted within
		// each keyspace (see regroup), and the reads of the old records
		// walk the store in order.
		b.sortOps()
	}
	b.keys = b.keys[:0]
	for _, op := range b.ops {
		b.keys = append(b.keys, op.key)
	}
	now := db.clock.Now()
	var w writeOp
	db.startWrite(&w, now.UnixMilli(), b.keys...)
	defer w.release()
	w.regrp = len(b.ops) >= regroupMin
	for _, op := range b.ops {
		if err := b.stage(&w, op, now); err != nil {
			return err
		}
	}
	err := w.commit(func(k []byte) bool { return b.find(k) >= 0 })
	if err == nil {
		db.st.batches.Add(1)
	}
	return err
}

// stage adds op to w against its key's current record.
func (b *Batch) stage(w *writeOp, op batchOp, now time.Time) error {
	old, existed, err := w.read(op.key)
	if err != nil {
		return err
	}
	defer old.release()
	if existed && old.hdr.Expired(w.now) {
		w.expireLazily(op.key, old)
	}
	if op.del {
		if existed {
			w.del(op.key, old.hdr, old.value)
		}
		return nil
	}
	exp, err := deadline(now, op.ttl)
	if err != nil {
		return err
	}
	w.put(op.key, old.hdr, old.value, existed, !op.fresh, exp, op.value)
	return nil
}

// sortOps puts the ops in key order, unless they already are (a load in
// key order), sorting a permutation rather than moving the ops around.
func (b *Batch) sortOps() {
	less := func(x, y []byte) int { return bytes.Compare(x, y) }
	if slices.IsSortedFunc(b.ops, func(x, y batchOp) int { return less(x.key, y.key) }) {
		return
	}
	perm := make([]int32, len(b.ops))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(i, j int32) int { return less(b.ops[i].key, b.ops[j].key) })
	ops := make([]batchOp, len(b.ops))
	for i, p := range perm {
		ops[i] = b.ops[p]
	}
	b.ops = ops
}

// regroupMin is the size from which Commit sorts a batch; see regroup.
const regroupMin = 4096

// regroup returns the entries of b grouped by keyspace (the first byte of
// their keys) in ascending order, keeping their order within each group. A
// batch staged in user-key order then comes out fully sorted: Pebble sorts a
// batch too large for its memtable before applying it, and a sorted one
// costs that sort a linear pass instead of a full sort. (Every key appears
// once in a Batch's Pebble batch, so the regrouping changes no outcome.)
func regroup(db *pebble.DB, b *pebble.Batch) (_ *pebble.Batch, err error) {
	var groups [256]*pebble.Batch
	defer func() {
		if err != nil {
			for _, g := range groups {
				if g != nil {
					_ = g.Close()
				}
			}
		}
	}()
	r := b.Reader()
	for {
		kind, key, value, ok, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("epochdb: batch: %w", err)
		}
		if !ok {
			break
		}
		if len(key) == 0 {
			return nil, fmt.Errorf("epochdb: batch: an empty key: %w", ErrCorrupt)
		}
		g := groups[key[0]]
		if g == nil {
			g = db.NewBatch()
			groups[key[0]] = g
		}
		switch kind {
		case pebble.InternalKeyKindSet:
			err = g.Set(key, value, nil)
		case pebble.InternalKeyKindDelete:
			err = g.Delete(key, nil)
		case pebble.InternalKeyKindMerge:
			err = g.Merge(key, value, nil)
		default:
			err = fmt.Errorf("epochdb: batch: unexpected entry kind %v", kind)
		}
		if err != nil {
			return nil, err
		}
	}
	var out *pebble.Batch
	for _, g := range groups {
		if g == nil {
			continue
		}
		if out == nil {
			out = g // the first group: the data, by far the largest
			continue
		}
		if err := out.Apply(g, nil); err != nil {
			return nil, err
		}
	}
	for _, g := range groups {
		if g != nil && g != out {
			_ = g.Close()
		}
	}
	if out == nil {
		out = db.NewBatch()
	}
	return out, nil
}
