package main

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// mode is a durability setting applied the same way to every engine.
type mode string

const (
	// modeDefault acknowledges writes from memory and makes them durable
	// periodically (EpochDB's default: WAL fsync every 100ms).
	modeDefault mode = "default"
	// modeDurable fsyncs every write before acknowledging it.
	modeDurable mode = "durable"
)

// errNotFound is what Engine.Get returns for an absent or expired key.
var errNotFound = errors.New("not found")

// Engine is one store under test, adapted to the operations the workloads
// use. Every method is called from many goroutines at once. Byte slices
// passed in are reused by the caller after the call returns.
type Engine interface {
	// Set stores value under key, expiring after ttl (0 = never).
	Set(key, value []byte, ttl time.Duration) error
	// Get returns a copy of key's value, or errNotFound.
	Get(key []byte) ([]byte, error)
	// Incr atomically adds one to key's access counter and returns the new
	// count.
	Incr(key []byte) (uint64, error)
	// Stored returns the number of records held, counting expired ones not
	// yet removed. ok is false for an engine that never removes expired
	// records by itself.
	Stored() (n int64, ok bool, err error)
	// Close stops the engine's background work and closes it.
	Close() error
}

// Txn is a read-write transaction as the transaction workloads see it. The
// keys and values passed to it are left untouched until Update returns.
type Txn interface {
	// Get returns a copy of key's value as the transaction sees it, or
	// errNotFound.
	Get(key []byte) ([]byte, error)
	// Set buffers a write of value under key, expiring after ttl (0 =
	// never), applied at commit.
	Set(key, value []byte, ttl time.Duration) error
}

// TxEngine is an engine with read-write transactions (raw Pebble: an
// emulation with an indexed batch under striped locks).
type TxEngine interface {
	// Update runs fn in a read-write transaction and commits it. If the
	// commit conflicts it runs fn again on a fresh view, as often as it
	// takes: the number of times fn ran is what the workloads count as
	// retries. keys lists every key fn touches (raw Pebble locks them up
	// front; the others ignore it). If fn fails, nothing is written and its
	// error is returned.
	Update(keys [][]byte, fn func(Txn) error) error
}

// txCounts are an engine's own transaction counters, for the engines that
// keep them (EpochDB's Stats), as differences over one workload.
type txCounts struct {
	commits   uint64 // read-write transactions committed
	conflicts uint64 // commits refused with a conflict
	retries   uint64 // re-runs inside the engine's Update
	gaveUp    uint64 // Updates that returned a conflict after the engine's retry limit, re-run by the adapter
}

// txCounter is implemented by engines that count their own conflicts.
type txCounter interface {
	txCounters() txCounts
}

// LoadBatcher is an engine that can write many keys in one batch.
type LoadBatcher interface {
	NewLoadBatch() LoadBatch
}

// LoadBatch collects writes and commits them at once. key and value may be
// reused by the caller after Set returns.
type LoadBatch interface {
	Set(key, value []byte, ttl time.Duration) error
	Commit() error
}

// engineSpec describes an engine and how it is opened.
type engineSpec struct {
	name string
	// how each mode is configured, and how TTL and increments are done:
	// printed in the run's header so the settings are on record.
	modes map[mode]string
	ttl   string
	incr  string
	tx    string // how a read-write transaction is done
	batch string // how batch-load's one batch is written
	open  func(dir string, m mode) (Engine, error)
}

var engines = []engineSpec{
	epochSpec(false),
	pebbleSpec,
	badgerSpec,
	buntSpec,
	boltSpec,
	epochSpec(true),
}

// defaultEngines are the engines run when -engines is not given.
const defaultEngines = "epochdb,pebble,badger,buntdb,bbolt"

func lookupEngine(name string) (engineSpec, error) {
	for _, e := range engines {
		if e.name == name {
			return e, nil
		}
	}
	names := make([]string, len(engines))
	for i, e := range engines {
		names[i] = e.name
	}
	return engineSpec{}, fmt.Errorf("unknown engine %q (have %v)", name, names)
}

// syncPeriod is the period of the background sync in default mode for the
// engines whose durability we drive by hand (Pebble, bbolt): EpochDB's
// default SyncInterval.
const syncPeriod = 100 * time.Millisecond

// ticker runs f every period until stop is called.
type ticker struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func startTicker(period time.Duration, f func()) *ticker {
	t := &ticker{done: make(chan struct{})}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-t.done:
				return
			case <-tk.C:
				f()
			}
		}
	}()
	return t
}

func (t *ticker) stop() {
	if t == nil {
		return
	}
	close(t.done)
	t.wg.Wait()
}

// stripes is a striped mutex for read-modify-write on engines that have no
// atomic increment of their own: 256 stripes, as EpochDB's shards.
type stripes [256]struct {
	sync.Mutex
	_ [56]byte
}

func (s *stripes) index(key []byte) int {
	// FNV-1a: cheap and good enough to spread the keys.
	h := uint32(2166136261)
	for _, c := range key {
		h ^= uint32(c)
		h *= 16777619
	}
	return int(h % uint32(len(s)))
}

func (s *stripes) lock(key []byte) *sync.Mutex {
	mu := &s[s.index(key)].Mutex
	mu.Lock()
	return mu
}

// lockAll locks the stripes of keys in ascending stripe order (so two
// callers never deadlock) and returns the function that unlocks them.
func (s *stripes) lockAll(keys [][]byte) (unlock func()) {
	var buf [8]int
	idx := buf[:0]
	for _, k := range keys {
		idx = append(idx, s.index(k))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s[i].Lock()
	}
	return func() {
		for _, i := range idx {
			s[i].Unlock()
		}
	}
}
