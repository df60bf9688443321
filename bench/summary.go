package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// primary is the engine the ratios are about.
const primary = "epochdb"

type resultKey struct {
	engine   string
	mode     mode
	workload string
}

func index(results []*result) map[resultKey]*result {
	m := map[resultKey]*result{}
	for _, r := range results {
		if r.err == nil && r.ops > 0 {
			m[resultKey{r.engine, r.mode, r.workload}] = r
		}
	}
	return m
}

// ratio is EpochDB's time per op divided by engine's on one step; 0 if
// either is missing.
func ratio(idx map[resultKey]*result, engine string, m mode, wl string) float64 {
	a, b := idx[resultKey{primary, m, wl}], idx[resultKey{engine, m, wl}]
	if a == nil || b == nil {
		return 0
	}
	return a.nsPerOp() / b.nsPerOp()
}

func printResults(c *config, out io.Writer, steps []step, results []*result) {
	idx := index(results)
	md := c.markdown
	heading := func(s string) {
		if md {
			fmt.Fprintf(out, "#### %s\n\n", s)
		} else {
			fmt.Fprintf(out, "== %s\n\n", s)
		}
	}

	failed := map[resultKey]*result{}
	for _, r := range results {
		if r.err != nil {
			failed[resultKey{r.engine, r.mode, r.workload}] = r
		}
	}
	for _, s := range steps {
		switch s.wl.name {
		case "expiry":
			continue
		case "tx-uncontended", "tx-contended":
			heading(fmt.Sprintf("%s — %s mode, %d threads", s.wl.name, s.mode, c.threads))
			printTxTable(c, out, idx, failed, s)
			continue
		case "batch-load":
			heading(fmt.Sprintf("batch-load — %d keys in one batch, %s mode", c.batchKeys, s.mode))
			printBatchTable(c, out, idx, failed, s)
			continue
		}
		heading(fmt.Sprintf("%s — %s mode, %d threads", s.wl.name, s.mode, c.threads))
		t := newTable("engine", "ops/s", "time/op", "p50", "p99", primary+" ÷ this", "other CPU")
		for _, e := range c.engines {
			r := idx[resultKey{e.name, s.mode, s.wl.name}]
			if r == nil {
				t.add(e.name, "failed", "", "", "", "")
				continue
			}
			note := ""
			if r.misses > 0 {
				note = fmt.Sprintf(" (%d misses!)", r.misses)
			}
			t.add(e.name, fmtRate(r.opsPerSec())+note, fmtDur(time.Duration(r.nsPerOp())),
				fmtDur(r.hist.quantile(0.5)), fmtDur(r.hist.quantile(0.99)),
				fmtRatio(ratio(idx, e.name, s.mode, s.wl.name)), fmtCores(r.other))
		}
		t.render(out, md)
	}

	for _, s := range steps {
		if s.wl.name != "expiry" {
			continue
		}
		heading(fmt.Sprintf("expiry — %d keys with 1–2s TTL, then a 90/10 mix on %d other keys (%d threads)",
			c.keys, c.fgKeys, c.threads))
		t := newTable("engine", "load ops/s", "reclaimed after last deadline", "mix ops/s meanwhile", "mix p50", "mix p99", "mix window", "other CPU")
		for _, e := range c.engines {
			r := idx[resultKey{e.name, s.mode, "expiry"}]
			if r == nil || r.expiry == nil {
				t.add(e.name, "failed")
				continue
			}
			x := r.expiry
			reclaim := "n/a: no active expiry"
			switch {
			case x.reclaimed:
				reclaim = fmtDur(x.reclaimAfter)
			case x.active:
				reclaim = fmt.Sprintf("not within %v (%d left)", c.churnWait, x.left)
			}
			t.add(e.name, fmtRate(x.load.opsPerSec()), reclaim, fmtRate(r.opsPerSec()),
				fmtDur(r.hist.quantile(0.5)), fmtDur(r.hist.quantile(0.99)), fmtDur(x.window), fmtCores(r.other))
		}
		t.render(out, md)
		fmt.Fprintln(out, "Reclaimed = the engine itself removed every expired record (EpochDB: Len() back to the persistent")
		fmt.Fprintln(out, "keys; BuntDB: Tx.Len()). Pebble and bbolt have no expiry; Badger drops expired entries only when")
		fmt.Fprintln(out, "compaction rewrites their tables, which it was not asked to do. For engines without active expiry")
		fmt.Fprintln(out, "the mix runs until 1s past the last deadline.")
		fmt.Fprintln(out)
	}

	if idx := index(results); !hasEngine(c, primary) || len(idx) == 0 {
		return
	}
	var peers []string
	for _, e := range c.engines {
		if e.name != primary {
			peers = append(peers, e.name)
		}
	}
	if len(peers) > 0 {
		heading("EpochDB time per op ÷ each engine's (below 1 = EpochDB faster)")
		head := []string{"workload", "mode"}
		for _, p := range peers {
			head = append(head, "÷ "+p)
		}
		t := newTable(head...)
		t.right[1] = false
		for _, s := range steps {
			wl := s.wl.name
			label := wl
			if wl == "expiry" {
				label = "expiry (mix meanwhile)"
			}
			row := []string{label, string(s.mode)}
			for _, p := range peers {
				row = append(row, fmtRatio(ratio(idx, p, s.mode, wl)))
			}
			t.add(row...)
		}
		t.render(out, md)
	}
	printTargets(c, out, idx, steps)
}

