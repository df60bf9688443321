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
	sh := db.shardFor(key)
	sh.mu.Lock()
	old, existed, err := db.getRecord(db.pdb, key)
	if err != nil {
		sh.mu.Unlock()
		return err
	}
	defer old.release()
	b := db.pdb.NewBatch()
	c := db.stagePut(b, sh, key, old.hdr, len(old.value), existed, true, now, exp, value)
	if err := db.admit(c); err != nil {
		sh.mu.Unlock()
		_ = b.Close()
		return err
	}
	r := retired{db: db}
	if existed && old.hdr.Expired(now) {
		db.stageLazyExpiry(b, &r, sh, key, old, now)
	}
	addCounters(b, c)
	err = db.commit(b, &sh.mu, &r, key)
	if err != nil {
		return err
	}
	db.applyCounters(c)
	return db.afterWrite(c, wroteKey(key))
}

// stageLazyExpiry records in b and r that the expired record rec of key is
// being replaced or deleted: an expiry like the sweeper's. The caller holds
// sh.mu.
func (db *DB) stageLazyExpiry(b *pebble.Batch, r *retired, sh *shard, key []byte, rec record, now int64) {
	if !db.wantEvents() {
		db.st.expired.Add(1)
		return
	}
	m, err := db.currentMetaLocked(sh, key)
	if err != nil {
		db.log.Warn("epochdb: reading the metadata of an expired key", "key", key, "err", err)
	}
	r.stage(b, EventExpired, key, rec.hdr, m, rec.value, now)
}

