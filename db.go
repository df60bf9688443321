package epochdb

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// numShards is the number of key shards. A shard's mutex serializes the
// read-modify-write of every write to the keys that hash to it and guards
// its tracked-read counts. Reads take no lock. A replicated write holds
// its shards until its raft entry is applied — a round trip to a majority
// —, so there are many: with 256, the 16 keys of each of 50 clients'
// pipelines collided so often that writers waited in chains.
const numShards = 4096

// formatVersion is the on-disk format this code writes and reads.
const formatVersion = 1

// NoTTL is what TTL returns for a key that never expires.
const NoTTL time.Duration = -1

// System-keyspace record names.
const (
	sysFormat   = "format"
	sysKeys     = "keys"
	sysTTLKeys  = "ttlkeys"
	sysBytes    = "bytes"
	sysCounts   = "counts" // keys, ttlkeys, bytes as one vector (before per-namespace counts)
	sysEventSeq = "eventseq"
)

// DB is an EpochDB database: a persistent key-value store that tracks each
// key's age, deadline and access frequency.
//
// All methods are safe for concurrent use by multiple goroutines. Byte slices
// passed in may be reused by the caller once a method returns; slices returned
// are owned by the caller. After Close every method returns ErrClosed.
type DB struct {
	opts  Options // filled with defaults
	pdb   *pebble.DB
	clock Clock
	log   *slog.Logger
	seed  maphash.Seed

	// repl, if set, commits the writes instead of the DB (replicate.go);
	// applied is the index of the last replicated entry applied.
	repl Replicator
	// readSink receives the reads tracked while this node does not lead
	// (reads.go).
	readSink atomic.Pointer[ReadSink]
	applied  atomic.Uint64

	// settings are the options Reconfigure changes (settings.go).
	settings   atomic.Pointer[Settings]
	settingsMu sync.Mutex // serializes Reconfigure
	syncKick   chan struct{}
	lifeKick   chan struct{}

	cacheMax int64 // the record cache's bound per shard; 0 = off

	shards [numShards]shard
	ev     eventHub
	life   lifecycleState

	keys    atomic.Int64 // keys stored, including expired ones not yet swept
	ttlKeys atomic.Int64 // of which carry a deadline
	bytes   atomic.Int64 // their keys' and values' lengths
	ns      [256]nsCounters

	// Durability in the default mode: writeSeq counts NoSync commits,
	// syncedSeq is the writeSeq that the last WAL sync covered.
	writeSeq, syncedSeq atomic.Uint64
	// unsyncedAt is when (monoNanos) the oldest write the WAL has not
	// synced yet was acknowledged; 0 when none is waiting.
	unsyncedAt atomic.Int64

	// commitSeq numbers the commits that change data records, for conflict
	// detection (versions.go); rlog holds their keys while read-write
	// transactions run.
	commitSeq atomic.Uint64
	rlog      rangeLog

	// failure is set once the storage engine failed (health.go).
	failure atomic.Pointer[error]

	// sweepFrom is the deadline the next expiry sweep starts at; see
	// expireDue. fieldSweepFrom is the same for the field index.
	sweepFrom      atomic.Int64
	fieldSweepFrom atomic.Int64

	// collVer hands out collection versions: started at Open from the
	// wall clock in nanoseconds, so a version is not reused in practice
	// (correctness does not depend on it: a collection's members are
	// deleted in the batch that deletes it).
	collVer atomic.Uint64

	st  counters
	met metrics // latencies, outcomes, backups, engine events (metrics.go)

	// Lifetime: inflight counts calls in progress; Close sets closed, waits
	// for inflight to drain, stops the background goroutines, then closes
	// Pebble.
	inflight atomic.Int64
	closed   atomic.Bool
	closeMu  sync.Mutex    // serializes Close
	closeErr error         // result of the first Close; guarded by closeMu
	closeCh  chan struct{} // closed by Close
	bgStop   chan struct{} // stops the background goroutines; guarded by closeMu
	wg       sync.WaitGroup

	// Recovery from an engine failure (recover.go): reopening is set while
	// the engine is reopened in place (calls are refused meanwhile), and
	// recovering while the loop that retries it runs.
	reopening  atomic.Bool
	recovering atomic.Bool
	// installing is set while InstallImage swaps the contents (image.go):
	// calls are refused meanwhile.
	installing atomic.Bool
	recoverWG  sync.WaitGroup
	dir        string
}

