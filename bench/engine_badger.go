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
	ttl:  "Entry.WithTTL (native); expired entries are dropped only by compaction",
	incr: "Update txn: Get + Set of a counter key, retried on ErrConflict",
	open: openBadger,
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
