package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Nemesis injects faults into a Cluster, one at a time: each fault lasts
// Hold, then is healed (killed nodes restarted, paused ones resumed, the
// network healed) and the cluster is left to recover for Recover.
type Nemesis struct {
	C       *Cluster
	H       *History
	Rng     *rand.Rand
	Hold    time.Duration
	Recover time.Duration
	Logf    func(format string, args ...any)

	mu        sync.Mutex
	log       []string        // what was done, when (history time)
	failovers []time.Duration // leader killed → a write accepted
	clocks    map[string]time.Duration
}

// Faults are the nemesis's faults by name.
var Faults = []string{
	"kill-leader", "kill-follower", "kill-majority", "pause-leader", "pause-follower",
	"isolate-leader", "split", "bridge", "one-way-leader", "clock-jump",
}

func (n *Nemesis) note(format string, args ...any) {
	line := fmt.Sprintf("%8v ", n.H.Now().Round(time.Millisecond)) + fmt.Sprintf(format, args...)
	n.mu.Lock()
	n.log = append(n.log, line)
	n.mu.Unlock()
	if n.Logf != nil {
		n.Logf("nemesis: %s", line)
	}
}

// Log returns what the nemesis did.
func (n *Nemesis) Log() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.log...)
}

// Failovers returns the failover times measured.
func (n *Nemesis) Failovers() []time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]time.Duration(nil), n.failovers...)
}

// leader returns the node that leads, waiting for one a while; nil if none
// (a fault that needs one then picks any node).
func (n *Nemesis) leader(ctx context.Context) *Node {
	l, err := n.C.WaitLeader(ctx, 10*time.Second)
	if err != nil {
		return n.C.Nodes[n.Rng.IntN(len(n.C.Nodes))]
	}
	return l
}

