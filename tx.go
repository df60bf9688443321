package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// Errors returned by transactions.
var (
	// ErrConflict is returned by Commit when something the transaction read,
	// scanned or wrote was written by someone else after its snapshot, and by
	// Update when that still happens after Options.TxMaxRetries retries.
	ErrConflict = errors.New("epochdb: transaction conflict")
	// ErrTxClosed is returned by the methods of a transaction that has been
	// committed or rolled back (for Update and View: once the function
	// returned).
	ErrTxClosed = errors.New("epochdb: transaction closed")
	// ErrTxReadOnly is returned by the write methods of a read-only
	// transaction.
	ErrTxReadOnly = errors.New("epochdb: transaction is read-only")
)

// Tx is a transaction: a consistent snapshot of the database plus a buffer of
// the transaction's own writes, which its reads see (read-your-writes).
// Writes reach the database atomically at Commit, and only if nothing the
// transaction read, scanned or wrote was written by anyone else after its
// snapshot (optimistic concurrency control). This makes read-write
// transactions serializable.
//
// Deadlines are judged at the transaction's start time: a key live when the
// transaction began stays visible to it even if its deadline passes before
// Commit. If the sweeper removes such a key meanwhile, that removal is a
// write, so a transaction that read the key fails with ErrConflict (and
// Update retries it).
//
// Reads inside a transaction count as accesses like Get (unless read tracking
// is disabled). IncrementFrequency in a transaction is applied at Commit as
// an increment, so concurrent increments are never lost, but the count it
// returns is computed from the snapshot and may be stale.
//
// A Tx must be used by one goroutine at a time. IMPORTANT: a transaction
// from Begin must end with Commit or Rollback; Close waits for open
// transactions.
type Tx struct {
	db       *DB
	writable bool
	done     bool
	snap     *pebble.Snapshot
	readSeq  uint64
	now      int64     // start time, Unix ms: every deadline is judged at it
	began    time.Time // monotonic start, for the commit latency metric

	reads   map[string]struct{}
	ranges  []keyRange
	writes  map[string]*txWrite
	watches []*Watch
	noTouch bool // Gets do not count as accesses (SetNoTouch)
}

type writeKind uint8

const (
	wNone     writeKind = iota // only frequency increments
	wPut                       // a new value and deadline
	wDelete                    // removal
	wDeadline                  // a new deadline for the current value
	wColl                      // changes of a collection (coll)
)

type txWrite struct {
	kind  writeKind
	value []byte
	exp   int64
	fresh bool      // the transaction deleted the key before putting it: start afresh
	incs  uint64    // frequency increments
	coll  *collView // for wColl
	carry *carried
}

// carried is the history a put takes over from another key (Copy): the
// put replaces the key's record and metadata with these instead of
// starting afresh or keeping the key's own.
type carried struct {
	createdAt, updatedAt int64
	meta                 keyspace.Meta
}

// inherit returns the history a new put of a key keeps from its previous
// write w in the transaction: a copied history stays, updated now.
func (tx *Tx) inherit(w *txWrite) *carried {
	if w == nil || w.kind != wPut || w.carry == nil {
		return nil
	}
	c := *w.carry
	c.updatedAt = tx.now
	return &c
}

// Begin starts a transaction; writable selects a read-write one. Prefer
// Update and View, which commit or roll back for you.
func (db *DB) Begin(writable bool) (*Tx, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	tx := &Tx{
		db:       db,
		writable: writable,
		began:    time.Now(),
		reads:    make(map[string]struct{}),
		writes:   make(map[string]*txWrite),
	}
	if writable {
		db.rlog.begin()
	}
	// Before the snapshot: every write the snapshot misses is stamped with
	// a larger sequence number (versions.go).
	tx.readSeq = db.commitSeq.Load()
	tx.snap = db.pdb.NewSnapshot()
	tx.now = db.nowMs()
	return tx, nil
}

