package epochdb

import (
	"errors"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Operation metrics: outcome counters and latency histograms that the public
// operations record cheaply (a few atomic adds), read through Stats. The
// exporters (package promexport) turn them into Prometheus metrics; this
// package imports no metrics library.
//
// Latencies are measured with the monotonic system clock, not Options.Clock:
// they are durations of work, not lifecycle decisions.

// NumLatencyBuckets is the number of buckets of a Histogram.
const NumLatencyBuckets = 25

// Histogram is a latency distribution over fixed buckets: Buckets[i] counts
// the observations in (LatencyBucketBound(i-1), LatencyBucketBound(i)]. The
// bounds double from 1µs to about 8.4s; the last bucket holds everything
// slower.
type Histogram struct {
	Count   uint64        // observations
	Sum     time.Duration // their total
	Buckets [NumLatencyBuckets]uint64
}

// LatencyBucketBound returns the inclusive upper bound of bucket i:
// 1µs·2^i, or math.MaxInt64 for the last bucket.
func LatencyBucketBound(i int) time.Duration {
	if i >= NumLatencyBuckets-1 {
		return math.MaxInt64
	}
	return time.Microsecond << i
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) as the upper bound of the
// bucket it falls in; 0 for an empty histogram.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.Count)))
	var seen uint64
	for i, n := range h.Buckets {
		seen += n
		if seen >= rank && n > 0 {
			return LatencyBucketBound(i)
		}
	}
	return LatencyBucketBound(NumLatencyBuckets - 1)
}

// Sub returns the observations in h that are not in the earlier o.
func (h Histogram) Sub(o Histogram) Histogram {
	d := Histogram{Count: h.Count - o.Count, Sum: h.Sum - o.Sum}
	for i := range d.Buckets {
		d.Buckets[i] = h.Buckets[i] - o.Buckets[i]
	}
	return d
}

// OpStats are the outcomes and latencies of one kind of operation.
type OpStats struct {
	OK        uint64 // calls that succeeded (a Get that found its key, a Delete that removed one)
	NotFound  uint64 // calls that found no live key (Get, Delete, IncrementFrequency)
	Conflicts uint64 // transaction commits refused with ErrConflict
	Errors    uint64 // calls that returned any other error
	Latency   Histogram
}

// Sub returns the activity between an earlier o and s.
func (s OpStats) Sub(o OpStats) OpStats {
	return OpStats{
		OK:        s.OK - o.OK,
		NotFound:  s.NotFound - o.NotFound,
		Conflicts: s.Conflicts - o.Conflicts,
		Errors:    s.Errors - o.Errors,
		Latency:   s.Latency.Sub(o.Latency),
	}
}

// OpsStats are the outcome counts and latencies of the public operations.
type OpsStats struct {
	Get       OpStats // DB.Get
	Set       OpStats // DB.Set
	Delete    OpStats // DB.Delete
	Increment OpStats // DB.IncrementFrequency
	// Commit covers read-write transaction commits (Tx.Commit, and each
	// attempt of Update); its latency runs from Begin to the end of Commit.
	Commit OpStats
}

// Sub returns the activity between an earlier o and s.
func (s OpsStats) Sub(o OpsStats) OpsStats {
	return OpsStats{
		Get:       s.Get.Sub(o.Get),
		Set:       s.Set.Sub(o.Set),
		Delete:    s.Delete.Sub(o.Delete),
		Increment: s.Increment.Sub(o.Increment),
		Commit:    s.Commit.Sub(o.Commit),
	}
}

// BackupStats describe the most recent backup.
type BackupStats struct {
	At       time.Time     // when it started (DB clock); zero if none ran since Open
	Duration time.Duration // how long it took
	Bytes    int64         // size of the backup file
	Keys     int64         // keys it holds
	OK       bool          // whether it succeeded
}

