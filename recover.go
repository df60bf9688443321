package epochdb

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Recovery from an engine failure. Pebble does not recover in place from a
// failed log write (a full disk, an I/O error): it keeps the error, and a
// panic inside its commit may leave its internal locks held. The DB
// therefore reopens the engine: it waits for the calls in progress to end
// (new ones are refused meanwhile), stops the background work, closes the
// failed engine, opens the store again — which replays the log, so every
// write that reached it is back, and none that did not — and reloads what it
// keeps in memory from the store: the key counters (persisted in the same
// batches as the writes they count), the event log's sequence; the record
// cache starts empty, every Watch reports a change (a write it saw may be
// gone), the sweeper and eviction start over. Tracked reads not yet written
// are kept. Writes acknowledged without an fsync (the default mode) that the
// failed log lost stay lost, as after a crash; with SyncWrites every
// acknowledged write was fsynced.

// ErrReopening wraps the error calls get while the engine is being
// reopened after a failure (they also match ErrEngine).
var ErrReopening = errors.New("epochdb: the storage engine is being reopened after a failure")

func errReopening(cause error) error {
	if cause == nil {
		return fmt.Errorf("%w (%w)", ErrReopening, ErrEngine)
	}
	return fmt.Errorf("%w (%w)", ErrReopening, cause)
}

// drainTimeout bounds how long a reopen waits for calls in progress (an
// open transaction counts) before it gives up and tries again later.
const drainTimeout = 5 * time.Second

// startRecovery starts the loop that retries Recover every
// RecoverInterval, once per failure.
func (db *DB) startRecovery() {
	if db.opts.RecoverInterval < 0 || db.closed.Load() || !db.recovering.CompareAndSwap(false, true) {
		return
	}
	db.recoverWG.Add(1)
	go func() {
		defer db.recoverWG.Done()
		defer db.recovering.Store(false)
		t := time.NewTicker(db.opts.RecoverInterval)
		defer t.Stop()
		for attempt := 1; ; attempt++ {
			select {
			case <-db.closeCh:
				return
			case <-t.C:
			}
			err := db.Recover()
			switch {
			case err == nil || errors.Is(err, ErrClosed):
				return
			case attempt == 1 || attempt%60 == 0:
				db.log.Warn("epochdb: reopening the storage engine failed; retrying", "attempt", attempt, "err", err)
			}
		}
	}()
}

// Recover reopens the storage engine after a failure (see ErrEngine and
// Health) and returns nil once the DB accepts writes again; with no failure
// it does nothing. The DB calls it by itself every RecoverInterval after a
// failure; calling it is for a program that knows the cause is gone. It
// fails, leaving the DB as it was, while the disk has too little free space
// (ErrNoSpace) or while calls in progress do not end within 5s; if the
// store cannot be opened again, every call fails with ErrReopening until a
// later attempt succeeds.
func (db *DB) Recover() error {
	db.closeMu.Lock()
	defer db.closeMu.Unlock()
	if db.closed.Load() {
		return ErrClosed
	}
	cause := db.engineErr()
	if cause == nil {
		return nil
	}
	if err := checkRoomToOpen(db.opts.FS, db.dir); err != nil {
		return err
	}
	if err := probeLogWrite(db.opts.FS, db.dir); err != nil {
		return err
	}
	db.reopening.Store(true)
	if db.pdb != nil {
		deadline := time.Now().Add(drainTimeout)
		for db.inflight.Load() > 0 {
			if time.Now().After(deadline) {
				db.reopening.Store(false)
				return fmt.Errorf("%w: calls in progress did not end within %v", ErrReopening, drainTimeout)
			}
			time.Sleep(100 * time.Microsecond)
		}
		db.stopBackground()
		if err := db.closeEngine(); err != nil {
			db.log.Warn("epochdb: closing the failed storage engine", "err", err)
		}
		db.pdb = nil
	}
	pdb, err := db.openEngine()
	if err != nil {
		return err // still reopening: calls fail until an attempt succeeds
	}
	db.pdb = pdb
	if err := db.reload(); err != nil {
		_ = pdb.Close()
		db.pdb = nil
		return err
	}
	db.failure.Store(nil)
	db.st.reopens.Add(1)
	db.startBackground()
	db.reopening.Store(false)
	db.log.Info("epochdb: the storage engine was reopened; writes are accepted again", "after", cause,
		"keys", db.keys.Load())
	return nil
}

// probeLogWrite writes, fsyncs and removes a file beside the store's log,
// as the log's writes would: a reopen is only tried once that works. Pebble
// does not clean up well after an open whose log write fails (goroutines
// of the failed open have been seen to crash the process), so a fault that
// persists must be found here, not by opening.
func probeLogWrite(fs vfs.FS, dir string) (err error) {
	if fs == nil {
		fs = vfs.Default
	}
	name := fs.PathJoin(dir, "epochdb-recovery-probe.log")
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w: the store's disk still fails writes: %v", ErrEngine, err)
		}
	}()
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, werr := f.Write(make([]byte, 64<<10))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if rerr := fs.Remove(name); werr == nil {
		werr = rerr
	}
	return werr
}

// reload resets what the DB keeps in memory from the reopened store. No
// call is in progress and the background work is stopped.
func (db *DB) reload() error {
	for i := range db.ns {
		db.ns[i].keys.Store(0)
		db.ns[i].ttlKeys.Store(0)
		db.ns[i].bytes.Store(0)
	}
	db.keys.Store(0)
	db.ttlKeys.Store(0)
	db.bytes.Store(0)
	if err := db.loadSystem(); err != nil {
		return err
	}
	if err := db.loadApplied(); err != nil {
		return err
	}
	seq, err := db.getCounter(sysEventSeq)
	if err != nil {
		return err
	}
	db.ev.setLastSeq(uint64(seq), false)
	if uint64(seq) > db.ev.durable.Load() {
		db.eventsDurable(uint64(seq))
	}
	db.syncedSeq.Store(db.writeSeq.Load())
	db.sweepFrom.Store(0)
	db.fieldSweepFrom.Store(0)
	db.life.resetPool()
	for i := range db.shards {
		db.resetShard(&db.shards[i])
	}
	return nil
}

// resetShard forgets what sh knows of the records (merge runs, the record
// cache) and marks its watches changed, keeping its tracked reads: their
// counts move from the cache entries into the pending map first.
func (db *DB) resetShard(sh *shard) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	clear(sh.runs)
	clear(sh.zhints)
	for _, ws := range sh.watchers {
		for _, w := range ws {
			w.dirty.Store(true)
		}
	}
	pending := sh.takeTracked()
	db.clearCache(&sh.cache)
	for k, a := range pending {
		sh.addPending(k, a)
	}
}

// clearCache empties a shard's record cache.
func (db *DB) clearCache(c *recordCache) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		db.st.cacheBytes.Add(-e.size(k))
		db.st.cacheEntries.Add(-1)
	}
	clear(c.m)
	c.bytes = 0
}
