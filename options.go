package epochdb

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb/internal/clock"
)

// MaxKeySize is the largest key EpochDB stores: 64 KiB.
const MaxKeySize = 64 << 10

// Clock is the time source of every lifecycle decision: TTL deadlines,
// creation and access times. Tests inject a clock they advance by hand.
type Clock interface {
	Now() time.Time
}

// Options configure a DB. The zero value of every field means "use the
// default", which each field's comment states. A nil *Options passed to Open
// means all defaults.
type Options struct {
	// InMemory keeps everything in memory (Pebble's in-memory filesystem);
	// the directory passed to Open is ignored and nothing survives Close.
	// For tests and pure caches.
	InMemory bool

	// SyncWrites makes every write durable (WAL fsynced) before it returns.
	// Concurrent writers share fsyncs (group commit). Nothing acknowledged is
	// lost, even on power loss. The default is false: see SyncInterval.
	SyncWrites bool

	// SyncInterval bounds the loss window when SyncWrites is false: the WAL is
	// flushed and fsynced at least this often (a sync starts every half
	// interval), so a crash loses at most the writes acknowledged in the last
	// interval, as long as one fsync takes less than half of it. A negative value disables the periodic sync and leaves flushing
	// to Pebble and the OS (Redis's "appendfsync no"). The default is 100ms.
	SyncInterval time.Duration

	// ExpiryInterval is how often the background sweeper deletes keys whose
	// deadline has passed. Expired keys are invisible from their deadline on
	// regardless; the sweeper reclaims their space. The default is 100ms.
	ExpiryInterval time.Duration

	// ExpiryBatchSize bounds the keys the sweeper deletes in one atomic batch;
	// it releases its locks between batches so foreground writes interleave.
	// The default is 512.
	ExpiryBatchSize int

	// DisableReadTracking stops Get from counting as an access (frequency
	// and last-access time). By default reads are tracked: counted in memory
	// and flushed in batches every TrackFlushInterval, never as a synchronous
	// write on the read path.
	DisableReadTracking bool

	// TrackFlushInterval is how often tracked reads are written to the meta
	// keyspace. Metadata includes unflushed counts. The default is 500ms.
	TrackFlushInterval time.Duration

	// HeatHalfLife is the half-life with which a key's heat decays: each
	// access adds 1 to the heat, and the sum halves every HeatHalfLife (the
	// idea of Redis's LFU decay). Eviction by heat keeps the keys used most
	// recently and often. A negative value disables decay. The default is 1h.
	HeatHalfLife time.Duration

	// PruneMinFrequency turns on the frequency rule of pruning: a key older
	// than PruneGrace whose frequency is below this is removed by a
	// background pass. 0 (the default) disables the rule.
	PruneMinFrequency uint64

	// PruneIdle turns on the idle rule of pruning: a key older than
	// PruneGrace not accessed for this long is removed. 0 (the default)
	// disables the rule. A key is pruned if either enabled rule selects it.
	PruneIdle time.Duration

	// PruneGrace is the age (since CreatedAt) under which no key is pruned.
	// The default is 0: any age.
	PruneGrace time.Duration

	// PruneInterval is how often the pruning pass walks the keyspace. The
	// default is 1m.
	PruneInterval time.Duration

	// PruneBatchSize is how many keys one step of the pruning pass examines;
	// the pass releases its locks and yields between steps. The default is
	// 1000.
	PruneBatchSize int

	// PruneSkipTTLKeys exempts keys with a deadline from pruning: they are
	// left to expire. By default they follow the same rule.
	PruneSkipTTLKeys bool

	// MaxKeys is a budget on the number of keys; 0 (the default) means no
	// limit. See EvictionPolicy.
	MaxKeys int64

	// MaxDiskBytes is a budget on the live data size, Stats.LiveBytes: the
	// length of all keys and values. Physical disk use follows it after
	// compactions (Pebble compresses, and deleted data is reclaimed
	// lazily). 0 (the default) means no limit.
	MaxDiskBytes int64

	// EvictionPolicy says what happens when a write would exceed MaxKeys or
	// MaxDiskBytes. The default, NoEviction, fails the write with ErrFull.
	EvictionPolicy EvictionPolicy

	// EventLog keeps a durable log of lifecycle events (expiries, prunes,
	// evictions) in the store: each event gets a sequence number, survives
	// restarts, and can be read from a cursor with ReadEvents. Off by
	// default.
	EventLog bool

	// EventLogValues stores the retired key's value in its event.
	EventLogValues bool

	// EventLogMaxEntries bounds the event log by count; older events are
	// dropped. The default is 1,000,000.
	EventLogMaxEntries int64

	// EventLogMaxAge bounds the event log by age. The default, 0, keeps
	// events until EventLogMaxEntries drops them.
	EventLogMaxAge time.Duration

	// TxMaxRetries is how many times Update re-runs a transaction whose
	// commit conflicted before it returns ErrConflict. A negative value
	// means never retry. The default is 32.
	TxMaxRetries int

	// MaxValueSize is the largest value accepted. The default is 512 MiB.
	MaxValueSize int

	// CacheSize is the size of Pebble's block cache in bytes. The default is
	// 64 MiB. Pebble accounts its memtables in the same cache; EpochDB opens
	// it with room for two memtables on top, so that the blocks keep
	// CacheSize however much is being written.
	CacheSize int64

	// MemTableSize is the size of one Pebble memtable in bytes. The default is
	// 64 MiB. Up to two are in memory (one filling, one being flushed).
	MemTableSize uint64

	// RecordCacheSize bounds the record cache: the latest header (and value,
	// up to RecordCacheValueMax bytes) of recently read or written keys,
	// kept write-through by every write, so that a Get of a cached key and a
	// write over it need no engine read. It is part of the process's memory
	// on top of CacheSize and the memtables, and its entries are Go heap
	// objects the garbage collector walks. The default is 16 MiB (about
	// 80,000 keys of 100-byte values: a hot set, while Pebble's block cache
	// serves the rest); a negative value turns the cache off.
	RecordCacheSize int64

	// RecordCacheValueMax is the largest value the record cache keeps; for a
	// larger one it keeps the header alone. The default is 4 KiB.
	RecordCacheValueMax int

	// Clock is the source of time for TTLs and metadata. The default is the
	// system wall clock.
	Clock Clock

	// Logger receives EpochDB's and Pebble's log messages. The default
	// discards them.
	Logger *slog.Logger

	// NoWALPreallocation makes the write-ahead log grow as it is written,
	// instead of reserving Pebble's default of 110% of MemTableSize (about
	// 70 MiB) on disk for every log file up front: a new store then takes
	// kilobytes instead of ~70 MiB. The cost: a log file that grows changes
	// its size on every sync, so an fsync also commits the file's metadata
	// (on ext4 and XFS, a journal write): with SyncWrites, where every write
	// waits for an fsync, each group commit gets slower; with the periodic
	// sync (the default) it is one extra metadata commit per SyncInterval.
	// It has no effect on an InMemory store.
	NoWALPreallocation bool

	// RecoverInterval is how often, after the storage engine failed (a
	// full disk, an I/O error: see ErrEngine), the DB tries to reopen it in
	// place (Recover): once the cause is gone, writes are accepted again
	// without a restart. A negative value disables it: the DB stays failed
	// until reopened. The default is 1s.
	RecoverInterval time.Duration

	// Replicator, if set, commits every write to a replicated log instead
	// of the DB applying it; the DB applies the log's entries through
	// ApplyCommitted. The cluster package provides one on hashicorp/raft.
	Replicator Replicator

	// FS replaces the filesystem Pebble uses, for tests: Pebble's
	// vfs.NewMem, its crashable in-memory filesystem (power-loss tests), or
	// vfs/errorfs to inject I/O errors. The default is the operating
	// system's; InMemory is a shorthand for vfs.NewMem.
	FS vfs.FS
}

