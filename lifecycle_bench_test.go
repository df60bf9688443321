package epochdb

import (
	"container/list"
	"flag"
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// Lifecycle benchmarks (issue "Data lifecycle"). Run with
//
//	go test -run '^$' -bench 'Lifecycle' -benchtime 1x -timeout 60m .
//
// except EvictingWrite, which times single writes and needs many
// (-benchtime 20000x). -lifecycle.keys sets the store size of the
// eviction-cost benchmark (default 1M; docs/BENCHMARKS.md also records 10M).
// The *Foreground benchmarks run a foreground workload alone and then during
// a sweep or prune pass; see docs/BENCHMARKS.md, "Lifecycle".
var lifecycleKeys = flag.Int("lifecycle.keys", 1_000_000, "keys preloaded for BenchmarkLifecycle_EvictingWrite")

// lifecycleBaseline is how long the foreground benchmarks run their
// workload alone, before the retirement they measure it against.
var lifecycleBaseline = flag.Duration("lifecycle.baseline", 10*time.Second, "foreground-only phase of BenchmarkLifecycle_*Foreground")

// lifecycleNoTrack turns read tracking off in the foreground benchmarks
// (default: on, as a user has it).
var lifecycleNoTrack = flag.Bool("lifecycle.notrack", false, "DisableReadTracking in BenchmarkLifecycle_*Foreground")

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
	settle(b, db)
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
			b.Logf("epochdb %v: %d hits of %d, %d keys at the end, %d evicted", policy, hits, requests, db.Len(), db.Stats().Evicted)
			b.ReportMetric(float64(hits)/requests, "epochdb-"+policy.String())
		}
		lfu, lru := exactLFUHitRatio(trace, budget), exactLRUHitRatio(trace, budget)
		b.Logf("exact LFU %.5f, exact LRU %.5f", lfu, lru)
		b.ReportMetric(lfu, "exact-lfu")
		b.ReportMetric(lru, "exact-lru")
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

// The foreground workload of the *Foreground benchmarks: fgThreads
// goroutines, each doing Get (90%) or Set (10%, 100-byte value, no ttl) of a
// uniformly random key among fgKeys persistent "fg" keys, timing every
// operation.
const (
	fgThreads = 4
	fgKeys    = 100_000
)

type fgRun struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	start time.Time
	lat   [fgThreads][]time.Duration
	errs  [fgThreads]int
}

// fgStats summarises one phase of the foreground workload.
type fgStats struct {
	ops           int
	opsPerSec     float64
	p50, p99, max time.Duration
	p999          time.Duration
	errs          int
}

func (s fgStats) String() string {
	return fmt.Sprintf("%d ops, %.0f ops/s, p50 %v, p99 %v, p99.9 %v, max %v, %d errors",
		s.ops, s.opsPerSec, s.p50, s.p99, s.p999, s.max, s.errs)
}

// startForeground starts the foreground workload on the keys load(b, db,
// "fg", fgKeys, 0) wrote.
func startForeground(db *DB, seed int64) *fgRun {
	r := &fgRun{stop: make(chan struct{}), start: time.Now()}
	for g := range fgThreads {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(g)))
			val := make([]byte, 100)
			lat := make([]time.Duration, 0, 1<<18)
			for {
				select {
				case <-r.stop:
					r.lat[g] = lat
					return
				default:
				}
				key := []byte(fmt.Sprintf("fg%09d", rng.Intn(fgKeys)))
				set := rng.Intn(10) == 0
				t := time.Now()
				var err error
				if set {
					err = db.Set(key, val, 0)
				} else {
					_, err = db.Get(key)
				}
				lat = append(lat, time.Since(t))
				if err != nil {
					r.errs[g]++
				}
			}
		}()
	}
	return r
}

// finish stops the workload and returns its figures since startForeground.
func (r *fgRun) finish() fgStats {
	close(r.stop)
	r.wg.Wait()
	el := time.Since(r.start)
	var all []time.Duration
	var s fgStats
	for g := range fgThreads {
		all = append(all, r.lat[g]...)
		s.errs += r.errs[g]
	}
	slices.Sort(all)
	s.ops = len(all)
	s.opsPerSec = float64(len(all)) / el.Seconds()
	if len(all) > 0 {
		q := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
		s.p50, s.p99, s.p999, s.max = q(0.50), q(0.99), q(0.999), all[len(all)-1]
	}
	return s
}

// foregroundAlone runs the foreground workload alone for d.
func foregroundAlone(db *DB, d time.Duration) fgStats {
	r := startForeground(db, 1)
	time.Sleep(d)
	return r.finish()
}

