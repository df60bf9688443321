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
	// flushed and fsynced at least this often, so a crash loses at most the
	// writes acknowledged in the last interval (plus the time one fsync
	// takes). A negative value disables the periodic sync and leaves flushing
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

	// TxMaxRetries is how many times Update re-runs a transaction whose
	// commit conflicted before it returns ErrConflict. A negative value
	// means never retry. The default is 32.
	TxMaxRetries int

	// MaxValueSize is the largest value accepted. The default is 512 MiB.
	MaxValueSize int

	// CacheSize is the size of Pebble's block cache in bytes. The default is
	// 64 MiB.
	CacheSize int64

	// MemTableSize is the size of one Pebble memtable in bytes. The default is
	// 64 MiB.
	MemTableSize uint64

	// Clock is the source of time for TTLs and metadata. The default is the
	// system wall clock.
	Clock Clock

	// Logger receives EpochDB's and Pebble's log messages. The default
	// discards them.
	Logger *slog.Logger

	// fs replaces the filesystem (tests: a crashable in-memory one).
	fs vfs.FS
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
	case o.CacheSize < 0:
		return fmt.Errorf("%w: CacheSize %d is negative", ErrInvalidOptions, o.CacheSize)
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
	fmt.Fprintf(&b, "tx_max_retries=%d\n", o.TxMaxRetries)
	fmt.Fprintf(&b, "max_value_size=%d\n", o.MaxValueSize)
	fmt.Fprintf(&b, "cache_size=%d\n", o.CacheSize)
	fmt.Fprintf(&b, "memtable_size=%d\n", o.MemTableSize)
	return b.String()
}
