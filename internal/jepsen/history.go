package jepsen

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is an operation of the workload.
type Kind byte

const (
	Get    Kind = 'g' // GET key
	Set    Kind = 's' // SET key value
	Incr   Kind = 'i' // INCR key
	CAS    Kind = 'c' // WATCH key, GET key, MULTI SET key new EXEC if it held old
	Unique Kind = 'u' // SET of a key written once (the lost-write check)
	TTL    Kind = 't' // SET key value PX ttl (the expiry check)
)

// Status is what the client learned of an operation's outcome.
type Status byte

const (
	// OK: the operation took effect (a read read, a write was
	// acknowledged).
	OK Status = iota + 1
	// Fail: the operation certainly did not take effect (READONLY,
	// TRYAGAIN, EXEC aborted by WATCH): it is left out of the checks.
	Fail
	// Unknown: the client could not learn the outcome (a timeout, a lost
	// connection, any other error): a write may have taken effect, at any
	// time after its call, even after the run.
	Unknown
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	case Unknown:
		return "unknown"
	}
	return "?"
}

// Op is one operation of the history.
type Op struct {
	Client int
	Node   string // where the client sent it
	Kind   Kind
	Key    string
	Value  int64 // SET's value, CAS's new value
	Old    int64 // CAS's expected value
	Call   time.Duration
	Return time.Duration
	Status Status
	// The outcome, for OK: what GET read or INCR returned (Found false: no
	// key), whether a CAS applied (Applied) or what it read instead.
	Result  int64
	Found   bool
	Applied bool
	Err     string // the error, when not OK
}

func (o Op) String() string {
	var in string
	switch o.Kind {
	case Get, Incr:
		in = fmt.Sprintf("%c(%s)", o.Kind, o.Key)
	case CAS:
		in = fmt.Sprintf("cas(%s,%d->%d)", o.Key, o.Old, o.Value)
	default:
		in = fmt.Sprintf("%c(%s,%d)", o.Kind, o.Key, o.Value)
	}
	out := o.Status.String()
	switch {
	case o.Status != OK:
		out += " " + o.Err
	case o.Kind == CAS && o.Applied:
		out += " applied"
	case o.Kind == Get || o.Kind == Incr || o.Kind == CAS:
		if o.Found {
			out += fmt.Sprintf(" %d", o.Result)
		} else {
			out += " nil"
		}
	}
	return fmt.Sprintf("c%d@%s %s -> %s [%v, %v]", o.Client, o.Node, in, out, o.Call.Round(time.Millisecond), o.Return.Round(time.Millisecond))
}

// History collects the operations of a run, from concurrent clients.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewHistory starts a history's clock.
func NewHistory() *History { return &History{start: time.Now()} }

// Start is the wall-clock time the history's times count from.
func (h *History) Start() time.Time { return h.start }

// Now is the time since the history started.
func (h *History) Now() time.Duration { return time.Since(h.start) }

// Add records an operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// Ops returns the operations recorded, in call order.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := append([]Op(nil), h.ops...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// Counts returns the number of operations by status.
func Counts(ops []Op) map[Status]int {
	out := map[Status]int{}
	for _, o := range ops {
		out[o.Status]++
	}
	return out
}

// regState is a key's state in the model: its integer value, if it exists.
type regState struct {
	value int64
	found bool
}

// Model is the sequential specification of the register and counter keys
// (porcupine), partitioned by key. An operation whose outcome is unknown
// is given an infinite return time by Check, so the checker may place it
// anywhere after its call, last included (where it changes nothing seen):
// it may have happened or not.
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(Op).Key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return regState{} },
	Step: func(state, input, _ any) (bool, any) {
		st, op := state.(regState), input.(Op)
		unknown := op.Status == Unknown
		switch op.Kind {
		case Get:
			return op.Found == st.found && (!st.found || op.Result == st.value), st
		case Set:
			return true, regState{value: op.Value, found: true}
		case Incr: // a missing key counts from 0
			next := regState{value: st.value + 1, found: true}
			return unknown || op.Result == next.value, next
		case CAS:
			holds := st.found && st.value == op.Old
			switch {
			case unknown:
				if holds {
					return true, regState{value: op.Value, found: true}
				}
				return true, st
			case op.Applied:
				return holds, regState{value: op.Value, found: true}
			default: // it read the key instead, another value than Old
				return op.Found == st.found && (!st.found || op.Result == st.value), st
			}
		}
		return false, st
	},
	DescribeOperation: func(input, _ any) string { return input.(Op).String() },
}

// Linearizable checks the operations on register and counter keys (Get,
// Set, Incr, CAS; Fail left out, Unknown reads left out, Unknown writes
// given no return) against Model. It returns porcupine's verdict and, for
// an illegal history, the first key that is not linearizable and its
// operations; with viz set, porcupine's visualization of an illegal
// history is written there (an HTML file).
func Linearizable(ops []Op, timeout time.Duration, viz string) (res porcupine.CheckResult, key, text string) {
	var hist []porcupine.Operation
	for _, o := range ops {
		if o.Kind != Get && o.Kind != Set && o.Kind != Incr && o.Kind != CAS {
			continue
		}
		if o.Status == Fail || o.Status == Unknown && o.Kind == Get {
			continue
		}
		ret := int64(o.Return)
		if o.Status == Unknown {
			ret = math.MaxInt64
		}
		hist = append(hist, porcupine.Operation{ClientId: o.Client, Input: o, Call: int64(o.Call), Output: nil, Return: ret})
	}
	res, info := porcupine.CheckOperationsVerbose(Model, hist, timeout)
	if res != porcupine.Illegal {
		return res, "", ""
	}
	if viz != "" {
		_ = porcupine.VisualizePath(Model, info, viz)
	}
	// Name the first key whose history is illegal, with its operations.
	for _, part := range Model.Partition(hist) {
		if porcupine.CheckOperations(Model, part) {
			continue
		}
		var b strings.Builder
		for _, p := range part {
			fmt.Fprintln(&b, p.Input.(Op))
		}
		return res, part[0].Input.(Op).Key, b.String()
	}
	return res, "", "(no single key is illegal on its own)"
}
