package main

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// pebbleSpec is raw Pebble v2 configured as EpochDB configures it (64 MiB
// cache and memtable, bloom filters, newest format), the baseline EpochDB's
// targets are stated against.
var pebbleSpec = engineSpec{
	name: "pebble",
	modes: map[mode]string{
		modeDefault: "NoSync writes + LogData(nil, Sync) every 100ms",
		modeDurable: "pebble.Sync on every write (group commit)",
	},
	ttl:   "8-byte deadline prefix on the value, checked on read; no index, never reclaimed",
	incr:  "Get + Set of a counter key under a 256-way striped mutex (durable: ApplyNoSyncWait, fsync waited outside the lock)",
	tx:    "emulated (no transactions): the keys' stripes of a 256-way mutex locked in order, reads and writes through an indexed batch, Apply, unlock (durable: fsync waited outside the locks); pessimistic, never retries",
	batch: "db.NewBatch(); Set ×N (deadline-prefixed values); Commit(NoSync / pebble.Sync): atomic",
	open:  openPebble,
}

// pebbleCounterPrefix keeps counter keys apart from the benchmark's keys.
const pebbleCounterPrefix = 0x00

type pebbleEngine struct {
	db      *pebble.DB
	durable bool
	wo      *pebble.WriteOptions
	mu      stripes
	syncer  *ticker
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic("pebble: fatal: " + format)
}

func openPebble(dir string, m mode) (Engine, error) {
	opts := &pebble.Options{
		Cache:              pebble.NewCache(64<<20 + 2*64<<20), // blocks plus two memtables, as EpochDB opens it
		MemTableSize:       64 << 20,
		Logger:             quietLogger{},
		FormatMajorVersion: pebble.FormatNewest,
	}
	defer opts.Cache.Unref()
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	e := &pebbleEngine{db: db, durable: m == modeDurable, wo: pebble.NoSync}
	if e.durable {
		e.wo = pebble.Sync
	} else {
		e.syncer = startTicker(syncPeriod, func() { _ = db.LogData(nil, pebble.Sync) })
	}
	return e, nil
}

func deadlineOf(ttl time.Duration) uint64 {
	if ttl <= 0 {
		return 0
	}
	return uint64(time.Now().Add(ttl).UnixNano())
}

func (e *pebbleEngine) Set(key, value []byte, ttl time.Duration) error {
	b := e.db.NewBatch()
	_ = setDeadlined(b, key, value, ttl)
	err := e.db.Apply(b, e.wo)
	_ = b.Close()
	return err
}

func (e *pebbleEngine) Get(key []byte) ([]byte, error) { return getDeadlined(e.db, key) }

// getDeadlined reads a deadline-prefixed value from r (the DB or a batch).
func getDeadlined(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return decodeDeadline(v)
}

func (e *pebbleEngine) Incr(key []byte) (uint64, error) {
	var kbuf [64]byte
	ck := append(append(kbuf[:0], pebbleCounterPrefix), key...)
	mu := e.mu.lock(key)
	var n uint64
	v, closer, err := e.db.Get(ck)
	switch {
	case err == nil:
		if len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		_ = closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		mu.Unlock()
		return 0, err
	}
	n++
	b := e.db.NewBatch()
	op := b.SetDeferred(len(ck), 8)
	copy(op.Key, ck)
	binary.BigEndian.PutUint64(op.Value, n)
	_ = op.Finish()
	if !e.durable {
		err = e.db.Apply(b, pebble.NoSync)
		mu.Unlock()
		_ = b.Close()
		return n, err
	}
	err = e.db.ApplyNoSyncWait(b, pebble.Sync)
	mu.Unlock()
	if err == nil {
		err = b.SyncWait()
	}
	_ = b.Close()
	return n, err
}

func (e *pebbleEngine) Stored() (int64, bool, error) { return 0, false, nil }

func (e *pebbleEngine) Close() error {
	e.syncer.stop()
	if err := e.db.LogData(nil, pebble.Sync); err != nil {
		_ = e.db.Close()
		return err
	}
	return e.db.Close()
}

// decodeDeadline returns the value behind v's 8-byte deadline prefix, or
// errNotFound if the deadline has passed.
func decodeDeadline(v []byte) ([]byte, error) {
	if len(v) < 8 {
		return nil, errors.New("value without deadline")
	}
	if d := binary.BigEndian.Uint64(v); d != 0 && uint64(time.Now().UnixNano()) >= d {
		return nil, errNotFound
	}
	return append([]byte(nil), v[8:]...), nil
}

// setDeadlined adds key → deadline prefix + value to b.
func setDeadlined(b *pebble.Batch, key, value []byte, ttl time.Duration) error {
	op := b.SetDeferred(len(key), 8+len(value))
	copy(op.Key, key)
	binary.BigEndian.PutUint64(op.Value, deadlineOf(ttl))
	copy(op.Value[8:], value)
	return op.Finish()
}

// Update emulates a read-write transaction: Pebble has none. The stripes of
// keys are locked (in stripe order) for the whole transaction, so it never
// conflicts; reads see the transaction's own writes through an indexed
// batch, which is applied at the end.
func (e *pebbleEngine) Update(keys [][]byte, fn func(Txn) error) error {
	unlock := e.mu.lockAll(keys)
	b := e.db.NewIndexedBatch()
	if err := fn(pebbleTxn{b}); err != nil {
		unlock()
		_ = b.Close()
		return err
	}
	if !e.durable {
		err := e.db.Apply(b, pebble.NoSync)
		unlock()
		_ = b.Close()
		return err
	}
	err := e.db.ApplyNoSyncWait(b, pebble.Sync)
	unlock()
	if err == nil {
		err = b.SyncWait()
	}
	_ = b.Close()
	return err
}

type pebbleTxn struct{ b *pebble.Batch }

func (t pebbleTxn) Get(key []byte) ([]byte, error) { return getDeadlined(t.b, key) }

func (t pebbleTxn) Set(key, value []byte, ttl time.Duration) error {
	return setDeadlined(t.b, key, value, ttl)
}

func (e *pebbleEngine) NewLoadBatch() LoadBatch { return &pebbleBatch{e: e, b: e.db.NewBatch()} }

type pebbleBatch struct {
	e *pebbleEngine
	b *pebble.Batch
}

func (b *pebbleBatch) Set(key, value []byte, ttl time.Duration) error {
	return setDeadlined(b.b, key, value, ttl)
}

func (b *pebbleBatch) Commit() error {
	err := b.b.Commit(b.e.wo)
	_ = b.b.Close()
	return err
}