// metrics is the DB's recording side of the above.
type metrics struct {
	get, set, del, incr, commit opMetrics

	trackFlushedAt atomic.Int64 // monotonic ns (since metricsEpoch) of the last completed flush of tracked reads

	stallCount   atomic.Uint64
	stallNanos   atomic.Int64
	stallBeganAt atomic.Int64 // monotonic ns of the stall in progress, 0 if none
	backupMu     sync.Mutex   // guards the backup fields below
	backups      uint64
	backupFails  uint64
	lastBackup   BackupStats
}

// metricsEpoch anchors the monotonic nanosecond readings stored in atomics.
var metricsEpoch = time.Now()

func monoNanos() int64 { return int64(time.Since(metricsEpoch)) }

type opMetrics struct {
	ok, notFound, conflicts, errs atomic.Uint64
	sum                           atomic.Int64
	buckets                       [NumLatencyBuckets]atomic.Uint64
}

// latencyBucket returns the bucket of a duration of ns nanoseconds.
func latencyBucket(ns int64) int {
	if ns <= int64(time.Microsecond) {
		return 0
	}
	i := bits.Len64(uint64(ns-1) / uint64(time.Microsecond))
	return min(i, NumLatencyBuckets-1)
}

// observe records one call that started at start and returned *errp; it is
// meant to be deferred with a pointer to the named error result.
func (m *opMetrics) observe(start time.Time, errp *error) {
	m.record(start, *errp)
}

// observeDelete records a Delete: removing nothing counts as NotFound.
func (m *opMetrics) observeDelete(start time.Time, existed *bool, errp *error) {
	err := *errp
	if err == nil && !*existed {
		err = ErrNotFound
	}
	m.record(start, err)
}

func (m *opMetrics) record(start time.Time, err error) {
	d := time.Since(start)
	m.buckets[latencyBucket(int64(d))].Add(1)
	m.sum.Add(int64(d))
	switch {
	case err == nil:
		m.ok.Add(1)
	case err == ErrNotFound || errors.Is(err, ErrNotFound):
		m.notFound.Add(1)
	case err == ErrConflict || errors.Is(err, ErrConflict):
		m.conflicts.Add(1)
	default:
		m.errs.Add(1)
	}
}

func (m *opMetrics) stats() OpStats {
	s := OpStats{
		OK:        m.ok.Load(),
		NotFound:  m.notFound.Load(),
		Conflicts: m.conflicts.Load(),
		Errors:    m.errs.Load(),
	}
	s.Latency.Sum = time.Duration(m.sum.Load())
	for i := range m.buckets {
		n := m.buckets[i].Load()
		s.Latency.Buckets[i] = n
		s.Latency.Count += n
	}
	return s
}

// fillStats copies the recorded metrics into s.
func (db *DB) fillStats(s *Stats) {
	m := &db.met
	s.Ops = OpsStats{
		Get:       m.get.stats(),
		Set:       m.set.stats(),
		Delete:    m.del.stats(),
		Increment: m.incr.stats(),
		Commit:    m.commit.stats(),
	}
	if !db.opts.DisableReadTracking {
		if at := m.trackFlushedAt.Load(); at != 0 {
			s.TrackFlushLag = time.Duration(monoNanos() - at)
		}
	}
	if at := db.unsyncedAt.Load(); at != 0 {
		s.WALSyncLag = time.Duration(monoNanos() - at)
	}
	m.backupMu.Lock()
	defer m.backupMu.Unlock()
	s.Backups = m.backups
	s.BackupFailures = m.backupFails
	s.LastBackup = m.lastBackup
}

// subStats subtracts the totals of the metrics above (Stats.Sub).
func (s *Stats) subMetrics(o Stats) {
	s.Ops = s.Ops.Sub(o.Ops)
	s.Backups -= o.Backups
	s.BackupFailures -= o.BackupFailures
}

// noteTrackFlush records a completed flush of tracked reads.
func (db *DB) noteTrackFlush() { db.met.trackFlushedAt.Store(monoNanos()) }

