package main

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// badgerSpec is Badger v4 with its default options, except a 64 MiB block
// cache (as Pebble's and EpochDB's) and no logging.
var badgerSpec = engineSpec{
	name: "badger",
	modes: map[mode]string{
		modeDefault: "SyncWrites=false",
		modeDurable: "SyncWrites=true (group commit in its write loop)",
	},
	ttl:   "Entry.WithTTL (native); expired entries are dropped only by compaction",
	incr:  "Update txn: Get + Set of a counter key, retried on ErrConflict",
	tx:    "db.Update(func(txn *Txn) error): txn.Get / txn.SetEntry(WithTTL); its own SSI (optimistic), the adapter re-runs on ErrConflict",
	batch: "db.NewWriteBatch(); SetEntry(WithTTL) ×N; Flush(): NOT atomic, split into many transactions committed as it fills",
	open:  openBadger,
}

type badgerEngine struct{ db *badger.DB }

func openBadger(dir string, m mode) (Engine, error) {
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(m == modeDurable).
		WithBlockCacheSize(64 << 20).
		WithLogger(nil)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, err
	}
	return badgerEngine{db}, nil
}

func (e badgerEngine) Set(key, value []byte, ttl time.Duration) error {
	return e.db.Update(func(txn *badger.Txn) error {
		ent := badger.NewEntry(key, value)
		if ttl > 0 {
			ent = ent.WithTTL(ttl)
		}
		return txn.SetEntry(ent)
	})
}

func (e badgerEngine) Get(key []byte) ([]byte, error) {
	var v []byte
	err := e.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, errNotFound
	}
	return v, err
}

func (e badgerEngine) Incr(key []byte) (uint64, error) {
	ck := append([]byte{pebbleCounterPrefix}, key...)
	for {
		var n uint64
		err := e.db.Update(func(txn *badger.Txn) error {
			n = 0
			item, err := txn.Get(ck)
			switch {
			case err == nil:
				if err := item.Value(func(v []byte) error {
					if len(v) == 8 {
						n = binary.BigEndian.Uint64(v)
					}
					return nil
				}); err != nil {
					return err
				}
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			n++
			return txn.Set(ck, binary.BigEndian.AppendUint64(nil, n))
		})
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		return n, err
	}
}

func (e badgerEngine) Stored() (int64, bool, error) { return 0, false, nil }

func (e badgerEngine) Close() error { return e.db.Close() }

// Update runs fn in db.Update and re-runs it while the commit fails with
// ErrConflict (Badger does not retry by itself).
func (e badgerEngine) Update(_ [][]byte, fn func(Txn) error) error {
	for {
		err := e.db.Update(func(txn *badger.Txn) error { return fn(badgerTxn{txn}) })
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		return err
	}
}

type badgerTxn struct{ txn *badger.Txn }

func (t badgerTxn) Get(key []byte) ([]byte, error) {
	item, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func (t badgerTxn) Set(key, value []byte, ttl time.Duration) error {
	ent := badger.NewEntry(key, value)
	if ttl > 0 {
		ent = ent.WithTTL(ttl)
	}
	return t.txn.SetEntry(ent)
}

func (e badgerEngine) NewLoadBatch() LoadBatch { return badgerBatch{e.db.NewWriteBatch()} }

// badgerBatch is a WriteBatch: it commits a transaction whenever one fills
// up (in the background), so it is not atomic.
type badgerBatch struct{ wb *badger.WriteBatch }

func (b badgerBatch) Set(key, value []byte, ttl time.Duration) error {
	// The batch keeps key and value until its transaction commits.
	ent := badger.NewEntry(append([]byte(nil), key...), append([]byte(nil), value...))
	if ttl > 0 {
		ent = ent.WithTTL(ttl)
	}
	if err := b.wb.SetEntry(ent); err != nil {
		b.wb.Cancel()
		return err
	}
	return nil
}

func (b badgerBatch) Commit() error { return b.wb.Flush() }
