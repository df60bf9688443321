package epochdb

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epochdb/epochdb/internal/keyspace"
)

// ErrNoPruneRule is returned by Prune when no pruning rule is configured.
var ErrNoPruneRule = errors.New("epochdb: no pruning rule (Options.PruneMinFrequency, Options.PruneIdle)")

// ErrFull is returned by a write that would exceed MaxKeys or MaxDiskBytes
// when the eviction policy cannot make room (NoEviction, or VolatileLFU with
// no key with a deadline left).
var ErrFull = errors.New("epochdb: budget exceeded")

// pruning and eviction are the lifecycle passes beyond TTL expiry:
//
//   - pruning walks the data keyspace in steps of PruneBatchSize keys from a
//     cursor, every PruneInterval, and removes keys the rule selects;
//   - eviction keeps MaxKeys/MaxDiskBytes: on the write path (a write that
//     grew the store evicts up to evictPerWrite keys) and in the background.
//     Victims come from sampling: each eviction scores the next evictSample
//     keys after a rotating cursor by the policy and keeps the evictPool
//     lowest in a candidate pool, as Redis does with random samples. Over a
//     cycle of the cursor every key is sampled once, whatever the key
//     distribution (a random seek would favour keys after gaps), and the
//     cost of an eviction does not grow with the number of keys.
const (
	evictSample   = 16
	evictPool     = 16
	evictPerWrite = 4
)

// lifecycleState is the state of the pruning and eviction passes.
type lifecycleState struct {
	pruneMu     sync.Mutex   // serializes prune steps; guards pruneCursor
	pruneCursor []byte       // the next user key the prune pass examines; nil = start
	passSeen    int64        // keys examined since the cursor last started over; guarded by pruneMu
	lastPassEnd time.Time    // when the cursor last wrapped (db clock); guarded by pruneMu
	nextPass    atomic.Int64 // when the background pass starts next, Unix ms of the wall clock

	evictMu      sync.Mutex  // serializes evictions; guards pool and sampleCursor
	pool         []candidate // sorted by score, lowest first
	sampleCursor []byte      // the next user key to sample; nil = the first
}

type candidate struct {
	key   []byte
	score float64
}

// pruneRuleOn reports whether pruning is configured.
func (db *DB) pruneRuleOn() bool { s := db.cfg(); return s.PruneMinFrequency > 0 || s.PruneIdle > 0 }

// prunable applies the pruning rule to a key at now.
func (db *DB) prunable(hdr keyspace.Header, m keyspace.Meta, now int64) bool {
	o := db.cfg()
	if !(o.PruneMinFrequency > 0 || o.PruneIdle > 0) || now-hdr.CreatedAt < o.PruneGrace.Milliseconds() {
		return false
	}
	if o.PruneSkipTTLKeys && hdr.ExpiresAt != 0 {
		return false
	}
	if o.PruneMinFrequency > 0 && m.Frequency < o.PruneMinFrequency {
		return true
	}
	return o.PruneIdle > 0 && now-lastAccess(hdr, m) >= o.PruneIdle.Milliseconds()
}

// lifecycleLoop runs the pruning pass every PruneInterval, keeps the budget
// and trims the event log, once a second (or every PruneInterval if
// shorter), and at once when Reconfigure changes the settings.
func (db *DB) lifecycleLoop(stop <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		t.Reset(min(db.cfg().PruneInterval, time.Second))
		select {
		case <-stop:
			return
		case <-db.lifeKick:
		case <-t.C:
		}
		if !db.writesHere() {
			continue
		}
		if db.budgetOn() && db.cfg().EvictionPolicy != NoEviction {
			if _, err := db.evictOver(-1, nil); err != nil && !errors.Is(err, ErrFull) {
				db.log.Error("epochdb: background eviction failed", "err", err)
			}
		}
		if db.opts.EventLog {
			if err := db.trimEventLog(db.nowMs()); err != nil {
				db.log.Error("epochdb: trimming the event log failed", "err", err)
			}
		}
		if !db.pruneRuleOn() {
			db.life.nextPass.Store(0)
			continue
		}
		if time.Since(lastPrune) >= db.cfg().PruneInterval {
			lastPrune = time.Now()
			if _, err := db.prunePass(stop); err != nil {
				db.log.Error("epochdb: prune pass failed", "err", err)
			}
		}
		db.life.nextPass.Store(lastPrune.Add(db.cfg().PruneInterval).UnixMilli())
	}
}

