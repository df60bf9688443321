package main

import (
	"errors"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tidwall/buntdb"
)

// buntSpec is BuntDB (in-memory B-tree + append-only file) with its default
// config except the sync policy.
var buntSpec = engineSpec{
	name: "buntdb",
	modes: map[mode]string{
		modeDefault: "SyncPolicy=EverySecond (its default)",
		modeDurable: "SyncPolicy=Always (fsync under the write lock: no group commit)",
	},
	ttl:   "SetOptions{Expires: true, TTL: ttl} (native); a background pass deletes expired keys every second",
	incr:  "Update: Get + Set of a counter key (decimal string)",
	tx:    "db.Update(func(tx *Tx) error): tx.Get / tx.Set with TTL; one writer at a time, never conflicts",
	batch: "one db.Update with N Sets: atomic",
	open:  openBunt,
}

type buntEngine struct{ db *buntdb.DB }

func openBunt(dir string, m mode) (Engine, error) {
	db, err := buntdb.Open(filepath.Join(dir, "bunt.db"))
	if err != nil {
		return nil, err
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		_ = db.Close()
		return nil, err
	}
	cfg.SyncPolicy = buntdb.EverySecond
	if m == modeDurable {
		cfg.SyncPolicy = buntdb.Always
	}
	if err := db.SetConfig(cfg); err != nil {
		_ = db.Close()
		return nil, err
	}
	return buntEngine{db}, nil
}

func buntOpts(ttl time.Duration) *buntdb.SetOptions {
	if ttl > 0 {
		return &buntdb.SetOptions{Expires: true, TTL: ttl}
	}
	return nil
}

func (e buntEngine) Set(key, value []byte, ttl time.Duration) error {
	return e.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(string(key), string(value), buntOpts(ttl))
		return err
	})
}

func (e buntEngine) Get(key []byte) ([]byte, error) {
	var v []byte
	err := e.db.View(func(tx *buntdb.Tx) error {
		s, err := tx.Get(string(key))
		v = []byte(s)
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return nil, errNotFound
	}
	return v, err
}

func (e buntEngine) Incr(key []byte) (uint64, error) {
	ck := "\x00" + string(key)
	var n uint64
	err := e.db.Update(func(tx *buntdb.Tx) error {
		n = 0
		s, err := tx.Get(ck)
		switch {
		case err == nil:
			if n, err = strconv.ParseUint(s, 10, 64); err != nil {
				return err
			}
		case !errors.Is(err, buntdb.ErrNotFound):
			return err
		}
		n++
		_, _, err = tx.Set(ck, strconv.FormatUint(n, 10), nil)
		return err
	})
	return n, err
}

func (e buntEngine) Stored() (int64, bool, error) {
	var n int
	err := e.db.View(func(tx *buntdb.Tx) error {
		var err error
		n, err = tx.Len()
		return err
	})
	return int64(n), true, err
}

func (e buntEngine) Close() error { return e.db.Close() }

// Update is BuntDB's own read-write transaction: writers are serialized, so
// it never conflicts.
func (e buntEngine) Update(_ [][]byte, fn func(Txn) error) error {
	return e.db.Update(func(tx *buntdb.Tx) error { return fn(buntTxn{tx}) })
}

type buntTxn struct{ tx *buntdb.Tx }

func (t buntTxn) Get(key []byte) ([]byte, error) {
	s, err := t.tx.Get(string(key))
	if errors.Is(err, buntdb.ErrNotFound) {
		return nil, errNotFound
	}
	return []byte(s), err
}

func (t buntTxn) Set(key, value []byte, ttl time.Duration) error {
	_, _, err := t.tx.Set(string(key), string(value), buntOpts(ttl))
	return err
}

func (e buntEngine) NewLoadBatch() LoadBatch { return &buntBatch{db: e.db} }

// buntBatch collects the writes and sets them all in one Update.
type buntBatch struct {
	db   *buntdb.DB
	keys []string
	vals []string
	ttls []time.Duration
}

func (b *buntBatch) Set(key, value []byte, ttl time.Duration) error {
	b.keys = append(b.keys, string(key))
	b.vals = append(b.vals, string(value))
	b.ttls = append(b.ttls, ttl)
	return nil
}

func (b *buntBatch) Commit() error {
	return b.db.Update(func(tx *buntdb.Tx) error {
		for i, k := range b.keys {
			if _, _, err := tx.Set(k, b.vals[i], buntOpts(b.ttls[i])); err != nil {
				return err
			}
		}
		return nil
	})
}
