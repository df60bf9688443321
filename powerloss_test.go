package epochdb

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb/internal/clock"
	"github.com/epochdb/epochdb/internal/testutil"
)

// The power-loss tests run the DB on Pebble's crashable in-memory filesystem
// and take a "crash clone" of it: a copy holding exactly the data that was
// fsynced, as a machine that lost power would. (A SIGKILL, as in the crash
// tests, cannot show fsync bugs: the OS keeps what the process wrote.)

func openCrashable(t *testing.T, fs vfs.FS, o Options) *DB {
	t.Helper()
	o.FS = fs
	db, err := Open("db", &o)
	testutil.Must(t, err)
	return db
}

func countPresent(t *testing.T, db *DB, keys []string) int {
	t.Helper()
	n := 0
	for _, k := range keys {
		v, err := db.Get([]byte(k))
		switch {
		case err == nil && string(v) == k:
			n++
		case err != nil && !errors.Is(err, ErrNotFound):
			t.Fatal(err)
		}
	}
	return n
}

func writeKeys(t *testing.T, db *DB, prefix string, writers, each int) []string {
	t.Helper()
	var mu sync.Mutex
	var keys []string
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				k := fmt.Sprintf("%s-%d-%d", prefix, g, i)
				if err := db.Set([]byte(k), []byte(k), time.Duration(i%2)*time.Hour); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				keys = append(keys, k)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return keys
}

// powerLoss simulates a power loss under db: it clones fs as only its
// fsynced data, closes db and opens the store of the clone.
func powerLoss(t *testing.T, fs *vfs.MemFS, db *DB) *DB {
	t.Helper()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	testutil.Must(t, db.Close())
	return openCrashable(t, crashed, Options{})
}

func TestPowerLoss_SyncWrites_KeepsEveryAcknowledgedWrite(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db := openCrashable(t, fs, Options{SyncWrites: true})
	keys := writeKeys(t, db, "k", 8, 50)
	db = powerLoss(t, fs, db)
	defer db.Close()
	if n := countPresent(t, db, keys); n != len(keys) {
		t.Fatalf("after power loss %d of %d acknowledged writes survive", n, len(keys))
	}
	if s := db.Stats(); s.Keys != int64(len(keys)) || s.KeysWithTTL != int64(len(keys)/2) {
		t.Fatalf("counters after power loss: %+v", s)
	}
}

func TestPowerLoss_DefaultMode_PeriodicSyncMakesWritesDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db := openCrashable(t, fs, Options{Clock: clock.Real{}, SyncInterval: 10 * time.Millisecond})
	synced := writeKeys(t, db, "a", 4, 50)
	// Wait (on the wall clock: the sync loop runs on a real ticker) until a
	// periodic sync has covered every write made so far.
	target := db.writeSeq.Load()
	deadline := time.Now().Add(10 * time.Second)
	for db.syncedSeq.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("no periodic WAL sync within 10s: %+v", db.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	db = powerLoss(t, fs, db)
	defer db.Close()
	if n := countPresent(t, db, synced); n != len(synced) {
		t.Fatalf("after power loss %d of %d writes covered by a periodic sync survive", n, len(synced))
	}
}

// TestPowerLoss_NoSync_LosesUnsyncedWrites shows the harness detects loss:
// without any sync, a power loss drops the acknowledged writes.
func TestPowerLoss_NoSync_LosesUnsyncedWrites(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db := openCrashable(t, fs, Options{SyncInterval: -1})
	keys := writeKeys(t, db, "k", 2, 50)
	db = powerLoss(t, fs, db)
	defer db.Close()
	if n := countPresent(t, db, keys); n != 0 {
		t.Fatalf("%d unsynced writes survived a power loss; the crash clone is not simulating loss", n)
	}
	if s := db.Stats(); s.Keys != 0 {
		t.Fatalf("counters after losing every write: %+v", s)
	}
}

// TestPowerLoss_Sync_MakesWritesDurable: with no periodic sync at all, an
// explicit Sync makes every write acknowledged before it survive a power
// loss (the control test above shows the same writes are lost without it).
func TestPowerLoss_Sync_MakesWritesDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db := openCrashable(t, fs, Options{SyncInterval: -1})
	keys := writeKeys(t, db, "k", 2, 50)
	testutil.Must(t, db.Sync())
	db = powerLoss(t, fs, db)
	defer db.Close()
	if n := countPresent(t, db, keys); n != len(keys) {
		t.Fatalf("after Sync and a power loss %d of %d writes survive", n, len(keys))
	}
}

// TestPowerLoss_EventLog_NoSeenSequenceIsReused: a reader never sees an
// event that a power loss can take back, so the sequence numbers it saw
// are never handed out again and its cursor finds every later event.
func TestPowerLoss_EventLog_NoSeenSequenceIsReused(t *testing.T) {
	fs := vfs.NewCrashableMem()
	clk := testutil.NewClock()
	opts := Options{Clock: clk, EventLog: true, SyncInterval: time.Hour, ExpiryInterval: time.Hour}
	db := openCrashable(t, fs, opts)
	expire := func(db *DB, prefix string) {
		for i := range 5 {
			mustSet(t, db, fmt.Sprint(prefix, i), "v", time.Second)
		}
		clk.Advance(time.Second)
		_, err := db.expireDue(nil)
		testutil.Must(t, err)
	}
	// read reads every event after cursor, as a consumer does.
	read := func(db *DB, cursor uint64) ([]Event, uint64) {
		evs, next, err := db.ReadEvents(cursor, 1000)
		testutil.Must(t, err)
		return evs, next
	}
	expire(db, "synced")
	testutil.Must(t, db.Sync())
	evs, cursor := read(db, 0)
	if len(evs) != 5 {
		t.Fatalf("read %d durable events, want 5", len(evs))
	}
	expire(db, "lost") // logged, not durable
	if evs, c := read(db, cursor); len(evs) != 0 {
		t.Fatalf("events %+v readable before they are durable", evs)
	} else {
		cursor = c
	}

	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	testutil.Must(t, db.Close())
	opts.FS = crashed
	db, err := Open("db", &opts)
	testutil.Must(t, err)
	defer db.Close()
	expire(db, "after")
	testutil.Must(t, db.Sync())
	evs, _ = read(db, cursor)
	if len(evs) != 5 || string(evs[0].Key) != "after0" {
		t.Fatalf("from cursor %d after the power loss: %d events (%+v), want the 5 new ones", cursor, len(evs), evs)
	}
}