// PruneStatus is the progress of pruning: see DB.PruneStatus.
type PruneStatus struct {
	RuleOn      bool      // a pruning rule is set
	Passes      uint64    // whole passes completed (Stats.PrunePasses)
	Pruned      uint64    // keys pruned since Open (Stats.Pruned)
	PassSeen    int64     // keys the pass under way has examined; 0 between passes
	LastPassEnd time.Time // when a pass last reached the end of the keyspace; zero if none has since Open
	NextPass    time.Time // when the background pass starts next; zero without a rule
}

// PruneStatus reports the pruning pass's progress. The background pass and
// Prune share one cursor: a Prune with a limit continues the pass under
// way.
func (db *DB) PruneStatus() PruneStatus {
	st := db.life.pruneProgress()
	st.RuleOn = db.pruneRuleOn()
	st.Passes = db.st.prunePasses.Load()
	st.Pruned = db.st.pruned.Load()
	if ms := db.life.nextPass.Load(); st.RuleOn && ms > 0 {
		st.NextPass = time.UnixMilli(ms)
	}
	return st
}

// prunePass runs prune steps until the cursor wraps around, and returns how
// many keys it removed.
func (db *DB) prunePass(stop <-chan struct{}) (int, error) {
	total := 0
	for {
		n, _, done, err := db.pruneStep(db.cfg().PruneBatchSize)
		total += n
		if err != nil || done {
			if done {
				db.st.prunePasses.Add(1)
			}
			return total, err
		}
		select {
		case <-stop:
			return total, nil
		default:
		}
	}
}

// pruneStep examines up to batch keys from the cursor and removes those the
// rule selects. done reports that the pass reached the end of the keyspace
// (the cursor starts over).
func (db *DB) pruneStep(batch int) (removed, examined int, done bool, err error) {
	db.life.pruneMu.Lock()
	defer db.life.pruneMu.Unlock()
	now := db.nowMs()
	var victims [][]byte
	var last []byte
	err = db.walk(db.life.pruneCursor, batch, func(key, _ []byte, hdr keyspace.Header, m keyspace.Meta) {
		examined++
		last = append(last[:0], key...)
		if !hdr.Expired(now) && db.prunable(hdr, m, now) {
			victims = append(victims, bytes.Clone(key))
		}
	})
	if err != nil {
		return 0, examined, false, err
	}
	db.st.pruneScanned.Add(uint64(examined))
	db.life.passSeen += int64(examined)
	if examined < batch {
		db.life.pruneCursor = nil
		db.life.passSeen = 0
		db.life.lastPassEnd = db.clock.Now()
		done = true
	} else {
		db.life.pruneCursor = append(last, 0)
	}
	if len(victims) == 0 {
		return 0, examined, done, nil
	}
	removed, err = db.retire(victims, EventPruned, func(hdr keyspace.Header, m keyspace.Meta) bool {
		return !hdr.Expired(now) && db.prunable(hdr, m, now)
	})
	return removed, examined, done, err
}

// PruneResult is what a Prune call did.
type PruneResult struct {
	Examined int  // keys the rule was applied to
	Removed  int  // keys it removed (each with an EventPruned)
	Wrapped  bool // the pass reached the end of the keyspace: the next starts over
}

// Prune applies the pruning rule now, as the background pass does every
// PruneInterval: to every key (limit 0: one whole pass), or to the next
// limit keys from where the last pass (background or not) stopped. Removed
// keys are retired with an EventPruned each. It returns ErrNoPruneRule if
// no rule is configured (PruneMinFrequency and PruneIdle are both off).
func (db *DB) Prune(limit int) (PruneResult, error) {
	if !db.pruneRuleOn() {
		return PruneResult{}, ErrNoPruneRule
	}
	if err := db.enter(); err != nil {
		return PruneResult{}, err
	}
	defer db.leave()
	if limit <= 0 { // a whole pass: from the first key
		db.life.restartPrunePass()
	}
	var r PruneResult
	for limit <= 0 || r.Examined < limit {
		batch := db.cfg().PruneBatchSize
		if limit > 0 {
			batch = min(batch, limit-r.Examined)
		}
		n, examined, done, err := db.pruneStep(batch)
		r.Removed += n
		r.Examined += examined
		if err != nil {
			return r, err
		}
		if done {
			r.Wrapped = true
			if limit <= 0 {
				db.st.prunePasses.Add(1)
			}
			break
		}
	}
	return r, nil
}

