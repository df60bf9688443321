package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// Collections (hashes, sets and lists). A collection is one key: one data record
// whose first byte names its type and whose value is its header (version,
// member count, member bytes), with the usual meta and ttl-index entry, so
// that the whole lifecycle (deadline, frequency, heat, pruning, eviction,
// the budget, counters, backup) treats it as one key. Its members live in
// the member keyspace under (key, version, member); a hash field's deadline
// is in its member record and in the field index, which the sweeper walks.
//
// Every operation on a collection works on a collView: the key's record and
// the members it read or changed, over a base reader (the store under the
// key's shard lock for a DB call, the snapshot for a transaction). A DB call
// flushes its view into one writeOp; a transaction keeps its views until
// Commit flushes them into its writeOp.

// Type is the type of the value stored under a key.
type Type uint8

// The types a key can hold.
const (
	TypeString Type = Type(keyspace.TypeString)
	TypeHash   Type = Type(keyspace.TypeHash)
	TypeSet    Type = Type(keyspace.TypeSet)
	TypeZSet   Type = Type(keyspace.TypeZSet)
	TypeList   Type = Type(keyspace.TypeList)
)

// String returns the type's name as Redis's TYPE reports it.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeHash:
		return "hash"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	case TypeList:
		return "list"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// ErrWrongType is returned by an operation of one type on a key that holds
// a value of another (a string Get of a hash, a hash operation on a set).
var ErrWrongType = errors.New("epochdb: operation against a key holding the wrong kind of value")

// MaxMemberSize is the largest hash field or set member.
const MaxMemberSize = MaxKeySize

// pointDropMax is the largest collection whose members are deleted one by
// one when it is deleted; a larger one's are dropped with one range
// deletion. Both are staged in the deleting batch, so a delete costs at
// most pointDropMax member deletions, whatever the size: range deletions
// are O(1) to write but every read of a memtable that holds many must
// fragment them, so a workload deleting many small collections would slow
// reads down if each were one.
const pointDropMax = 128

func checkMember(m []byte) error {
	if len(m) > MaxMemberSize {
		return fmt.Errorf("%w: a member of %d bytes, the limit is %d", ErrKeyTooLarge, len(m), MaxMemberSize)
	}
	return nil
}

// collView is a collection key as an operation or transaction sees it.
type collView struct {
	db  *DB
	key []byte
	r   pebble.Reader
	now int64

	// The key's record in r.
	baseOK   bool
	baseHdr  keyspace.Header
	baseVal  []byte
	baseColl keyspace.Coll

	str     bool // the key holds a live string
	live    bool // the key holds a live collection (hdr, coll)
	hdr     keyspace.Header
	coll    keyspace.Coll
	fresh   bool // the collection is new: the base's members are not part of it
	rebased bool // fresh only because rebase moved the members to a new version
	dirty   bool // something must be written
	touched bool // a caller's write: UpdatedAt moves to now
	mem     map[string]*memberState

	// zlo and zhi bound the live entries of a sorted set's score index
	// (suffixes, nil: unbounded), as its last pops left them (zset.go).
	zlo, zhi []byte
}

// memberState is one member as the view sees it, and as the base holds it.
type memberState struct {
	baseOK  bool
	baseExp int64
	ok      bool // stored (an expired field too, until it is swept)
	exp     int64
	value   []byte
	changed bool
	// baseVal is the base's value: a sorted set's score index entry is
	// derived from it.
	baseVal []byte
}

func (s *memberState) visible(now int64) bool { return s.ok && (s.exp == 0 || now < s.exp) }

