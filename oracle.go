package epochdb

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// oracle detects conflicts for optimistic transactions.
//
// Every commit that changes data keys (a transaction, a plain Set or Delete,
// an expiry) gets a sequence number. While at least one transaction or watch
// is active, commits also record the keys they wrote, so that a transaction
// can check at its own commit whether anything it read, scanned or wrote was
// written after its snapshot. When none is active, a plain write costs one
// atomic load.
//
// Ordering: a writer registers after its batch is applied, while still
// holding the shard locks of its keys. A transaction takes readSeq before its
// snapshot, so every write missing from the snapshot registers with a larger
// sequence. Transaction commits hold mu from validation through apply to
// registration, so two transactions never validate against each other's
// half-done commits.
type oracle struct {
	active atomic.Int64 // transactions and watches in progress

	mu      sync.Mutex       // guards everything below; held across a transaction's validate-apply-register
	seq     uint64           // sequence of the latest registered commit
	readers map[uint64]int   // readSeq → number of active transactions/watches holding it
	log     []committedWrite // commits with seq > the oldest active readSeq, in seq order
}

type committedWrite struct {
	seq  uint64
	keys [][]byte
}

func newOracle() *oracle { return &oracle{readers: make(map[uint64]int)} }

// begin registers an active reader and returns the sequence its snapshot
// must be taken after.
func (o *oracle) begin() uint64 {
	o.active.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.readers[o.seq]++
	return o.seq
}

// end unregisters a reader started at readSeq and drops the log entries no
// active reader needs any more.
func (o *oracle) end(readSeq uint64) {
	o.mu.Lock()
	if o.readers[readSeq]--; o.readers[readSeq] == 0 {
		delete(o.readers, readSeq)
	}
	o.trimLocked()
	o.mu.Unlock()
	o.active.Add(-1)
}

func (o *oracle) trimLocked() {
	if len(o.readers) == 0 {
		clear(o.log)
		o.log = o.log[:0]
		return
	}
	oldest := o.seq
	for s := range o.readers {
		oldest = min(oldest, s)
	}
	i := 0
	for i < len(o.log) && o.log[i].seq <= oldest {
		i++
	}
	if i > 0 {
		n := copy(o.log, o.log[i:])
		clear(o.log[n:])
		o.log = o.log[:n]
	}
}

// record registers a non-transactional commit of keys (called after apply,
// with the keys' shard locks held). The keys are copied.
func (o *oracle) record(keys ...[]byte) {
	if o.active.Load() == 0 {
		return
	}
	o.mu.Lock()
	o.recordLocked(keys)
	o.mu.Unlock()
}

func (o *oracle) recordLocked(keys [][]byte) {
	o.seq++
	if len(o.readers) == 0 {
		return
	}
	cp := make([][]byte, len(keys))
	for i, k := range keys {
		cp[i] = append([]byte(nil), k...)
	}
	o.log = append(o.log, committedWrite{seq: o.seq, keys: cp})
}

// keyRange is a scanned range [lo, hi); hi nil means unbounded.
type keyRange struct{ lo, hi []byte }

func (r keyRange) contains(k []byte) bool {
	return bytes.Compare(k, r.lo) >= 0 && (r.hi == nil || bytes.Compare(k, r.hi) < 0)
}

// conflictLocked reports whether a commit after readSeq wrote a key for
// which touched returns true.
func (o *oracle) conflictLocked(readSeq uint64, touched func(k []byte) bool) bool {
	for i := len(o.log) - 1; i >= 0 && o.log[i].seq > readSeq; i-- {
		for _, k := range o.log[i].keys {
			if touched(k) {
				return true
			}
		}
	}
	return false
}