// DefaultOptions returns the options Open uses when given nil.
func DefaultOptions() *Options {
	o := &Options{}
	o.ensureDefaults()
	return o
}

func (o *Options) ensureDefaults() {
	if o.SyncInterval == 0 {
		o.SyncInterval = 100 * time.Millisecond
	}
	if o.ExpiryInterval == 0 {
		o.ExpiryInterval = 100 * time.Millisecond
	}
	if o.ExpiryBatchSize == 0 {
		o.ExpiryBatchSize = 512
	}
	if o.TrackFlushInterval == 0 {
		o.TrackFlushInterval = 500 * time.Millisecond
	}
	if o.HeatHalfLife == 0 {
		o.HeatHalfLife = time.Hour
	}
	if o.PruneInterval == 0 {
		o.PruneInterval = time.Minute
	}
	if o.PruneBatchSize == 0 {
		o.PruneBatchSize = 1000
	}
	if o.EventLogMaxEntries == 0 {
		o.EventLogMaxEntries = 1_000_000
	}
	if o.RecoverInterval == 0 {
		o.RecoverInterval = time.Second
	}
	if o.TxMaxRetries == 0 {
		o.TxMaxRetries = 32
	}
	if o.MaxValueSize == 0 {
		o.MaxValueSize = 512 << 20
	}
	if o.CacheSize == 0 {
		o.CacheSize = 64 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 64 << 20
	}
	if o.RecordCacheSize == 0 {
		o.RecordCacheSize = 16 << 20
	}
	if o.RecordCacheValueMax == 0 {
		o.RecordCacheValueMax = 4 << 10
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	switch {
	case o.ExpiryInterval < 0:
		return fmt.Errorf("%w: ExpiryInterval %v is negative", ErrInvalidOptions, o.ExpiryInterval)
	case o.ExpiryBatchSize < 0:
		return fmt.Errorf("%w: ExpiryBatchSize %d is negative", ErrInvalidOptions, o.ExpiryBatchSize)
	case o.TrackFlushInterval < 0:
		return fmt.Errorf("%w: TrackFlushInterval %v is negative", ErrInvalidOptions, o.TrackFlushInterval)
	case o.MaxValueSize < 0 || o.MaxValueSize > 1<<30:
		return fmt.Errorf("%w: MaxValueSize %d is outside [0, 1 GiB]", ErrInvalidOptions, o.MaxValueSize)
	case o.PruneIdle < 0 || o.PruneGrace < 0 || o.PruneInterval < 0 || o.PruneBatchSize < 0:
		return fmt.Errorf("%w: negative pruning option", ErrInvalidOptions)
	case o.MaxKeys < 0 || o.MaxDiskBytes < 0:
		return fmt.Errorf("%w: negative budget (MaxKeys %d, MaxDiskBytes %d)", ErrInvalidOptions, o.MaxKeys, o.MaxDiskBytes)
	case o.EvictionPolicy > EvictAllKeysLRU:
		return fmt.Errorf("%w: unknown EvictionPolicy %d", ErrInvalidOptions, o.EvictionPolicy)
	case o.EventLogMaxEntries < 0 || o.EventLogMaxAge < 0:
		return fmt.Errorf("%w: negative event log retention", ErrInvalidOptions)
	case o.CacheSize < 0:
		return fmt.Errorf("%w: CacheSize %d is negative", ErrInvalidOptions, o.CacheSize)
	case o.RecordCacheValueMax < 0:
		return fmt.Errorf("%w: RecordCacheValueMax %d is negative", ErrInvalidOptions, o.RecordCacheValueMax)
	case o.MemTableSize > 1<<32:
		return fmt.Errorf("%w: MemTableSize %d is over 4 GiB", ErrInvalidOptions, o.MemTableSize)
	}
	return nil
}

// String renders the options one "name=value" per line, in a stable order,
// so that operators and tests can see what a DB runs with.
func (o *Options) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "in_memory=%t\n", o.InMemory)
	fmt.Fprintf(&b, "sync_writes=%t\n", o.SyncWrites)
	fmt.Fprintf(&b, "sync_interval=%v\n", o.SyncInterval)
	fmt.Fprintf(&b, "expiry_interval=%v\n", o.ExpiryInterval)
	fmt.Fprintf(&b, "expiry_batch_size=%d\n", o.ExpiryBatchSize)
	fmt.Fprintf(&b, "read_tracking=%t\n", !o.DisableReadTracking)
	fmt.Fprintf(&b, "track_flush_interval=%v\n", o.TrackFlushInterval)
	fmt.Fprintf(&b, "heat_half_life=%v\n", o.HeatHalfLife)
	fmt.Fprintf(&b, "prune_min_frequency=%d\n", o.PruneMinFrequency)
	fmt.Fprintf(&b, "prune_idle=%v\n", o.PruneIdle)
	fmt.Fprintf(&b, "prune_grace=%v\n", o.PruneGrace)
	fmt.Fprintf(&b, "prune_interval=%v\n", o.PruneInterval)
	fmt.Fprintf(&b, "prune_skip_ttl_keys=%t\n", o.PruneSkipTTLKeys)
	fmt.Fprintf(&b, "max_keys=%d\n", o.MaxKeys)
	fmt.Fprintf(&b, "max_disk_bytes=%d\n", o.MaxDiskBytes)
	fmt.Fprintf(&b, "eviction_policy=%v\n", o.EvictionPolicy)
	fmt.Fprintf(&b, "event_log=%t\n", o.EventLog)
	fmt.Fprintf(&b, "tx_max_retries=%d\n", o.TxMaxRetries)
	fmt.Fprintf(&b, "max_value_size=%d\n", o.MaxValueSize)
	fmt.Fprintf(&b, "cache_size=%d\n", o.CacheSize)
	fmt.Fprintf(&b, "memtable_size=%d\n", o.MemTableSize)
	fmt.Fprintf(&b, "record_cache_size=%d\n", o.RecordCacheSize)
	fmt.Fprintf(&b, "record_cache_value_max=%d\n", o.RecordCacheValueMax)
	return b.String()
}

