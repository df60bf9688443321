package epochdb

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// Replication. A DB opened with Options.Replicator does not apply its
// writes itself: every write, built as usual under the locks of its keys,
// hands its batch (Pebble's encoding of it) to the Replicator, which
// commits it to a replicated log (the cluster package: hashicorp/raft) and
// returns once the log entry is committed and applied on this node through
// ApplyCommitted; the writer then finishes as usual (in-memory counters,
// record cache, versions, events to subscribers) and unlocks. Every node
// applies the same batches in the same order, so the stores are identical
// byte for byte: the decisions that depend on time or on the store's state
// (deadlines, creation times, which key to evict or prune, event sequence
// numbers) are made once, by the node that builds the batch.
//
// On a node that did not build the entry (a follower, or any node replaying
// its log after a restart), ApplyCommitted derives what the DB keeps in
// memory from the batch itself: the key counters (re-read from the store
// for the databases the batch touched), the record cache (its keys
// forgotten), the versions of the keys (watches and transactions see the
// change), the earliest deadline for the sweeper, and the event log's
// sequence and subscribers.
//
// Background work that writes — expiry, pruning, eviction, the event log's
// trimming, the flush of tracked reads — runs only on the node whose
// Replicator says it leads; elsewhere it waits, and reads tracked there go
// to the ReadSink, which hands them to the leader (reads.go).

// Replicator commits a DB's writes to a replicated log; see
// Options.Replicator.
type Replicator interface {
	// Replicate commits the batch repr to the log and returns once it is
	// committed and applied on this node by ApplyCommitted with local
	// true, or returns an error if it was not: ErrNotLeader when the batch
	// did not reach the log (a node that cannot write), ErrOutcomeUnknown
	// (or any other error) when it may have, so that it may yet be
	// committed and applied. It is called with the locks of the batch's
	// keys held, one batch at a time per key.
	Replicate(repr []byte) error
	// Leader reports whether this node may write now: Replicate would
	// accept a batch. The DB's background writers run only while it does.
	Leader() bool
}

// ErrNotLeader is returned by writes on a replicated DB whose node cannot
// write (a follower): send them to the leader.
var ErrNotLeader = errors.New("epochdb: not the leader of the replicated log")

// ErrOutcomeUnknown is returned by a write on a replicated DB whose batch
// reached the replicated log, but whose node lost its leadership (or
// stopped, or got no answer) before the entry was known to be committed:
// the next leader may yet commit it, and every node apply it, or drop it.
// Unlike ErrNotLeader, the write must not be retried blindly (an increment
// would count twice): read the keys to learn what happened.
var ErrOutcomeUnknown = errors.New("epochdb: the write's outcome is unknown: the leadership was lost before it was committed, and the next leader may yet apply it")

// sysApplied is the system record holding the index of the last log entry
// applied (ApplyCommitted), written in the same batch as the entry.
const sysApplied = "replicated-applied"

// AppliedIndex returns the index of the last replicated log entry applied
// (0 if none).
func (db *DB) AppliedIndex() uint64 { return db.applied.Load() }

// writesHere reports whether the background writers may run: always on a
// DB without a Replicator, only on the leader with one.
func (db *DB) writesHere() bool { return db.repl == nil || db.repl.Leader() }

// replicate hands b to the Replicator in place of applying it.
func (db *DB) replicate(b *pebble.Batch) error {
	repr := b.Repr()
	if err := db.repl.Replicate(repr); err != nil {
		if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrOutcomeUnknown) {
			return err
		}
		return fmt.Errorf("epochdb: replicate: %w", err)
	}
	return nil
}

// ApplyCommitted applies the log entry of index index, the batch repr, to
// the store: every node calls it for every committed entry, in log order.
// local says that the entry is a batch this node's DB built and is waiting
// for (its writer holds the keys' locks and updates the DB's memory
// itself); otherwise the DB derives that from the batch. An entry at or
// below AppliedIndex was applied already (a replay after a restart) and is
// skipped. The entry's index is stored with it atomically.
func (db *DB) ApplyCommitted(index uint64, repr []byte, local bool) error {
	return db.ApplyCommittedBatch([]Committed{{Index: index, Repr: repr, Local: local}})[0]
}

// Committed is a replicated log entry for ApplyCommittedBatch: its index,
// its batch, and whether this node built it (see ApplyCommitted).
type Committed struct {
	Index uint64
	Repr  []byte
	Local bool
}

