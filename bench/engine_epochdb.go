package main

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/epochdb/epochdb"
)

// epochSpec is EpochDB with its default options (read tracking on) or, as
// an extra engine for diagnosis, with read tracking disabled.
func epochSpec(noTrack bool) engineSpec {
	name, note := "epochdb", ""
	if noTrack {
		name, note = "epochdb-notrack", ", DisableReadTracking"
	}
	return engineSpec{
		name: name,
		modes: map[mode]string{
			modeDefault: "Options{SyncInterval: 100ms (default)" + note + "}",
			modeDurable: "Options{SyncWrites: true" + note + "}",
		},
		ttl:   "Set(key, value, ttl): data record + ttl index + meta in one batch",
		incr:  "IncrementFrequency (existence check + meta merge, under a shard lock)",
		tx:    "db.Update(func(tx *Tx) error): tx.Get / tx.Set(key, val, ttl); optimistic, Update re-runs on ErrConflict (TxMaxRetries 32, then the adapter calls Update again)",
		batch: "db.NewBatch(); b.Set(key, val, ttl) ×N; b.Commit(): one Pebble batch, atomic",
		open: func(dir string, m mode) (Engine, error) {
			opts := &epochdb.Options{SyncWrites: m == modeDurable, DisableReadTracking: noTrack}
			db, err := epochdb.Open(dir, opts)
			if err != nil {
				return nil, err
			}
			return &epochEngine{db: db}, nil
		},
	}
}

type epochEngine struct {
	db     *epochdb.DB
	gaveUp atomic.Uint64 // Updates that returned ErrConflict after TxMaxRetries
}

func (e *epochEngine) Set(key, value []byte, ttl time.Duration) error {
	return e.db.Set(key, value, ttl)
}

func (e *epochEngine) Get(key []byte) ([]byte, error) {
	v, err := e.db.Get(key)
	if errors.Is(err, epochdb.ErrNotFound) {
		return nil, errNotFound
	}
	return v, err
}

func (e *epochEngine) Incr(key []byte) (uint64, error) { return e.db.IncrementFrequency(key) }

func (e *epochEngine) Stored() (int64, bool, error) { return e.db.Len(), true, nil }

func (e *epochEngine) Close() error { return e.db.Close() }

// Update uses DB.Update, which re-runs fn itself on ErrConflict up to
// Options.TxMaxRetries times; past that it returns ErrConflict and the
// adapter calls it again (counted in gaveUp).
func (e *epochEngine) Update(_ [][]byte, fn func(Txn) error) error {
	for {
		err := e.db.Update(func(tx *epochdb.Tx) error { return fn(epochTxn{tx}) })
		if errors.Is(err, epochdb.ErrConflict) {
			e.gaveUp.Add(1)
			continue
		}
		return err
	}
}

func (e *epochEngine) txCounters() txCounts {
	s := e.db.Stats()
	return txCounts{commits: s.TxCommits, conflicts: s.TxConflicts, retries: s.TxRetries, gaveUp: e.gaveUp.Load()}
}

type epochTxn struct{ tx *epochdb.Tx }

func (t epochTxn) Get(key []byte) ([]byte, error) {
	v, err := t.tx.Get(key)
	if errors.Is(err, epochdb.ErrNotFound) {
		return nil, errNotFound
	}
	return v, err
}

func (t epochTxn) Set(key, value []byte, ttl time.Duration) error { return t.tx.Set(key, value, ttl) }

func (e *epochEngine) NewLoadBatch() LoadBatch { return epochBatch{e.db.NewBatch()} }

type epochBatch struct{ b *epochdb.Batch }

func (b epochBatch) Set(key, value []byte, ttl time.Duration) error { return b.b.Set(key, value, ttl) }

func (b epochBatch) Commit() error { return b.b.Commit() }
