package main

import (
	"errors"
	"fmt"
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

// engineSpec describes an engine and how it is opened.
type engineSpec struct {
	name string
	// how each mode is configured, and how TTL and increments are done:
	// printed in the run's header so the settings are on record.
	modes map[mode]string
	ttl   string
	incr  string
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

func (s *stripes) lock(key []byte) *sync.Mutex {
	// FNV-1a: cheap and good enough to spread the keys.
	h := uint32(2166136261)
	for _, c := range key {
		h ^= uint32(c)
		h *= 16777619
	}
	mu := &s[h%uint32(len(s))].Mutex
	mu.Lock()
	return mu
}
