package epochdb

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// CheckReport is what Check found: the figures it compared and a list of
// problems, empty for a consistent store.
type CheckReport struct {
	Records    int64 // data records, expired ones not yet swept included
	TTLRecords int64 // of which carry a deadline
	Bytes      int64 // their keys' and values' lengths
	Counters   Stats // Keys, KeysWithTTL and LiveBytes as the DB counts them
	TTLEntries int64 // entries of the deadline index
	// StaleTTLEntries are index entries whose record is gone or has another
	// deadline (after a namespace drop, or a write that raced a sweep):
	// harmless, the sweeper removes them when they are due.
	StaleTTLEntries int64
	MetaRecords     int64 // metadata records
	// OrphanMeta are metadata records without a data record (a tracked
	// read flushed after its key's delete): invisible, and overwritten if
	// the key is created again.
	OrphanMeta int64
	// Collections are the data records of hashes, sets and sorted sets;
	// their members are checked against their headers (count and bytes),
	// their fields' deadlines against the field index, and sorted sets'
	// scores against the score index.
	Collections int64
	Events      int64 // events in the durable log
	FirstEvent  uint64
	LastEvent   uint64 // newest event in the log (0 if none)
	EventSeq    uint64 // the sequence number the DB hands out last (LastEventSeq)
	Problems    []string

	// ScoreEntries are the entries of the sorted sets' score index; each
	// must belong to a member with that score.
	ScoreEntries int64
}

// maxCheckProblems bounds the problems a report lists; the rest are counted.
const maxCheckProblems = 100

