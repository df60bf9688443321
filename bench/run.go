package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// result is the outcome of one workload on one engine in one mode.
type result struct {
	engine   string
	mode     mode
	workload string
	threads  int
	ops      int64
	misses   int64 // Gets that found nothing (expected only in the expiry run)
	elapsed  time.Duration
	hist     hist
	err      error
	other    float64 // CPUs other processes used meanwhile, -1 if unknown

	// expiry run only
	expiry *expiryResult
	// transaction workloads only
	tx  txTally
	txr *txResult
	// batch-load only
	batch *batchResult
}

func (r *result) opsPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// nsPerOp is the wall time per operation across all threads: the inverse of
// throughput, which is what the ratios compare.
func (r *result) nsPerOp() float64 {
	if r.ops == 0 {
		return 0
	}
	return float64(r.elapsed.Nanoseconds()) / float64(r.ops)
}

// worker is one benchmark goroutine's private state.
type worker struct {
	id    int
	rng   *rand.Rand
	zipf  *rand.Zipf
	key   []byte // scratch for the current key
	n     int64  // ops done, used to vary values
	value []byte // shared random bytes to take values from
	vsize int
	hist  hist
	ops   int64
	miss  int64
	tx    txTally // transaction workloads
}

// nextValue returns a valueSize slice of random bytes, different from one op
// to the next. It aliases shared read-only memory.
func (w *worker) nextValue() []byte {
	w.n++
	off := int(uint64(w.n*7919+int64(w.id)*104729) % uint64(len(w.value)-w.vsize))
	return w.value[off : off+w.vsize]
}

// op is one operation of a workload; it returns errNotFound for a miss.
type op func(w *worker) error

// runner runs ops on several goroutines and times each one.
type runner struct {
	threads int
	keys    int
	vsize   int
	value   []byte
	seed    uint64
}

func (rn *runner) newWorkers(zipf bool) []*worker {
	ws := make([]*worker, rn.threads)
	for i := range ws {
		rng := rand.New(rand.NewPCG(rn.seed, uint64(i)+1))
		w := &worker{id: i, rng: rng, key: make([]byte, 0, 32), value: rn.value, vsize: rn.vsize}
		if zipf {
			w.zipf = rand.NewZipf(rng, zipfS, 1, uint64(rn.keys-1))
		}
		ws[i] = w
	}
	return ws
}

// zipfS is the Zipf exponent for get-zipf. Go's generator needs s > 1; 1.01
// is close to YCSB's 0.99 (the hottest key takes about 7% of reads of 1M
// keys, the hottest 1% of keys about 60%).
const zipfS = 1.01

// collect merges the workers' counts into r.
func collect(r *result, ws []*worker) {
	for _, w := range ws {
		r.ops += w.ops
		r.misses += w.miss
		r.hist.merge(&w.hist)
		r.tx.merge(&w.tx)
	}
}

// firstErr keeps the first unexpected error and tells workers to stop.
type firstErr struct {
	stop atomic.Bool
	once sync.Once
	err  error
}

func (f *firstErr) set(err error) {
	f.once.Do(func() { f.err = err })
	f.stop.Store(true)
}

// timed runs f on every worker until d has passed (or stop is closed, if
// not nil), timing each op.
func (rn *runner) timed(d time.Duration, stop <-chan struct{}, zipf bool, f op) *result {
	runtime.GC()
	ws := rn.newWorkers(zipf)
	var fe firstErr
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			for i := 0; ; i++ {
				err := f(w)
				t1 := time.Now()
				w.hist.record(t1.Sub(t0))
				t0 = t1
				w.ops++
				if err != nil {
					if !errors.Is(err, errNotFound) {
						fe.set(err)
						return
					}
					w.miss++
				}
				if t1.After(end) || fe.stop.Load() {
					return
				}
				if stop != nil && i%64 == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
			}
		}()
	}
	wg.Wait()
	r := &result{threads: rn.threads, elapsed: time.Since(start), err: fe.err}
	collect(r, ws)
	return r
}

// counted runs f(w, i) for every i in [0, total), spread over the workers
// in chunks, timing each op.
func (rn *runner) counted(total int, f func(w *worker, i int) error) *result {
	runtime.GC()
	ws := rn.newWorkers(false)
	var fe firstErr
	var next atomic.Int64
	const chunk = 256
	var wg sync.WaitGroup
	start := time.Now()
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			for !fe.stop.Load() {
				lo := int(next.Add(chunk)) - chunk
				if lo >= total {
					return
				}
				for i := lo; i < min(lo+chunk, total); i++ {
					if err := f(w, i); err != nil {
						fe.set(err)
						return
					}
					t1 := time.Now()
					w.hist.record(t1.Sub(t0))
					t0 = t1
					w.ops++
				}
			}
		}()
	}
	wg.Wait()
	r := &result{threads: rn.threads, elapsed: time.Since(start), err: fe.err}
	collect(r, ws)
	return r
}

// permPrime is coprime with any key count below it, so i -> i*permPrime mod
// n is a permutation of [0, n) that scatters neighbours.
const permPrime = 2147483647

func scatter(i, n int) int { return int(uint64(i) * permPrime % uint64(n)) }

// appendKey appends prefix and i as 12 zero-padded decimal digits.
func appendKey(dst []byte, prefix string, i int) []byte {
	dst = append(dst, prefix...)
	var d [12]byte
	for j := len(d) - 1; j >= 0; j-- {
		d[j] = byte('0' + i%10)
		i /= 10
	}
	return append(dst, d[:]...)
}

func (w *worker) setKey(prefix string, i int) []byte {
	w.key = appendKey(w.key[:0], prefix, i)
	return w.key
}

// fmtErr describes a failed run.
func fmtErr(r *result) string {
	if r.err == nil {
		return ""
	}
	return fmt.Sprintf("error after %d ops: %v", r.ops, r.err)
}