// walk calls fn for up to limit data records (-1: all) from start (nil =
// the first), in key order, with each key's meta including unflushed reads.
// Arguments are valid only during fn.
func (db *DB) walk(start []byte, limit int, fn func(key, value []byte, hdr keyspace.Header, m keyspace.Meta)) error {
	it, err := newRecordIter(db.pdb, start, nil)
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok && (limit < 0 || n < limit); ok = it.Next() {
		fn(it.key, it.value, it.hdr, db.withPending(it.key, it.m))
		n++
	}
	return it.Err()
}

func (db *DB) currentMetaLocked(sh *shard, key []byte) (keyspace.Meta, error) {
	m, err := db.getMeta(db.pdb, key)
	if err != nil {
		return keyspace.Meta{}, err
	}
	if a := sh.pendingOf(key); a.count > 0 {
		m = db.mergeMeta(m, a.meta())
	}
	return m, nil
}

// retire removes the keys for which still (re-checked under their locks)
// returns true, atomically, with a lifecycle event of the given kind each.
func (db *DB) retire(keys [][]byte, kind EventKind, still func(keyspace.Header, keyspace.Meta) bool) (int, error) {
	db.prefetch(keys, true) // see expireBatch
	var w writeOp
	db.startWrite(&w, db.nowMs(), keys...)
	defer w.release()
	for _, key := range keys {
		rec, ok, err := w.read(key)
		if err != nil {
			return 0, err
		}
		m, err := db.currentMetaLocked(db.shardFor(key), key)
		if err == nil && ok && still(rec.hdr, m) {
			w.retire(kind, key, rec, m)
		}
		rec.release()
		if err != nil {
			return 0, err
		}
	}
	n := w.keys.n
	// Eviction spares nothing here: a retirement only shrinks the store.
	return n, w.commit(nil)
}

// budgetOn reports whether a budget is configured.
func (db *DB) budgetOn() bool { s := db.cfg(); return s.MaxKeys > 0 || s.MaxDiskBytes > 0 }

// overBudget reports whether the store is over its budget after adding c.
func (db *DB) overBudget(c counts) bool {
	o := db.cfg()
	return (o.MaxKeys > 0 && db.keys.Load()+c.keys > o.MaxKeys) ||
		(o.MaxDiskBytes > 0 && db.bytes.Load()+c.bytes > o.MaxDiskBytes)
}

// admit checks a write that changes the counters by c against the budget
// under NoEviction: a write that grows an over-budget store fails. With an
// eviction policy writes are always admitted and eviction follows.
func (db *DB) admit(c counts) error {
	s := db.cfg()
	if !db.budgetOn() || s.EvictionPolicy != NoEviction || (c.keys <= 0 && c.bytes <= 0) {
		return nil
	}
	if db.overBudget(c) {
		return newBudgetError(db.keys.Load(), db.bytes.Load(), c, s.MaxKeys, s.MaxDiskBytes)
	}
	return nil
}

// afterWrite evicts after a write that grew the store by c, if that took it
// over budget, sparing the keys the write itself wrote (written reports
// them): as in Redis, which evicts before a command runs, a write never
// evicts its own keys. A write whose keys alone exceed the budget therefore
// stands over it. Called without locks held.
func (db *DB) afterWrite(c counts, written func(key []byte) bool) error {
	if !db.mayEvict(c) {
		return nil
	}
	_, err := db.evictOver(evictPerWrite, written)
	if errors.Is(err, ErrFull) {
		return nil // nothing evictable (volatile-lfu, or only the write's keys): the write stands
	}
	return err
}

// mayEvict reports whether a write that changed the counters by c may
// have to evict (afterWrite does nothing otherwise).
func (db *DB) mayEvict(c counts) bool {
	return db.budgetOn() && db.cfg().EvictionPolicy != NoEviction && (c.keys > 0 || c.bytes > 0)
}