// eventListener returns the Pebble event hooks that feed EngineMetrics.
func (m *metrics) eventListener() *pebble.EventListener {
	return &pebble.EventListener{
		WriteStallBegin: func(pebble.WriteStallBeginInfo) {
			m.stallCount.Add(1)
			m.stallBeganAt.Store(monoNanos())
		},
		WriteStallEnd: func() {
			if began := m.stallBeganAt.Swap(0); began != 0 {
				m.stallNanos.Add(monoNanos() - began)
			}
		},
	}
}

// EngineMetrics are the storage engine's internals that explain latency:
// compactions falling behind, write stalls, memtable and cache pressure, WAL
// traffic and read amplification. Counts are totals since Open.
type EngineMetrics struct {
	Compactions           int64         // compactions completed
	CompactionsInProgress int64         // compactions running now
	CompactionDebtBytes   uint64        // estimated bytes to compact before the LSM settles
	CompactionTime        time.Duration // total time spent compacting
	Flushes               int64         // memtables flushed to sstables

	WriteStalls    uint64        // times writes were delayed for flushes or compactions to catch up
	WriteStallTime time.Duration // total time writes were delayed (including a stall in progress)

	MemTableBytes uint64 // bytes allocated by memtables
	MemTables     int64  // memtables (the mutable one and those waiting to be flushed)

	BlockCacheBytes  int64 // bytes in the block cache
	BlockCacheHits   int64
	BlockCacheMisses int64

	WALFiles        int64  // live WAL files
	WALBytes        uint64 // live WAL data
	WALBytesIn      uint64 // logical bytes written to the WAL
	WALBytesWritten uint64 // physical bytes written to the WAL (with padding and headers)

	ReadAmplification int   // L0 sublevels plus non-empty lower levels: sstables a point read may consult
	L0Files           int64 // sstables in L0
	L0Sublevels       int32
	Tables            int64 // live sstables
	OpenSnapshots     int   // open Pebble snapshots (transactions, scans, backups)
}

// BlockCacheHitRatio returns hits/(hits+misses), or 0 before any lookup.
func (m EngineMetrics) BlockCacheHitRatio() float64 {
	total := m.BlockCacheHits + m.BlockCacheMisses
	if total == 0 {
		return 0
	}
	return float64(m.BlockCacheHits) / float64(total)
}

// EngineMetrics returns the storage engine's current metrics. Reading them
// costs about as much as Stats; call it at scrape intervals, not per
// operation. After Close it returns ErrClosed.
func (db *DB) EngineMetrics() (EngineMetrics, error) {
	if err := db.enter(); err != nil {
		return EngineMetrics{}, err
	}
	defer db.leave()
	pm := db.pdb.Metrics()
	em := EngineMetrics{
		Compactions:           pm.Compact.Count,
		CompactionsInProgress: pm.Compact.NumInProgress,
		CompactionDebtBytes:   pm.Compact.EstimatedDebt,
		CompactionTime:        pm.Compact.Duration,
		Flushes:               pm.Flush.Count,
		WriteStalls:           db.met.stallCount.Load(),
		WriteStallTime:        time.Duration(db.met.stallNanos.Load()),
		MemTableBytes:         pm.MemTable.Size,
		MemTables:             pm.MemTable.Count,
		BlockCacheBytes:       pm.BlockCache.Size,
		BlockCacheHits:        pm.BlockCache.Hits,
		BlockCacheMisses:      pm.BlockCache.Misses,
		WALFiles:              pm.WAL.Files,
		WALBytes:              pm.WAL.Size,
		WALBytesIn:            pm.WAL.BytesIn,
		WALBytesWritten:       pm.WAL.BytesWritten,
		ReadAmplification:     pm.ReadAmp(),
		L0Files:               pm.Levels[0].TablesCount,
		L0Sublevels:           pm.Levels[0].Sublevels,
		OpenSnapshots:         pm.Snapshots.Count,
	}
	if began := db.met.stallBeganAt.Load(); began != 0 {
		em.WriteStallTime += time.Duration(monoNanos() - began)
	}
	for _, l := range pm.Levels {
		em.Tables += l.TablesCount
	}
	return em, nil
}