// Update runs fn in a read-write transaction and commits it if fn returns
// nil. If the commit conflicts, Update runs fn again on a fresh snapshot, up
// to Options.TxMaxRetries times, then returns ErrConflict; fn must therefore
// have no effects outside the transaction. If fn returns an error, nothing is
// written and that error is returned unchanged. If fn panics, the
// transaction is rolled back and the panic continues.
func (db *DB) Update(fn func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		tx, err := db.Begin(true)
		if err != nil {
			return err
		}
		if err := tx.run(fn); err != nil {
			return err
		}
		err = tx.Commit()
		if !errors.Is(err, ErrConflict) || attempt >= db.opts.TxMaxRetries {
			return err
		}
		db.st.txRetries.Add(1)
		runtime.Gosched()
	}
}

// View runs fn in a read-only transaction on a consistent snapshot. Write
// methods return ErrTxReadOnly. fn's error is returned unchanged.
func (db *DB) View(fn func(tx *Tx) error) error {
	tx, err := db.Begin(false)
	if err != nil {
		return err
	}
	err = tx.run(fn)
	if err == nil {
		tx.Rollback()
	}
	return err
}

// run calls fn, rolling back if it fails or panics.
func (tx *Tx) run(fn func(*Tx) error) (err error) {
	ok := false
	defer func() {
		if !ok {
			tx.Rollback()
		}
	}()
	err = fn(tx)
	ok = err == nil
	return err
}

// Rollback discards the transaction. Calling it on a finished transaction
// does nothing.
func (tx *Tx) Rollback() {
	if tx.done {
		return
	}
	tx.finish()
}

func (tx *Tx) finish() {
	tx.done = true
	_ = tx.snap.Close()
	if tx.writable {
		tx.db.rlog.end()
	}
	tx.db.leave()
}

func (tx *Tx) check(write bool) error {
	if tx.done {
		return ErrTxClosed
	}
	if write && !tx.writable {
		return ErrTxReadOnly
	}
	return nil
}

// view returns key's state as the transaction sees it: its own writes over
// the snapshot, deadlines judged at the start time. It records the read.
// value is owned by the caller when fromSnap is false; otherwise it is a
// copy too. meta is the snapshot's meta plus unflushed reads, zero for a key
// the transaction starts afresh; it is read only when withMeta is set.
type txView struct {
	live  bool
	value []byte
	hdr   keyspace.Header
	meta  keyspace.Meta
}

func (tx *Tx) view(key []byte, withMeta bool) (txView, error) {
	tx.reads[string(key)] = struct{}{}
	w := tx.writes[string(key)]
	var v txView
	if w == nil || w.kind == wNone || w.kind == wDeadline || w.kind == wColl {
		rec, ok, err := tx.db.getRecord(tx.snap, key)
		if err != nil {
			return txView{}, err
		}
		if ok && !rec.hdr.Expired(tx.now) {
			v = txView{live: true, value: slices.Clone(rec.value), hdr: rec.hdr}
			if v.value == nil {
				v.value = []byte{}
			}
		}
		rec.release()
		if v.live && withMeta {
			if v.meta, err = tx.db.getMeta(tx.snap, key); err != nil {
				return txView{}, err
			}
			v.meta = tx.db.mergeMeta(v.meta, tx.db.shardFor(key).pendingOf(key).meta())
		}
	}
	if w == nil {
		return v, nil
	}
	switch w.kind {
	case wDelete:
		return txView{}, nil
	case wPut:
		if w.exp != 0 && w.exp <= tx.now {
			return txView{}, nil
		}
		prev, err := tx.snapshotLive(key, w, withMeta)
		if err != nil {
			return txView{}, err
		}
		v = txView{live: true, value: w.value, hdr: keyspace.Header{CreatedAt: tx.now, UpdatedAt: tx.now, ExpiresAt: w.exp}}
		switch {
		case w.carry != nil:
			v.hdr.CreatedAt, v.hdr.UpdatedAt = w.carry.createdAt, w.carry.updatedAt
			v.meta = w.carry.meta
		case prev.live:
			v.hdr.CreatedAt = prev.hdr.CreatedAt
			v.meta = prev.meta
			v.meta = tx.db.mergeMeta(v.meta, keyspace.Meta{LastAccess: tx.now})
		default:
			v.meta = tx.db.mergeMeta(v.meta, keyspace.Meta{LastAccess: tx.now})
		}
	case wDeadline:
		if !v.live {
			return txView{}, nil
		}
		v.hdr.ExpiresAt = w.exp
		if w.exp != 0 && w.exp <= tx.now {
			return txView{}, nil
		}
	case wColl:
		c := w.coll
		if !c.live || c.coll.Count == 0 || c.hdr.Expired(tx.now) {
			return txView{}, nil
		}
		if c.fresh {
			v = txView{live: true, meta: keyspace.Meta{LastAccess: tx.now, Heat: 1}}
		}
		v.live, v.hdr, v.value = true, c.hdr, keyspace.AppendColl(nil, c.coll)
	}
	if v.live && (w.incs > 0 || w.carry == nil) { // a carried history keeps its last access
		v.meta = tx.db.mergeMeta(v.meta, keyspace.Meta{Frequency: w.incs, LastAccess: tx.now, Heat: float64(w.incs)})
	}
	return v, nil
}