// shard is one stripe of the keyspace. Its mutex is held by every writeOp
// that writes one of its keys, from staging through apply; reads take no
// lock, and tracked reads only trackMu.
type shard struct {
	mu       sync.Mutex           // serializes writes to this shard's keys; guards what follows up to trackMu
	runs     map[string]uint8     // meta merge operands written per key since its last collapse
	dead     map[string]deadCount // member deletions per collection since its version began (coll.go)
	vers     [versionSlots]uint64 // commit sequence of the latest write per key slot (versions.go)
	watchers map[string][]*Watch  // open watches per key
	trackMu  sync.Mutex           // guards pending; taken after mu when both are held
	pending  map[string]access    // tracked reads not yet written to the meta keyspace
	cache    recordCache          // the latest records of recent keys (cache.go)
	zhints   map[string]zsetHint  // sorted sets' score-index bounds (zset.go)
	tracked  []*cacheEntry        // cache entries with tracked reads since the last flush; guarded by trackMu
	_        [32]byte             // keep shards on separate cache lines
}

// Every read of a key's meta merges all of its merge operands that
// compaction has not folded yet, so a hot key written many times between
// flushes would make its meta reads ever slower. The shard therefore counts
// the operands it writes per key, and the write that would make it
// maxMergeRun replaces them with one Set of the merged value instead.
// runs is cleared when it holds maxRunKeys keys, which only postpones a
// collapse.
const (
	maxMergeRun = 16
	maxRunKeys  = 4096
)

// stageMetaDelta adds delta to key's meta in b, as a merge operand or, when
// the key's operand run is long, as one Set of its merged meta (read from
// the store: b must not already hold a meta write of key). The caller holds
// sh.mu.
func (db *DB) stageMetaDelta(b *pebble.Batch, sh *shard, key []byte, delta keyspace.Meta) {
	var kbuf [64]byte
	mk := keyspace.MetaKey(kbuf[:0], key)
	if n := sh.runs[string(key)]; n+1 >= maxMergeRun {
		if m, err := db.getMeta(db.pdb, key); err == nil {
			_ = b.Set(mk, keyspace.AppendMeta(nil, db.mergeMeta(m, delta)), nil)
			delete(sh.runs, string(key))
			return
		}
		// A meta that cannot be read is reported by the reads; the merge
		// below keeps the delta.
	}
	_ = b.Merge(mk, keyspace.AppendMeta(nil, delta), nil)
	sh.noteMerge(key)
}

// noteMerge counts a meta merge operand of key. The caller holds sh.mu.
func (sh *shard) noteMerge(key []byte) {
	if len(sh.runs) >= maxRunKeys {
		clear(sh.runs)
	}
	sh.runs[string(key)]++
}

// access is an aggregate of tracked reads of one key.
type access struct {
	count uint64
	last  int64 // Unix ms of the latest read
}

// add counts n more reads, the latest at last.
func (a *access) add(n uint64, last int64) {
	a.count += n
	a.last = max(a.last, last)
}

// meta returns the reads as a meta delta. Their heat is counted at the time
// of the latest read: an error far below a half-life, since reads are
// flushed every TrackFlushInterval.
func (a access) meta() keyspace.Meta {
	return keyspace.Meta{Frequency: a.count, LastAccess: a.last, Heat: float64(a.count)}
}

// mergeMeta merges meta values with the DB's heat half-life.
func (db *DB) mergeMeta(m, o keyspace.Meta) keyspace.Meta { return m.Merge(o, db.halfLifeMs()) }

