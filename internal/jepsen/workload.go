package jepsen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Workload drives concurrent clients against a cluster's nodes, each
// operation sent to a node chosen at random (a CAS to the node believed to
// lead: followers refuse WATCH), and records every operation in a History.
//
// Register keys (r…) take GET, SET and CAS; counter keys (c…) take INCR
// and GET; unique keys (u…) are each SET once; TTL keys (t…) are SET with
// a deadline of tens of minutes (the clock jumps make some expire). The
// register and counter keys change every OpsPerGeneration operations, so
// that the history of each key stays short enough to check.
type Workload struct {
	C       *Cluster
	H       *History
	Clients int
	Seed    uint64
	// OpTimeout bounds one operation; past it the outcome is unknown.
	OpTimeout time.Duration
	// OpsPerGeneration: the operations after which the register and
	// counter keys are replaced by new ones.
	OpsPerGeneration int64

	started atomic.Int64
	hint    atomic.Pointer[Node] // the node believed to lead
	redis   map[string]*redis.Client

	mu   sync.Mutex // guards keys
	keys map[string]bool
}

const (
	registerKeys = 4
	counterKeys  = 2
)

func (w *Workload) init() {
	w.redis = map[string]*redis.Client{}
	for _, n := range w.C.Nodes {
		w.redis[n.ID] = redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1, PoolSize: 2 * w.Clients,
			DialTimeout: time.Second, ReadTimeout: w.OpTimeout, WriteTimeout: w.OpTimeout, PoolTimeout: w.OpTimeout,
			ContextTimeoutEnabled: true})
	}
	w.keys = map[string]bool{}
}

// Close closes the clients.
func (w *Workload) Close() {
	for _, c := range w.redis {
		_ = c.Close()
	}
}

// Run runs the clients until stop is closed.
func (w *Workload) Run(stop <-chan struct{}) {
	if w.redis == nil {
		w.init()
	}
	var wg sync.WaitGroup
	for i := range w.Clients {
		wg.Go(func() { w.client(i, stop) })
	}
	wg.Wait()
}

func (w *Workload) client(id int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(w.Seed, uint64(id)))
	proc := id // a client whose operation's outcome is unknown goes on as another
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		op := w.next(rng, id, seq)
		op.Client = proc
		w.run(&op, rng)
		w.H.Add(op)
		if op.Status == Unknown {
			proc += w.Clients
		}
		if op.Status == Fail {
			time.Sleep(10 * time.Millisecond) // no leader yet: do not spin
		}
	}
}

// next chooses an operation.
func (w *Workload) next(rng *rand.Rand, client, seq int) Op {
	gen := w.started.Add(1) / w.OpsPerGeneration
	reg := fmt.Sprintf("r%d.%d", gen, rng.IntN(registerKeys))
	ctr := fmt.Sprintf("c%d.%d", gen, rng.IntN(counterKeys))
	switch r := rng.IntN(100); {
	case r < 15:
		return Op{Kind: Get, Key: reg}
	case r < 25:
		return Op{Kind: Get, Key: ctr}
	case r < 42:
		return Op{Kind: Set, Key: reg, Value: rng.Int64N(5)}
	case r < 57:
		return Op{Kind: Incr, Key: ctr}
	case r < 75:
		return Op{Kind: CAS, Key: reg, Old: rng.Int64N(5), Value: rng.Int64N(5)}
	case r < 90:
		return Op{Kind: Unique, Key: fmt.Sprintf("u%d.%d", client, seq), Value: int64(seq)}
	default:
		return Op{Kind: TTL, Key: fmt.Sprintf("t%d.%d", client, seq), Value: 10 + rng.Int64N(50)} // minutes
	}
}

// run performs op and records its outcome in it.
func (w *Workload) run(op *Op, rng *rand.Rand) {
	w.mu.Lock()
	w.keys[op.Key] = true
	w.mu.Unlock()
	node := w.C.Nodes[rng.IntN(len(w.C.Nodes))]
	if h := w.hint.Load(); op.Kind == CAS && h != nil {
		node = h
	}
	op.Node = node.ID
	c := w.redis[node.ID]
	ctx, cancel := context.WithTimeout(context.Background(), w.OpTimeout)
	defer cancel()
	op.Call = w.H.Now()
	var err error
	switch op.Kind {
	case Get:
		var v int64
		v, err = c.Get(ctx, op.Key).Int64()
		if errors.Is(err, redis.Nil) {
			err = nil
		} else if err == nil {
			op.Result, op.Found = v, true
		}
	case Set, Unique:
		err = c.Set(ctx, op.Key, op.Value, 0).Err()
	case TTL:
		err = c.Set(ctx, op.Key, op.Value, time.Duration(op.Value)*time.Minute).Err()
	case Incr:
		op.Result, err = c.Incr(ctx, op.Key).Result()
		op.Found = err == nil
	case CAS:
		err = w.cas(ctx, c, op)
	}
	op.Return = w.H.Now()
	op.Status, op.Err = classify(err)
	if op.Status != OK {
		w.learnLeader(err)
	}
}