// wroteKey returns a written func for afterWrite that matches one key.
func wroteKey(key []byte) func([]byte) bool {
	return func(k []byte) bool { return bytes.Equal(k, key) }
}

// evictOver evicts keys while the store is over budget, at most limit (-1 =
// no limit), sparing the keys spare reports (nil = none), and returns how
// many it evicted.
func (db *DB) evictOver(limit int, spare func([]byte) bool) (int, error) {
	n := 0
	for db.overBudget(counts{}) && (limit < 0 || n < limit) {
		ok, err := db.evictOne(spare)
		if err != nil {
			return n, err
		}
		if !ok {
			return n, ErrFull
		}
		n++
	}
	return n, nil
}

// score rates a key for eviction: lower goes first. ok is false for keys the
// policy never evicts.
func (db *DB) score(hdr keyspace.Header, m keyspace.Meta, now int64) (float64, bool) {
	switch db.cfg().EvictionPolicy {
	case EvictAllKeysLRU:
		return float64(lastAccess(hdr, m)), true
	case EvictVolatileLFU:
		if hdr.ExpiresAt == 0 {
			return 0, false
		}
	}
	return m.HeatAt(now, db.halfLifeMs()), true
}

// evictOne evicts the best candidate from the pool that spare (nil = none)
// does not report, refilling the pool by sampling. It returns false if no
// key can be evicted.
func (db *DB) evictOne(spare func([]byte) bool) (bool, error) {
	db.life.evictMu.Lock()
	defer db.life.evictMu.Unlock()
	for attempt := 0; attempt < 8; attempt++ {
		if err := db.sample(); err != nil {
			return false, err
		}
		if spare != nil {
			// Spared keys leave the pool; the cursor finds them again.
			db.life.pool = slices.DeleteFunc(db.life.pool, func(c candidate) bool { return spare(c.key) })
		}
		if len(db.life.pool) == 0 {
			return false, nil
		}
		victim := db.life.pool[0]
		db.life.pool = db.life.pool[1:]
		now := db.nowMs()
		rescored := math.NaN()
		n, err := db.retire([][]byte{victim.key}, EventEvicted, func(hdr keyspace.Header, m keyspace.Meta) bool {
			s, ok := db.score(hdr, m, now)
			if !ok || hdr.Expired(now) {
				return false
			}
			if s > victim.score && len(db.life.pool) > 0 && s > db.life.pool[0].score {
				rescored = s // it warmed up since it was sampled
				return false
			}
			return true
		})
		if err != nil {
			return false, err
		}
		if n == 1 {
			return true, nil
		}
		if !math.IsNaN(rescored) {
			db.addCandidate(candidate{key: victim.key, score: rescored})
		}
		// Otherwise it was deleted or changed meanwhile: try the next.
	}
	return false, nil
}

// sample adds the next evictSample keys after the sampling cursor to the
// candidate pool, keeping the evictPool lowest-scored.
func (db *DB) sample() error {
	it, err := newRecordIter(db.pdb, nil, nil)
	if err != nil {
		return err
	}
	defer it.Close()
	now := db.nowMs()
	ok, wrapped := it.SeekGE(db.life.sampleCursor), false
	for i := 0; i < evictSample; i++ {
		if !ok {
			if wrapped || it.Err() != nil {
				break
			}
			wrapped = true
			if ok = it.First(); !ok {
				db.life.pool = db.life.pool[:0] // no keys at all
				break
			}
		}
		db.life.sampleCursor = append(append(db.life.sampleCursor[:0], it.key...), 0)
		m := db.withPending(it.key, it.m)
		if s, ok := db.score(it.hdr, m, now); ok && !it.hdr.Expired(now) {
			db.addCandidate(candidate{key: bytes.Clone(it.key), score: s})
		}
		ok = it.Next()
	}
	return it.Err()
}

// addCandidate inserts c into the pool (replacing an older entry for the
// same key) and drops the highest scores beyond evictPool.
func (db *DB) addCandidate(c candidate) {
	p := slices.DeleteFunc(db.life.pool, func(o candidate) bool { return bytes.Equal(o.key, c.key) })
	i, _ := slices.BinarySearchFunc(p, c.score, func(o candidate, s float64) int {
		switch {
		case o.score < s:
			return -1
		case o.score > s:
			return 1
		}
		return 0
	})
	p = slices.Insert(p, i, c)
	if len(p) > evictPool {
		p = p[:evictPool]
	}
	db.life.pool = p
}

