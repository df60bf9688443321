package epochdb

import (
	"errors"
	"fmt"

	"github.com/epochdb/epochdb/internal/keyspace"
)

// Errors returned when the database is used after Close or cannot be opened.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("epochdb: database closed")
	// ErrInvalidOptions is returned (wrapped) by Open when Options do not validate.
	ErrInvalidOptions = errors.New("epochdb: invalid options")
)

// Errors returned for a key that is not there.
var (
	// ErrNotFound is returned when a key is absent or has expired.
	ErrNotFound = errors.New("epochdb: key not found")
)

// Errors returned for arguments that can never be stored.
var (
	// ErrEmptyKey is returned when a key is nil or empty.
	ErrEmptyKey = errors.New("epochdb: key is empty")
	// ErrKeyTooLarge is returned when a key is longer than MaxKeySize.
	ErrKeyTooLarge = errors.New("epochdb: key too large")
	// ErrValueTooLarge is returned when a value is longer than Options.MaxValueSize.
	ErrValueTooLarge = errors.New("epochdb: value too large")
	// ErrInvalidTTL is returned when a TTL is negative, or a deadline is not
	// representable in Unix milliseconds.
	ErrInvalidTTL = errors.New("epochdb: invalid ttl")
)

// ErrCorrupt is returned (wrapped, with the key and what was wrong) when bytes
// read from disk cannot be decoded. Test for it with IsCorruption.
var ErrCorrupt = errors.New("epochdb: corrupt data")

// IsCorruption reports whether err was caused by undecodable on-disk data.
func IsCorruption(err error) bool { return errors.Is(err, ErrCorrupt) }

// corruptErr wraps a keyspace decoding error with the user key it concerns.
func corruptErr(key []byte, err error) error {
	if errors.Is(err, keyspace.ErrCorrupt) {
		return fmt.Errorf("%w: key %q: %v", ErrCorrupt, key, err)
	}
	return fmt.Errorf("epochdb: key %q: %w", key, err)
}

// ErrNoSpace is returned (wrapped, with the figures) by Open when the disk
// has less free space than replaying the store's log needs: Pebble would
// otherwise retry its flush for ever instead of opening.
var ErrNoSpace = errors.New("epochdb: not enough free disk space to open")

// ErrEngine is returned (wrapped, with the cause) by every write after the
// storage engine failed: it could not write its log (a full disk, an I/O
// error). Reads keep working from what was applied; DB.Health reports the
// failure. The DB reopens the engine by itself once the disk takes writes
// again (Options.RecoverInterval, DB.Recover).
var ErrEngine = errors.New("epochdb: storage engine failed")