// stagePut adds to b the write of value with deadline exp under key, whose
// current record has header old if existed. A live key keeps its CreatedAt
// and meta; a new key, or one replacing an expired record, starts both
// afresh. The caller holds sh.mu.
//
// With keep false, a live key is replaced as if it had been deleted first.
func (db *DB) stagePut(b *pebble.Batch, sh *shard, key []byte, old keyspace.Header, oldLen int, existed, keep bool, now, exp int64, value []byte) counts {
	live := keep && existed && !old.Expired(now)
	hdr := keyspace.Header{CreatedAt: now, UpdatedAt: now, ExpiresAt: exp}
	if live {
		hdr.CreatedAt = old.CreatedAt
	}
	var oldHdr *keyspace.Header
	if existed {
		oldHdr = &old
	}
	c := stageRecord(b, key, oldHdr, oldLen, hdr, value)
	// Overwriting a live key leaves its meta alone: the write's time is the
	// record's UpdatedAt, which lastAccess takes into account.
	if !live {
		// A new key starts at frequency 0 and heat 1 (its creation), so
		// that it is not the first victim of eviction.
		_ = b.Set(keyspace.MetaKey(nil, key), keyspace.AppendMeta(nil, keyspace.Meta{LastAccess: now, Heat: 1}), nil)
		delete(sh.pending, string(key))
		delete(sh.runs, string(key))
	}
	return c
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
func (db *DB) Get(key []byte) (_ []byte, err error) {
	defer db.met.get.observe(time.Now(), &err)
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	db.st.gets.Add(1)
	rec, ok, err := db.getRecord(db.pdb, key)
	if err != nil {
		return nil, err
	}
	now := db.nowMs()
	if !ok || rec.hdr.Expired(now) {
		rec.release()
		db.st.misses.Add(1)
		return nil, ErrNotFound
	}
	v := append(make([]byte, 0, len(rec.value)), rec.value...)
	rec.release()
	if !db.opts.DisableReadTracking {
		db.track(key, now)
	}
	return v, nil
}

// track records one read of key at now, to be written by the next flush.
func (db *DB) track(key []byte, now int64) {
	sh := db.shardFor(key)
	sh.mu.Lock()
	a := sh.pending[string(key)]
	if a.count < math.MaxUint64 {
		a.count++
	}
	a.last = now
	sh.pending[string(key)] = a
	sh.mu.Unlock()
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
	sh := db.shardFor(key)
	sh.mu.Lock()
	old, ok, err := db.getRecord(db.pdb, key)
	if err != nil {
		sh.mu.Unlock()
		return false, err
	}
	defer old.release()
	if !ok {
		delete(sh.pending, string(key))
		sh.mu.Unlock()
		return false, nil
	}
	now := db.nowMs()
	expired := old.hdr.Expired(now)
	b := db.pdb.NewBatch()
	r := retired{db: db}
	if expired {
		db.stageLazyExpiry(b, &r, sh, key, old, now)
	}
	delete(sh.pending, string(key))
	c := stageDelete(b, key, old.hdr, len(old.value))
	addCounters(b, c)
	err = db.commit(b, &sh.mu, &r, key)
	if err != nil {
		return false, err
	}
	db.applyCounters(c)
	return !expired, nil
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
	sh := db.shardFor(key)
	sh.mu.Lock()
	rec, ok, err := db.getRecord(db.pdb, key)
	rec.release()
	now := db.nowMs()
	if err == nil && (!ok || rec.hdr.Expired(now)) {
		err = ErrNotFound
	}
	if err != nil {
		sh.mu.Unlock()
		return 0, err
	}
	m, err := db.getMeta(db.pdb, key)
	if err != nil {
		sh.mu.Unlock()
		return 0, err
	}
	// The meta is read anyway, so the increment is written as the merged
	// value: a hot key's increments leave no chain of merge operands.
	m = db.mergeMeta(m, keyspace.Meta{Frequency: 1, LastAccess: now, Heat: 1})
	n := db.mergeMeta(m, sh.pending[string(key)].meta()).Frequency
	b := db.pdb.NewBatch()
	_ = b.Set(keyspace.MetaKey(nil, key), keyspace.AppendMeta(nil, m), nil)
	delete(sh.runs, string(key))
	if err := db.commit(b, &sh.mu, nil); err != nil {
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
	if err := checkKey(key); err != nil {
		return err
	}
	sh := db.shardFor(key)
	sh.mu.Lock()
	old, ok, err := db.getRecord(db.pdb, key)
	if err == nil && (!ok || old.hdr.Expired(db.nowMs())) {
		err = ErrNotFound
	}
	if err != nil {
		old.release()
		sh.mu.Unlock()
		return err
	}
	if old.hdr.ExpiresAt == exp {
		old.release()
		sh.mu.Unlock()
		return nil
	}
	hdr := old.hdr
	hdr.ExpiresAt = exp
	b := db.pdb.NewBatch()
	c := stageRecord(b, key, &old.hdr, len(old.value), hdr, old.value)
	old.release()
	addCounters(b, c)
	if err := db.commit(b, &sh.mu, nil, key); err != nil {
		return err
	}
	db.applyCounters(c)
	return nil
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
// increment-by, append or set-if-absent. A Put behaves as Set (CreatedAt and
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
	now := db.nowMs()
	sh := db.shardFor(key)
	sh.mu.Lock()
	old, existed, err := db.getRecord(db.pdb, key)
	if err != nil {
		sh.mu.Unlock()
		return err
	}
	live := existed && !old.hdr.Expired(now)
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
		old.release()
		sh.mu.Unlock()
		return err
	}

	b := db.pdb.NewBatch()
	r := retired{db: db}
	if existed && !live {
		db.stageLazyExpiry(b, &r, sh, key, old, now)
	}
	var c counts
	switch ch.Action {
	case Put:
		exp := int64(0)
		if !ch.ExpiresAt.IsZero() {
			exp = ceilMs(ch.ExpiresAt)
		}
		c = db.stagePut(b, sh, key, old.hdr, len(old.value), existed, true, now, exp, ch.Value)
		db.st.sets.Add(1)
	case Remove:
		c = stageDelete(b, key, old.hdr, len(old.value))
		delete(sh.pending, string(key))
		db.st.deletes.Add(1)
	default:
		err = fmt.Errorf("epochdb: Modify: unknown action %d", ch.Action)
	}
	if err == nil {
		err = db.admit(c)
	}
	if err != nil {
		r.finish(false)
		old.release()
		sh.mu.Unlock()
		_ = b.Close()
		return err
	}
	addCounters(b, c)
	err = db.commit(b, &sh.mu, &r, key)
	old.release()
	if err != nil {
		return err
	}
	db.applyCounters(c)
	return db.afterWrite(c, wroteKey(key))
}