// ApplyCommittedBatch applies consecutive committed entries, in log order,
// as ApplyCommitted does each, but in one commit to the store: the
// entries' batches one after the other, and the last index, atomically.
// It returns each entry's error (nil: applied, or applied before). A
// malformed entry is left out with ErrCorrupt; the others are applied.
func (db *DB) ApplyCommittedBatch(entries []Committed) []error {
	errs := make([]error, len(entries))
	if err := db.enter(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	defer db.leave()
	applied := db.applied.Load()
	size, count := batchrepr.HeaderLen, uint32(0)
	var last uint64
	for i, e := range entries {
		if e.Index <= applied {
			continue // a replay after a restart
		}
		if err := checkRepr(e.Repr); err != nil {
			errs[i] = fmt.Errorf("%w: replicated batch %d: %v", ErrCorrupt, e.Index, err)
			continue
		}
		h, _ := batchrepr.ReadHeader(e.Repr)
		size += len(e.Repr) - batchrepr.HeaderLen
		count += h.Count
		last = e.Index
	}
	if last == 0 {
		return errs
	}
	// The batches' entries one after the other, under one header.
	repr := make([]byte, batchrepr.HeaderLen, size)
	for i, e := range entries {
		if e.Index > applied && errs[i] == nil {
			repr = append(repr, e.Repr[batchrepr.HeaderLen:]...)
		}
	}
	batchrepr.SetCount(repr, count)
	b := db.pdb.NewBatch()
	if err := b.SetRepr(repr); err != nil {
		_ = b.Close()
		err = fmt.Errorf("%w: replicated batch: %v", ErrCorrupt, err)
		for i := range errs {
			errs[i] = cmp.Or(errs[i], err)
		}
		return errs
	}
	_ = b.Set(keyspace.SysKey(sysApplied), binary.BigEndian.AppendUint64(nil, last), nil)
	if err := db.apply(b, pebble.NoSync); err != nil {
		for i := range errs {
			errs[i] = cmp.Or(errs[i], err)
		}
		return errs
	}
	_ = b.Close()
	db.applied.Store(last)
	db.writeSeq.Add(1) // for the periodic sync
	for i, e := range entries {
		if e.Index > applied && errs[i] == nil && !e.Local {
			errs[i] = db.deriveApplied(e.Repr)
		}
	}
	return errs
}

// checkRepr checks that repr is a well-formed batch of the kinds of entry
// the DB writes (Pebble's own reader trusts its input). An entry is a kind
// byte, a varint-prefixed key and, except for deletions, a varint-prefixed
// value; the header's count must match.
func checkRepr(repr []byte) error {
	h, ok := batchrepr.ReadHeader(repr)
	if !ok {
		return fmt.Errorf("%d bytes, shorter than a batch header", len(repr))
	}
	str := func(b []byte) ([]byte, bool) {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, false
		}
		return b[w+int(n):], true
	}
	rest, count := repr[batchrepr.HeaderLen:], uint32(0)
	for len(rest) > 0 {
		kind := pebble.InternalKeyKind(rest[0])
		rest = rest[1:]
		var ok bool
		switch kind {
		case pebble.InternalKeyKindSet, pebble.InternalKeyKindMerge, pebble.InternalKeyKindRangeDelete:
			if rest, ok = str(rest); ok {
				rest, ok = str(rest)
			}
		case pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete:
			rest, ok = str(rest)
		default:
			return fmt.Errorf("entry %d: unexpected kind %v", count, kind)
		}
		if !ok {
			return fmt.Errorf("entry %d: truncated", count)
		}
		count++
	}
	if count != h.Count {
		return fmt.Errorf("%d entries, the header says %d", count, h.Count)
	}
	return nil
}

// loadApplied reads the applied index at Open, and after the store was
// reopened or replaced.
func (db *DB) loadApplied() error {
	n, err := readApplied(db.pdb)
	if err != nil {
		return err
	}
	db.applied.Store(n)
	return nil
}