// Open opens (creating if needed) the database in dir. A nil opts means
// DefaultOptions. Keys whose deadline passed while the database was closed are
// invisible from the first call after Open returns.
func Open(dir string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ensureDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	db := &DB{
		repl:    o.Replicator,
		opts:    o,
		clock:   o.Clock,
		log:     o.Logger,
		seed:    maphash.MakeSeed(),
		closeCh: make(chan struct{}),
	}
	set := settingsOf(&o)
	db.settings.Store(&set)
	db.syncKick = make(chan struct{}, 1)
	db.lifeKick = make(chan struct{}, 1)
	for i := range db.shards {
		db.shards[i].pending = make(map[string]access)
		db.shards[i].runs = make(map[string]uint8)
		db.shards[i].dead = make(map[string]deadCount)
		db.shards[i].cache.m = make(map[string]*cacheEntry)
	}
	if o.RecordCacheSize > 0 {
		db.cacheMax = max(o.RecordCacheSize/numShards, 1)
	}
	switch {
	case o.FS != nil:
	case o.InMemory:
		db.opts.FS = vfs.NewMem()
		dir = ""
	}
	db.dir = dir
	db.collVer.Store(uint64(time.Now().UnixNano()))
	pdb, err := db.openEngine()
	if err != nil {
		return nil, err
	}
	db.pdb = pdb
	if err := db.loadSystem(); err == nil {
		err = db.loadEventSeq()
	}
	if err == nil {
		err = db.loadApplied()
	}
	if err != nil {
		_ = pdb.Close()
		return nil, err
	}
	db.log.Info("epochdb: opened", "dir", dir, "keys", db.keys.Load(), "keys_with_ttl", db.ttlKeys.Load(),
		"sync_writes", o.SyncWrites, "in_memory", o.InMemory)
	db.startBackground()
	return db, nil
}

// openEngine opens Pebble on db.dir with the options db was opened with.
// A panic inside Pebble's open (its cleanup after a failed log write has
// been seen to panic) is returned as an error.
func (db *DB) openEngine() (_ *pebble.DB, err error) {
	o, dir := &db.opts, db.dir
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: open %q: %v", ErrEngine, dir, p)
		}
	}()
	popts := &pebble.Options{
		Cache:              pebble.NewCache(pebbleCacheSize(o)),
		MemTableSize:       o.MemTableSize,
		Merger:             &pebble.Merger{Name: mergerName, Merge: db.merge},
		Logger:             pebbleLogger{o.Logger},
		FormatMajorVersion: pebble.FormatNewest,
		EventListener:      db.met.eventListener(),
	}
	defer popts.Cache.Unref()
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	popts.FS = o.FS
	if o.NoWALPreallocation && !o.InMemory {
		base := popts.FS
		if base == nil {
			base = vfs.Default
		}
		popts.FS = noPreallocFS{base}
	}
	if err := checkRoomToOpen(popts.FS, dir); err != nil {
		return nil, err
	}
	pdb, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("epochdb: open %q: %w", dir, err)
	}
	return pdb, nil
}

// pebbleCacheSize is the capacity of Pebble's cache: CacheSize for blocks,
// plus the memtables, which Pebble reserves in the same cache (a mutable
// one and one being flushed at full size). Without them a write-heavy
// store's memtables would take the whole block cache, and every read
// missing the memtables would decompress and check its blocks again.
func pebbleCacheSize(o *Options) int64 { return o.CacheSize + 2*int64(o.MemTableSize) }

// loadSystem checks the format version (writing it on a new store) and loads
// the persistent key counters.
func (db *DB) loadSystem() error {
	v, err := db.getCounter(sysFormat)
	if err != nil {
		return err
	}
	switch v {
	case 0:
		b := db.pdb.NewBatch()
		defer b.Close()
		if err := b.Set(keyspace.SysKey(sysFormat), keyspace.AppendCounter(nil, formatVersion), nil); err != nil {
			return err
		}
		if err := db.pdb.Apply(b, pebble.Sync); err != nil {
			return fmt.Errorf("epochdb: write format version: %w", err)
		}
	case formatVersion:
	default:
		return fmt.Errorf("%w: on-disk format version %d, this build reads %d", ErrCorrupt, v, formatVersion)
	}
	return db.loadCounters()
}