// EvictionPolicy chooses what happens when a write would exceed the
// budget (MaxKeys, MaxDiskBytes). The names follow Redis's maxmemory-policy.
type EvictionPolicy uint8

const (
	// NoEviction fails writes that would exceed the budget with ErrFull.
	NoEviction EvictionPolicy = iota
	// EvictAllKeysLFU evicts the keys with the lowest heat ("allkeys-lfu").
	EvictAllKeysLFU
	// EvictVolatileLFU evicts the keys with a deadline with the lowest heat
	// ("volatile-lfu"); if none is left, writes fail with ErrFull.
	EvictVolatileLFU
	// EvictAllKeysLRU evicts the keys accessed least recently ("allkeys-lru").
	EvictAllKeysLRU
)

var evictionPolicyNames = [...]string{"noeviction", "allkeys-lfu", "volatile-lfu", "allkeys-lru"}

// String returns the policy's Redis name, e.g. "allkeys-lfu".
func (p EvictionPolicy) String() string {
	if int(p) < len(evictionPolicyNames) {
		return evictionPolicyNames[p]
	}
	return fmt.Sprintf("EvictionPolicy(%d)", p)
}

// ParseEvictionPolicy parses a policy's Redis name.
func ParseEvictionPolicy(s string) (EvictionPolicy, error) {
	for i, n := range evictionPolicyNames {
		if strings.EqualFold(s, n) {
			return EvictionPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown eviction policy %q (want one of %s)", ErrInvalidOptions, s,
		strings.Join(evictionPolicyNames[:], ", "))
}