// Check verifies the store's internal consistency on one snapshot, without
// changing anything: the key counters (in total and per namespace) against
// a scan of the records, every deadline against the deadline index, and
// the event log's sequence numbers (ascending, none above the DB's last).
// It also counts what is harmless by design: stale index entries and
// metadata records without data. It reads the whole store. On a
// store being written to, the counters may differ from the scan by writes
// in flight; run it again before concluding.
func (db *DB) Check() (CheckReport, error) {
	if err := db.enter(); err != nil {
		return CheckReport{}, err
	}
	defer db.leave()
	var r CheckReport
	snap := db.pdb.NewSnapshot()
	defer snap.Close()
	r.Counters = Stats{Keys: db.keys.Load(), KeysWithTTL: db.ttlKeys.Load(), LiveBytes: db.bytes.Load()}
	r.EventSeq = db.assignedEventSeq()
	var perNS [256]NamespaceStats
	for i := range perNS {
		perNS[i] = db.Namespace(byte(i))
	}
	var seenNS [256]NamespaceStats
	dropped := 0
	problem := func(format string, args ...any) {
		if len(r.Problems) < maxCheckProblems {
			r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
		} else {
			dropped++
		}
	}
	scan := func(prefix byte, fn func(k, v []byte)) error {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			fn(it.Key(), it.Value())
		}
		return errors.Join(it.Error(), it.Close())
	}
	has := func(k []byte) (bool, []byte, error) {
		v, closer, err := snap.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return false, nil, nil
		}
		if err != nil {
			return false, nil, err
		}
		defer closer.Close()
		return true, bytes.Clone(v), nil
	}
	var getErr error
	err := scan(keyspace.PrefixData, func(k, v []byte) {
		key := keyspace.UserKey(k)
		hdr, value, err := keyspace.DecodeRecord(v)
		if err != nil {
			problem("data record %q: %v", key, err)
			return
		}
		r.Records++
		size := int64(len(key) + len(value))
		if hdr.Type.IsCollection() {
			c, err := keyspace.DecodeCollOf(hdr.Type, value)
			if err != nil {
				problem("collection %q: %v", key, err)
				return
			}
			size += c.Bytes
			r.Collections++
			if err := checkMembers(snap, key, hdr.Type, c, problem); err != nil {
				getErr = err
			}
		}
		r.Bytes += size
		ns := &seenNS[key[0]]
		ns.Keys++
		ns.LiveBytes += size
		if hdr.ExpiresAt != 0 {
			ns.KeysWithTTL++
			r.TTLRecords++
			ok, _, err := has(keyspace.TTLKey(nil, hdr.ExpiresAt, key))
			if err != nil {
				getErr = err
			} else if !ok {
				problem("key %q has a deadline (%d) missing from the deadline index", key, hdr.ExpiresAt)
			}
		}
	})
	if err == nil {
		err = scan(keyspace.PrefixTTL, func(k, _ []byte) {
			r.TTLEntries++
			exp, key, err := keyspace.DecodeTTLKey(k)
			if err != nil {
				problem("deadline index entry %q: %v", k, err)
				return
			}
			ok, v, err := has(keyspace.DataKey(nil, key))
			if err != nil {
				getErr = err
				return
			}
			if !ok {
				r.StaleTTLEntries++
				return
			}
			if hdr, _, err := keyspace.DecodeRecord(v); err == nil && hdr.ExpiresAt != exp {
				r.StaleTTLEntries++
			}
		})
	}
	if err == nil {
		err = scan(keyspace.PrefixMeta, func(k, _ []byte) {
			r.MetaRecords++
			key := keyspace.UserKey(k)
			ok, _, err := has(keyspace.DataKey(nil, key))
			if err != nil {
				getErr = err
			} else if !ok {
				r.OrphanMeta++
			}
		})
	}
	if err == nil {
		err = checkScoreIndex(snap, &r, problem)
	}
	if err == nil {
		var prev uint64
		err = scan(keyspace.PrefixEvent, func(k, _ []byte) {
			seq, err := keyspace.DecodeEventKey(k)
			if err != nil {
				problem("event log key %q: %v", k, err)
				return
			}
			r.Events++
			if r.FirstEvent == 0 {
				r.FirstEvent = seq
			}
			if seq <= prev {
				problem("event %d follows event %d", seq, prev)
			}
			prev, r.LastEvent = seq, seq
		})
		if r.LastEvent > r.EventSeq {
			problem("the event log holds event %d, beyond the last sequence number %d", r.LastEvent, r.EventSeq)
		}
	}
	if err = errors.Join(err, getErr); err != nil {
		return r, fmt.Errorf("epochdb: check: %w", err)
	}
	if r.Records != r.Counters.Keys || r.TTLRecords != r.Counters.KeysWithTTL || r.Bytes != r.Counters.LiveBytes {
		problem("counters (keys %d, with TTL %d, bytes %d) differ from the records (%d, %d, %d)",
			r.Counters.Keys, r.Counters.KeysWithTTL, r.Counters.LiveBytes, r.Records, r.TTLRecords, r.Bytes)
	}
	for i := range perNS {
		if perNS[i] != seenNS[i] {
			problem("counters of namespace %d (%+v) differ from its records (%+v)", i, perNS[i], seenNS[i])
		}
	}
	if dropped > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("… and %d more problems", dropped))
	}
	return r, nil
}