// getCounters reads a vector of system counters; nil if it is absent.
func (db *DB) getCounters(name string) ([]int64, error) {
	v, closer, err := db.pdb.Get(keyspace.SysKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("epochdb: read counters %q: %w", name, err)
	}
	defer closer.Close()
	vec, err := keyspace.DecodeCounters(nil, v)
	if err != nil {
		return nil, fmt.Errorf("epochdb: counters %q: %w", name, err)
	}
	return vec, nil
}

func (db *DB) getCounter(name string) (int64, error) {
	v, closer, err := db.pdb.Get(keyspace.SysKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("epochdb: read %s: %w", name, err)
	}
	defer closer.Close()
	n, err := keyspace.DecodeCounter(v)
	if err != nil {
		return 0, fmt.Errorf("%w: system record %q: %v", ErrCorrupt, name, err)
	}
	return n, nil
}

// startBackground starts the background goroutines, which stop when
// db.bgStop closes.
func (db *DB) startBackground() {
	stop := make(chan struct{})
	db.bgStop = stop
	db.goFunc(func() { db.syncLoop(stop) })
	if db.opts.ExpiryInterval > 0 {
		db.goFunc(func() { db.expiryLoop(stop) })
	}
	if !db.opts.DisableReadTracking {
		db.goFunc(func() { db.trackLoop(stop) })
	}
	db.goFunc(func() { db.lifecycleLoop(stop) })
}

// stopBackground stops the background goroutines and waits for them.
func (db *DB) stopBackground() {
	if db.bgStop != nil {
		close(db.bgStop)
		db.bgStop = nil
	}
	db.wg.Wait()
}

// goFunc runs f in a goroutine that Close waits for.
func (db *DB) goFunc(f func()) {
	db.wg.Add(1)
	go func() {
		defer db.wg.Done()
		f()
	}()
}

// enter marks a call in progress; it fails once Close has begun, and while
// the engine is reopened after a failure. Every successful enter must be
// paired with leave.
func (db *DB) enter() error {
	db.inflight.Add(1)
	if db.closed.Load() {
		db.inflight.Add(-1)
		return ErrClosed
	}
	if db.reopening.Load() {
		db.inflight.Add(-1)
		return errReopening(db.engineErr())
	}
	if db.installing.Load() {
		db.inflight.Add(-1)
		return ErrInstallingImage
	}
	return nil
}

func (db *DB) leave() { db.inflight.Add(-1) }

// Close waits for calls in progress to finish, stops the background work,
// writes tracked reads, syncs the WAL and closes the store. The first call
// returns any error from that; later calls return nil. Iterations running in
// other goroutines (Scan) finish before Close returns.
func (db *DB) Close() error {
	defer db.recoverWG.Wait() // after closeMu is released: a reopen may wait for it
	db.closeMu.Lock()
	defer db.closeMu.Unlock()
	if db.closed.Load() {
		return nil
	}
	db.closed.Store(true)
	for db.inflight.Load() > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	close(db.closeCh)
	db.stopBackground()
	db.closeSubscriptions()

	var errs []error
	if db.pdb == nil { // a reopen after an engine failure did not succeed
		errs = append(errs, db.engineErr())
	} else {
		if err := db.flushTracked(); err != nil {
			errs = append(errs, err)
		}
		if err := db.syncLog(); err != nil {
			errs = append(errs, fmt.Errorf("epochdb: sync wal: %w", err))
		}
		if err := db.closeEngine(); err != nil {
			errs = append(errs, fmt.Errorf("epochdb: close pebble: %w", err))
		}
	}
	db.closeErr = errors.Join(errs...)
	db.log.Info("epochdb: closed", "err", db.closeErr)
	return db.closeErr
}

func (db *DB) hash(key []byte) uint64 { return maphash.Bytes(db.seed, key) }

func (db *DB) shardIndex(key []byte) uint64 { return db.hash(key) % numShards }

func (db *DB) shardFor(key []byte) *shard { return &db.shards[db.shardIndex(key)] }