// errMismatch ends a CAS whose key did not hold the expected value.
var errMismatch = errors.New("the key does not hold the expected value")

// cas is WATCH key, GET key, then MULTI SET EXEC if it holds op.Old.
func (w *Workload) cas(ctx context.Context, c *redis.Client, op *Op) error {
	sent := false
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		v, err := tx.Get(ctx, op.Key).Int64()
		switch {
		case errors.Is(err, redis.Nil):
			op.Found = false
			return errMismatch
		case err != nil:
			return err
		case v != op.Old:
			op.Result, op.Found = v, true
			return errMismatch
		}
		sent = true
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, op.Key, op.Value, 0)
			return nil
		})
		return err
	}, op.Key)
	switch {
	case err == nil:
		op.Applied = true
		return nil
	case errors.Is(err, errMismatch):
		return nil // a read
	case errors.Is(err, redis.TxFailedErr):
		return failErr{err} // EXEC answered nil: aborted, nothing written
	case !sent:
		// WATCH or GET failed (refused, a timeout, a lost connection):
		// the write was never sent.
		return failErr{err}
	}
	return err
}

// failErr is an error after which the operation certainly did nothing.
type failErr struct{ error }

func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// definite are the error codes that say a command did not run: the
// server refused it (a follower or a deposed leader that cannot write, no
// leader yet, EXEC discarded).
var definite = []string{"READONLY", "TRYAGAIN", "EXECABORT", "MOVED", "ASK", "CLUSTERDOWN", "MASTERDOWN", "LOADING"}

// classify turns an operation's error into its status and a short text.
func classify(err error) (Status, string) {
	if err == nil {
		return OK, ""
	}
	msg := err.Error()
	var fe failErr
	var op *net.OpError
	switch {
	case errors.As(err, &fe):
		return Fail, msg
	case errors.As(err, &op) && op.Op == "dial", errors.Is(err, redis.ErrPoolTimeout):
		return Fail, msg // never sent
	case isRedisError(err):
		code, _, _ := strings.Cut(msg, " ")
		for _, d := range definite {
			if code == d {
				return Fail, msg
			}
		}
	}
	return Unknown, msg
}

// learnLeader notes the leader a refusal names ("… at host:port").
func (w *Workload) learnLeader(err error) {
	msg := err.Error()
	i := strings.LastIndex(msg, " at ")
	if i < 0 {
		return
	}
	addr := strings.Fields(msg[i+4:])
	if len(addr) == 0 {
		return
	}
	for _, n := range w.C.Nodes {
		if n.Addr == strings.TrimRight(addr[0], ",.;:") {
			w.hint.Store(n)
			return
		}
	}
}

// FinalReads reads every register and counter key the run used through
// the node that leads (linearizable reads) and adds them to the history:
// an acknowledged write that was lost shows as a read the model cannot
// explain.
func (w *Workload) FinalReads(ctx context.Context) error {
	w.mu.Lock()
	var keys []string
	for k := range w.keys {
		if k[0] == 'r' || k[0] == 'c' {
			keys = append(keys, k)
		}
	}
	w.mu.Unlock()
	for _, k := range keys {
		deadline := time.Now().Add(30 * time.Second)
		for {
			l, err := w.C.WaitLeader(ctx, 30*time.Second)
			if err != nil {
				return err
			}
			op := Op{Client: -1, Node: l.ID, Kind: Get, Key: k, Call: w.H.Now()}
			rctx, cancel := context.WithTimeout(ctx, w.OpTimeout)
			v, err := w.redis[l.ID].Get(rctx, k).Int64()
			cancel()
			op.Return = w.H.Now()
			if errors.Is(err, redis.Nil) {
				err = nil
			} else if err == nil {
				op.Result, op.Found = v, true
			}
			if err == nil {
				op.Status = OK
				w.H.Add(op)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("final read of %s: %w", k, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Counters checks each counter key's final value (the final reads) against
// its increments: at least those acknowledged, at most those acknowledged
// plus those whose outcome is unknown. It returns the violations.
func Counters(ops []Op) []string {
	type tally struct {
		ok, unknown int64
		final       int64
		read        bool
		failed      []string
	}
	by := map[string]*tally{}
	for _, o := range ops {
		if o.Key[0] != 'c' {
			continue
		}
		t := by[o.Key]
		if t == nil {
			t = &tally{}
			by[o.Key] = t
		}
		switch {
		case o.Kind == Incr && o.Status == OK:
			t.ok++
		case o.Kind == Incr && o.Status == Unknown:
			t.unknown++
		case o.Kind == Incr && o.Status == Fail && len(t.failed) < 3:
			t.failed = append(t.failed, o.String())
		case o.Kind == Get && o.Client == -1:
			t.final, t.read = o.Result, true
		}
	}
	var bad []string
	for k, t := range by {
		if t.read && (t.final < t.ok || t.final > t.ok+t.unknown) {
			bad = append(bad, fmt.Sprintf("%s = %d after %d acknowledged and %d unknown increments; refused ones: %v", k, t.final, t.ok, t.unknown, t.failed))
		}
	}
	return bad
}
