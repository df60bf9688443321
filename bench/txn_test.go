package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// memEngine is a map under one mutex: serializable transactions. With
// loseEvery > 0, every loseEvery-th commit reports success but drops its
// writes (a lost update), which the end-state check must catch.
type memEngine struct {
	mu        sync.Mutex
	m         map[string][]byte
	commits   int
	loseEvery int
}

func (e *memEngine) Set(key, value []byte, _ time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[string(key)] = append([]byte(nil), value...)
	return nil
}

func (e *memEngine) Get(key []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[string(key)]
	if !ok {
		return nil, errNotFound
	}
	return append([]byte(nil), v...), nil
}

func (e *memEngine) Incr([]byte) (uint64, error)  { return 0, nil }
func (e *memEngine) Stored() (int64, bool, error) { return int64(len(e.m)), true, nil }
func (e *memEngine) Close() error                 { return nil }

type memTxn struct {
	e      *memEngine
	writes map[string][]byte
}

func (t *memTxn) Get(key []byte) ([]byte, error) {
	if v, ok := t.writes[string(key)]; ok {
		return append([]byte(nil), v...), nil
	}
	v, ok := t.e.m[string(key)]
	if !ok {
		return nil, errNotFound
	}
	return append([]byte(nil), v...), nil
}

func (t *memTxn) Set(key, value []byte, _ time.Duration) error {
	t.writes[string(key)] = append([]byte(nil), value...)
	return nil
}

func (e *memEngine) Update(_ [][]byte, fn func(Txn) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := &memTxn{e: e, writes: map[string][]byte{}}
	if err := fn(t); err != nil {
		return err
	}
	e.commits++
	if e.loseEvery > 0 && e.commits%e.loseEvery == 0 {
		return nil
	}
	for k, v := range t.writes {
		e.m[k] = v
	}
	return nil
}

func runContended(t *testing.T, e *memEngine) (*result, string, error) {
	t.Helper()
	if err := initHot(e); err != nil {
		t.Fatal(err)
	}
	rn := &runner{threads: 4, keys: 1000, vsize: 8, value: make([]byte, 1024), seed: 1}
	r := rn.timed(50*time.Millisecond, nil, false, txContendedOp(e))
	if r.err != nil {
		t.Fatal(r.err)
	}
	check, err := verifyHot(e, &r.tx, r.ops)
	return r, check, err
}

func TestVerifyHotAcceptsSerializable(t *testing.T) {
	r, check, err := runContended(t, &memEngine{m: map[string][]byte{}})
	if err != nil || !strings.HasPrefix(check, "ok") {
		t.Fatalf("check %q, err %v", check, err)
	}
	if r.ops == 0 || r.tx.runs != r.ops {
		t.Fatalf("%d transactions, %d runs: want as many runs as transactions", r.ops, r.tx.runs)
	}
}

func TestVerifyHotCatchesLostUpdates(t *testing.T) {
	_, check, err := runContended(t, &memEngine{m: map[string][]byte{}, loseEvery: 97})
	if err == nil {
		t.Fatalf("lost updates not detected (check %q)", check)
	}
	t.Logf("detected: %s: %v", check, err)
}