// snapshotLive returns the snapshot state of a key the transaction put, or a
// dead view if the transaction starts it afresh.
func (tx *Tx) snapshotLive(key []byte, w *txWrite, withMeta bool) (txView, error) {
	if w.fresh {
		return txView{}, nil
	}
	saved := tx.writes[string(key)]
	delete(tx.writes, string(key))
	v, err := tx.view(key, withMeta)
	tx.writes[string(key)] = saved
	return v, err
}

// Get returns a copy of key's value as the transaction sees it, or
// ErrNotFound.
func (tx *Tx) Get(key []byte) ([]byte, error) {
	if err := tx.check(false); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v, err := tx.view(key, false)
	if err != nil {
		return nil, err
	}
	tx.db.st.gets.Add(1)
	if !v.live {
		tx.db.st.misses.Add(1)
		return nil, ErrNotFound
	}
	if v.hdr.Type.IsCollection() {
		return nil, ErrWrongType
	}
	if !tx.noTouch && tx.db.tracksReads() {
		tx.db.track(key, tx.db.nowMs())
	}
	return slices.Clip(v.value), nil
}

// Metadata returns key's metadata as the transaction sees it, or
// ErrNotFound.
func (tx *Tx) Metadata(key []byte) (Metadata, error) {
	if err := tx.check(false); err != nil {
		return Metadata{}, err
	}
	if err := checkKey(key); err != nil {
		return Metadata{}, err
	}
	v, err := tx.view(key, true)
	if err != nil {
		return Metadata{}, err
	}
	if !v.live {
		return Metadata{}, ErrNotFound
	}
	return tx.db.makeMetadata(v.hdr, v.meta, tx.now), nil
}

// Set buffers a write of value under key with a ttl measured from the
// transaction's start (0 = never expires), with the semantics of DB.Set.
func (tx *Tx) Set(key, value []byte, ttl time.Duration) error {
	if err := tx.check(true); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := tx.db.checkValue(value); err != nil {
		return err
	}
	exp, err := deadline(time.UnixMilli(tx.now), ttl)
	if err != nil {
		return err
	}
	w := tx.writes[string(key)]
	tx.writes[string(key)] = &txWrite{kind: wPut, value: bytes.Clone(value), exp: exp, fresh: tx.startsAfresh(key), carry: tx.inherit(w)}
	if tx.writes[string(key)].value == nil {
		tx.writes[string(key)].value = []byte{}
	}
	return nil
}

