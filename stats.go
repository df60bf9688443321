package epochdb

import (
	"sync/atomic"
	"time"
)

// counters are the DB's running totals, read by Stats.
type counters struct {
	gets, misses, sets, deletes, increments atomic.Uint64
	expired, fieldsExpired, rangeDrops      atomic.Uint64
	rebases                                 atomic.Uint64
	sweeps                                  atomic.Uint64
	trackFlushes, trackedKeysFlushed        atomic.Uint64
	walSyncs                                atomic.Uint64
	txCommits, txConflicts, txRetries       atomic.Uint64
	batches                                 atomic.Uint64
	pruned, evicted, eventsDropped          atomic.Uint64
	prunePasses, pruneScanned               atomic.Uint64
	cacheHits, cacheMisses                  atomic.Uint64
	cacheBytes, cacheEntries                atomic.Int64
	reopens                                 atomic.Uint64
}

// Stats is a point-in-time snapshot of a DB's counters. Totals count since
// Open; use Sub to compute the activity between two snapshots.
type Stats struct {
	Keys        int64 // keys stored, including expired ones not yet swept
	KeysWithTTL int64 // of which have a deadline
	LiveBytes   int64 // the length of their keys and values (what MaxDiskBytes bounds)

	Gets       uint64 // Get and Peek calls, and Gets in transactions
	Misses     uint64 // those that found nothing (absent or expired)
	Sets       uint64 // Set calls
	Deletes    uint64 // Delete calls
	Increments uint64 // IncrementFrequency calls

	Expired uint64 // keys removed because their deadline passed
	// FieldsExpired counts hash fields removed because their deadline
	// passed (by the sweeper, or replaced or deleted after it).
	FieldsExpired uint64
	// CollectionRangeDrops counts collections deleted with one range
	// deletion of their members (those larger than 128 members).
	CollectionRangeDrops uint64
	// CollectionRebases counts collections whose members a write moved
	// to a new version because walks of them stepped over many more
	// deleted members than live ones (see the sparse collections in
	// docs/ARCHITECTURE.md).
	CollectionRebases uint64
	Pruned            uint64 // keys removed by the pruning rule
	Evicted           uint64 // keys evicted to keep the budget
	PrunePasses       uint64 // completed pruning passes over the keyspace
	PruneScanned      uint64 // keys the pruning pass examined (progress of the current pass included)

	EventsDropped uint64 // events not delivered to a subscriber whose buffer was full
	ExpirySweeps  uint64 // sweeper rounds run

	// EngineFailed is set while the storage engine is failed (Health
	// returns the cause): writes are refused until it is reopened.
	EngineFailed bool
	// EngineReopens counts the times the engine was reopened after a
	// failure (Recover).
	EngineReopens uint64

	CacheHits    uint64 // Gets and writes the record cache answered without an engine read
	CacheMisses  uint64 // Gets and writes that read the engine
	CacheBytes   int64  // memory the record cache holds (approximate)
	CacheEntries int64  // keys the record cache holds

	PendingTrackedKeys int    // keys with tracked reads not yet flushed
	TrackFlushes       uint64 // flushes that wrote tracked reads
	TrackedKeysFlushed uint64 // per-key aggregates those flushes wrote

	TxCommits   uint64 // read-write transactions committed
	TxConflicts uint64 // commits refused with ErrConflict
	TxRetries   uint64 // re-runs of Update functions after a conflict
	Batches     uint64 // batches committed

	WALSyncs  uint64 // periodic WAL syncs (default durability mode)
	DiskBytes uint64 // bytes on disk used by the store (Pebble's estimate)

	// Ops are the outcomes and latency histograms of Get, Set, Delete,
	// IncrementFrequency and transaction commits (see metrics.go).
	Ops OpsStats
	// TrackFlushLag is the time since tracked reads were last flushed to
	// the meta keyspace (0 before the first flush, or with read tracking
	// disabled); it stays below TrackFlushInterval when flushing keeps up.
	TrackFlushLag time.Duration
	// WALSyncLag is how long the oldest write not yet fsynced has waited
	// (0 when every write is durable): below SyncInterval while the
	// periodic sync keeps up; 0 with SyncWrites; it grows without bound
	// with no periodic sync (SyncInterval < 0), where the OS decides.
	WALSyncLag time.Duration

	Backups        uint64      // backups completed
	BackupFailures uint64      // backups that failed
	LastBackup     BackupStats // the most recent backup, successful or not
}

