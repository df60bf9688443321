// Package promexport exposes an EpochDB database to Prometheus. It is a
// separate package so that programs that embed EpochDB without Prometheus
// never import client_golang.
//
// A Collector reads DB.Stats and DB.EngineMetrics on every scrape; it keeps
// no state of its own and registers nothing globally, so several databases
// can be exported from one process, told apart by a constant label:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promexport.NewCollector(db, &promexport.Options{
//		ConstLabels: prometheus.Labels{"db": "sessions"},
//	}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metrics are listed in Metrics (name, type, help), which docs and the
// dashboard can render.
package promexport

import (
	"github.com/epochdb/epochdb"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is what a Collector reads; *epochdb.DB implements it.
type Source interface {
	Stats() epochdb.Stats
	EngineMetrics() (epochdb.EngineMetrics, error)
}

// Options configure a Collector. The zero value (or nil) is valid.
type Options struct {
	// ConstLabels are added to every metric, e.g. {"db": "sessions"} to tell
	// several databases in one process apart.
	ConstLabels prometheus.Labels
}

// Collector is a prometheus.Collector for one database. It is safe for
// concurrent use (scrapes may overlap).
type Collector struct {
	src      Source
	scalars  []scalar
	ops      *prometheus.Desc
	duration *prometheus.Desc
	backups  *prometheus.Desc
}

type scalar struct {
	desc   *prometheus.Desc
	typ    prometheus.ValueType
	engine bool // read from EngineMetrics (skipped once the DB is closed)
	value  func(*epochdb.Stats, *epochdb.EngineMetrics) float64
}

// Metric describes one exported metric family.
type Metric struct {
	Name, Type, Help string
	Labels           []string // variable labels
}

type def struct {
	name, help string
	typ        prometheus.ValueType
	engine     bool
	value      func(*epochdb.Stats, *epochdb.EngineMetrics) float64
}

const ns = "epochdb_"

var (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

func stat(f func(s *epochdb.Stats) float64) func(*epochdb.Stats, *epochdb.EngineMetrics) float64 {
	return func(s *epochdb.Stats, _ *epochdb.EngineMetrics) float64 { return f(s) }
}

func eng(f func(e *epochdb.EngineMetrics) float64) func(*epochdb.Stats, *epochdb.EngineMetrics) float64 {
	return func(_ *epochdb.Stats, e *epochdb.EngineMetrics) float64 { return f(e) }
}

var defs = []def{
	{"keys", "Keys stored, including expired keys not yet swept.", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.Keys) })},
	{"keys_with_ttl", "Keys stored that have a deadline.", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.KeysWithTTL) })},
	{"live_bytes", "Total length of the stored keys and values.", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.LiveBytes) })},
	{"disk_size_bytes", "Bytes on disk used by the store (Pebble's estimate, including files awaiting deletion).", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.DiskBytes) })},

	{"ttl_expired_keys_total", "Keys removed because their deadline passed.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.Expired) })},
	{"pruned_keys_total", "Keys removed by the age and frequency pruning rule.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.Pruned) })},
	{"evicted_keys_total", "Keys evicted to stay within the capacity budget.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.Evicted) })},
	{"expiry_sweeps_total", "Rounds of the background expiry sweeper.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.ExpirySweeps) })},
	{"prune_passes_total", "Completed pruning passes over the keyspace.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.PrunePasses) })},
	{"events_dropped_total", "Lifecycle events not delivered to a subscriber whose buffer was full.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.EventsDropped) })},

	{"engine_reopens_total", "Times the storage engine was reopened in place after a failure.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.EngineReopens) })},
	{"engine_failed", "1 while the storage engine is failed (a full disk, an I/O error): writes are refused until it is reopened, which the store retries every second.", gauge, false, stat(func(s *epochdb.Stats) float64 {
		if s.EngineFailed {
			return 1
		}
		return 0
	})},
	{"record_cache_hits_total", "Gets and writes the record cache answered without an engine read.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.CacheHits) })},
	{"record_cache_misses_total", "Gets and writes that read the engine.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.CacheMisses) })},
	{"record_cache_bytes", "Memory the record cache holds (approximate).", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.CacheBytes) })},
	{"record_cache_entries", "Keys the record cache holds.", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.CacheEntries) })},
	{"tracked_reads_pending_keys", "Keys with tracked reads not yet written to the meta keyspace.", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.PendingTrackedKeys) })},
	{"wal_sync_lag_seconds", "How long the oldest write not yet fsynced has waited (0: every write is durable).", gauge, false, stat(func(s *epochdb.Stats) float64 { return s.WALSyncLag.Seconds() })},
	{"tracked_reads_flush_lag_seconds", "Time since tracked reads were last flushed.", gauge, false, stat(func(s *epochdb.Stats) float64 { return s.TrackFlushLag.Seconds() })},
	{"tracked_reads_flushes_total", "Flushes that wrote tracked reads.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.TrackFlushes) })},
	{"tracked_reads_flushed_keys_total", "Per-key read aggregates written by flushes.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.TrackedKeysFlushed) })},

	{"transaction_commits_total", "Read-write transactions committed.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.TxCommits) })},
	{"transaction_conflicts_total", "Transaction commits refused because of a conflict.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.TxConflicts) })},
	{"transaction_retries_total", "Re-runs of Update functions after a conflict.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.TxRetries) })},
	{"batches_total", "Atomic batches committed.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.Batches) })},
	{"wal_periodic_syncs_total", "Periodic WAL syncs in the default durability mode.", counter, false, stat(func(s *epochdb.Stats) float64 { return float64(s.WALSyncs) })},

	{"last_backup_timestamp_seconds", "Start time of the most recent backup (Unix seconds; 0 if none since start).", gauge, false, stat(func(s *epochdb.Stats) float64 {
		if s.LastBackup.At.IsZero() {
			return 0
		}
		return float64(s.LastBackup.At.UnixMilli()) / 1e3
	})},
	{"last_backup_duration_seconds", "Duration of the most recent backup.", gauge, false, stat(func(s *epochdb.Stats) float64 { return s.LastBackup.Duration.Seconds() })},
	{"last_backup_success", "1 if the most recent backup succeeded, 0 if it failed or none ran.", gauge, false, stat(func(s *epochdb.Stats) float64 { return b2f(s.LastBackup.OK) })},
	{"backup_size_bytes", "Size of the file written by the most recent successful backup.", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.LastBackup.Bytes) })},
	{"backup_keys", "Keys in the most recent successful backup.", gauge, false, stat(func(s *epochdb.Stats) float64 { return float64(s.LastBackup.Keys) })},

	{"pebble_compactions_total", "Compactions completed.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.Compactions) })},
	{"pebble_compactions_in_progress", "Compactions running.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.CompactionsInProgress) })},
	{"pebble_compaction_debt_bytes", "Estimated bytes to compact before the LSM settles.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.CompactionDebtBytes) })},
	{"pebble_compaction_duration_seconds_total", "Total time spent compacting.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return e.CompactionTime.Seconds() })},
	{"pebble_flushes_total", "Memtables flushed to sstables.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.Flushes) })},
	{"pebble_write_stalls_total", "Times writes were delayed for flushes or compactions to catch up.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.WriteStalls) })},
	{"pebble_write_stall_duration_seconds_total", "Total time writes were delayed.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return e.WriteStallTime.Seconds() })},
	{"pebble_memtable_size_bytes", "Bytes allocated by memtables.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.MemTableBytes) })},
	{"pebble_memtables", "Memtables, the mutable one and those waiting to be flushed.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.MemTables) })},
	{"pebble_block_cache_size_bytes", "Bytes in the block cache.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.BlockCacheBytes) })},
	{"pebble_block_cache_hits_total", "Block cache hits.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.BlockCacheHits) })},
	{"pebble_block_cache_misses_total", "Block cache misses.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.BlockCacheMisses) })},
	{"pebble_block_cache_hit_ratio", "Block cache hits over lookups since open.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return e.BlockCacheHitRatio() })},
	{"pebble_wal_files", "Live WAL files.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.WALFiles) })},
	{"pebble_wal_size_bytes", "Live data in the WAL.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.WALBytes) })},
	{"pebble_wal_bytes_in_total", "Logical bytes written to the WAL.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.WALBytesIn) })},
	{"pebble_wal_bytes_written_total", "Physical bytes written to the WAL.", counter, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.WALBytesWritten) })},
	{"pebble_read_amplification", "Sstables a point read may consult: L0 sublevels plus non-empty lower levels.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.ReadAmplification) })},
	{"pebble_l0_files", "Sstables in L0.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.L0Files) })},
	{"pebble_l0_sublevels", "Sublevels in L0.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.L0Sublevels) })},
	{"pebble_tables", "Live sstables.", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.Tables) })},
	{"pebble_open_snapshots", "Open snapshots (transactions, scans, backups).", gauge, true, eng(func(e *epochdb.EngineMetrics) float64 { return float64(e.OpenSnapshots) })},
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// The labelled families.
const (
	opsName      = ns + "operations_total"
	opsHelp      = "Operations by kind and outcome (ok, not_found, conflict, error)."
	durationName = ns + "operation_duration_seconds"
	durationHelp = "Latency of operations; for transactions, from Begin to the end of Commit."
	backupsName  = ns + "backups_total"
	backupsHelp  = "Backups by outcome (ok, error)."
)

// NewCollector returns a Collector for src (usually a *epochdb.DB). A nil
// opts means no constant labels.
func NewCollector(src Source, opts *Options) *Collector {
	var labels prometheus.Labels
	if opts != nil {
		labels = opts.ConstLabels
	}
	c := &Collector{
		src:      src,
		ops:      prometheus.NewDesc(opsName, opsHelp, []string{"operation", "outcome"}, labels),
		duration: prometheus.NewDesc(durationName, durationHelp, []string{"operation"}, labels),
		backups:  prometheus.NewDesc(backupsName, backupsHelp, []string{"outcome"}, labels),
	}
	for _, d := range defs {
		c.scalars = append(c.scalars, scalar{
			desc:   prometheus.NewDesc(ns+d.name, d.help, nil, labels),
			typ:    d.typ,
			engine: d.engine,
			value:  d.value,
		})
	}
	return c
}

// Metrics lists the metric families a Collector exports.
func Metrics() []Metric {
	ms := []Metric{
		{Name: opsName, Type: "counter", Help: opsHelp, Labels: []string{"operation", "outcome"}},
		{Name: durationName, Type: "histogram", Help: durationHelp, Labels: []string{"operation"}},
		{Name: backupsName, Type: "counter", Help: backupsHelp, Labels: []string{"outcome"}},
	}
	for _, d := range defs {
		typ := "gauge"
		if d.typ == counter {
			typ = "counter"
		}
		ms = append(ms, Metric{Name: ns + d.name, Type: typ, Help: d.help})
	}
	return ms
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.ops
	ch <- c.duration
	ch <- c.backups
	for _, s := range c.scalars {
		ch <- s.desc
	}
}

// op is one operation kind and the outcomes it can have.
type op struct {
	name     string
	outcomes []string
	stats    func(*epochdb.OpsStats) epochdb.OpStats
}

var ops = []op{
	{"get", []string{"ok", "not_found", "error"}, func(o *epochdb.OpsStats) epochdb.OpStats { return o.Get }},
	{"set", []string{"ok", "error"}, func(o *epochdb.OpsStats) epochdb.OpStats { return o.Set }},
	{"delete", []string{"ok", "not_found", "error"}, func(o *epochdb.OpsStats) epochdb.OpStats { return o.Delete }},
	{"increment", []string{"ok", "not_found", "error"}, func(o *epochdb.OpsStats) epochdb.OpStats { return o.Increment }},
	{"transaction", []string{"ok", "conflict", "error"}, func(o *epochdb.OpsStats) epochdb.OpStats { return o.Commit }},
}

// bucketBounds are the histogram's upper bounds in seconds (the last
// bucket, +Inf, is implicit in Prometheus).
var bucketBounds = func() []float64 {
	b := make([]float64, epochdb.NumLatencyBuckets-1)
	for i := range b {
		b[i] = epochdb.LatencyBucketBound(i).Seconds()
	}
	return b
}()

// Collect reads the database's statistics and sends every metric. Once the
// database is closed, the Pebble metrics are left out and the rest keep
// their values at close.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	e, err := c.src.EngineMetrics()
	haveEngine := err == nil
	for _, sc := range c.scalars {
		if sc.engine && !haveEngine {
			continue
		}
		ch <- prometheus.MustNewConstMetric(sc.desc, sc.typ, sc.value(&s, &e))
	}
	for _, o := range ops {
		st := o.stats(&s.Ops)
		for _, outcome := range o.outcomes {
			var n uint64
			switch outcome {
			case "ok":
				n = st.OK
			case "not_found":
				n = st.NotFound
			case "conflict":
				n = st.Conflicts
			case "error":
				n = st.Errors
			}
			ch <- prometheus.MustNewConstMetric(c.ops, counter, float64(n), o.name, outcome)
		}
		buckets := make(map[float64]uint64, len(bucketBounds))
		var cum uint64
		for i, bound := range bucketBounds {
			cum += st.Latency.Buckets[i]
			buckets[bound] = cum
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, st.Latency.Count, st.Latency.Sum.Seconds(), buckets, o.name)
	}
	ch <- prometheus.MustNewConstMetric(c.backups, counter, float64(s.Backups), "ok")
	ch <- prometheus.MustNewConstMetric(c.backups, counter, float64(s.BackupFailures), "error")
}