// settle flushes the memtable and waits until Pebble has run no compaction
// for a second (at most two minutes), so that a phase does not pay for the
// compactions of the load before it. (The estimated compaction debt is no
// use here: it stays above zero when no level is over its compaction
// threshold.)
func settle(b *testing.B, db *DB) {
	b.Helper()
	start := time.Now()
	testutil.Must(b, db.pdb.Flush())
	quiet := 0
	for quiet < 10 {
		if time.Since(start) > 2*time.Minute {
			b.Logf("compactions still running after %v", time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(100 * time.Millisecond)
		if db.pdb.Metrics().Compact.NumInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	b.Logf("settled in %v", time.Since(start).Round(time.Millisecond))
}

// reportForeground reports the retirement rate and the foreground figures
// without (base-) and during (fg-) the retirement, with their ratios.
func reportForeground(b *testing.B, retired int, el time.Duration, base, during fgStats) {
	b.Helper()
	b.Logf("baseline: %v", base)
	b.Logf("during:   %v", during)
	if base.errs > 0 || during.errs > 0 {
		b.Errorf("foreground errors: %d baseline, %d during", base.errs, during.errs)
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(float64(retired)/el.Seconds(), "retired/s")
	b.ReportMetric(base.opsPerSec, "base-ops/s")
	b.ReportMetric(us(base.p50), "base-p50-us")
	b.ReportMetric(us(base.p99), "base-p99-us")
	b.ReportMetric(during.opsPerSec, "fg-ops/s")
	b.ReportMetric(us(during.p50), "fg-p50-us")
	b.ReportMetric(us(during.p99), "fg-p99-us")
	b.ReportMetric(during.opsPerSec/base.opsPerSec, "ops-ratio")
	b.ReportMetric(float64(during.p99)/float64(base.p99), "p99-ratio")
}

// BenchmarkLifecycle_SweepForeground: the foreground workload on 100k live
// keys, first alone for -lifecycle.baseline, then while the sweeper retires
// 1M expired keys (one expireDue, as the expiry loop runs it). The timed
// part is the sweep.
func BenchmarkLifecycle_SweepForeground(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		db, clk := mustOpen(b, &Options{ExpiryInterval: time.Hour, DisableReadTracking: *lifecycleNoTrack})
		load(b, db, "fg", fgKeys, 0)
		load(b, db, "k", n, time.Second)
		clk.Advance(time.Second)
		foregroundDuring(b, db, n, func() (int, error) { return db.expireDue(nil) })
	}
}

// BenchmarkLifecycle_PruneForeground: the foreground workload on 100k live
// (frequency 1) keys, first alone for -lifecycle.baseline, then while one
// prune pass examines the 1.1M keys and removes the 500k of frequency 0.
// The timed part is the pass.
func BenchmarkLifecycle_PruneForeground(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		db, clk := mustOpen(b, &Options{PruneMinFrequency: 1, PruneInterval: time.Hour, DisableReadTracking: *lifecycleNoTrack})
		load(b, db, "fg", fgKeys, 0)
		load(b, db, "cold", n/2, 0)
		load(b, db, "warm", n/2, 0)
		for _, k := range []struct {
			prefix string
			n      int
		}{{"fg", fgKeys}, {"warm", n / 2}} {
			for i := 0; i < k.n; i++ {
				if _, err := db.IncrementFrequency([]byte(fmt.Sprintf("%s%09d", k.prefix, i))); err != nil {
					b.Fatal(err)
				}
			}
		}
		clk.Advance(time.Minute)
		foregroundDuring(b, db, n/2, func() (int, error) { return db.prunePass(nil) })
	}
}

// foregroundDuring runs the foreground workload alone for
// -lifecycle.baseline, then while retire runs (the timed part), checks that
// retire removed want keys and reports both phases. The timer is stopped on
// entry and running on return.
func foregroundDuring(b *testing.B, db *DB, want int, retire func() (int, error)) {
	settle(b, db)
	base := foregroundAlone(db, *lifecycleBaseline)
	settle(b, db)
	b.StartTimer()
	fg := startForeground(db, 2)
	start := time.Now()
	removed, err := retire()
	el := time.Since(start)
	during := fg.finish()
	b.StopTimer()
	testutil.Must(b, err)
	if removed != want {
		b.Fatalf("retired %d keys, want %d", removed, want)
	}
	reportForeground(b, removed, el, base, during)
	b.StartTimer()
}