// failure describes why an engine has no figures for a step.
func failure(failed map[resultKey]*result, k resultKey) string {
	r := failed[k]
	if r == nil {
		return "failed"
	}
	return "failed: " + fmtErr(r)
}

func printTxTable(c *config, out io.Writer, idx, failed map[resultKey]*result, s step) {
	t := newTable("engine", "tx/s", "time/tx", "p50", "p99", "retries", "per 1k tx", primary+" ÷ this", "other CPU")
	var notes []string
	for _, e := range c.engines {
		k := resultKey{e.name, s.mode, s.wl.name}
		r := idx[k]
		if r == nil || r.txr == nil {
			t.add(e.name, failure(failed, k))
			continue
		}
		rate := fmtRate(r.opsPerSec())
		if r.misses > 0 {
			rate += fmt.Sprintf(" (%d misses!)", r.misses)
		}
		t.add(e.name, rate, fmtDur(time.Duration(r.nsPerOp())),
			fmtDur(r.hist.quantile(0.5)), fmtDur(r.hist.quantile(0.99)),
			fmt.Sprint(r.txr.retries), fmt.Sprintf("%.1f", 1000*float64(r.txr.retries)/float64(r.ops)),
			fmtRatio(ratio(idx, e.name, s.mode, s.wl.name)), fmtCores(r.other))
		if x := r.txr.counters; x != nil {
			notes = append(notes, fmt.Sprintf("%s's own counters: %d commits, %d conflicts, %d retries inside Update, %d Updates gave up after TxMaxRetries (re-run by the adapter)",
				e.name, x.commits, x.conflicts, x.retries, x.gaveUp))
		}
		if r.txr.check != "" {
			notes = append(notes, fmt.Sprintf("%s end state: %s", e.name, r.txr.check))
		}
	}
	t.render(out, c.markdown)
	fmt.Fprintln(out, "retries = runs of the transaction function beyond one per committed transaction.")
	for _, n := range notes {
		fmt.Fprintln(out, n+".")
	}
	fmt.Fprintln(out)
}

func printBatchTable(c *config, out io.Writer, idx, failed map[resultKey]*result, s step) {
	t := newTable("engine", "keys/s", "MB/s", "total", "build", "commit", primary+" ÷ this", "other CPU")
	for _, e := range c.engines {
		k := resultKey{e.name, s.mode, s.wl.name}
		r := idx[k]
		if r == nil || r.batch == nil {
			t.add(e.name, failure(failed, k))
			continue
		}
		x := r.batch
		t.add(e.name, fmtRate(r.opsPerSec()), fmt.Sprintf("%.1f", float64(x.bytes)/1e6/r.elapsed.Seconds()),
			fmtDur(r.elapsed), fmtDur(x.build), fmtDur(x.commit),
			fmtRatio(ratio(idx, e.name, s.mode, s.wl.name)), fmtCores(r.other))
	}
	t.render(out, c.markdown)
	fmt.Fprintln(out, "MB/s counts keys + values. build = the Set calls, commit = Commit (Badger: WriteBatch.Flush; its WriteBatch")
	fmt.Fprintln(out, "commits transactions while it is built and is not atomic). The ratio compares total times.")
	fmt.Fprintln(out)
}

func hasEngine(c *config, name string) bool {
	for _, e := range c.engines {
		if e.name == name {
			return true
		}
	}
	return false
}

// printTargets checks the targets against the measured ratios, for
// the workloads that were selected. It reports; it asserts nothing.
func printTargets(c *config, out io.Writer, idx map[resultKey]*result, steps []step) {
	md := c.markdown
	selected := map[resultKey]bool{}
	for _, s := range steps {
		selected[resultKey{"", s.mode, s.wl.name}] = true
	}
	t := newTable("target", "measured", "verdict")
	t.right = []bool{false, false, false}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	within := func(what, wl string, m mode, limit float64) {
		x := ratio(idx, "pebble", m, wl)
		if x == 0 || !selected[resultKey{"", m, wl}] {
			return
		}
		t.add(fmt.Sprintf("%s (%s, %s): ≤ %.2f× raw Pebble's time/op", what, wl, m, limit), fmtRatio(x), verdict(x <= limit))
	}
	within("Get", "get-uniform", modeDefault, 1.25)
	within("Get", "get-zipf", modeDefault, 1.25)
	within("Set with TTL", "load", modeDefault, 2)
	within("Set with TTL", "set", modeDefault, 2)
	within("Set with TTL", "set", modeDurable, 2)
	ahead := func(what, wl string, m mode) {
		var parts []string
		all := true
		for _, p := range []string{"badger", "buntdb", "bbolt"} {
			x := ratio(idx, p, m, wl)
			if x == 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %s", p, fmtRatio(x)))
			all = all && x < 1
		}
		if len(parts) == 0 || !selected[resultKey{"", m, wl}] {
			return
		}
		t.add(fmt.Sprintf("%s (%s, %s): ahead of Badger, BuntDB, bbolt", what, wl, m), strings.Join(parts, ", "), verdict(all))
	}
	ahead("durable TTL writes", "set", modeDurable)
	ahead("durable TTL writes", "mix", modeDurable)
	for _, m := range []mode{modeDefault, modeDurable} {
		ahead("increments", "incr-many", m)
		ahead("increments", "incr-hot", m)
	}
	if len(t.rows) == 0 {
		return
	}
	if md {
		fmt.Fprintf(out, "#### Targets\n\n")
	} else {
		fmt.Fprintf(out, "== Targets\n\n")
	}
	t.render(out, md)
}