func (db *DB) nowMs() int64 { return db.clock.Now().UnixMilli() }

// checkKey validates a user key.
func checkKey(key []byte) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrKeyTooLarge, len(key), MaxKeySize)
	}
	return nil
}

func (db *DB) checkValue(value []byte) error {
	if len(value) > db.opts.MaxValueSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, len(value), db.opts.MaxValueSize)
	}
	return nil
}

// deadline converts a TTL relative to now into an absolute deadline in Unix
// milliseconds, rounded up so that a key never expires early. ttl 0 means
// no deadline.
func deadline(now time.Time, ttl time.Duration) (int64, error) {
	if ttl < 0 {
		return 0, fmt.Errorf("%w: %v is negative", ErrInvalidTTL, ttl)
	}
	if ttl == 0 {
		return 0, nil
	}
	ns := now.UnixNano()
	if int64(ttl) > math.MaxInt64-ns {
		return 0, fmt.Errorf("%w: %v overflows the clock", ErrInvalidTTL, ttl)
	}
	end := ns + int64(ttl)
	ms := end / int64(time.Millisecond)
	if end%int64(time.Millisecond) != 0 {
		ms++
	}
	return ms, nil
}

// record is a data record read from Pebble. value aliases Pebble's memory
// and stays valid until release.
type record struct {
	hdr    keyspace.Header
	value  []byte
	closer interface{ Close() error }
}

func (r *record) release() {
	if r.closer != nil {
		_ = r.closer.Close()
		r.closer = nil
	}
}

// getRecord reads the data record of key. It returns ok=false if the key is
// absent, and returns expired records too: callers decide. A record returned
// with ok must be released.
func (db *DB) getRecord(r pebble.Reader, key []byte) (rec record, ok bool, err error) {
	var kbuf [64]byte
	v, closer, err := r.Get(keyspace.DataKey(kbuf[:0], key))
	if errors.Is(err, pebble.ErrNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("epochdb: get %q: %w", key, err)
	}
	hdr, val, err := keyspace.DecodeRecord(v)
	if err != nil {
		_ = closer.Close()
		return record{}, false, corruptErr(key, err)
	}
	return record{hdr: hdr, value: val, closer: closer}, true, nil
}

// getMeta reads the stored meta of key (without tracked, unflushed reads).
func (db *DB) getMeta(r pebble.Reader, key []byte) (keyspace.Meta, error) {
	var kbuf [64]byte
	v, closer, err := r.Get(keyspace.MetaKey(kbuf[:0], key))
	if errors.Is(err, pebble.ErrNotFound) {
		return keyspace.Meta{}, nil
	}
	if err != nil {
		return keyspace.Meta{}, fmt.Errorf("epochdb: get metadata of %q: %w", key, err)
	}
	defer closer.Close()
	m, err := keyspace.DecodeMeta(v)
	if err != nil {
		return keyspace.Meta{}, corruptErr(key, err)
	}
	return m, nil
}

// counts are changes of the persistent counters: keys, keys with a deadline,
// and live bytes (user keys plus values); and the earliest deadline written
// to the ttl index (0 = none), for the sweeper.
type counts struct {
	keys, ttlKeys, bytes int64
	minExp               int64
	minFieldExp          int64 // the earliest deadline written to the field index (0 = none)
}

func (c *counts) add(o counts) {
	c.keys += o.keys
	c.ttlKeys += o.ttlKeys
	c.bytes += o.bytes
	if o.minExp != 0 && (c.minExp == 0 || o.minExp < c.minExp) {
		c.minExp = o.minExp
	}
	if o.minFieldExp != 0 && (c.minFieldExp == 0 || o.minFieldExp < c.minFieldExp) {
		c.minFieldExp = o.minFieldExp
	}
}

func boolDelta(was, is bool) int64 {
	switch {
	case was && !is:
		return -1
	case !was && is:
		return 1
	}
	return 0
}

// ceilMs returns t in Unix milliseconds, rounded up.
func ceilMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

func msToTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
