package epochdb

import (
	"container/list"
	"flag"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// Lifecycle benchmarks (issue "Data lifecycle"). Run with
//
//	go test -run '^$' -bench 'Lifecycle' -benchtime 1x .
//
// -lifecycle.keys sets the store size of the eviction-cost benchmark
// (default 1M; docs/BENCHMARKS.md also records 10M).
var lifecycleKeys = flag.Int("lifecycle.keys", 1_000_000, "keys preloaded for BenchmarkLifecycle_EvictingWrite")

// load fills db with n keys of 100-byte values in batches of 10k, with
// the given ttl.
func load(b *testing.B, db *DB, prefix string, n int, ttl time.Duration) {
	b.Helper()
	val := make([]byte, 100)
	for i := 0; i < n; {
		batch := db.NewBatch()
		for j := 0; j < 10_000 && i < n; j, i = j+1, i+1 {
			testutil.Must(b, batch.Set([]byte(fmt.Sprintf("%s%09d", prefix, i)), val, ttl))
		}
		testutil.Must(b, batch.Commit())
	}
}

// BenchmarkLifecycle_ExpirySweep: 1M keys with the same deadline; the time
// the sweeper takes to reclaim all of them.
func BenchmarkLifecycle_ExpirySweep(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		db, clk := mustOpen(b, &Options{ExpiryInterval: time.Hour, DisableReadTracking: true})
		load(b, db, "k", n, time.Second)
		clk.Advance(time.Second)
		b.StartTimer()
		start := time.Now()
		removed, err := db.expireDue(nil)
		testutil.Must(b, err)
		el := time.Since(start)
		if removed != n {
			b.Fatalf("swept %d", removed)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "keys/s")
	}
}

// BenchmarkLifecycle_PrunePass: 1M keys of which half are pruned.
func BenchmarkLifecycle_PrunePass(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		db, clk := mustOpen(b, &Options{PruneMinFrequency: 1, PruneInterval: time.Hour, DisableReadTracking: true})
		load(b, db, "cold", n/2, 0)
		load(b, db, "warm", n/2, 0)
		for i := 0; i < n/2; i++ {
			if _, err := db.IncrementFrequency([]byte(fmt.Sprintf("warm%09d", i))); err != nil {
				b.Fatal(err)
			}
		}
		clk.Advance(time.Minute)
		b.StartTimer()
		start := time.Now()
		removed, err := db.prunePass(nil)
		testutil.Must(b, err)
		el := time.Since(start)
		if removed != n/2 {
			b.Fatalf("pruned %d", removed)
		}
		b.ReportMetric(float64(n)/el.Seconds(), "examined/s")
		b.ReportMetric(float64(removed)/el.Seconds(), "pruned/s")
	}
}

// BenchmarkLifecycle_EvictingWrite: the cost of a Set of a new key into a
// store at its MaxKeys budget, so that each write evicts one key.
func BenchmarkLifecycle_EvictingWrite(b *testing.B) {
	n := *lifecycleKeys
	db, _ := mustOpen(b, &Options{MaxKeys: int64(n), EvictionPolicy: EvictAllKeysLFU, DisableReadTracking: true})
	load(b, db, "k", n, 0)
	val := make([]byte, 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := db.Set([]byte(fmt.Sprintf("new%09d", i)), val, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if db.Len() > int64(n) {
		b.Fatalf("Len %d over the budget %d", db.Len(), n)
	}
	b.ReportMetric(float64(db.Stats().Evicted)/float64(i), "evictions/op")
}

// BenchmarkLifecycle_HitRatio replays a zipfian trace of reads through a
// cache of 10% of the keys (read; on a miss, write the key) and reports the
// hit ratio of EpochDB's sampled LFU next to an exact LFU and an exact LRU
// computed on the same trace.
func BenchmarkLifecycle_HitRatio(b *testing.B) {
	const keys, requests = 100_000, 1_000_000
	budget := keys / 10
	trace := make([]int, requests)
	z := rand.NewZipf(rand.New(rand.NewSource(1)), 1.1, 1, keys-1)
	perm := rand.New(rand.NewSource(2)).Perm(keys) // hot keys spread over the key order
	for i := range trace {
		trace[i] = perm[z.Uint64()]
	}
	for b.Loop() {
		for _, policy := range []EvictionPolicy{EvictAllKeysLFU, EvictAllKeysLRU} {
			db, clk := mustOpen(b, &Options{MaxKeys: int64(budget), EvictionPolicy: policy, HeatHalfLife: time.Hour})
			hits := 0
			for _, k := range trace {
				clk.Advance(time.Millisecond)
				key := []byte(fmt.Sprintf("key%06d", k))
				if _, err := db.Get(key); err == nil {
					hits++
				} else if err := db.Set(key, []byte("v"), 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(hits)/requests, "epochdb-"+policy.String())
		}
		b.ReportMetric(exactLFUHitRatio(trace, budget), "exact-lfu")
		b.ReportMetric(exactLRUHitRatio(trace, budget), "exact-lru")
	}
}

// exactLFUHitRatio simulates a cache that evicts the key with the lowest
// access count among those cached (counts kept while cached, ties by age).
func exactLFUHitRatio(trace []int, budget int) float64 {
	count := map[int]int{}
	cached := map[int]bool{}
	buckets := map[int]*list.List{} // count → keys in insertion order
	elems := map[int]*list.Element{}
	minCount := 0
	hits := 0
	touch := func(k int) {
		c := count[k]
		if c > 0 {
			buckets[c].Remove(elems[k])
			if c == minCount && buckets[c].Len() == 0 {
				minCount++
			}
		}
		count[k] = c + 1
		if buckets[c+1] == nil {
			buckets[c+1] = list.New()
		}
		elems[k] = buckets[c+1].PushBack(k)
	}
	for _, k := range trace {
		if cached[k] {
			hits++
			touch(k)
			continue
		}
		if len(cached) >= budget {
			for buckets[minCount] == nil || buckets[minCount].Len() == 0 {
				minCount++
			}
			victim := buckets[minCount].Remove(buckets[minCount].Front()).(int)
			delete(cached, victim)
			delete(count, victim)
			delete(elems, victim)
		}
		cached[k] = true
		touch(k)
		minCount = 1
	}
	return float64(hits) / float64(len(trace))
}

// exactLRUHitRatio simulates a cache that evicts the least recently used key.
func exactLRUHitRatio(trace []int, budget int) float64 {
	l := list.New()
	elems := map[int]*list.Element{}
	hits := 0
	for _, k := range trace {
		if e, ok := elems[k]; ok {
			hits++
			l.MoveToFront(e)
			continue
		}
		if l.Len() >= budget {
			delete(elems, l.Remove(l.Back()).(int))
		}
		elems[k] = l.PushFront(k)
	}
	return float64(hits) / float64(len(trace))
}
