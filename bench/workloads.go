package main

import (
	"fmt"
	"sync"
	"time"
)

// workloadSpec is one workload of the matrix.
type workloadSpec struct {
	name  string
	desc  string
	modes []mode // the modes it runs in
}

var (
	both        = []mode{modeDefault, modeDurable}
	defaultOnly = []mode{modeDefault}
)

// workloads in the order they run on each engine. The reads and the expiry
// run do not depend on write durability, and a durable load of 1M keys
// would take hours on the fsync-per-commit engines, so those run in default
// mode only.
var workloads = []workloadSpec{
	{"load", "insert every key once, with TTL, in scattered order (timed by count, not duration)", defaultOnly},
	{"set", "overwrite uniformly random keys, with TTL", both},
	{"get-uniform", "Get uniformly random keys (all hits)", defaultOnly},
	{"get-zipf", fmt.Sprintf("Get Zipf-distributed keys, s=%.2f, hot keys scattered (all hits)", zipfS), defaultOnly},
	{"incr-many", "increment the counter of uniformly random keys", both},
	{"incr-hot", "increment the counter of one key from every thread", both},
	{"mix", "90% Get / 10% Set with TTL, uniformly random keys", both},
	{"expiry", "churn: load keys with 1-2s TTL into a fresh store, then run the mix on other keys until all are reclaimed", defaultOnly},
	{"tx-uncontended", fmt.Sprintf("read-write transactions: read %d distinct uniformly random keys, write each back with TTL", txKeys), both},
	{"tx-contended", fmt.Sprintf("read-modify-write transactions on %d hot keys: move 1-100 from one to another; end state checked", hotKeys), both},
	{"batch-load", "write -batch-keys keys with TTL into a fresh store in one batch, committed once", both},
}

// freshStore reports whether a workload runs on a store of its own rather
// than on the loaded one.
func freshStore(name string) bool { return name == "expiry" || name == "batch-load" }

func lookupWorkload(name string) (workloadSpec, error) {
	for _, w := range workloads {
		if w.name == name {
			return w, nil
		}
	}
	return workloadSpec{}, fmt.Errorf("unknown workload %q", name)
}

func (w workloadSpec) runsIn(m mode) bool {
	for _, x := range w.modes {
		if x == m {
			return true
		}
	}
	return false
}

const keyPrefix = "key:"

// timedOp returns the op of a duration-bound workload over n keys.
func timedOp(name string, e Engine, n int, ttl time.Duration) op {
	switch name {
	case "set":
		return func(w *worker) error {
			return e.Set(w.setKey(keyPrefix, w.rng.IntN(n)), w.nextValue(), ttl)
		}
	case "get-uniform":
		return func(w *worker) error {
			_, err := e.Get(w.setKey(keyPrefix, w.rng.IntN(n)))
			return err
		}
	case "get-zipf":
		return func(w *worker) error {
			_, err := e.Get(w.setKey(keyPrefix, scatter(int(w.zipf.Uint64()), n)))
			return err
		}
	case "incr-many":
		return func(w *worker) error {
			_, err := e.Incr(w.setKey(keyPrefix, w.rng.IntN(n)))
			return err
		}
	case "incr-hot":
		return func(w *worker) error {
			_, err := e.Incr(w.setKey(keyPrefix, scatter(0, n)))
			return err
		}
	case "mix":
		return mixOp(e, keyPrefix, n, ttl)
	}
	panic("no timed op for " + name)
}

func mixOp(e Engine, prefix string, n int, ttl time.Duration) op {
	return func(w *worker) error {
		k := w.setKey(prefix, w.rng.IntN(n))
		if w.rng.IntN(10) == 0 {
			return e.Set(k, w.nextValue(), ttl)
		}
		_, err := e.Get(k)
		return err
	}
}

// load inserts keys [0, n) in scattered order.
func load(rn *runner, e Engine, n int, ttl time.Duration) *result {
	return rn.counted(n, func(w *worker, i int) error {
		return e.Set(w.setKey(keyPrefix, scatter(i, n)), w.nextValue(), ttl)
	})
}

// expiryResult is what the expiry churn run measures besides the
// foreground mix.
type expiryResult struct {
	loaded       int
	load         *result       // the short-TTL inserts
	lastDeadline time.Duration // after the load started
	active       bool          // the engine removes expired records itself
	reclaimed    bool          // all of them were removed before the timeout
	reclaimAfter time.Duration // from the last deadline until all were removed
	left         int64         // expired records still held at the end
	window       time.Duration // how long the foreground mix ran
}

const expPrefix = "exp:"
const fgPrefix = "fg:"

// runExpiry runs the churn workload on a fresh engine: fg persistent keys,
// then n keys with TTLs spread over 1-2s, then the 90/10 mix on the
// persistent keys while the engine reclaims the others. The mix runs until
// every expired record is gone (engines with active expiry) or for 1s past
// the last deadline (engines without), and at most timeout past it.
func runExpiry(rn *runner, e Engine, n, fg int, timeout time.Duration, progress func(string)) (*result, error) {
	if r := rn.counted(fg, func(w *worker, i int) error {
		return e.Set(w.setKey(fgPrefix, i), w.nextValue(), 0)
	}); r.err != nil {
		return nil, fmt.Errorf("preloading %d persistent keys: %w", fg, r.err)
	}
	base, active, err := e.Stored()
	if err != nil {
		return nil, err
	}

	start := time.Now()
	var mu sync.Mutex
	var last time.Time
	ld := rn.counted(n, func(w *worker, i int) error {
		ttl := time.Second + time.Duration(scatter(i, 1000))*time.Millisecond
		now := time.Now()
		if err := e.Set(w.setKey(expPrefix, i), w.nextValue(), ttl); err != nil {
			return err
		}
		if i%256 == 0 || i == n-1 || ttl > 1999*time.Millisecond {
			mu.Lock()
			if d := now.Add(ttl); d.After(last) {
				last = d
			}
			mu.Unlock()
		}
		return nil
	})
	if ld.err != nil {
		return nil, fmt.Errorf("loading %d expiring keys: %w", n, ld.err)
	}
	progress(fmt.Sprintf("loaded %d keys with 1-2s TTL in %s; last deadline %s after start",
		n, fmtDur(ld.elapsed), fmtDur(last.Sub(start))))

	x := &expiryResult{loaded: n, load: ld, lastDeadline: last.Sub(start), active: active}
	stop := make(chan struct{})
	done := make(chan *result)
	go func() {
		done <- rn.timed(time.Duration(1<<62), stop, false, mixOp(e, fgPrefix, fg, time.Hour))
	}()
	fgStart := time.Now()
	deadline := last.Add(timeout)
	if !active {
		deadline = last.Add(time.Second)
	}
	var pollErr error
	for {
		now := time.Now()
		if active {
			t0 := time.Now()
			held, _, err := e.Stored()
			if err != nil {
				pollErr = err
				break
			}
			x.left = max(held-base, 0)
			if x.left == 0 {
				x.reclaimed = true
				x.reclaimAfter = max(time.Since(last), 0)
				break
			}
			// Poll often, but spend at most ~5% of the time polling.
			time.Sleep(max(20*time.Millisecond, 20*time.Since(t0)))
		} else {
			time.Sleep(20 * time.Millisecond)
		}
		if now.After(deadline) {
			break
		}
	}
	close(stop)
	r := <-done
	if pollErr != nil {
		return nil, pollErr
	}
	x.window = time.Since(fgStart)
	r.expiry = x
	return r, nil
}