// others returns the nodes except x, in a random order.
func (n *Nemesis) others(x *Node) []*Node {
	var out []*Node
	for _, m := range n.C.Nodes {
		if m != x {
			out = append(out, m)
		}
	}
	n.Rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Run injects the fault named name and heals it.
func (n *Nemesis) Run(ctx context.Context, name string) error {
	c := n.C
	switch name {
	case "kill-leader":
		l := n.leader(ctx)
		n.note("kill -9 leader %s", l.ID)
		killed := time.Now()
		c.Kill(l)
		if d, err := n.measureFailover(ctx, killed); err == nil {
			n.note("failover: a write accepted %v after the leader was killed", d.Round(time.Millisecond))
			n.mu.Lock()
			n.failovers = append(n.failovers, d)
			n.mu.Unlock()
		} else {
			n.note("failover: %v", err)
		}
		time.Sleep(n.Hold / 2)
		return n.restart(l)
	case "kill-follower":
		f := n.others(n.leader(ctx))[0]
		n.note("kill -9 follower %s", f.ID)
		c.Kill(f)
		time.Sleep(n.Hold)
		return n.restart(f)
	case "kill-majority":
		victims := n.others(nil)[:len(c.Nodes)/2+1]
		n.note("kill -9 a majority %v", sortedIDs(victims))
		for _, v := range victims {
			c.Kill(v)
		}
		time.Sleep(n.Hold / 2)
		for _, v := range victims {
			if err := n.restart(v); err != nil {
				return err
			}
		}
	case "pause-leader", "pause-follower":
		v := n.leader(ctx)
		if name == "pause-follower" {
			v = n.others(v)[0]
		}
		n.note("SIGSTOP %s (%s)", v.ID, strings.TrimPrefix(name, "pause-"))
		c.Pause(v)
		time.Sleep(n.Hold)
		c.Resume(v)
		n.note("SIGCONT %s", v.ID)
	case "isolate-leader":
		l := n.leader(ctx)
		n.partition(fmt.Sprintf("isolate leader %s", l.ID), func(a, b string) bool { return a != l.ID && b != l.ID })
	case "split":
		ids := n.C.IDs()
		n.Rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		minority := ids[:len(ids)/2]
		in := func(id string) bool { return slices.Contains(minority, id) }
		sort.Strings(minority)
		n.partition(fmt.Sprintf("split: minority %v", minority), func(a, b string) bool { return in(a) == in(b) })
	case "bridge":
		// Two halves that cannot reach each other, and one node that
		// reaches both: with 3 nodes a - b - c, with 5 {a,b} - c - {d,e}.
		ids := n.C.IDs()
		n.Rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		half := len(ids) / 2
		side := map[string]int{}
		for i, id := range ids {
			switch {
			case i < half:
				side[id] = 1
			case i > half:
				side[id] = 2
			}
		}
		n.partition(fmt.Sprintf("bridge through %s", ids[half]), func(a, b string) bool {
			return side[a] == 0 || side[b] == 0 || side[a] == side[b]
		})
	case "one-way-leader":
		l := n.leader(ctx)
		for _, o := range n.others(l) {
			c.Net.Cut(l.ID, o.ID)
		}
		n.note("one-way: the leader %s's bytes to the others held (it still hears them)", l.ID)
		time.Sleep(n.Hold)
		c.Net.Heal()
		n.note("healed")
	case "clock-jump":
		// Every node's store clock jumps by up to ±30 min (the leader's
		// forward, so that TTL keys expire), then the leader is killed so
		// that a node with another clock takes over.
		l := n.leader(ctx)
		for _, m := range c.Nodes {
			d := time.Duration(n.Rng.IntN(61)-30) * time.Minute
			if m == l {
				d = time.Duration(15+n.Rng.IntN(16)) * time.Minute
			}
			if err := n.jumpClock(ctx, m, d); err != nil {
				n.note("clock jump of %s: %v", m.ID, err)
			}
		}
		time.Sleep(n.Hold / 2)
		n.note("kill -9 leader %s after the clock jumps", l.ID)
		c.Kill(l)
		time.Sleep(n.Hold / 2)
		return n.restart(l)
	default:
		return fmt.Errorf("no fault %q", name)
	}
	return nil
}

// partition cuts the links connected reports false for, holds, heals.
func (n *Nemesis) partition(what string, connected func(a, b string) bool) {
	n.C.Net.Partition(n.C.IDs(), connected)
	cuts := n.C.Net.Cuts()
	sort.Strings(cuts)
	n.note("%s (cut %v)", what, cuts)
	time.Sleep(n.Hold)
	n.C.Net.Heal()
	n.note("healed")
}

func (n *Nemesis) restart(v *Node) error {
	if err := n.C.Start(v); err != nil {
		return err
	}
	// A restarted process reads the wall clock; it keeps its jump.
	n.mu.Lock()
	d := n.clocks[v.ID]
	n.mu.Unlock()
	if d != 0 {
		if err := n.setClock(context.Background(), v, d); err != nil {
			return err
		}
	}
	n.note("restarted %s", v.ID)
	return nil
}

// jumpClock moves v's store clock by d (EPOCH.DEBUG CLOCK JUMP).
func (n *Nemesis) jumpClock(ctx context.Context, v *Node, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	off, err := v.Admin.Do(ctx, "EPOCH.DEBUG", "CLOCK", "JUMP", d.Milliseconds()).Int64()
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.clocks == nil {
		n.clocks = map[string]time.Duration{}
	}
	n.clocks[v.ID] = time.Duration(off) * time.Millisecond
	n.mu.Unlock()
	n.note("clock of %s jumped %v (offset now %v)", v.ID, d, time.Duration(off)*time.Millisecond)
	return nil
}

// setClock sets v's store clock's offset (EPOCH.DEBUG CLOCK SET).
func (n *Nemesis) setClock(ctx context.Context, v *Node, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return v.Admin.Do(ctx, "EPOCH.DEBUG", "CLOCK", "SET", d.Milliseconds()).Err()
}

// ResetClocks sets every node's store clock back to the wall clock (before
// the final comparison: a follower's reads judge deadlines by its own
// clock).
func (n *Nemesis) ResetClocks(ctx context.Context) error {
	for _, v := range n.C.Nodes {
		if err := n.setClock(ctx, v, 0); err != nil {
			return fmt.Errorf("%s: %w", v.ID, err)
		}
	}
	n.mu.Lock()
	clear(n.clocks)
	n.mu.Unlock()
	return nil
}

// measureFailover writes through the surviving nodes until one write is
// acknowledged, and returns the time since the leader was killed.
func (n *Nemesis) measureFailover(ctx context.Context, killed time.Time) (time.Duration, error) {
	deadline := killed.Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		for _, v := range n.C.Nodes {
			if !v.Running() {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			err := v.Admin.Set(wctx, "failover", i, 0).Err()
			cancel()
			if err == nil {
				return time.Since(killed), nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("no write accepted within 30s of the leader's death")
}
