package main

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"slices"
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
	ttl:   "8-byte deadline prefix on the value, checked on read; no index, never reclaimed",
	incr:  "Update txn: Get + Put of a counter key in a second bucket",
	tx:    "db.Update(func(tx *Tx) error): Bucket.Get / Put (deadline-prefixed values); one writer at a time, never conflicts",
	batch: "one db.Update with N Puts (deadline-prefixed values), sorted by key at commit (timed) as bbolt needs for bulk loads: atomic",
	open:  openBolt,
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

// deadlined returns deadline prefix + value in a new slice.
func deadlined(value []byte, ttl time.Duration) []byte {
	v := make([]byte, 8+len(value))
	binary.BigEndian.PutUint64(v, deadlineOf(ttl))
	copy(v[8:], value)
	return v
}

func (e *boltEngine) Set(key, value []byte, ttl time.Duration) error {
	v := deadlined(value, ttl)
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

// Update is bbolt's own read-write transaction: writers are serialized, so
// it never conflicts.
func (e *boltEngine) Update(_ [][]byte, fn func(Txn) error) error {
	return e.db.Update(func(tx *bolt.Tx) error { return fn(boltTxn{tx.Bucket(boltData)}) })
}

type boltTxn struct{ b *bolt.Bucket }

func (t boltTxn) Get(key []byte) ([]byte, error) {
	v := t.b.Get(key)
	if v == nil {
		return nil, errNotFound
	}
	return decodeDeadline(v)
}

// Set's key stays valid until the transaction ends (Txn's contract), as
// bbolt requires.
func (t boltTxn) Set(key, value []byte, ttl time.Duration) error {
	return t.b.Put(key, deadlined(value, ttl))
}

func (e *boltEngine) NewLoadBatch() LoadBatch { return &boltBatch{db: e.db} }

// boltBatch collects copies of the writes (bbolt needs keys and values to
// live until the transaction ends) and puts them all in one Update, in key
// order: bbolt splits nodes only at commit, so unsorted Puts into one
// transaction insert into ever larger leaves (quadratic: 1M scattered keys
// did not finish in 2 minutes, where 20,000 took 0.4s).
type boltBatch struct {
	db  *bolt.DB
	kvs []boltKV
}

type boltKV struct{ k, v []byte }

func (b *boltBatch) Set(key, value []byte, ttl time.Duration) error {
	b.kvs = append(b.kvs, boltKV{append([]byte(nil), key...), deadlined(value, ttl)})
	return nil
}

func (b *boltBatch) Commit() error {
	slices.SortFunc(b.kvs, func(x, y boltKV) int { return bytes.Compare(x.k, y.k) })
	return b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltData)
		for _, kv := range b.kvs {
			if err := bk.Put(kv.k, kv.v); err != nil {
				return err
			}
		}
		return nil
	})
}