// Candidate is a key that a lifecycle rule would retire now; see Preview.
type Candidate struct {
	Key      []byte
	Metadata Metadata
}

// Preview lists what the current rules would retire now, without retiring
// anything: every key the pruning rule selects, and the keys the budget would
// evict (the lowest-scored by the eviction policy, enough to get back under
// budget after pruning), each list cut at limit entries. It reads the whole
// keyspace: use it to tune a rule before turning it on, not on a hot path.
type Preview struct {
	Prune      []Candidate
	PruneTotal int // keys the pruning rule selects
	Evict      []Candidate
	EvictTotal int // keys eviction would remove (by an exact ordering, unlike sampling)
}

// Preview computes a Preview with lists of at most limit entries (0 = 100).
func (db *DB) Preview(limit int) (Preview, error) {
	if err := db.enter(); err != nil {
		return Preview{}, err
	}
	defer db.leave()
	if limit <= 0 {
		limit = 100
	}
	now := db.nowMs()
	set := db.cfg()
	var p Preview
	type scored struct {
		c     Candidate
		score float64
		size  int64
	}
	var evictable []scored
	keysLeft, bytesLeft := db.keys.Load(), db.bytes.Load()
	err := db.walk(nil, -1, func(key, value []byte, hdr keyspace.Header, m keyspace.Meta) {
		if hdr.Expired(now) {
			return
		}
		md := db.makeMetadata(hdr, m, now)
		if db.prunable(hdr, m, now) {
			p.PruneTotal++
			keysLeft--
			bytesLeft -= int64(len(key)) + recordSize(hdr, value)
			if len(p.Prune) < limit {
				p.Prune = append(p.Prune, Candidate{Key: bytes.Clone(key), Metadata: md})
			}
			return
		}
		if s, ok := db.score(hdr, m, now); ok && db.budgetOn() && db.cfg().EvictionPolicy != NoEviction {
			evictable = append(evictable, scored{Candidate{Key: bytes.Clone(key), Metadata: md}, s, int64(len(key)) + recordSize(hdr, value)})
		}
	})
	if err != nil {
		return Preview{}, err
	}
	slices.SortFunc(evictable, func(a, b scored) int { return cmpFloat(a.score, b.score) })
	for _, e := range evictable {
		if !((set.MaxKeys > 0 && keysLeft > set.MaxKeys) || (set.MaxDiskBytes > 0 && bytesLeft > set.MaxDiskBytes)) {
			break
		}
		keysLeft--
		bytesLeft -= e.size
		p.EvictTotal++
		if len(p.Evict) < limit {
			p.Evict = append(p.Evict, e.c)
		}
	}
	return p, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// makeMetadata builds the public metadata of a key, its heat decayed to now.
func (db *DB) makeMetadata(h keyspace.Header, m keyspace.Meta, now int64) Metadata {
	return Metadata{
		Frequency:  m.Frequency,
		Heat:       m.HeatAt(now, db.halfLifeMs()),
		CreatedAt:  msToTime(h.CreatedAt),
		UpdatedAt:  msToTime(h.UpdatedAt),
		LastAccess: msToTime(lastAccess(h, m)),
		ExpiresAt:  msToTime(h.ExpiresAt),
		Type:       Type(h.Type),
	}
}

// pruneProgress returns the current pruning pass's progress.
func (l *lifecycleState) pruneProgress() PruneStatus {
	l.pruneMu.Lock()
	defer l.pruneMu.Unlock()
	return PruneStatus{PassSeen: l.passSeen, LastPassEnd: l.lastPassEnd}
}

// restartPrunePass makes the next pruning step start a pass from the first
// key.
func (l *lifecycleState) restartPrunePass() {
	l.pruneMu.Lock()
	defer l.pruneMu.Unlock()
	l.pruneCursor = nil
	l.passSeen = 0
}

// resetPool empties the eviction candidate pool.
func (l *lifecycleState) resetPool() {
	l.evictMu.Lock()
	defer l.evictMu.Unlock()
	l.pool = nil
}
