// Command bench runs EpochDB and its peers (raw Pebble v2, Badger v4,
// BuntDB, bbolt) side by side on the same workloads and durability settings,
// and prints throughput, latency percentiles and EpochDB's time per
// operation as a ratio of each peer's.
//
// Usage:
//
//	cd bench && go run . [flags]
//
// Each engine works in its own temporary directory on disk (under -dir),
// removed afterwards. Engines run one after another, each through every
// workload, so an engine's background work (compactions, syncs) only ever
// competes with itself. See docs/BENCHMARKS.md for recorded figures.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

type config struct {
	keys       int
	batchKeys  int
	valueSize  int
	duration   time.Duration
	threads    int
	ttl        time.Duration
	fgKeys     int
	churnWait  time.Duration
	dir        string
	engines    []engineSpec
	workloads  []workloadSpec
	modes      []mode
	markdown   bool
	cpuprofile string
	seed       uint64
}

func main() {
	var cfg config
	var engineList, workloadList, syncList string
	flag.IntVar(&cfg.keys, "keys", 1_000_000, "number of keys loaded (and, in the expiry run, of keys with a 1-2s TTL)")
	flag.IntVar(&cfg.batchKeys, "batch-keys", 0, "keys written by batch-load's one batch (default: -keys)")
	flag.IntVar(&cfg.valueSize, "value", 100, "value size in bytes")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long each timed workload runs")
	flag.IntVar(&cfg.threads, "threads", 8, "goroutines issuing operations in every workload")
	flag.DurationVar(&cfg.ttl, "ttl", time.Hour, "TTL of the keys written by load, set and mix")
	flag.IntVar(&cfg.fgKeys, "fg-keys", 100_000, "persistent keys the foreground mix uses during the expiry run")
	flag.DurationVar(&cfg.churnWait, "churn-timeout", 10*time.Second, "expiry run: how long after the last deadline to wait for reclamation")
	flag.StringVar(&cfg.dir, "dir", "", "parent of the engines' temporary directories (default: the system temp dir)")
	flag.StringVar(&engineList, "engines", defaultEngines, "comma-separated engines: epochdb, pebble, badger, buntdb, bbolt, epochdb-notrack")
	flag.StringVar(&workloadList, "workloads", "all", "comma-separated workloads, or all: "+workloadNames())
	flag.StringVar(&syncList, "sync", "default,durable", "comma-separated durability modes: default, durable")
	flag.BoolVar(&cfg.markdown, "markdown", false, "print the tables as Markdown")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of every run to this directory (ENGINE-MODE-WORKLOAD.pprof)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the key and value generators")
	flag.Parse()
	if err := cfg.parse(engineList, workloadList, syncList); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if err := run(&cfg, out); err != nil {
		out.Flush()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func workloadNames() string {
	names := make([]string, len(workloads))
	for i, w := range workloads {
		names[i] = w.name
	}
	return strings.Join(names, ", ")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (c *config) parse(engineList, workloadList, syncList string) error {
	switch {
	case c.keys < 1000:
		return fmt.Errorf("-keys %d: need at least 1000", c.keys)
	case c.valueSize < 1 || c.valueSize > 1<<20:
		return fmt.Errorf("-value %d: need 1 to 1 MiB", c.valueSize)
	case c.threads < 1:
		return fmt.Errorf("-threads %d: need at least 1", c.threads)
	case c.duration <= 0 || c.ttl <= 0 || c.churnWait <= 0:
		return fmt.Errorf("-duration, -ttl and -churn-timeout must be positive")
	case c.fgKeys < 1:
		return fmt.Errorf("-fg-keys %d: need at least 1", c.fgKeys)
	case c.batchKeys < 0:
		return fmt.Errorf("-batch-keys %d: need at least 1 (0: as -keys)", c.batchKeys)
	}
	if c.batchKeys == 0 {
		c.batchKeys = c.keys
	}
	for _, name := range splitList(engineList) {
		e, err := lookupEngine(name)
		if err != nil {
			return err
		}
		c.engines = append(c.engines, e)
	}
	if workloadList == "all" {
		c.workloads = workloads
	} else {
		want := map[string]bool{}
		for _, name := range splitList(workloadList) {
			if _, err := lookupWorkload(name); err != nil {
				return err
			}
			want[name] = true
		}
		for _, w := range workloads { // keep the canonical order
			if want[w.name] {
				c.workloads = append(c.workloads, w)
			}
		}
	}
	for _, m := range splitList(syncList) {
		switch mode(m) {
		case modeDefault, modeDurable:
			c.modes = append(c.modes, mode(m))
		default:
			return fmt.Errorf("unknown durability mode %q (have default, durable)", m)
		}
	}
	if len(c.engines) == 0 || len(c.workloads) == 0 || len(c.modes) == 0 {
		return fmt.Errorf("nothing to run: give at least one engine, workload and mode")
	}
	if c.cpuprofile != "" {
		if err := os.MkdirAll(c.cpuprofile, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (c *config) hasMode(m mode) bool {
	for _, x := range c.modes {
		if x == m {
			return true
		}
	}
	return false
}

// plan lists the (mode, workload) pairs that run, in order.
type step struct {
	mode mode
	wl   workloadSpec
}

func (c *config) plan() []step {
	var steps []step
	for _, m := range []mode{modeDefault, modeDurable} {
		if !c.hasMode(m) {
			continue
		}
		for _, w := range c.workloads {
			if w.runsIn(m) {
				steps = append(steps, step{m, w})
			}
		}
	}
	return steps
}

func run(c *config, out io.Writer) error {
	started := time.Now()
	printHeader(c, out)
	value := make([]byte, 1<<20)
	vr := rand.New(rand.NewPCG(c.seed, 0))
	for i := range value {
		value[i] = byte(vr.Uint32())
	}
	rn := &runner{threads: c.threads, keys: c.keys, vsize: c.valueSize, value: value, seed: c.seed}

	steps := c.plan()
	needKeys := false
	for _, s := range steps {
		if !freshStore(s.wl.name) {
			needKeys = true
		}
	}
	var results []*result
	for _, e := range c.engines {
		rs, err := runEngine(c, rn, e, steps, needKeys)
		results = append(results, rs...)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", e.name, err)
			results = append(results, &result{engine: e.name, err: err, workload: "(open/close)"})
		}
	}
	printResults(c, out, steps, results)
	fmt.Fprintf(out, "Total run time: %s; load average at the end %s.\n", time.Since(started).Round(time.Second), loadAvg())
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// runEngine runs every step on one engine: the load and the default-mode
// workloads, then the durable-mode ones on the same store reopened, then
// the expiry run on a fresh store.
func runEngine(c *config, rn *runner, spec engineSpec, steps []step, needKeys bool) ([]*result, error) {
	var results []*result
	profile := func(m mode, wl string, f func() *result) *result {
		if c.cpuprofile != "" {
			path := fmt.Sprintf("%s/%s-%s-%s.pprof", c.cpuprofile, spec.name, m, wl)
			if pf, err := os.Create(path); err == nil {
				if err := pprof.StartCPUProfile(pf); err == nil {
					defer func() { pprof.StopCPUProfile(); _ = pf.Close() }()
				} else {
					_ = pf.Close()
				}
			}
		}
		before := sampleCPU()
		r := f()
		r.other = otherCPU(before, sampleCPU())
		r.engine, r.mode, r.workload = spec.name, m, wl
		results = append(results, r)
		switch {
		case r.expiry != nil:
			x := r.expiry
			reclaim := "no active expiry"
			switch {
			case x.reclaimed:
				reclaim = "all reclaimed " + fmtDur(x.reclaimAfter) + " after the last deadline"
			case x.active:
				reclaim = fmt.Sprintf("%d records left after the timeout", x.left)
			}
			progress("%-15s %-8s %-12s fg %s ops/s p50 %s p99 %s; %s; other CPU %s", spec.name, m, wl,
				fmtRate(r.opsPerSec()), fmtDur(r.hist.quantile(0.5)), fmtDur(r.hist.quantile(0.99)), reclaim, fmtCores(r.other))
		case r.batch != nil:
			x := r.batch
			progress("%-15s %-8s %-12s %d keys in %s (build %s, commit %s): %s keys/s, %.1f MB/s; other CPU %s %s", spec.name, m, wl,
				x.keys, fmtDur(r.elapsed), fmtDur(x.build), fmtDur(x.commit), fmtRate(r.opsPerSec()),
				float64(x.bytes)/1e6/r.elapsed.Seconds(), fmtCores(r.other), fmtErr(r))
		case r.txr != nil:
			progress("%-15s %-8s %-14s %10s tx/s  p50 %8s  p99 %8s  retries %d%s  other CPU %s %s", spec.name, m, wl,
				fmtRate(r.opsPerSec()), fmtDur(r.hist.quantile(0.5)), fmtDur(r.hist.quantile(0.99)), r.txr.retries,
				fmtTxCounters(r.txr.counters), fmtCores(r.other), fmtErr(r))
			if r.txr.check != "" {
				progress("%-15s %-8s %-14s %s", spec.name, m, wl, r.txr.check)
			}
		default:
			progress("%-15s %-8s %-12s %12s ops/s  p50 %8s  p99 %8s  other CPU %s %s", spec.name, m, wl,
				fmtRate(r.opsPerSec()), fmtDur(r.hist.quantile(0.5)), fmtDur(r.hist.quantile(0.99)), fmtCores(r.other), fmtErr(r))
		}
		return r
	}

	if needKeys {
		dir, err := os.MkdirTemp(c.dir, "epochbench-"+spec.name+"-")
		if err != nil {
			return results, err
		}
		defer os.RemoveAll(dir)
		e, err := spec.open(dir, modeDefault)
		if err != nil {
			return results, fmt.Errorf("open: %w", err)
		}
		profile(modeDefault, "load", func() *result { return load(rn, e, c.keys, c.ttl) })
		for _, s := range steps {
			if s.mode == modeDefault && s.wl.name != "load" && !freshStore(s.wl.name) {
				profile(s.mode, s.wl.name, func() *result { return runTimed(c, rn, e, s.wl.name) })
			}
		}
		if err := e.Close(); err != nil {
			return results, fmt.Errorf("close: %w", err)
		}
		if c.hasMode(modeDurable) {
			e, err := spec.open(dir, modeDurable)
			if err != nil {
				return results, fmt.Errorf("reopen in durable mode: %w", err)
			}
			for _, s := range steps {
				if s.mode == modeDurable && !freshStore(s.wl.name) {
					profile(s.mode, s.wl.name, func() *result { return runTimed(c, rn, e, s.wl.name) })
				}
			}
			if err := e.Close(); err != nil {
				return results, fmt.Errorf("close: %w", err)
			}
		}
		_ = os.RemoveAll(dir)
	}

	for _, s := range steps {
		if s.wl.name != "batch-load" {
			continue
		}
		dir, err := os.MkdirTemp(c.dir, "epochbench-"+spec.name+"-batch-")
		if err != nil {
			return results, err
		}
		e, err := spec.open(dir, s.mode)
		if err != nil {
			_ = os.RemoveAll(dir)
			return results, fmt.Errorf("open: %w", err)
		}
		profile(s.mode, s.wl.name, func() *result { return runBatchLoad(rn, e, c.batchKeys, c.ttl) })
		err = e.Close()
		_ = os.RemoveAll(dir)
		if err != nil {
			return results, fmt.Errorf("close: %w", err)
		}
	}

	for _, s := range steps {
		if s.wl.name != "expiry" {
			continue
		}
		dir, err := os.MkdirTemp(c.dir, "epochbench-"+spec.name+"-expiry-")
		if err != nil {
			return results, err
		}
		defer os.RemoveAll(dir)
		e, err := spec.open(dir, modeDefault)
		if err != nil {
			return results, fmt.Errorf("open: %w", err)
		}
		var runErr error
		profile(s.mode, "expiry", func() *result {
			r, err := runExpiry(rn, e, c.keys, c.fgKeys, c.churnWait, func(msg string) {
				progress("%-15s %-8s %-12s %s", spec.name, s.mode, "expiry", msg)
			})
			if err != nil {
				runErr = err
				return &result{err: err}
			}
			return r
		})
		if err := e.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("close: %w", err)
		}
		if runErr != nil {
			return results, runErr
		}
	}
	return results, nil
}

// runTimed runs a duration-bound workload on the loaded store.
func runTimed(c *config, rn *runner, e Engine, name string) *result {
	switch name {
	case "tx-uncontended", "tx-contended":
		return runTx(c, rn, e, name)
	}
	return rn.timed(c.duration, nil, name == "get-zipf", timedOp(name, e, c.keys, c.ttl))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func printHeader(c *config, out io.Writer) {
	fmt.Fprintf(out, "EpochDB comparison benchmark — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "Machine: %d CPUs (GOMAXPROCS %d), %s, %s/%s, %s; load average at start %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version(), loadAvg())
	dir := c.dir
	if dir == "" {
		dir = os.TempDir()
	}
	fmt.Fprintf(out, "Keys: %d of %d bytes (\"key:\" + 12 digits), values %d random bytes, TTL %v on every write\n",
		c.keys, len(keyPrefix)+12, c.valueSize, c.ttl)
	fmt.Fprintf(out, "Threads: %d goroutines in every workload; timed workloads run %v each; stores on disk under %s\n",
		c.threads, c.duration, dir)
	fmt.Fprintf(out, "time/op is wall time ÷ operations (all threads together); p50/p99 are per-operation latencies,\n")
	fmt.Fprintf(out, "which with %d threads on %d CPUs include waiting for a CPU. \"other CPU\" is the CPU time other processes\n", c.threads, runtime.NumCPU())
	fmt.Fprintf(out, "took during a run (in cores, from /proc/stat): the noise on a shared machine.\n\n")

	fmt.Fprintln(out, "Durability modes (the same for every engine):")
	fmt.Fprintln(out, "  default: writes acknowledged from memory, made durable periodically")
	fmt.Fprintln(out, "  durable: every write fsynced before it is acknowledged")
	fmt.Fprintln(out)
	t := newTable("engine", "default mode", "durable mode")
	t.right = []bool{false, false, false}
	for _, e := range c.engines {
		t.add(e.name, e.modes[modeDefault], e.modes[modeDurable])
	}
	t.render(out, c.markdown)
	t = newTable("engine", "TTL", "increment")
	t.right = []bool{false, false, false}
	for _, e := range c.engines {
		t.add(e.name, e.ttl, e.incr)
	}
	t.render(out, c.markdown)
	txOrBatch := false
	for _, w := range c.workloads {
		txOrBatch = txOrBatch || strings.HasPrefix(w.name, "tx-") || w.name == "batch-load"
	}
	if txOrBatch {
		t = newTable("engine", "read-write transaction", "batch load")
		t.right = []bool{false, false, false}
		for _, e := range c.engines {
			t.add(e.name, e.tx, e.batch)
		}
		t.render(out, c.markdown)
		fmt.Fprintf(out, "Transactions: tx-uncontended reads %d random keys of the %d loaded and writes them back (TTL %v);\n", txKeys, c.keys, c.ttl)
		fmt.Fprintf(out, "tx-contended moves 1-100 units between 2 of %d hot keys (no TTL), then checks every balance and the sum.\n", hotKeys)
		fmt.Fprintf(out, "batch-load writes %d keys (TTL %v) in one batch into a fresh store opened in the row's mode.\n\n", c.batchKeys, c.ttl)
	}
	fmt.Fprintln(out, "Workloads (load and the durable workloads share one store per engine; expiry and batch-load use fresh ones):")
	for _, w := range c.workloads {
		modes := make([]string, len(w.modes))
		for i, m := range w.modes {
			modes[i] = string(m)
		}
		fmt.Fprintf(out, "  %-14s %s [%s]\n", w.name, w.desc, strings.Join(modes, ", "))
	}
	fmt.Fprintln(out)
}
