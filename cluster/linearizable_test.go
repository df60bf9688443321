package cluster

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/epochdb/epochdb"
)

// A history of register operations on a few keys, run by concurrent
// clients against a three-node cluster while a nemesis stops and restarts
// nodes (the leader among them), must be linearizable (porcupine).
// Writes whose outcome the client could not know (an error after the
// proposal may have reached the log) may have happened or not: they are
// given no return time, so the checker may place them last.

type regInput struct {
	op    byte // 'g' get, 'p' put, 'i' increment
	key   string
	value int
}

type regOutput struct {
	value   int
	found   bool
	unknown bool // a write whose outcome is unknown
}

var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return regOutput{} }, // the key's state: value, found
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(regOutput), input.(regInput), output.(regOutput)
		switch in.op {
		case 'g':
			return out.found == st.found && (!st.found || out.value == st.value), st
		case 'p':
			return true, regOutput{value: in.value, found: true}
		default: // increment: a missing key counts from 0
			next := regOutput{value: st.value + 1, found: true}
			return out.unknown || out.value == next.value, next
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		return fmt.Sprintf("%c(%s,%d) -> %+v", in.op, in.key, in.value, out)
	},
}

// nodeSet is the running nodes, shared by the clients and the nemesis.
type nodeSet struct {
	mu sync.Mutex
	c  *testCluster
}

func (s *nodeSet) list() []*Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Node
	for _, n := range s.c.nodes {
		out = append(out, n)
	}
	return out
}

func TestCluster_LinearizableUnderRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load under a nemesis")
	}
	// Snapshots and log compaction run all along: restarted nodes come
	// back from their own snapshots, or the leader's.
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold, cfg.SnapshotInterval, cfg.TrailingLogs = 64, 50*time.Millisecond, 16
	})
	c.leader()
	set := &nodeSet{c: c}
	start := time.Now()
	stamp := func() int64 { return int64(time.Since(start)) }

	var mu sync.Mutex
	var history []porcupine.Operation
	record := func(client int, in regInput, call int64, out regOutput, ret int64) {
		mu.Lock()
		history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
		mu.Unlock()
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for client := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(client), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				in := regInput{key: fmt.Sprint("r", rng.IntN(3))}
				switch r := rng.IntN(10); {
				case r < 5:
					in.op = 'g'
				case r < 8:
					in.op, in.value = 'p', rng.IntN(1000)
				default:
					in.op = 'i'
				}
				call := stamp()
				out, err := runOp(set.list(), in)
				switch {
				case err == nil:
					record(client, in, call, out, stamp())
				case in.op != 'g' && !errors.Is(err, errNoLeader):
					// The write may have reached the log: unknown.
					record(client, in, call, regOutput{unknown: true}, math.MaxInt64)
				}
				// A read that failed, or a write no node would take, did
				// nothing: it is left out.
			}
		})
	}

	// The nemesis: stop a node (often the leader), restart it.
	rng := rand.New(rand.NewPCG(99, 1))
	deadline := time.Now().Add(4 * time.Second)
	restarts := 0
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		set.mu.Lock()
		var victim string
		for id, n := range c.nodes {
			victim = id
			if n.Leader() && rng.IntN(2) == 0 {
				break
			}
		}
		set.mu.Unlock()
		n := c.nodes[victim]
		_ = n.Close()
		set.mu.Lock()
		delete(c.nodes, victim)
		set.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		set.mu.Lock()
		c.start(victim)
		set.mu.Unlock()
		restarts++
	}
	close(stop)
	wg.Wait()

	ok := 0
	for _, op := range history {
		if !op.Output.(regOutput).unknown {
			ok++
		}
	}
	var snaps, installs uint64
	for _, n := range set.list() {
		m := n.Metrics()
		snaps, installs = snaps+m.Snapshots, installs+m.Restores
	}
	t.Logf("%d operations (%d with a known outcome), %d restarts; the running nodes took %d snapshots, installed %d",
		len(history), ok, restarts, snaps, installs)
	if ok < 50 {
		t.Fatalf("only %d operations completed: the cluster was not available enough to check", ok)
	}
	if res := porcupine.CheckOperationsTimeout(registerModel, history, 30*time.Second); res != porcupine.Ok {
		t.Fatalf("the history is not linearizable (%v)", res)
	}
	// The check can fail: a read of a value nobody wrote, after the end.
	end := stamp()
	bogus := append(history, porcupine.Operation{ClientId: 9, Input: regInput{op: 'g', key: "r0"},
		Call: end, Output: regOutput{value: -5, found: true}, Return: end + 1})
	if res := porcupine.CheckOperationsTimeout(registerModel, bogus, 30*time.Second); res != porcupine.Illegal {
		t.Fatalf("a history with an impossible read checks as %v", res)
	}
}

var errNoLeader = errors.New("no node accepted the operation")

// runOp runs in on whichever node leads: writes through its store (which
// replicates them), reads after confirming the leadership.
func runOp(nodes []*Node, in regInput) (regOutput, error) {
	var last error = errNoLeader
	for _, n := range nodes {
		if !n.Leader() {
			continue
		}
		db := n.DB()
		key := []byte(in.key)
		switch in.op {
		case 'g':
			if err := n.VerifyLeader(); err != nil {
				last = errNoLeader
				continue
			}
			v, err := db.Get(key)
			if errors.Is(err, epochdb.ErrNotFound) {
				return regOutput{}, nil
			}
			if err != nil {
				return regOutput{}, err
			}
			x, _ := strconv.Atoi(string(v))
			return regOutput{value: x, found: true}, nil
		case 'p':
			err := db.Set(key, []byte(strconv.Itoa(in.value)), 0)
			if errors.Is(err, epochdb.ErrNotLeader) && !n.Leader() {
				last = err
				continue
			}
			return regOutput{}, err
		default:
			var next int
			err := db.Modify(key, func(cur epochdb.Entry, exists bool) (epochdb.Change, error) {
				x := 0
				if exists {
					x, _ = strconv.Atoi(string(cur.Value))
				}
				next = x + 1
				return epochdb.Change{Action: epochdb.Put, Value: []byte(strconv.Itoa(next))}, nil
			})
			if err != nil {
				return regOutput{}, err
			}
			return regOutput{value: next, found: true}, nil
		}
	}
	return regOutput{}, last
}