// Copy buffers a write of dst with src's value, deadline and lifecycle
// metadata as the transaction sees them: frequency, heat, CreatedAt,
// UpdatedAt and last access, so that dst continues src's history instead of
// starting a new one (the server's RENAME, COPY, MOVE and SWAPDB keep a
// key's history this way). Whatever dst held is replaced, its history
// included; src is unchanged (Delete it to move the key). Copy returns
// ErrNotFound if src is not live in the transaction's view, and does
// nothing if src and dst are the same key. A hash or set is not copied:
// ErrWrongType.
//
// The history is src's as of the transaction's snapshot plus the reads
// tracked so far: accesses of src by others between then and the commit
// are counted on src, not on dst.
func (tx *Tx) Copy(src, dst []byte) error {
	if err := tx.check(true); err != nil {
		return err
	}
	if err := checkKey(src); err != nil {
		return err
	}
	if err := checkKey(dst); err != nil {
		return err
	}
	v, err := tx.view(src, true)
	if err != nil {
		return err
	}
	if !v.live {
		return ErrNotFound
	}
	if v.hdr.Type.IsCollection() {
		return ErrWrongType // a hash or set: copy its members through its handle
	}
	if bytes.Equal(src, dst) {
		return nil
	}
	tx.writes[string(dst)] = carriedWrite(v)
	return nil
}

// Swap buffers the exchange of keys a and b: each takes over the other's
// value, deadline and lifecycle metadata as the transaction sees them (as
// Copy does), and a key whose counterpart is not live is deleted. It does
// nothing if a and b are the same key. The server's SWAPDB is built on it.
func (tx *Tx) Swap(a, b []byte) error {
	if err := tx.check(true); err != nil {
		return err
	}
	if err := checkKey(a); err != nil {
		return err
	}
	if err := checkKey(b); err != nil {
		return err
	}
	if bytes.Equal(a, b) {
		return nil
	}
	va, err := tx.view(a, true)
	if err != nil {
		return err
	}
	vb, err := tx.view(b, true)
	if err != nil {
		return err
	}
	if (va.live && va.hdr.Type.IsCollection()) || (vb.live && vb.hdr.Type.IsCollection()) {
		return ErrWrongType // hashes and sets are not swapped yet
	}
	for _, kv := range []struct {
		key []byte
		v   txView
	}{{a, vb}, {b, va}} {
		if kv.v.live {
			tx.writes[string(kv.key)] = carriedWrite(kv.v)
		} else {
			tx.writes[string(kv.key)] = &txWrite{kind: wDelete}
		}
	}
	return nil
}

// carriedWrite is the write of a key that takes over the live view v of
// another key, history included.
func carriedWrite(v txView) *txWrite {
	value := bytes.Clone(v.value)
	if value == nil {
		value = []byte{}
	}
	return &txWrite{kind: wPut, value: value, exp: v.hdr.ExpiresAt, fresh: true,
		carry: &carried{createdAt: v.hdr.CreatedAt, updatedAt: v.hdr.UpdatedAt, meta: v.meta}}
}

// startsAfresh reports whether a put of key replaces what the transaction
// deleted or created itself: the key then starts afresh.
func (tx *Tx) startsAfresh(key []byte) bool {
	w := tx.writes[string(key)]
	return w != nil && (w.kind == wDelete || w.fresh || (w.kind == wColl && w.coll.fresh))
}

// Delete buffers the removal of key. Deleting an absent key is not an error.
func (tx *Tx) Delete(key []byte) error {
	if err := tx.check(true); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	tx.writes[string(key)] = &txWrite{kind: wDelete}
	return nil
}

// IncrementFrequency buffers one access of key, applied at Commit as an
// increment, and returns the count the transaction sees. It returns
// ErrNotFound if the key is not live in the transaction's view.
func (tx *Tx) IncrementFrequency(key []byte) (uint64, error) {
	if err := tx.check(true); err != nil {
		return 0, err
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	v, err := tx.view(key, true)
	if err != nil {
		return 0, err
	}
	if !v.live {
		return 0, ErrNotFound
	}
	w := tx.writes[string(key)]
	if w == nil {
		w = &txWrite{kind: wNone}
		tx.writes[string(key)] = w
	}
	w.incs++
	return v.meta.Frequency + 1, nil
}

// Expire buffers a new deadline now+ttl (now = the transaction's start) for
// key. It returns ErrNotFound if the key is not live in the transaction's
// view.
func (tx *Tx) Expire(key []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: Expire needs a positive ttl, got %v (Persist removes a deadline)", ErrInvalidTTL, ttl)
	}
	exp, err := deadline(time.UnixMilli(tx.now), ttl)
	if err != nil {
		return err
	}
	return tx.setDeadline(key, exp)
}