// newCollView returns the view of key whose record in r is (hdr, value),
// ok false if there is none. value is copied.
func (db *DB) newCollView(r pebble.Reader, key []byte, now int64, hdr keyspace.Header, value []byte, ok bool) (*collView, error) {
	v := &collView{db: db, key: bytes.Clone(key), r: r, now: now, mem: make(map[string]*memberState)}
	if !ok {
		return v, nil
	}
	v.baseOK, v.baseHdr, v.baseVal = true, hdr, bytes.Clone(value)
	if hdr.Type.IsCollection() {
		c, err := keyspace.DecodeCollOf(hdr.Type, value)
		if err != nil {
			return nil, corruptErr(key, err)
		}
		v.baseColl = c
	}
	if hdr.Expired(now) {
		return v, nil
	}
	if hdr.Type.IsCollection() {
		v.live, v.hdr, v.coll = true, hdr, v.baseColl
	} else {
		v.str = true
	}
	return v, nil
}

// kill makes the view see no key (a transaction deleted it).
func (v *collView) kill() {
	v.live, v.str = false, false
	clear(v.mem)
}

// check fails with ErrWrongType if the key holds another type than t (a
// collection the view emptied holds nothing).
func (v *collView) check(t keyspace.Type) error {
	if v.str || (v.live && v.coll.Count > 0 && v.hdr.Type != t) {
		return ErrWrongType
	}
	return nil
}

// create makes the view hold a new, empty collection of type t if it holds
// none (or one of another type that it emptied).
func (v *collView) create(t keyspace.Type) {
	if v.live && (v.coll.Count > 0 || v.hdr.Type == t) {
		return
	}
	v.live, v.fresh, v.dirty = true, true, true
	v.hdr = keyspace.Header{Type: t, CreatedAt: v.now, UpdatedAt: v.now}
	v.coll = keyspace.Coll{Version: v.db.collVer.Add(1), List: t == keyspace.TypeList}
	clear(v.mem)
}