// checkMembers compares the members of the collection (key, c) of type typ
// in snap with its header (a list's positions too), their deadlines with
// the field index, and a sorted set's scores with the score index.
func checkMembers(snap *pebble.Snapshot, key []byte, typ keyspace.Type, c keyspace.Coll, problem func(string, ...any)) error {
	prefix := keyspace.MemberPrefix(nil, key, c.Version)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keyspace.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	var n, nbytes int64
	for ok := it.First(); ok; ok = it.Next() {
		m := it.Key()[len(prefix):]
		mr, err := keyspace.DecodeMember(it.Value())
		if err != nil {
			problem("a member of %q: %v", key, err)
			continue
		}
		if c.List {
			if p, err := keyspace.DecodePosition(m); err != nil || p != c.Head+n {
				problem("list %q has an item at position %x where its header puts item %d at %d", key, m, n, c.Head+n)
			}
		}
		n++
		nbytes += int64(len(m) + len(mr.Value))
		if typ == keyspace.TypeZSet {
			if err := checkScoreEntry(snap, key, c.Version, m, mr, problem); err != nil {
				return errors.Join(err, it.Close())
			}
		}
		if mr.ExpiresAt != 0 {
			_, closer, err := snap.Get(keyspace.FieldIndexKey(nil, mr.ExpiresAt, key, c.Version, m))
			if errors.Is(err, pebble.ErrNotFound) {
				problem("field %q of %q has a deadline (%d) missing from the field index", m, key, mr.ExpiresAt)
			} else if err == nil {
				_ = closer.Close()
			}
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if n != c.Count || nbytes != c.Bytes {
		problem("collection %q counts %d members (%d bytes), its members are %d (%d bytes)", key, c.Count, c.Bytes, n, nbytes)
	}
	return nil
}

// checkScoreEntry checks that member m (record mr) of the sorted set (key,
// version) has a score and an entry in the score index.
func checkScoreEntry(snap *pebble.Snapshot, key []byte, version uint64, m []byte, mr keyspace.Member, problem func(string, ...any)) error {
	score, err := keyspace.DecodeScore(mr.Value)
	if err != nil || mr.ExpiresAt != 0 {
		problem("member %q of sorted set %q: score %x, deadline %d: %v", m, key, mr.Value, mr.ExpiresAt, err)
		return nil
	}
	_, closer, err := snap.Get(keyspace.ScoreKey(nil, key, version, score, m))
	if errors.Is(err, pebble.ErrNotFound) {
		problem("member %q of sorted set %q has a score (%v) missing from the score index", m, key, score)
		return nil
	}
	if err != nil {
		return err
	}
	return closer.Close()
}

// checkScoreIndex walks the score index: every entry must name a member of
// a live sorted set's version with that score (entries of a dropped sorted
// set go in the batch that drops it, so none is ever stale).
func checkScoreIndex(snap *pebble.Snapshot, r *CheckReport, problem func(string, ...any)) error {
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{keyspace.PrefixScoreIndex}, UpperBound: []byte{keyspace.PrefixScoreIndex + 1}})
	if err != nil {
		return err
	}
	var curKey []byte
	var curVer uint64
	curOK := false
	for ok := it.First(); ok; ok = it.Next() {
		r.ScoreEntries++
		key, ver, score, m, err := keyspace.DecodeScoreKey(it.Key())
		if err != nil {
			problem("score index entry %x: %v", it.Key(), err)
			continue
		}
		if !bytes.Equal(key, curKey) || ver != curVer {
			curKey, curVer = bytes.Clone(key), ver
			curOK = false
			v, closer, err := snap.Get(keyspace.DataKey(nil, key))
			if err != nil && !errors.Is(err, pebble.ErrNotFound) {
				return errors.Join(err, it.Close())
			}
			if err == nil {
				if hdr, val, err := keyspace.DecodeRecord(v); err == nil && hdr.Type == keyspace.TypeZSet {
					c, err := keyspace.DecodeColl(val)
					curOK = err == nil && c.Version == ver
				}
				_ = closer.Close()
			}
			if !curOK {
				problem("score index entries of %q version %d, which is not a sorted set of that version", key, ver)
			}
		}
		if !curOK {
			continue
		}
		v, closer, err := snap.Get(keyspace.MemberKey(nil, key, ver, m))
		if errors.Is(err, pebble.ErrNotFound) {
			problem("score index entry of %q for member %q, which does not exist", key, m)
			continue
		}
		if err != nil {
			return errors.Join(err, it.Close())
		}
		mr, err := keyspace.DecodeMember(v)
		if err == nil && !bytes.Equal(mr.Value, keyspace.AppendScore(nil, score)) {
			problem("score index entry of %q for member %q with score %v, its record says %x", key, m, score, mr.Value)
		}
		_ = closer.Close()
	}
	return errors.Join(it.Error(), it.Close())
}
