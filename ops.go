package epochdb

import (
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// Metadata is what EpochDB knows about a key besides its value. Zero times
// mean "never": a zero ExpiresAt is a key without deadline, a zero LastAccess
// is impossible for a stored key (creation counts as an access).
type Metadata struct {
	// Frequency counts the key's accesses: IncrementFrequency calls and, unless
	// read tracking is disabled, Gets. It survives overwrites and restarts and
	// starts at zero when the key is created.
	Frequency uint64
	// Heat is the key's access count decayed with Options.HeatHalfLife, as of
	// the time of the call: each access adds 1 and the sum halves every
	// half-life. A new key starts at 1. Eviction by LFU removes the coldest.
	Heat float64
	// CreatedAt is when the key was first written since it last did not exist.
	CreatedAt time.Time
	// UpdatedAt is when its value was last written.
	UpdatedAt time.Time
	// LastAccess is the latest read, write or frequency increment.
	LastAccess time.Time
	// ExpiresAt is the key's deadline; zero means it never expires.
	ExpiresAt time.Time
	// Type is the type of the key's value: TypeString, TypeHash, TypeSet,
	// TypeZSet, TypeList.
	Type Type
}

// Set stores value under key. A ttl of 0 means the key never expires; a
// positive ttl sets its deadline to now+ttl, rounded up to the millisecond; a
// negative ttl is an error (ErrInvalidTTL).
//
// Overwriting a live key replaces its value and deadline (ttl 0 makes it
// persistent) and keeps its CreatedAt and Frequency. A nil value is stored
// as an empty one.
func (db *DB) Set(key, value []byte, ttl time.Duration) (err error) {
	defer db.met.set.observe(time.Now(), &err)
	if err := checkKey(key); err != nil {
		return err
	}
	if err := db.checkValue(value); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	now := db.clock.Now()
	exp, err := deadline(now, ttl)
	if err != nil {
		return err
	}
	db.st.sets.Add(1)
	return db.put(key, value, now.UnixMilli(), exp)
}

// lastAccess is a key's last access: the later of its meta's (reads and
// increments, and its creation) and its record's UpdatedAt (writes), so that
// an overwrite need not write the meta.
func lastAccess(h keyspace.Header, m keyspace.Meta) int64 { return max(m.LastAccess, h.UpdatedAt) }

// put writes value with deadline exp under key.
func (db *DB) put(key, value []byte, now, exp int64) error {
	var w writeOp
	db.startWrite(&w, now, key)
	defer w.release()
	old, existed, err := w.read(key)
	if err != nil {
		return err
	}
	defer old.release()
	if existed && old.hdr.Expired(now) {
		w.expireLazily(key, old)
	}
	w.put(key, old.hdr, old.value, existed, true, exp, value)
	return w.commit(nil)
}

// stageRecord adds to b the data record (hdr, value) of key and the ttl-index
// change from old (nil if the key has no record; oldLen is its value's
// length) to hdr. It returns the changes of the counters.
func stageRecord(b *pebble.Batch, key []byte, old *keyspace.Header, oldLen int, hdr keyspace.Header, value []byte) counts {
	op := b.SetDeferred(1+len(key), keyspace.HeaderLen+len(value))
	keyspace.DataKey(op.Key[:0], key)
	keyspace.AppendRecord(op.Value[:0], hdr, value)
	_ = op.Finish()

	hadTTL := old != nil && old.ExpiresAt != 0
	if hadTTL && old.ExpiresAt != hdr.ExpiresAt {
		_ = b.Delete(keyspace.TTLKey(nil, old.ExpiresAt, key), nil)
	}
	c := counts{ttlKeys: boolDelta(hadTTL, hdr.ExpiresAt != 0), bytes: int64(len(value) - oldLen)}
	if hdr.ExpiresAt != 0 && (!hadTTL || old.ExpiresAt != hdr.ExpiresAt) {
		_ = b.Set(keyspace.TTLKey(nil, hdr.ExpiresAt, key), nil, nil)
		c.minExp = hdr.ExpiresAt
	}
	if old == nil {
		c.keys = 1
		c.bytes += int64(len(key))
	}
	return c
}

// stageDelete adds to b the removal of key, whose record has header hdr and
// a value of vlen bytes.
func stageDelete(b *pebble.Batch, key []byte, hdr keyspace.Header, vlen int) counts {
	_ = b.Delete(keyspace.DataKey(nil, key), nil)
	_ = b.Delete(keyspace.MetaKey(nil, key), nil)
	c := counts{keys: -1, bytes: -int64(len(key) + vlen)}
	if hdr.ExpiresAt != 0 {
		_ = b.Delete(keyspace.TTLKey(nil, hdr.ExpiresAt, key), nil)
		c.ttlKeys = -1
	}
	return c
}

// Get returns a copy of the value stored under key, or ErrNotFound if there
// is none or it has expired. Unless read tracking is disabled, a hit counts
// as an access of the key (see Metadata.Frequency).
func (db *DB) Get(key []byte) ([]byte, error) { return db.get(key, true) }

// get is Get; touch false is Peek.
func (db *DB) get(key []byte, touch bool) (_ []byte, err error) {
	defer db.met.get.observe(time.Now(), &err)
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	db.st.gets.Add(1)
	now := db.nowMs()
	sh := db.shardFor(key)
	v, hdr, e, err := db.read(sh, key)
	if err != nil {
		return nil, err
	}
	if v == nil || hdr.Expired(now) {
		db.st.misses.Add(1)
		return nil, ErrNotFound
	}
	if hdr.Type.IsCollection() {
		return nil, ErrWrongType
	}
	if touch && db.tracksReads() {
		if e != nil {
			sh.trackEntry(e, now)
		} else {
			db.track(key, now)
		}
	}
	return v, nil
}

// read returns a copy of key's value (nil if absent; never nil if present)
// and its header, expired or not: from the record cache (e is then its
// entry, which counts the read), or from the engine, filling the cache.
func (db *DB) read(sh *shard, key []byte) (v []byte, hdr keyspace.Header, e *cacheEntry, err error) {
	var gen uint64
	if db.cacheOn() {
		if e, gen = sh.cache.get(key); e != nil {
			db.st.cacheHits.Add(1)
			if e.absent {
				return nil, keyspace.Header{}, nil, nil
			}
			return append(make([]byte, 0, len(e.value)), e.value...), e.hdr, e, nil
		}
		db.st.cacheMisses.Add(1)
	}
	rec, ok, err := db.getRecord(db.pdb, key)
	if err != nil {
		return nil, keyspace.Header{}, nil, err
	}
	if !ok {
		if db.cacheOn() {
			db.cacheFillAbsent(sh, key, gen)
		}
		return nil, keyspace.Header{}, nil, nil
	}
	defer rec.release()
	if db.cacheOn() {
		db.cacheFill(sh, key, rec.hdr, rec.value, gen)
	}
	return append(make([]byte, 0, len(rec.value)), rec.value...), rec.hdr, nil, nil
}

// track records one read of key at now, to be written by the next flush.
func (db *DB) track(key []byte, now int64) {
	sh := db.shardFor(key)
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	a := sh.pending[string(key)]
	if a.count < math.MaxUint64 {
		a.count++
	}
	a.last = now
	sh.pending[string(key)] = a
}

// pendingReads returns key's reads in the shard's pending map.
func (sh *shard) pendingReads(key []byte) access {
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	return sh.pending[string(key)]
}

// pendingOf returns key's unflushed tracked reads: in the pending map and
// on its cache entry.
func (sh *shard) pendingOf(key []byte) access {
	a := sh.pendingReads(key)
	if e := sh.cache.peek(key); e != nil {
		a.add(e.reads.Load(), e.last.Load())
	}
	return a
}

// Delete removes key. It reports whether a live key was removed; deleting an
// absent or expired key is not an error.
func (db *DB) Delete(key []byte) (existed bool, err error) {
	defer db.met.del.observeDelete(time.Now(), &existed, &err)
	if err := checkKey(key); err != nil {
		return false, err
	}
	if err := db.enter(); err != nil {
		return false, err
	}
	defer db.leave()
	db.st.deletes.Add(1)
	var w writeOp
	db.startWrite(&w, db.nowMs(), key)
	defer w.release()
	old, ok, err := w.read(key)
	if err != nil {
		return false, err
	}
	defer old.release()
	if !ok {
		db.shardFor(key).dropPending(key)
		return false, nil
	}
	expired := old.hdr.Expired(w.now)
	if expired {
		w.expireLazily(key, old)
	}
	w.del(key, old.hdr, old.value)
	return !expired, w.commit(nil)
}

// IncrementFrequency adds one access to key's frequency and returns the new
// count. Concurrent increments are exact: N calls add exactly N. It returns
// ErrNotFound if the key is absent or expired.
func (db *DB) IncrementFrequency(key []byte) (_ uint64, err error) {
	defer db.met.incr.observe(time.Now(), &err)
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := db.enter(); err != nil {
		return 0, err
	}
	defer db.leave()
	db.st.increments.Add(1)
	var w writeOp
	db.startWrite(&w, db.nowMs(), key)
	defer w.release()
	rec, ok, err := w.read(key)
	rec.release()
	if err == nil && (!ok || rec.hdr.Expired(w.now)) {
		err = ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	m, err := db.getMeta(db.pdb, key)
	if err != nil {
		return 0, err
	}
	// The meta is read anyway, so the increment is written as the merged
	// value: a hot key's increments leave no chain of merge operands.
	sh := db.shardFor(key)
	m = db.mergeMeta(m, keyspace.Meta{Frequency: 1, LastAccess: w.now, Heat: 1})
	n := db.mergeMeta(m, sh.pendingOf(key).meta()).Frequency
	_ = w.b.Set(keyspace.MetaKey(nil, key), keyspace.AppendMeta(nil, m), nil)
	delete(sh.runs, string(key))
	if err := w.commit(nil); err != nil {
		return 0, err
	}
	return n, nil
}

// Metadata returns key's metadata, including reads tracked but not yet
// flushed. Reading metadata is not an access. It returns ErrNotFound if the
// key is absent or expired.
func (db *DB) Metadata(key []byte) (Metadata, error) {
	if err := checkKey(key); err != nil {
		return Metadata{}, err
	}
	if err := db.enter(); err != nil {
		return Metadata{}, err
	}
	defer db.leave()
	sh := db.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	rec, ok, err := db.getRecord(db.pdb, key)
	rec.release()
	if err != nil {
		return Metadata{}, err
	}
	now := db.nowMs()
	if !ok || rec.hdr.Expired(now) {
		return Metadata{}, ErrNotFound
	}
	m, err := db.currentMetaLocked(sh, key)
	if err != nil {
		return Metadata{}, err
	}
	return db.makeMetadata(rec.hdr, m, now), nil
}

// TTL returns the time left until key expires (at least 1ms for a live key),
// NoTTL if it never expires, or ErrNotFound if it is absent or expired.
func (db *DB) TTL(key []byte) (time.Duration, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := db.enter(); err != nil {
		return 0, err
	}
	defer db.leave()
	rec, ok, err := db.getRecord(db.pdb, key)
	rec.release()
	if err != nil {
		return 0, err
	}
	now := db.clock.Now()
	switch {
	case !ok || rec.hdr.Expired(now.UnixMilli()):
		return 0, ErrNotFound
	case rec.hdr.ExpiresAt == 0:
		return NoTTL, nil
	}
	left := time.UnixMilli(rec.hdr.ExpiresAt).Sub(now).Truncate(time.Millisecond)
	return max(left, time.Millisecond), nil
}

// Expire sets key's deadline to now+ttl. ttl must be positive (use Persist to
// remove a deadline). It returns ErrNotFound if the key is absent or expired.
func (db *DB) Expire(key []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: Expire needs a positive ttl, got %v (Persist removes a deadline)", ErrInvalidTTL, ttl)
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	exp, err := deadline(db.clock.Now(), ttl)
	if err != nil {
		return err
	}
	return db.setDeadline(key, exp)
}

// ExpireAt sets key's deadline to t, rounded up to the millisecond. A t at or
// before now makes the key invisible at once (the sweeper then removes it as
// expired). It returns ErrNotFound if the key is absent or expired.
func (db *DB) ExpireAt(key []byte, t time.Time) error {
	if t.IsZero() || t.UnixMilli() <= 0 {
		return fmt.Errorf("%w: deadline %v is not after 1970", ErrInvalidTTL, t)
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	return db.setDeadline(key, ceilMs(t))
}

// Persist removes key's deadline. It returns ErrNotFound if the key is absent
// or expired; a key without deadline is left as it is.
func (db *DB) Persist(key []byte) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	return db.setDeadline(key, 0)
}

// setDeadline rewrites key's record with deadline exp (0 = none).
func (db *DB) setDeadline(key []byte, exp int64) error {
	_, err := db.changeDeadline(key, exp, Always)
	return err
}

// DeadlineCond is the condition under which SetDeadline changes a deadline:
// the options of Redis's EXPIRE.
type DeadlineCond uint8

const (
	// Always sets the deadline.
	Always DeadlineCond = iota
	// IfNone sets it only if the key has no deadline (Redis's NX).
	IfNone
	// IfSet sets it only if the key has a deadline (XX).
	IfSet
	// IfLater sets it only if it is later than the current one (GT); a key
	// without deadline counts as never expiring, so it is never changed.
	IfLater
	// IfEarlier sets it only if it is earlier than the current one (LT); a
	// key without deadline counts as never expiring, so it always is.
	IfEarlier
)

// SetDeadline atomically sets key's deadline to t (rounded up to the
// millisecond; a zero t removes the deadline) if cond holds for its current
// deadline, and reports whether it changed it. A t at or before now makes the
// key invisible at once (the sweeper removes it as expired). It returns
// ErrNotFound if the key is absent or expired.
func (db *DB) SetDeadline(key []byte, t time.Time, cond DeadlineCond) (bool, error) {
	exp, err := deadlineMs(t)
	if err != nil {
		return false, err
	}
	if cond > IfEarlier {
		return false, fmt.Errorf("epochdb: SetDeadline: unknown condition %d", cond)
	}
	if err := db.enter(); err != nil {
		return false, err
	}
	defer db.leave()
	return db.changeDeadline(key, exp, cond)
}

// deadlineMs converts an absolute deadline into Unix milliseconds, rounded
// up; the zero time is no deadline (0).
func deadlineMs(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if t.UnixMilli() <= 0 {
		return 0, fmt.Errorf("%w: deadline %v is not after 1970", ErrInvalidTTL, t)
	}
	return ceilMs(t), nil
}

// deadlineHolds reports whether cond allows replacing deadline cur by exp
// (0 = none, which counts as infinitely late).
func deadlineHolds(cond DeadlineCond, cur, exp int64) bool {
	inf := func(d int64) int64 {
		if d == 0 {
			return math.MaxInt64
		}
		return d
	}
	switch cond {
	case IfNone:
		return cur == 0
	case IfSet:
		return cur != 0
	case IfLater:
		return inf(exp) > inf(cur)
	case IfEarlier:
		return inf(exp) < inf(cur)
	}
	return true
}

// changeDeadline sets key's deadline to exp if cond holds; it reports
// whether the condition held (a deadline already equal to exp counts as
// set).
func (db *DB) changeDeadline(key []byte, exp int64, cond DeadlineCond) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	var w writeOp
	db.startWrite(&w, db.nowMs(), key)
	defer w.release()
	old, ok, err := w.read(key)
	if err != nil {
		return false, err
	}
	defer old.release()
	if !ok || old.hdr.Expired(w.now) {
		return false, ErrNotFound
	}
	if !deadlineHolds(cond, old.hdr.ExpiresAt, exp) {
		return false, nil
	}
	if old.hdr.ExpiresAt != exp {
		w.setDeadline(key, old, exp)
	}
	return true, w.commit(nil)
}

// Len returns the number of keys stored. It includes keys that have expired
// but that the sweeper has not removed yet (at most about ExpiryInterval
// old), as Redis's DBSIZE does.
func (db *DB) Len() int64 { return db.keys.Load() }

// Action says what Modify does with a key.
type Action int

const (
	// Keep leaves the key as it is.
	Keep Action = iota
	// Put stores Change.Value with deadline Change.ExpiresAt.
	Put
	// Remove deletes the key.
	Remove
)

// Entry is a key's current state as Modify shows it.
type Entry struct {
	Value     []byte    // valid only during the Modify callback
	ExpiresAt time.Time // zero = never expires
}

// Change is what a Modify callback decides.
type Change struct {
	Action    Action
	Value     []byte    // for Put
	ExpiresAt time.Time // for Put; zero = never expires (copy Entry.ExpiresAt to keep the deadline)
}

// Modify atomically reads key and applies the Change that fn returns: no
// other write to key can come between the read and the write. exists is false
// (and cur empty) when the key is absent or expired. If fn returns an error
// nothing is written and Modify returns that error unchanged.
//
// Modify is the building block for read-modify-write operations such as
// increment-by, append or set-if-absent. On a key holding a collection it
// returns ErrWrongType without calling fn. A Put behaves as Set (CreatedAt and
// frequency survive, the write counts as an access).
//
// IMPORTANT: fn runs while a lock covering key is held; it must be quick and
// must not call methods of db.
func (db *DB) Modify(key []byte, fn func(cur Entry, exists bool) (Change, error)) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	var w writeOp
	db.startWrite(&w, db.nowMs(), key)
	defer w.release()
	old, existed, err := w.read(key)
	if err != nil {
		return err
	}
	defer old.release()
	now := w.now
	live := existed && !old.hdr.Expired(now)
	if live && old.hdr.Type.IsCollection() {
		return ErrWrongType
	}
	var cur Entry
	if live {
		cur = Entry{Value: old.value, ExpiresAt: msToTime(old.hdr.ExpiresAt)}
	}
	ch, err := fn(cur, live)
	if err == nil && ch.Action == Put {
		err = db.checkValue(ch.Value)
		if err == nil && !ch.ExpiresAt.IsZero() && ch.ExpiresAt.UnixMilli() <= 0 {
			err = fmt.Errorf("%w: deadline %v is not after 1970", ErrInvalidTTL, ch.ExpiresAt)
		}
	}
	if err != nil || ch.Action == Keep || (ch.Action == Remove && !existed) {
		return err
	}
	if ch.Action != Put && ch.Action != Remove {
		return fmt.Errorf("epochdb: Modify: unknown action %d", ch.Action)
	}
	if existed && !live {
		w.expireLazily(key, old)
	}
	if ch.Action == Put {
		exp := int64(0)
		if !ch.ExpiresAt.IsZero() {
			exp = ceilMs(ch.ExpiresAt)
		}
		w.put(key, old.hdr, old.value, existed, true, exp, ch.Value)
		db.st.sets.Add(1)
	} else {
		w.del(key, old.hdr, old.value)
		db.st.deletes.Add(1)
	}
	return w.commit(nil)
}