// state returns member m's state, reading it from the base the first time.
func (v *collView) state(m []byte) (*memberState, error) {
	if s := v.mem[string(m)]; s != nil {
		return s, nil
	}
	s := &memberState{}
	if v.live && !v.fresh {
		var kbuf [96]byte
		raw, closer, err := v.r.Get(keyspace.MemberKey(kbuf[:0], v.key, v.coll.Version, m))
		switch {
		case errors.Is(err, pebble.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("epochdb: read a member of %q: %w", v.key, err)
		default:
			mr, err := keyspace.DecodeMember(raw)
			if err != nil {
				_ = closer.Close()
				return nil, corruptErr(v.key, err)
			}
			s.baseOK, s.baseExp, s.ok, s.exp = true, mr.ExpiresAt, true, mr.ExpiresAt
			s.value = bytes.Clone(mr.Value)
			if s.value == nil {
				s.value = []byte{}
			}
			s.baseVal = s.value
			_ = closer.Close()
		}
	}
	v.mem[string(m)] = s
	return s, nil
}

// get returns member m if visible.
func (v *collView) get(m []byte) (*memberState, bool, error) {
	if !v.live {
		return nil, false, nil
	}
	s, err := v.state(m)
	if err != nil || !s.visible(v.now) {
		return nil, false, err
	}
	return s, true, nil
}

// set stores member m (creating the collection of type t), and reports
// whether it was not visible before.
func (v *collView) set(t keyspace.Type, m, value []byte, exp int64) (bool, error) {
	if err := checkMember(m); err != nil {
		return false, err
	}
	if err := v.db.checkValue(value); err != nil {
		return false, err
	}
	v.create(t)
	s, err := v.state(m)
	if err != nil {
		return false, err
	}
	added := !s.visible(v.now)
	if s.ok {
		v.coll.Bytes += int64(len(value) - len(s.value))
	} else {
		v.coll.Count++
		v.coll.Bytes += int64(len(m) + len(value))
	}
	s.ok, s.exp, s.changed = true, exp, true
	s.value = append([]byte{}, value...)
	v.dirty, v.touched = true, true
	return added, nil
}

// del removes member m and reports whether it was visible.
func (v *collView) del(m []byte) (bool, error) {
	if !v.live {
		return false, nil
	}
	s, err := v.state(m)
	if err != nil || !s.ok {
		return false, err
	}
	was := s.visible(v.now)
	v.coll.Count--
	v.coll.Bytes -= int64(len(m) + len(s.value))
	s.ok, s.value, s.exp, s.changed = false, nil, 0, true
	v.dirty, v.touched = true, true
	return was, nil
}

// setMemberDeadline changes visible member m's deadline (0: none).
func (v *collView) setMemberDeadline(m []byte, exp int64) (bool, error) {
	s, ok, err := v.get(m)
	if err != nil || !ok {
		return false, err
	}
	if s.exp != exp {
		s.exp, s.changed = exp, true
		v.dirty, v.touched = true, true
	}
	return true, nil
}

// length is the number of members stored (hash fields whose deadline passed
// but that the sweeper has not removed yet included, as Redis's HLEN).
func (v *collView) length() int64 {
	if !v.live {
		return 0
	}
	return v.coll.Count
}

// each calls fn for each visible member from the first at or after from,
// in order, until fn returns false. value is valid during the call.
func (v *collView) each(from []byte, fn func(m, value []byte, exp int64) bool) error {
	return v.eachStored(from, false, fn)
}

// eachStored is each, with the stored members whose deadline passed too if
// expired.
func (v *collView) eachStored(from []byte, expired bool, fn func(m, value []byte, exp int64) bool) error {
	if !v.live {
		return nil
	}
	var over []string
	for m, s := range v.mem {
		if s.changed && m >= string(from) {
			over = append(over, m)
		}
	}
	slices.Sort(over)
	emitOver := func(m string) bool {
		s := v.mem[m]
		if !s.visible(v.now) && !(expired && s.ok) {
			return true
		}
		return fn([]byte(m), s.value, s.exp)
	}
	if v.fresh {
		for _, m := range over {
			if !emitOver(m) {
				return nil
			}
		}
		return nil
	}
	prefix := keyspace.MemberPrefix(nil, v.key, v.coll.Version)
	it, err := v.r.NewIter(&pebble.IterOptions{LowerBound: append(bytes.Clone(prefix), from...), UpperBound: keyspace.PrefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("epochdb: iterate %q: %w", v.key, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		m := it.Key()[len(prefix):]
		for len(over) > 0 && over[0] < string(m) {
			if !emitOver(over[0]) {
				return nil
			}
			over = over[1:]
		}
		if len(over) > 0 && over[0] == string(m) {
			if !emitOver(over[0]) {
				return nil
			}
			over = over[1:]
			continue
		}
		if s := v.mem[string(m)]; s != nil && s.changed {
			continue // changed, and before from: not this walk's
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("epochdb: iterate %q: %w", v.key, err)
		}
		mr, err := keyspace.DecodeMember(raw)
		if err != nil {
			return corruptErr(v.key, err)
		}
		if mr.Expired(v.now) && !expired {
			continue
		}
		if !fn(m, mr.Value, mr.ExpiresAt) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("epochdb: iterate %q: %w", v.key, err)
	}
	for _, m := range over {
		if !emitOver(m) {
			return nil
		}
	}
	return nil
}

// bounds returns the first visible member and the last stored one (nil
// when there is none): the range random picks probe.
func (v *collView) bounds() (first, last []byte, err error) {
	err = v.each(nil, func(m, _ []byte, _ int64) bool { first = append([]byte{}, m...); return false })
	if err != nil || first == nil {
		return nil, nil, err
	}
	last = first
	if !v.fresh {
		prefix := keyspace.MemberPrefix(nil, v.key, v.coll.Version)
		it, err := v.r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keyspace.PrefixEnd(prefix)})
		if err != nil {
			return nil, nil, fmt.Errorf("epochdb: iterate %q: %w", v.key, err)
		}
		if it.Last() && bytes.Compare(it.Key()[len(prefix):], last) > 0 {
			last = bytes.Clone(it.Key()[len(prefix):])
		}
		if err := it.Close(); err != nil {
			return nil, nil, fmt.Errorf("epochdb: iterate %q: %w", v.key, err)
		}
	}
	for m, s := range v.mem {
		if s.changed && s.ok && m > string(last) {
			last = []byte(m)
		}
	}
	return first, last, nil
}

// Sparse collections. Deleting a member leaves a tombstone in the engine
// until compactions drop it, and every walk of the collection's members
// steps over the tombstones in its way: a set drained by SPOP, or a hash
// most of whose fields were deleted, would cost a walk over every member
// it ever had. The shard therefore counts the member deletions of each
// collection since its version began, and the write that makes them more
// than four times the members left (and at least sparseMinDead), in a
// collection of at most rebaseMax members, first moves its members to a
// new version (rebase): the old version's members and tombstones are then
// out of every walk's way, and are dropped like a deleted collection's.
// One copy of at most a quarter as many members as deletions: amortized,
// a rebase costs each deletion a quarter of a member write. The counts
// are memory only (a restart forgets them, which only postpones a
// rebase) and cleared when there are maxRunKeys, as the merge runs are.
const (
	rebaseMax     = 4096
	sparseMinDead = 512
)

// deadCount is a collection's member deletions since its version began.
type deadCount struct {
	version uint64
	n       int64
}

// noteDeletions adds the member deletions the view stages to its
// collection's count, and reports whether the collection is sparse
// enough to rebase. The caller holds the key's shard lock.
func (v *collView) noteDeletions(sh *shard) bool {
	var n int64
	for _, s := range v.mem {
		if s.changed && s.baseOK && !s.ok {
			n++
		}
	}
	if n == 0 || v.fresh || !v.live || v.coll.List {
		// A list's reads seek to its first item, past the tombstones its
		// pops left: they never walk over them.
		return false
	}
	d := sh.dead[string(v.key)]
	if d.version != v.coll.Version {
		d = deadCount{version: v.coll.Version}
	}
	d.n += n
	if len(sh.dead) >= maxRunKeys {
		clear(sh.dead)
	}
	sh.dead[string(v.key)] = d
	return d.n >= sparseMinDead && d.n > 4*v.coll.Count && v.coll.Count > 0 && v.coll.Count <= rebaseMax
}

// rebase moves the view's members, as it sees them (expired fields not
// yet swept included, so that the sweeper still reports them), to a new
// version of the collection, keeping the key's header and history. It does
// nothing (and returns false) when the view holds a change it could not
// carry: an expired field being replaced or removed, whose expiry event
// the flush stages from the member's base.
func (v *collView) rebase() (bool, error) {
	for _, s := range v.mem {
		if s.changed && s.baseOK && s.baseExp != 0 && s.baseExp <= v.now {
			return false, nil
		}
	}
	type member struct {
		m, value []byte
		exp      int64
	}
	var all []member
	err := v.eachStored(nil, true, func(m, value []byte, exp int64) bool {
		all = append(all, member{bytes.Clone(m), bytes.Clone(value), exp})
		return true
	})
	if err != nil {
		return false, err
	}
	clear(v.mem)
	v.coll = keyspace.Coll{Version: v.db.collVer.Add(1), List: v.coll.List, Head: v.coll.Head}
	v.fresh, v.rebased = true, true
	for _, x := range all {
		if x.value == nil {
			x.value = []byte{}
		}
		v.mem[string(x.m)] = &memberState{ok: true, exp: x.exp, value: x.value, changed: true}
		v.coll.Count++
		v.coll.Bytes += int64(len(x.m) + len(x.value))
	}
	return true, nil
}

// flush stages the view's changes in w, whose shard lock of the key is
// held and whose store state of the key is the view's base.
func (v *collView) flush(w *writeOp) {
	if !v.dirty {
		return
	}
	if v.noteDeletions(v.db.shardFor(v.key)) {
		switch ok, err := v.rebase(); {
		case err != nil:
			// The members as they are still flush correctly: the rebase
			// waits for a later write.
			v.db.log.Warn("epochdb: rebasing a sparse collection", "key", v.key, "err", err)
		case ok:
			v.db.st.rebases.Add(1)
		}
	}
	db, key, now := v.db, v.key, w.now
	var oldHdr *keyspace.Header
	oldSize := 0
	if v.baseOK {
		oldHdr = &v.baseHdr
		if v.fresh {
			if v.baseHdr.Expired(now) {
				w.expireLazily(key, record{hdr: v.baseHdr, value: v.baseVal})
			}
			oldSize = w.dropOld(key, v.baseHdr, v.baseVal)
		} else {
			oldSize = len(v.baseVal) + int(v.baseColl.Bytes)
		}
	}
	var meta *keyspace.Meta
	ver := v.coll.Version
	var c counts
	for m, s := range v.mem {
		if !s.changed {
			continue
		}
		mb := []byte(m)
		if s.baseOK && s.baseExp != 0 && s.baseExp <= now && db.wantEvents() {
			if meta == nil {
				mm, err := db.currentMetaLocked(db.shardFor(key), key)
				if err != nil {
					db.log.Warn("epochdb: reading the metadata of a key with an expired field", "key", key, "err", err)
				}
				meta = &mm
			}
			w.r.stageField(w.b, key, mb, v.hdr, *meta, now)
		} else if s.baseOK && s.baseExp != 0 && s.baseExp <= now {
			db.st.fieldsExpired.Add(1)
		}
		mk := keyspace.MemberKey(nil, key, ver, mb)
		if s.baseOK && s.baseExp != 0 && (!s.ok || s.exp != s.baseExp) {
			_ = w.b.Delete(keyspace.FieldIndexKey(nil, s.baseExp, key, ver, mb), nil)
		}
		if s.ok {
			_ = w.b.Set(mk, keyspace.AppendMember(nil, keyspace.Member{ExpiresAt: s.exp, Value: s.value}), nil)
			if s.exp != 0 && (!s.baseOK || s.exp != s.baseExp) {
				_ = w.b.Set(keyspace.FieldIndexKey(nil, s.exp, key, ver, mb), nil, nil)
				if c.minFieldExp == 0 || s.exp < c.minFieldExp {
					c.minFieldExp = s.exp
				}
			}
		} else if s.baseOK {
			_ = w.b.Delete(mk, nil)
		}
		if v.hdr.Type == keyspace.TypeZSet {
			v.stageScoreIndex(w.b, mb, s)
		}
	}
	w.t.add(key, c)
	sh := db.shardFor(key)
	switch {
	case v.live && v.coll.Count > 0:
		hdr := v.hdr
		if v.touched {
			hdr.UpdatedAt = now
		}
		payload := keyspace.AppendColl(nil, v.coll)
		w.t.add(key, stageRecord(w.b, key, oldHdr, oldSize, hdr, payload))
		w.t.add(key, counts{bytes: v.coll.Bytes})
		w.cacheOp(cacheOp{key: key, hdr: hdr, value: payload, keepReads: !v.fresh || v.rebased})
		if v.fresh && !v.rebased {
			_ = w.b.Set(keyspace.MetaKey(nil, key), keyspace.AppendMeta(nil, keyspace.Meta{LastAccess: now, Heat: 1}), nil)
			sh.dropPending(key)
			delete(sh.runs, string(key))
		}
	case oldHdr != nil:
		// The collection lost its last member (or a transaction deleted
		// it and created nothing): the key goes.
		w.t.add(key, stageDelete(w.b, key, *oldHdr, oldSize))
		w.cacheOp(cacheOp{key: key, del: true})
		sh.dropPending(key)
	}
	w.wrote(key)
}

// dropOld stages the removal of the members of the record (hdr, value) of
// key if it is a collection, and returns the record's size for the
// counters: its value, plus its members' bytes for a collection.
func (w *writeOp) dropOld(key []byte, hdr keyspace.Header, value []byte) int {
	if !hdr.Type.IsCollection() {
		return len(value)
	}
	c, err := keyspace.DecodeColl(value)
	if err != nil {
		w.db.log.Warn("epochdb: deleting a collection with a corrupt header", "key", key, "err", err)
		return len(value)
	}
	w.dropMembers(key, hdr.Type, c)
	return len(value) + int(c.Bytes)
}

// dropMembers stages the deletion of the members of (key, c.Version) of
// type typ: one by one (with their field-index or score-index entries) for
// a small collection, with one range deletion for a large one (and one
// more for a sorted set's score index), whose field-index entries the
// sweeper then finds stale and removes when due. The space of either is
// reclaimed by compactions.
func (w *writeOp) dropMembers(key []byte, typ keyspace.Type, c keyspace.Coll) {
	prefix := keyspace.MemberPrefix(nil, key, c.Version)
	end := keyspace.PrefixEnd(prefix)
	if c.Count > pointDropMax {
		_ = w.b.DeleteRange(prefix, end, nil)
		if typ == keyspace.TypeZSet {
			dropScoreIndex(w.b, key, c.Version)
		}
		w.db.st.rangeDrops.Add(1)
		return
	}
	it, err := w.db.pdb.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: end})
	if err == nil {
		for ok := it.First(); ok; ok = it.Next() {
			_ = w.b.Delete(it.Key(), nil)
			raw, verr := it.ValueAndErr()
			if verr != nil {
				err = verr
				break
			}
			m, derr := keyspace.DecodeMember(raw)
			switch {
			case derr != nil:
				err = derr
			case typ == keyspace.TypeZSet:
				err = errors.Join(err, dropScoreEntry(w.b, key, c.Version, it.Key()[len(prefix):], m.Value))
			case m.ExpiresAt != 0:
				_ = w.b.Delete(keyspace.FieldIndexKey(nil, m.ExpiresAt, key, c.Version, it.Key()[len(prefix):]), nil)
			}
		}
		err = errors.Join(err, it.Error(), it.Close())
	}
	if err != nil {
		// Whatever the iteration missed goes with a range deletion.
		_ = w.b.DeleteRange(prefix, end, nil)
		if typ == keyspace.TypeZSet {
			dropScoreIndex(w.b, key, c.Version)
		}
	}
}