// Sub returns the activity between an earlier snapshot o and s: totals are
// subtracted, gauges (Keys, KeysWithTTL, PendingTrackedKeys, DiskBytes,
// CacheBytes, CacheEntries, TrackFlushLag, LastBackup) are taken from s.
func (s Stats) Sub(o Stats) Stats {
	d := s
	d.Gets -= o.Gets
	d.Misses -= o.Misses
	d.Sets -= o.Sets
	d.Deletes -= o.Deletes
	d.Increments -= o.Increments
	d.Expired -= o.Expired
	d.FieldsExpired -= o.FieldsExpired
	d.CollectionRangeDrops -= o.CollectionRangeDrops
	d.CollectionRebases -= o.CollectionRebases
	d.ExpirySweeps -= o.ExpirySweeps
	d.Pruned -= o.Pruned
	d.Evicted -= o.Evicted
	d.PrunePasses -= o.PrunePasses
	d.PruneScanned -= o.PruneScanned
	d.EventsDropped -= o.EventsDropped
	d.TrackFlushes -= o.TrackFlushes
	d.TrackedKeysFlushed -= o.TrackedKeysFlushed
	d.TxCommits -= o.TxCommits
	d.TxConflicts -= o.TxConflicts
	d.TxRetries -= o.TxRetries
	d.Batches -= o.Batches
	d.WALSyncs -= o.WALSyncs
	d.CacheHits -= o.CacheHits
	d.CacheMisses -= o.CacheMisses
	d.subMetrics(o)
	return d
}

// Stats returns the DB's current counters. After Close it returns the
// counters as they were at Close, without DiskBytes.
func (db *DB) Stats() Stats {
	s := Stats{
		Keys:                 db.keys.Load(),
		KeysWithTTL:          db.ttlKeys.Load(),
		LiveBytes:            db.bytes.Load(),
		Gets:                 db.st.gets.Load(),
		Misses:               db.st.misses.Load(),
		Sets:                 db.st.sets.Load(),
		Deletes:              db.st.deletes.Load(),
		Increments:           db.st.increments.Load(),
		Expired:              db.st.expired.Load(),
		FieldsExpired:        db.st.fieldsExpired.Load(),
		CollectionRangeDrops: db.st.rangeDrops.Load(),
		CollectionRebases:    db.st.rebases.Load(),
		ExpirySweeps:         db.st.sweeps.Load(),
		Pruned:               db.st.pruned.Load(),
		Evicted:              db.st.evicted.Load(),
		PrunePasses:          db.st.prunePasses.Load(),
		PruneScanned:         db.st.pruneScanned.Load(),
		EventsDropped:        db.st.eventsDropped.Load(),
		TrackFlushes:         db.st.trackFlushes.Load(),
		TrackedKeysFlushed:   db.st.trackedKeysFlushed.Load(),
		TxCommits:            db.st.txCommits.Load(),
		TxConflicts:          db.st.txConflicts.Load(),
		TxRetries:            db.st.txRetries.Load(),
		Batches:              db.st.batches.Load(),
		WALSyncs:             db.st.walSyncs.Load(),
		CacheHits:            db.st.cacheHits.Load(),
		CacheMisses:          db.st.cacheMisses.Load(),
		CacheBytes:           db.st.cacheBytes.Load(),
		CacheEntries:         db.st.cacheEntries.Load(),
		EngineFailed:         db.engineErr() != nil,
		EngineReopens:        db.st.reopens.Load(),
	}
	for i := range db.shards {
		s.PendingTrackedKeys += db.shards[i].pendingCount()
	}
	db.fillStats(&s)
	if db.enter() == nil {
		s.DiskBytes = db.pdb.Metrics().DiskSpaceUsage()
		db.leave()
	}
	return s
}

// pendingCount is the number of the shard's unflushed tracked reads (keys
// in the pending map and entries on the tracked list).
func (sh *shard) pendingCount() int {
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	return len(sh.pending) + len(sh.tracked)
}
