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
	ttl:  "SetOptions{Expires: true, TTL: ttl} (native); a background pass deletes expired keys every second",
	incr: "Update: Get + Set of a counter key (decimal string)",
	open: openBunt,
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

func (e buntEngine) Set(key, value []byte, ttl time.Duration) error {
	var opts *buntdb.SetOptions
	if ttl > 0 {
		opts = &buntdb.SetOptions{Expires: true, TTL: ttl}
	}
	return e.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(string(key), string(value), opts)
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