// recordSize is the size of a record for the live-bytes counter (its key
// aside): its value, plus its members' bytes for a collection.
func recordSize(hdr keyspace.Header, value []byte) int64 {
	n := int64(len(value))
	if hdr.Type.IsCollection() {
		if c, err := keyspace.DecodeColl(value); err == nil {
			n += c.Bytes
		}
	}
	return n
}

// collRead runs fn on key's view as the store holds it now, without a
// lock (the view reads the member records after the key's record: a
// concurrent write can only make it see a later state). A read of a live
// collection counts as an access of the key.
func (db *DB) collRead(key []byte, fn func(v *collView) error) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	now := db.nowMs()
	sh := db.shardFor(key)
	val, hdr, e, err := db.read(sh, key)
	if err != nil {
		return err
	}
	v, err := db.newCollView(db.pdb, key, now, hdr, val, val != nil)
	if err != nil {
		return err
	}
	if err := fn(v); err != nil {
		return err
	}
	if v.live && db.tracksReads() {
		if e != nil {
			sh.trackEntry(e, now)
		} else {
			db.track(key, now)
		}
	}
	return nil
}

// collWrite runs fn on key's view under the key's shard lock and commits
// what it changed as one writeOp.
func (db *DB) collWrite(key []byte, fn func(v *collView) error) error {
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
	v, err := w.collView(key)
	if err != nil {
		return err
	}
	v.loadZSetHint()
	if err := fn(v); err != nil {
		return err
	}
	if !v.dirty {
		if v.live && db.tracksReads() {
			db.track(key, w.now)
		}
		return nil
	}
	v.flush(&w)
	v.keepZSetHint(&w)
	return w.commit(nil)
}

