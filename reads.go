package epochdb

import (
	"errors"
	"math"
	"time"
)

// Reads on a replicated node that does not lead. The lifecycle (pruning,
// eviction, heat) is decided by the leader from the frequency and last
// access it stores, so reads served by a follower (stale reads) must count
// there: a follower hands the reads it tracked since its last flush, one
// aggregate per key, to the ReadSink the embedding program set (the server
// sends them to the leader), and the leader adds them with AddReads as if
// they had been made there. Without a sink they are dropped.

// TrackedRead is the aggregate of the reads of one key since the last
// flush.
type TrackedRead struct {
	Key   []byte
	Count uint64
	Last  time.Time // the latest of them
}

// ReadSink receives the reads a node that does not lead tracked, every
// TrackFlushInterval. It runs on the flushing goroutine and should not
// block long; an error drops the reads (frequencies are statistics).
type ReadSink func(reads []TrackedRead) error

// SetReadSink sets (nil: clears) where a replicated node that does not
// lead sends the reads it tracks.
func (db *DB) SetReadSink(sink ReadSink) {
	if sink == nil {
		db.readSink.Store(nil)
		return
	}
	db.readSink.Store(&sink)
}

// tracksReads reports whether reads count now: read tracking is on, and
// this node writes or has a read sink to send them to.
func (db *DB) tracksReads() bool {
	return !db.opts.DisableReadTracking && (db.writesHere() || db.readSink.Load() != nil)
}

// forwardTracked hands every shard's tracked reads to the read sink, or
// drops them if there is none.
func (db *DB) forwardTracked() {
	p := db.readSink.Load()
	if p == nil {
		db.dropTracked()
		return
	}
	var reads []TrackedRead
	for i := range db.shards {
		for k, a := range db.shards[i].takeTracked() {
			reads = append(reads, TrackedRead{Key: []byte(k), Count: a.count, Last: time.UnixMilli(a.last)})
		}
	}
	if len(reads) == 0 {
		return
	}
	if err := (*p)(reads); err != nil {
		db.log.Warn("epochdb: forwarding tracked reads failed; they are dropped", "reads", len(reads), "err", err)
	}
}

// ErrReadTrackingOff is returned by AddReads on a DB with read tracking
// disabled.
var ErrReadTrackingOff = errors.New("epochdb: read tracking is disabled")

// AddReads counts reads made elsewhere (another node's tracked reads) as
// reads of this DB's keys: they are flushed with the local ones. Reads of a
// key that is not live here are ignored. It returns how many keys were
// counted, and ErrNotLeader on a replicated node that does not lead.
func (db *DB) AddReads(reads []TrackedRead) (int, error) {
	if db.opts.DisableReadTracking {
		return 0, ErrReadTrackingOff
	}
	if err := db.enter(); err != nil {
		return 0, err
	}
	defer db.leave()
	if !db.writesHere() {
		return 0, ErrNotLeader
	}
	now := db.nowMs()
	n := 0
	for _, r := range reads {
		if checkKey(r.Key) != nil || r.Count == 0 {
			continue
		}
		ok, err := db.addReads(r, now)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// addReads adds r to its key's pending reads if the key is live, under the
// key's shard lock, so that a deletion (which drops the pending reads) is
// either before, and the reads are ignored, or after, and drops them:
// reads never write the meta of a key that does not exist.
func (db *DB) addReads(r TrackedRead, now int64) (bool, error) {
	sh := db.shardFor(r.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	rec, ok, err := db.readLocked(r.Key)
	if err != nil || !ok {
		return false, err
	}
	live := !rec.hdr.Expired(now)
	rec.release()
	if !live {
		return false, nil
	}
	last := r.Last.UnixMilli()
	if last > now || last <= 0 {
		last = now // another node's clock is not trusted past this one's
	}
	sh.addPending(string(r.Key), access{count: min(r.Count, math.MaxUint64/2), last: last})
	return true, nil
}