// Persist buffers the removal of key's deadline. It returns ErrNotFound if
// the key is not live in the transaction's view.
func (tx *Tx) Persist(key []byte) error { return tx.setDeadline(key, 0) }

func (tx *Tx) setDeadline(key []byte, exp int64) error {
	v, err := tx.writeView(key)
	if err != nil {
		return err
	}
	if !v.live {
		return ErrNotFound
	}
	w := tx.writes[string(key)]
	switch {
	case w == nil:
		tx.writes[string(key)] = &txWrite{kind: wDeadline, exp: exp}
	case w.kind == wPut || w.kind == wDeadline:
		w.exp = exp
	case w.kind == wColl:
		w.coll.hdr.ExpiresAt = exp
		w.coll.dirty = true
	default: // wNone: only increments so far
		w.kind, w.exp = wDeadline, exp
	}
	return nil
}

// Watch makes the commit of tx fail with ErrConflict if any key watched by w
// was written after w began. The server's WATCH/EXEC is built on it.
func (tx *Tx) Watch(w *Watch) error {
	if err := tx.check(false); err != nil {
		return err
	}
	tx.watches = append(tx.watches, w)
	return nil
}

// Scan calls fn for each live key selected by opts, as the transaction sees
// it (its own writes included), in ascending order. The scanned range counts
// as read: a key written into it by someone else makes the commit conflict.
// key and value are valid only until fn returns.
func (tx *Tx) Scan(opts ScanOptions, fn func(key, value []byte, md Metadata) error) error {
	if err := tx.check(false); err != nil {
		return err
	}
	lower := bytes.Clone(opts.Prefix)
	if opts.After != nil && bytes.Compare(opts.After, opts.Prefix) >= 0 {
		lower = append(bytes.Clone(opts.After), 0)
	}
	var upper []byte
	if len(opts.Prefix) > 0 {
		upper = keyspace.PrefixEnd(opts.Prefix)
	}
	inRange := func(k []byte) bool {
		return bytes.HasPrefix(k, opts.Prefix) && bytes.Compare(k, lower) >= 0
	}

	// Candidate keys: the snapshot's, merged with the transaction's writes.
	var buffered [][]byte
	for k := range tx.writes {
		if inRange([]byte(k)) {
			buffered = append(buffered, []byte(k))
		}
	}
	slices.SortFunc(buffered, bytes.Compare)
	iterUpper := []byte{keyspace.PrefixData + 1}
	if upper != nil {
		iterUpper = keyspace.DataKey(nil, upper)
	}
	it, err := tx.snap.NewIter(&pebble.IterOptions{LowerBound: keyspace.DataKey(nil, lower), UpperBound: iterUpper})
	if err != nil {
		return fmt.Errorf("epochdb: scan: %w", err)
	}
	defer it.Close()
	it.First()

	seen := 0
	stoppedAt := []byte(nil)
	for {
		var key []byte
		snapValid := it.Valid()
		switch {
		case snapValid && len(buffered) > 0:
			sk := keyspace.UserKey(it.Key())
			if c := bytes.Compare(sk, buffered[0]); c < 0 {
				key = bytes.Clone(sk)
				it.Next()
			} else {
				key = buffered[0]
				buffered = buffered[1:]
				if c == 0 {
					it.Next()
				}
			}
		case snapValid:
			key = bytes.Clone(keyspace.UserKey(it.Key()))
			it.Next()
		case len(buffered) > 0:
			key = buffered[0]
			buffered = buffered[1:]
		}
		if key == nil {
			break
		}
		if opts.Limit > 0 && seen >= opts.Limit {
			stoppedAt = key
			break
		}
		v, err := tx.view(key, true)
		if err != nil {
			return err
		}
		if !v.live {
			continue
		}
		seen++
		value := v.value
		if v.hdr.Type.IsCollection() {
			value = nil
		}
		if err := fn(key, value, tx.db.makeMetadata(v.hdr, v.meta, tx.now)); err != nil {
			tx.ranges = append(tx.ranges, keyRange{lo: lower, hi: append(bytes.Clone(key), 0)})
			if errors.Is(err, ErrStopScan) {
				return nil
			}
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("epochdb: scan: %w", err)
	}
	hi := upper
	if stoppedAt != nil {
		hi = stoppedAt
	}
	tx.ranges = append(tx.ranges, keyRange{lo: lower, hi: hi})
	return nil
}

// Commit writes the transaction's changes atomically, or returns
// ErrConflict (writing nothing) if anything it read, scanned or wrote was
// written by someone else after its snapshot, or a key it watched changed.
// A read-only or empty transaction commits trivially. Commit ends the
// transaction either way.
func (tx *Tx) Commit() (err error) {
	defer tx.db.met.commit.observe(tx.began, &err)
	if err := tx.check(false); err != nil {
		return err
	}
	defer tx.finish()
	if len(tx.writes) == 0 && len(tx.watches) == 0 {
		return nil
	}
	db := tx.db
	keys := make([][]byte, 0, len(tx.writes))
	for k := range tx.writes {
		keys = append(keys, []byte(k))
	}
	var w writeOp
	if len(tx.ranges) > 0 {
		db.startWriteAll(&w, db.nowMs())
	} else {
		db.startWrite(&w, db.nowMs(), tx.lockKeys(keys)...)
	}
	defer w.release()
	if tx.conflictLocked() {
		db.st.txConflicts.Add(1)
		return ErrConflict
	}
	for _, key := range keys {
		if err := tx.stage(&w, key); err != nil {
			return err
		}
	}
	err = w.commit(func(k []byte) bool {
		_, ok := tx.writes[string(k)]
		return ok
	})
	if err == nil {
		db.st.txCommits.Add(1)
	}
	return err
}

// lockKeys returns the keys whose shards the commit locks: those it wrote,
// read or watched, so that validation and apply see every write to them
// either wholly done or not begun.
func (tx *Tx) lockKeys(writes [][]byte) [][]byte {
	keys := writes
	for k := range tx.reads {
		keys = append(keys, []byte(k))
	}
	for _, w := range tx.watches {
		keys = append(keys, w.keys...)
	}
	return keys
}

// conflictLocked reports whether a commit after the snapshot touched what the
// transaction read, scanned or wrote, or a key one of its watches covers.
// The caller holds the shard locks of lockKeys (every shard with ranges).
func (tx *Tx) conflictLocked() bool {
	db := tx.db
	for k := range tx.reads {
		if db.writtenSince([]byte(k), tx.readSeq) {
			return true
		}
	}
	for k, w := range tx.writes {
		if w.kind != wNone && db.writtenSince([]byte(k), tx.readSeq) {
			return true
		}
	}
	if len(tx.ranges) > 0 && db.rlog.conflict(tx.readSeq, tx.ranges) {
		return true
	}
	for _, w := range tx.watches {
		if w.Changed() {
			return true
		}
	}
	return false
}

// stage adds the transaction's write of key to w, against the key's
// current record (its shard is locked).
func (tx *Tx) stage(w *writeOp, key []byte) error {
	db := tx.db
	tw := tx.writes[string(key)]
	if tw.kind == wColl {
		// The key's record is the view's base: nothing wrote it since
		// the snapshot (the commit validated that).
		tw.coll.flush(w)
		if tw.incs > 0 && tw.coll.live && tw.coll.coll.Count > 0 {
			_ = w.b.Merge(keyspace.MetaKey(nil, key), keyspace.AppendMeta(nil, keyspace.Meta{Frequency: tw.incs, LastAccess: w.now, Heat: float64(tw.incs)}), nil)
			db.shardFor(key).noteMerge(key)
			db.st.increments.Add(tw.incs)
		}
		return nil
	}
	old, existed, err := w.read(key)
	if err != nil {
		return err
	}
	defer old.release()
	live := existed && !old.hdr.Expired(w.now)
	if existed && !live && tw.kind != wNone {
		w.expireLazily(key, old)
	}
	switch tw.kind {
	case wPut:
		if c := tw.carry; c != nil {
			hdr := keyspace.Header{CreatedAt: c.createdAt, UpdatedAt: c.updatedAt, ExpiresAt: tw.exp}
			w.putCarried(key, old.hdr, old.value, existed, hdr, tw.value, c.meta)
		} else {
			w.put(key, old.hdr, old.value, existed, !tw.fresh, tw.exp, tw.value)
		}
		db.st.sets.Add(1)
	case wDelete:
		if existed {
			w.del(key, old.hdr, old.value)
		}
		db.st.deletes.Add(1)
	case wDeadline:
		if live && old.hdr.ExpiresAt != tw.exp {
			w.setDeadline(key, old, tw.exp)
		}
	}
	if tw.incs > 0 && (live || tw.kind == wPut) {
		// A plain merge: the batch may already hold this key's meta from put.
		_ = w.b.Merge(keyspace.MetaKey(nil, key), keyspace.AppendMeta(nil, keyspace.Meta{Frequency: tw.incs, LastAccess: w.now, Heat: float64(tw.incs)}), nil)
		db.shardFor(key).noteMerge(key)
		db.st.increments.Add(tw.incs)
	}
	return nil
}

// TTL returns the time left until key expires as the transaction sees it
// (deadlines judged at its start), NoTTL if it never expires, or
// ErrNotFound. Like Metadata it is not an access.
func (tx *Tx) TTL(key []byte) (time.Duration, error) {
	if err := tx.check(false); err != nil {
		return 0, err
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	v, err := tx.view(key, false)
	switch {
	case err != nil:
		return 0, err
	case !v.live:
		return 0, ErrNotFound
	case v.hdr.ExpiresAt == 0:
		return NoTTL, nil
	}
	return max(time.Duration(v.hdr.ExpiresAt-tx.now)*time.Millisecond, time.Millisecond), nil
}

// Modify is DB.Modify inside the transaction: fn sees key as the
// transaction does, and its Change is buffered like Set or Delete. Unlike
// DB.Modify, fn may call the transaction's methods.
func (tx *Tx) Modify(key []byte, fn func(cur Entry, exists bool) (Change, error)) error {
	v, err := tx.writeView(key)
	if err != nil {
		return err
	}
	if v.live && v.hdr.Type.IsCollection() {
		return ErrWrongType
	}
	var cur Entry
	if v.live {
		cur = Entry{Value: v.value, ExpiresAt: msToTime(v.hdr.ExpiresAt)}
	}
	ch, err := fn(cur, v.live)
	if err != nil {
		return err
	}
	switch ch.Action {
	case Keep:
		return nil
	case Remove:
		if !v.live {
			return nil
		}
		return tx.Delete(key)
	case Put:
		exp, err := deadlineMs(ch.ExpiresAt)
		if err != nil {
			return err
		}
		if err := tx.db.checkValue(ch.Value); err != nil {
			return err
		}
		w := tx.writes[string(key)]
		tx.writes[string(key)] = &txWrite{kind: wPut, value: append([]byte{}, ch.Value...), exp: exp, fresh: tx.startsAfresh(key), carry: tx.inherit(w)}
		return nil
	}
	return fmt.Errorf("epochdb: Modify: unknown action %d", ch.Action)
}

// SetDeadline is DB.SetDeadline inside the transaction: the condition is
// judged against the deadline the transaction sees, a t at or before the
// transaction's start makes the key invisible to it, and the change is
// buffered.
func (tx *Tx) SetDeadline(key []byte, t time.Time, cond DeadlineCond) (bool, error) {
	exp, err := deadlineMs(t)
	if err != nil {
		return false, err
	}
	v, err := tx.writeView(key)
	if err != nil {
		return false, err
	}
	if !v.live {
		return false, ErrNotFound
	}
	if !deadlineHolds(cond, v.hdr.ExpiresAt, exp) {
		return false, nil
	}
	return true, tx.setDeadline(key, exp)
}

// writeView is view for a write method: it checks that the transaction is
// open and writable and that key is valid first.
func (tx *Tx) writeView(key []byte) (txView, error) {
	if err := tx.check(true); err != nil {
		return txView{}, err
	}
	if err := checkKey(key); err != nil {
		return txView{}, err
	}
	return tx.view(key, false)
}
