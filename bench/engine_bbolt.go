package main

import (
	"encoding/binary"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltSpec is bbolt with its default options except NoSync in default mode.
var boltSpec = engineSpec{
	name: "bbolt",
	modes: map[mode]string{
		modeDefault: "NoSync=true + db.Sync() every 100ms",
		modeDurable: "default (fsync on every Update commit; writers serialized, no group commit)",
	},
	ttl:  "8-byte deadline prefix on the value, checked on read; no index, never reclaimed",
	incr: "Update txn: Get + Put of a counter key in a second bucket",
	open: openBolt,
}

var (
	boltData     = []byte("data")
	boltCounters = []byte("counters")
)

type boltEngine struct {
	db     *bolt.DB
	syncer *ticker
}

func openBolt(dir string, m mode) (Engine, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{
		Timeout: 10 * time.Second,
		NoSync:  m != modeDurable,
	})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{boltData, boltCounters} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	e := &boltEngine{db: db}
	if m != modeDurable {
		e.syncer = startTicker(syncPeriod, func() { _ = db.Sync() })
	}
	return e, nil
}

func (e *boltEngine) Set(key, value []byte, ttl time.Duration) error {
	v := make([]byte, 8+len(value))
	binary.BigEndian.PutUint64(v, deadlineOf(ttl))
	copy(v[8:], value)
	return e.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(boltData).Put(key, v)
	})
}

func (e *boltEngine) Get(key []byte) ([]byte, error) {
	var out []byte
	err := e.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltData).Get(key)
		if len(v) < 8 {
			return errNotFound
		}
		if d := binary.BigEndian.Uint64(v); d != 0 && uint64(time.Now().UnixNano()) >= d {
			return errNotFound
		}
		out = append([]byte(nil), v[8:]...)
		return nil
	})
	return out, err
}

func (e *boltEngine) Incr(key []byte) (uint64, error) {
	var n uint64
	err := e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltCounters)
		n = 0
		if v := b.Get(key); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		return b.Put(key, binary.BigEndian.AppendUint64(nil, n))
	})
	return n, err
}

func (e *boltEngine) Stored() (int64, bool, error) { return 0, false, nil }

func (e *boltEngine) Close() error {
	e.syncer.stop()
	if err := e.db.Sync(); err != nil {
		_ = e.db.Close()
		return err
	}
	return e.db.Close()
}
