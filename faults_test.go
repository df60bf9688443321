package epochdb

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/epochdb/epochdb/internal/keyspace"
	"github.com/epochdb/epochdb/internal/testutil"
)

// within fails the test if fn does not return within d: a wedged lock shows
// up as a failure rather than as a hung test binary.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: a lock was left held", what, d)
	}
}

// everyShardWritable writes one key into each of the DB's shards.
func everyShardWritable(t *testing.T, db *DB) {
	t.Helper()
	hit := make(map[uint64]bool)
	for i := 0; len(hit) < numShards; i++ {
		k := []byte(fmt.Sprintf("probe-%d", i))
		if s := db.shardIndex(k); !hit[s] {
			hit[s] = true
			testutil.Must(t, db.Set(k, []byte("v"), 0))
		}
	}
}

func TestFault_ModifyPanic_LeavesEveryLockReleased(t *testing.T) {
	db, _ := mustOpen(t, &Options{EventLog: true})
	mustSet(t, db, "k", "v", 0)
	// A runtime error (slice bounds, as a bad SETRANGE offset once
	// caused) and a plain panic: Modify lets both through unchanged.
	for _, fn := range []func(Entry, bool) (Change, error){
		func(cur Entry, _ bool) (Change, error) {
			n := len(cur.Value) + 1
			_ = cur.Value[n:]
			return Change{}, nil
		},
		func(Entry, bool) (Change, error) { panic("boom") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("Modify returned although its callback panicked")
				}
			}()
			_ = db.Modify([]byte("k"), fn)
		}()
	}
	within(t, 10*time.Second, "writes to every shard, Stats, Backup and Close", func() {
		everyShardWritable(t, db)
		if got := mustGet(t, db, "k"); got != "v" {
			t.Errorf("k = %q after the panics, want it unchanged", got)
		}
		_ = db.Stats()
		testutil.Must(t, db.flushTracked())
		_, err := db.Backup(discard{})
		testutil.Must(t, err)
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestFault_EngineWriteError_RefusesWritesKeepsReads(t *testing.T) {
	for _, syncWrites := range []bool{true, false} {
		t.Run(fmt.Sprintf("SyncWrites=%v", syncWrites), func(t *testing.T) {
			fs, tg := testutil.FaultFS(testutil.LogWrites)
			db, err := Open("db", &Options{FS: fs, Clock: testutil.NewClock(), SyncWrites: syncWrites, SyncInterval: time.Hour, RecoverInterval: -1})
			testutil.Must(t, err)
			for i := range 100 {
				mustSet(t, db, fmt.Sprint("k", i), "v", 0)
			}
			testutil.Must(t, db.Sync())
			tg.On()
			var werr error
			within(t, 10*time.Second, "writes on a failing log", func() {
				for i := 0; i < 1000 && werr == nil; i++ {
					werr = db.Set([]byte(fmt.Sprint("new", i)), make([]byte, 1024), 0)
					if werr == nil && !syncWrites {
						werr = db.Sync()
					}
				}
			})
			if werr == nil {
				t.Fatal("no write failed while the log could not be written")
			}
			within(t, 10*time.Second, "reads, writes, Stats and Close after the failure", func() {
				if got := mustGet(t, db, "k7"); got != "v" {
					t.Errorf("k7 = %q", got)
				}
				if err := db.Set([]byte("after"), []byte("v"), 0); err == nil {
					t.Error("a write succeeded after the engine failed")
				}
				if err := db.Health(); !errors.Is(err, ErrEngine) {
					t.Errorf("Health = %v, want ErrEngine", err)
				}
				_ = db.Stats()
				_ = db.Close()
			})
		})
	}
}

func TestFault_ReadErrorInLifecyclePasses_LeavesDBUsable(t *testing.T) {
	fs, tg := testutil.FaultFS(func(op errorfs.Op) bool {
		return strings.HasSuffix(op.Path, ".sst") && op.Kind == errorfs.OpFileReadAt
	})
	clk := testutil.NewClock()
	db, err := Open("db", &Options{FS: fs, Clock: clk, CacheSize: 1 << 10, EventLog: true,
		PruneMinFrequency: 1, MaxKeys: 1000, EvictionPolicy: EvictAllKeysLFU,
		ExpiryInterval: time.Hour, PruneInterval: time.Hour})
	testutil.Must(t, err)
	defer db.Close()
	for i := range 500 {
		mustSet(t, db, fmt.Sprint("k", i), "v", time.Second)
	}
	testutil.Must(t, db.pdb.Flush()) // into sstables, whose reads fail
	clk.Advance(2 * time.Second)
	tg.On()
	if _, err := db.expireDue(nil); err == nil {
		t.Error("the sweep succeeded while every table read failed")
	}
	if _, _, _, err := db.pruneStep(db.cfg().PruneBatchSize); err == nil {
		t.Error("the prune step succeeded while every table read failed")
	}
	if _, err := db.retire([][]byte{[]byte("k1")}, EventEvicted, func(h keyspace.Header, m keyspace.Meta) bool { return true }); err == nil {
		t.Error("an eviction succeeded while every table read failed")
	}
	tg.Off()
	within(t, 10*time.Second, "writes to every shard, a sweep and Stats after the read errors", func() {
		everyShardWritable(t, db)
		n, err := db.expireDue(nil)
		testutil.Must(t, err)
		if n != 500 {
			t.Errorf("the sweep after the errors expired %d keys, want 500", n)
		}
		_ = db.Stats()
	})
}

// smallDisk is a filesystem that says it has only avail bytes free.
type smallDisk struct {
	vfs.FS
	avail uint64
}

func (d smallDisk) GetDiskUsage(string) (vfs.DiskUsage, error) {
	return vfs.DiskUsage{AvailBytes: d.avail, TotalBytes: 64 << 20}, nil
}

// TestFault_OpenOnFullDisk_FailsFast: a store whose log needs more room to
// replay than the disk has is refused at once with ErrNoSpace, instead of
// an open that retries its flush for ever; with room it opens.
func TestFault_OpenOnFullDisk_FailsFast(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{Clock: testutil.NewClock()})
	testutil.Must(t, err)
	for i := range 2000 {
		mustSet(t, db, fmt.Sprint("k", i), string(make([]byte, 1000)), 0)
	}
	testutil.Must(t, db.Close())
	_, err = Open(dir, &Options{FS: smallDisk{vfs.Default, 512 << 10}})
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "bytes free") {
		t.Fatalf("Open on a full disk: %v, want ErrNoSpace", err)
	}
	db, err = Open(dir, &Options{FS: smallDisk{vfs.Default, 1 << 30}})
	testutil.Must(t, err)
	if got := mustGet(t, db, "k1999"); len(got) != 1000 {
		t.Fatalf("k1999 has %d bytes", len(got))
	}
	testutil.Must(t, db.Close())
}
