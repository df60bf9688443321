package main

import (
	"errors"
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
		ttl:  "Set(key, value, ttl): data record + ttl index + meta in one batch",
		incr: "IncrementFrequency (existence check + meta merge, under a shard lock)",
		open: func(dir string, m mode) (Engine, error) {
			opts := &epochdb.Options{SyncWrites: m == modeDurable, DisableReadTracking: noTrack}
			db, err := epochdb.Open(dir, opts)
			if err != nil {
				return nil, err
			}
			return epochEngine{db}, nil
		},
	}
}

type epochEngine struct{ db *epochdb.DB }

func (e epochEngine) Set(key, value []byte, ttl time.Duration) error {
	return e.db.Set(key, value, ttl)
}

func (e epochEngine) Get(key []byte) ([]byte, error) {
	v, err := e.db.Get(key)
	if errors.Is(err, epochdb.ErrNotFound) {
		return nil, errNotFound
	}
	return v, err
}

func (e epochEngine) Incr(key []byte) (uint64, error) { return e.db.IncrementFrequency(key) }

func (e epochEngine) Stored() (int64, bool, error) { return e.db.Len(), true, nil }

func (e epochEngine) Close() error { return e.db.Close() }
