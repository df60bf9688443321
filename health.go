package epochdb

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Health reports whether the DB accepts writes: nil while it does, an
// error wrapping ErrClosed after Close, or one wrapping ErrEngine (with
// the cause) after the storage engine failed, until it is reopened.
func (db *DB) Health() error {
	if db.closed.Load() {
		return ErrClosed
	}
	if db.reopening.Load() { // Recover clears the failure first, then this
		return errReopening(db.engineErr())
	}
	return db.engineErr()
}

// engineErr returns the recorded engine failure, if any.
func (db *DB) engineErr() error {
	if p := db.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// engineFailed records that the engine failed with cause (a log write or
// sync error, which Pebble keeps for good, or a panic inside its commit,
// whose internal locks may stay held: nothing may call into its write path
// again) and returns the error writes get from now on. stack is the
// panic's stack, if any.
func (db *DB) engineFailed(cause error, stack []byte) error {
	err := fmt.Errorf("%w: %v", ErrEngine, cause)
	if db.failure.CompareAndSwap(nil, &err) {
		args := []any{"err", cause}
		if stack != nil {
			args = append(args, "stack", string(stack))
		}
		db.log.Error("epochdb: the storage engine failed; writes are refused until it is reopened", args...)
		db.startRecovery()
	}
	return *db.failure.Load()
}

// checkRoomToOpen fails fast when the disk of dir has less free space than
// replaying the store's write-ahead log will write (the log files' size,
// plus a margin): on a full disk Pebble's open would retry the flush of the
// replayed log for ever. A filesystem that cannot tell its free space, or
// a directory that does not exist yet, passes.
func checkRoomToOpen(fs vfs.FS, dir string) error {
	if fs == nil {
		fs = vfs.Default
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil
	}
	var logs uint64
	for _, n := range names {
		if strings.HasSuffix(n, ".log") {
			if fi, err := fs.Stat(fs.PathJoin(dir, n)); err == nil {
				logs += uint64(fi.Size())
			}
		}
	}
	du, err := fs.GetDiskUsage(dir)
	if err != nil {
		return nil
	}
	const margin = 1 << 20
	if need := logs + margin; du.AvailBytes < need {
		return fmt.Errorf("%w: %s has %d bytes free, replaying its log needs about %d; free some space and start again",
			ErrNoSpace, dir, du.AvailBytes, need)
	}
	return nil
}

// syncLog fsyncs Pebble's log, making every write applied so far durable.
// It refuses once the engine failed (its commit path may be wedged), and
// contains a panic from Pebble the way applyBatch does.
func (db *DB) syncLog() (err error) {
	if err := db.engineErr(); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = db.engineFailed(fmt.Errorf("%v", p), debug.Stack())
		}
	}()
	if err := db.pdb.LogData(nil, pebble.Sync); err != nil {
		return db.engineFailed(fmt.Errorf("sync: %w", err), nil)
	}
	return nil
}

// closeEngine closes Pebble. After an engine failure Pebble's Close may
// panic on the failed commit; the panic is returned as an error.
func (db *DB) closeEngine() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: close after failure: %v", ErrEngine, p)
		}
	}()
	return db.pdb.Close()
}
