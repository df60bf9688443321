package inspect

import (
	"time"

	"github.com/epochdb/epochdb"
)

// Live is the result of op live: the library's counters, read in O(1)
// (no scan), for views that refresh every second. Totals count since the
// store was opened; a reader takes the difference of two readings for
// rates.
type Live struct {
	Now         time.Time `json:"now"`
	Keys        int64     `json:"keys"`
	KeysWithTTL int64     `json:"keys_with_ttl"`
	LiveBytes   int64     `json:"live_bytes"`
	DiskBytes   uint64    `json:"disk_bytes"`
	// Databases are the key counts of the logical databases 0-15 that
	// hold keys, and of the keys the server did not write (db -1), from
	// the library's per-namespace counters.
	Databases []DBCount `json:"databases"`

	Gets       uint64 `json:"gets"`
	Misses     uint64 `json:"misses"`
	Sets       uint64 `json:"sets"`
	Deletes    uint64 `json:"deletes"`
	Increments uint64 `json:"increments"`
	TxCommits  uint64 `json:"tx_commits"`
	Batches    uint64 `json:"batches"`

	Expired uint64 `json:"expired"`
	Pruned  uint64 `json:"pruned"`
	Evicted uint64 `json:"evicted"`

	WALSyncs        uint64 `json:"wal_syncs"`
	CacheHits       uint64 `json:"cache_hits"`
	CacheMisses     uint64 `json:"cache_misses"`
	TrackFlushLagMs int64  `json:"track_flush_lag_ms"`
	WALSyncLagMs    int64  `json:"wal_sync_lag_ms"`
	EngineFailed    bool   `json:"engine_failed"`

	// Latency holds the latency histograms of the library's operations
	// (get, set, delete, increment, commit): cumulative counts in buckets
	// whose upper bounds double from 1µs (epochdb.LatencyBucketBound).
	Latency map[string][]uint64 `json:"latency"`
}

func live(db *epochdb.DB, now time.Time) (*Live, error) {
	st := db.Stats()
	l := &Live{
		Now: now.UTC(), Keys: st.Keys, KeysWithTTL: st.KeysWithTTL, LiveBytes: st.LiveBytes, DiskBytes: st.DiskBytes,
		Gets: st.Gets, Misses: st.Misses, Sets: st.Sets, Deletes: st.Deletes, Increments: st.Increments,
		TxCommits: st.TxCommits, Batches: st.Batches, Expired: st.Expired, Pruned: st.Pruned, Evicted: st.Evicted,
		WALSyncs: st.WALSyncs, CacheHits: st.CacheHits, CacheMisses: st.CacheMisses,
		TrackFlushLagMs: st.TrackFlushLag.Milliseconds(), WALSyncLagMs: st.WALSyncLag.Milliseconds(),
		EngineFailed: st.EngineFailed,
		Databases:    []DBCount{},
	}
	rest := DBCount{DB: -1, Keys: st.Keys, KeysWithTTL: st.KeysWithTTL}
	for i := range 16 {
		ns := db.Namespace(byte(i))
		rest.Keys -= ns.Keys
		rest.KeysWithTTL -= ns.KeysWithTTL
		if ns.Keys > 0 {
			l.Databases = append(l.Databases, DBCount{DB: i, Keys: ns.Keys, KeysWithTTL: ns.KeysWithTTL})
		}
	}
	if rest.Keys > 0 {
		l.Databases = append([]DBCount{rest}, l.Databases...)
	}
	l.Latency = map[string][]uint64{}
	for name, op := range map[string]epochdb.OpStats{
		"get": st.Ops.Get, "set": st.Ops.Set, "delete": st.Ops.Delete, "increment": st.Ops.Increment, "commit": st.Ops.Commit,
	} {
		l.Latency[name] = op.Latency.Buckets[:]
	}
	return l, nil
}

// Retired is one key the store retired (an expiry, a prune, an eviction)
// with its last metadata, as the live views show it.
type Retired struct {
	KeyInfo
	Kind      string    `json:"kind"` // expired, pruned, evicted
	RetiredAt time.Time `json:"retired_at"`
	Seq       uint64    `json:"seq,omitempty"` // in the durable event log, if on
}

// Retirement describes ev, a lifecycle event of db's (DB.Subscribe,
// DB.ReadEvents), at time now.
func Retirement(ev epochdb.Event, now time.Time) Retired {
	n := -1
	if ev.Value != nil {
		n = len(ev.Value)
	}
	ki := keyInfo(ev.Key, n, ev.Metadata, now)
	ki.TTLMs = -1 // it is gone; ExpiresAt keeps the deadline it had
	return Retired{KeyInfo: ki, Kind: ev.Kind.String(), RetiredAt: ev.Time.UTC(), Seq: ev.Seq}
}