// collView returns the view of key, whose shard w holds locked, over the
// store.
func (w *writeOp) collView(key []byte) (*collView, error) {
	rec, ok, err := w.read(key)
	if err != nil {
		return nil, err
	}
	v, err := w.db.newCollView(w.db.pdb, key, w.now, rec.hdr, rec.value, ok)
	rec.release()
	return v, err
}

// txColl returns key's view in the transaction: the one it changed, or a
// new one over its snapshot and its own writes of the key. The caller
// stores a new view it changed with keepColl.
func (tx *Tx) txColl(key []byte, write bool) (*collView, error) {
	if err := tx.check(write); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	tx.reads[string(key)] = struct{}{}
	w := tx.writes[string(key)]
	if w != nil && w.kind == wColl {
		return w.coll, nil
	}
	rec, ok, err := tx.db.getRecord(tx.snap, key)
	if err != nil {
		return nil, err
	}
	v, err := tx.db.newCollView(tx.snap, key, tx.now, rec.hdr, rec.value, ok)
	rec.release()
	if err != nil {
		return nil, err
	}
	if w == nil {
		return v, nil
	}
	switch w.kind {
	case wDelete:
		v.kill()
	case wPut:
		v.kill()
		v.str = w.exp == 0 || w.exp > tx.now
	case wDeadline:
		if w.exp != 0 && w.exp <= tx.now {
			v.kill()
		} else if v.live {
			v.hdr.ExpiresAt = w.exp
			v.dirty = true
		}
	}
	return v, nil
}