// deriveApplied updates what the DB keeps in memory after applying a batch
// it did not build. Counters are taken from the batch's own merge operands,
// not re-read: a re-read merges every operand the counter key accumulated
// since the last compaction, which grows with the write rate.
func (db *DB) deriveApplied(repr []byte) (err error) {
	defer func() {
		if p := recover(); p != nil { // Pebble's batch reader panics on some corrupt input
			err = fmt.Errorf("%w: replicated batch: %v", ErrCorrupt, p)
		}
	}()
	rd := batchrepr.Read(repr)
	var keys [][]byte
	var touched [256]bool
	var events []Event
	dropped := -1
	lastSeq := uint64(0)
	for {
		kind, k, v, ok, err := rd.Next()
		if err != nil {
			return fmt.Errorf("%w: replicated batch: %v", ErrCorrupt, err)
		}
		if !ok {
			break
		}
		if len(k) == 0 {
			continue
		}
		switch k[0] {
		case keyspace.PrefixData:
			if kind == pebble.InternalKeyKindRangeDelete {
				if len(k) > 1 {
					dropped = int(k[1])
				}
				continue
			}
			keys = append(keys, bytes.Clone(k[1:]))
		case keyspace.PrefixTTL:
			if kind == pebble.InternalKeyKindSet {
				if exp, _, err := keyspace.DecodeTTLKey(k); err == nil {
					db.noteDeadline(exp)
				}
			}
		case keyspace.PrefixFieldIndex:
			if kind == pebble.InternalKeyKindSet && len(k) >= 9 {
				db.lowerFieldSweepFrom(int64(binary.BigEndian.Uint64(k[1:9])))
			}
		case keyspace.PrefixEvent:
			seq, err := keyspace.DecodeEventKey(k)
			if err != nil || kind != pebble.InternalKeyKindSet {
				continue
			}
			rec, err := keyspace.DecodeEvent(v)
			if err != nil {
				return fmt.Errorf("%w: replicated event %d: %v", ErrCorrupt, seq, err)
			}
			ev := Event{
				Seq: seq, Kind: EventKind(rec.Kind), Key: bytes.Clone(rec.Key),
				Time:     time.UnixMilli(rec.Time),
				Metadata: db.makeMetadata(rec.Header, rec.Meta, rec.Time),
			}
			if rec.Field != nil {
				ev.Field = bytes.Clone(rec.Field)
			}
			events = append(events, ev)
			lastSeq = max(lastSeq, seq)
		case keyspace.PrefixSys:
			// A namespace's counters: a merge operand holds the
			// batch's deltas; a set (a recount) or a delete (a dropped
			// namespace) replaces them.
			ns, ok := bytes.CutPrefix(k[1:], []byte(sysNSCounts))
			if !ok || len(ns) != 1 {
				continue
			}
			switch kind {
			case pebble.InternalKeyKindMerge:
				vec, err := keyspace.DecodeCounters(nil, v)
				if err != nil || len(vec) != 3 {
					return fmt.Errorf("%w: replicated counters of namespace %d", ErrCorrupt, ns[0])
				}
				db.addNSCounters(ns[0], vec[0], vec[1], vec[2])
			default:
				touched[ns[0]] = true // re-read from the store once applied
			}
		}
	}
	if dropped >= 0 {
		db.forgetNamespace(byte(dropped))
	}
	for _, k := range keys {
		db.forgetRecord(k)
	}
	for ns := range touched {
		if touched[ns] {
			if err := db.reloadNSCounters(byte(ns)); err != nil {
				return err
			}
		}
	}
	if lastSeq > 0 {
		db.ev.setLastSeq(lastSeq, true)
		db.publish(events)
		db.eventsDurable(lastSeq)
	}
	return nil
}

// forgetNamespace drops what memory holds of namespace ns's records, as a
// local drop does.
func (db *DB) forgetNamespace(ns byte) {
	unlock := db.lockAllShards()
	defer unlock()
	db.cacheDropNamespace(ns)
	db.droppedNamespace(ns)
}

// forgetRecord drops the cached record of key and stamps its version, so
// that watches and transactions see the replicated write.
func (db *DB) forgetRecord(key []byte) {
	sh := db.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	db.cacheForget(sh, key, false) // applied without cacheWriting
	delete(sh.zhints, string(key))
	db.bumpVersions(&keyList{first: key, n: 1})
}

// addNSCounters adds deltas to namespace ns's in-memory counters and the
// totals.
func (db *DB) addNSCounters(ns byte, keys, ttlKeys, nbytes int64) {
	n := &db.ns[ns]
	n.keys.Add(keys)
	n.ttlKeys.Add(ttlKeys)
	n.bytes.Add(nbytes)
	db.keys.Add(keys)
	db.ttlKeys.Add(ttlKeys)
	db.bytes.Add(nbytes)
}

// reloadNSCounters replaces namespace ns's in-memory counters with the
// stored ones, adjusting the totals. It reads the counters' merge
// operands, so it is for the rare batch that sets or deletes them.
func (db *DB) reloadNSCounters(ns byte) error {
	vec, err := db.getCounters(sysNSCounts + string([]byte{ns}))
	if err != nil {
		return err
	}
	var keys, ttlKeys, nbytes int64
	if len(vec) == 3 {
		keys, ttlKeys, nbytes = vec[0], vec[1], vec[2]
	}
	n := &db.ns[ns]
	db.keys.Add(keys - n.keys.Swap(keys))
	db.ttlKeys.Add(ttlKeys - n.ttlKeys.Swap(ttlKeys))
	db.bytes.Add(nbytes - n.bytes.Swap(nbytes))
	return nil
}
