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

	for _, s := range steps {
		if s.wl.name == "expiry" {
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
	printTargets(c, out, idx)
}

func hasEngine(c *config, name string) bool {
	for _, e := range c.engines {
		if e.name == name {
			return true
		}
	}
	return false
}

// printTargets checks the targets against the measured ratios. It
// reports; it asserts nothing.
func printTargets(c *config, out io.Writer, idx map[resultKey]*result) {
	md := c.markdown
	if md {
		fmt.Fprintf(out, "#### Targets\n\n")
	} else {
		fmt.Fprintf(out, "== Targets\n\n")
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
		if x == 0 {
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
		if len(parts) == 0 {
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
	t.render(out, md)
}