// keepColl records a view the transaction changed.
func (tx *Tx) keepColl(v *collView) {
	w := tx.writes[string(v.key)]
	if !v.dirty || (w != nil && w.kind == wColl) {
		return
	}
	nw := &txWrite{kind: wColl, coll: v}
	if w != nil {
		nw.incs = w.incs
	}
	tx.writes[string(v.key)] = nw
}

// collHandle is what Hash and Set share: a key in a DB or a transaction.
type collHandle struct {
	db  *DB
	tx  *Tx
	key []byte
	typ keyspace.Type
}

// read runs fn on the key's view (ErrWrongType for another type).
func (h collHandle) read(fn func(v *collView) error) error {
	run := func(v *collView) error {
		if err := v.check(h.typ); err != nil {
			return err
		}
		return fn(v)
	}
	if h.tx == nil {
		return h.db.collRead(h.key, run)
	}
	v, err := h.tx.txColl(h.key, false)
	if err != nil {
		return err
	}
	if err := run(v); err != nil {
		return err
	}
	if v.live && h.tx.db.tracksReads() {
		h.tx.db.track(h.key, h.tx.db.nowMs())
	}
	return nil
}

// length returns the number of members of the key's collection (0 for a
// missing key).
func (h collHandle) length() (int64, error) {
	var n int64
	err := h.read(func(v *collView) error { n = v.length(); return nil })
	return n, err
}

// write runs fn on the key's view and makes what it changes one atomic
// write (a DB handle) or part of the transaction.
func (h collHandle) write(fn func(v *collView) error) error {
	run := func(v *collView) error {
		if err := v.check(h.typ); err != nil {
			return err
		}
		return fn(v)
	}
	if h.tx == nil {
		return h.db.collWrite(h.key, run)
	}
	v, err := h.tx.txColl(h.key, true)
	if err != nil {
		return err
	}
	if err := run(v); err != nil {
		return err
	}
	h.tx.keepColl(v)
	return nil
}

// deadlineOf converts a member deadline to Unix ms (zero: none).
func deadlineOf(t time.Time) (int64, error) { return deadlineMs(t) }
