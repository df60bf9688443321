package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// RunConfig is one run of the harness: a cluster, a workload, faults.
type RunConfig struct {
	Config
	Clients int
	// Faults are injected one after the other, in this order.
	Faults []string
	// Hold is how long each fault lasts; Recover the quiet time after it.
	Hold, Recover time.Duration
	Seed          uint64
}

// Report is what a run did and found.
type Report struct {
	Ops       []Op
	Counts    map[Status]int
	Nemesis   []string
	Faults    int
	Failovers []time.Duration
	Expiries  int
	Keys      int // in the final state
	// Problems are the violations found; a correct cluster has none.
	Problems []string
}

// Run runs rc: it starts the cluster, runs the workload while the faults
// are injected one by one, heals everything, and checks the history and
// the nodes' final state. Then every node is killed with SIGKILL at once
// and restarted, and must come back with the same state. An error is a
// failure of the harness itself (a node that would not start).
func Run(ctx context.Context, rc RunConfig) (Report, error) {
	var rep Report
	c, err := StartCluster(rc.Config)
	if err != nil {
		return rep, err
	}
	defer c.Stop()
	logf := rc.Logf
	if _, err := c.WaitLeader(ctx, 30*time.Second); err != nil {
		return rep, err
	}
	h := NewHistory()
	w := &Workload{C: c, H: h, Clients: rc.Clients, Seed: rc.Seed, OpTimeout: 3 * time.Second, OpsPerGeneration: 600}
	w.init()
	defer w.Close()
	nem := &Nemesis{C: c, H: h, Rng: rand.New(rand.NewPCG(rc.Seed, 1)), Hold: rc.Hold, Recover: rc.Recover, Logf: logf}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { w.Run(stop); close(done) }()
	time.Sleep(rc.Recover)
	for _, f := range rc.Faults {
		if err := nem.Run(ctx, f); err != nil {
			close(stop)
			<-done
			return rep, fmt.Errorf("fault %s: %w", f, err)
		}
		rep.Faults++
		time.Sleep(rc.Recover)
	}
	close(stop)
	<-done
	rep.Nemesis, rep.Failovers = nem.Log(), nem.Failovers()

	// Heal: every node runs, with the wall clock.
	c.Net.Heal()
	for _, n := range c.Nodes {
		c.Resume(n)
		if !n.Running() {
			if err := c.Start(n); err != nil {
				return rep, err
			}
		}
	}
	if err := nem.ResetClocks(ctx); err != nil {
		return rep, err
	}
	phase := func(what string) {
		if logf != nil {
			logf("harness: %8v %s", h.Now().Round(time.Millisecond), what)
		}
	}
	phase("healed; final reads")
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }
	if err := w.FinalReads(ctx); err != nil {
		problem("final reads: %v", err)
	}
	rep.Ops = h.Ops()
	rep.Counts = Counts(rep.Ops)

	phase("checking linearizability")
	res, key, bad := Linearizable(rep.Ops, 2*time.Minute, filepath.Join(rc.Dir, "history.html"))
	switch res {
	case porcupine.Illegal:
		problem("the history is not linearizable (porcupine; %s); the first key's operations:\n%s\nwhere the nodes ran them:\n%s",
			filepath.Join(rc.Dir, "history.html"), bad, c.Traces(key, h.Start()))
	case porcupine.Unknown:
		problem("porcupine could not decide within its time limit")
	}
	for _, b := range Counters(rep.Ops) {
		problem("counter: %s", b)
	}
	phase("comparing the nodes")
	st, err := Converge(ctx, c.Nodes, time.Minute)
	if err != nil {
		problem("after healing: %v", err)
	} else {
		rep.Keys = len(st.Keys)
		for _, b := range Uniques(rep.Ops, st) {
			problem("unique keys: %s", b)
		}
		bad, n := Expiries(st)
		rep.Expiries = n
		for _, b := range bad {
			problem("expiry: %s", b)
		}
	}

	// Every node killed at once, then restarted: what the nodes held is
	// what they hold again (the raft log is fsynced whatever appendfsync
	// says; a store that lost its last writes replays them).
	if err == nil {
		phase("killing and restarting every node")
		for _, n := range c.Nodes {
			c.Kill(n)
		}
		if err := c.StartAll(); err != nil {
			return rep, err
		}
		phase("restarted every node")
		if _, err := c.WaitLeader(ctx, 30*time.Second); err != nil {
			problem("after restarting every node: %v", err)
		} else if again, err := Converge(ctx, c.Nodes, time.Minute); err != nil {
			problem("after restarting every node: %v", err)
		} else if d := Diff(st, again); d != "" {
			problem("after restarting every node, the state differs from before:\n%s", d)
		}
	}
	phase("done")
	for _, crash := range c.Crashes() {
		problem("crash: %s", crash)
	}
	slices.Sort(rep.Failovers)
	return rep, nil
}
