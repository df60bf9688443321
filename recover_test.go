package epochdb

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/epochdb/epochdb/internal/testutil"
)

// failLog writes until the engine fails on the injected log error and
// returns the keys whose writes were made durable meanwhile: acknowledged
// with syncWrites, followed by a successful Sync without.
func failLog(t *testing.T, db *DB, tg *errorfs.Toggle, syncWrites bool) []string {
	t.Helper()
	tg.On()
	var acked []string
	var werr error
	within(t, 10*time.Second, "writes on a failing log", func() {
		for i := 0; i < 1000 && werr == nil; i++ {
			k := fmt.Sprint("during", i)
			if werr = db.Set([]byte(k), []byte(k), 0); werr == nil && !syncWrites {
				werr = db.Sync()
			}
			if werr == nil {
				acked = append(acked, k)
			}
		}
	})
	if !errors.Is(werr, ErrEngine) {
		t.Fatalf("write error %v, want ErrEngine", werr)
	}
	return acked
}

// checkClean fails the test unless Check finds the store consistent.
func checkClean(t *testing.T, db *DB) {
	t.Helper()
	r, err := db.Check()
	testutil.Must(t, err)
	if len(r.Problems) > 0 {
		t.Fatalf("Check after recovery: %v", r.Problems)
	}
}

// After the log fails and the fault goes away, Recover reopens the engine
// in place: writes are accepted again, every write that was made durable
// is there, the counters match the store, watches see a change, and the
// event log continues its sequence.
func TestRecover_ReopensInPlace(t *testing.T) {
	for _, syncWrites := range []bool{true, false} {
		t.Run(fmt.Sprintf("SyncWrites=%v", syncWrites), func(t *testing.T) {
			fs, tg := testutil.FaultFS(testutil.LogWrites)
			clk := testutil.NewClock()
			db, err := Open("db", &Options{FS: fs, Clock: clk, SyncWrites: syncWrites, SyncInterval: time.Hour,
				RecoverInterval: -1, EventLog: true})
			testutil.Must(t, err)
			defer db.Close()
			for i := range 50 {
				mustSet(t, db, fmt.Sprint("k", i), "v", time.Duration(i%2)*time.Second)
			}
			clk.Advance(time.Second)
			_, err = db.expireDue(nil) // 25 expiry events
			testutil.Must(t, err)
			testutil.Must(t, db.Sync())
			seqBefore := db.LastEventSeq()
			w, err := db.Watch([]byte("k0"))
			testutil.Must(t, err)
			defer w.Close()

			acked := failLog(t, db, tg, syncWrites)
			// While the disk still fails, Recover leaves the DB as it is:
			// failed for writes, serving reads.
			if err := db.Recover(); !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), "still fails writes") {
				t.Fatalf("Recover while the log still fails: %v", err)
			}
			if got := mustGet(t, db, "k0"); got != "v" {
				t.Fatalf("k0 = %q after a failed Recover", got)
			}
			tg.Off()
			within(t, 10*time.Second, "Recover", func() { testutil.Must(t, db.Recover()) })
			testutil.Must(t, db.Health())
			if n := db.Stats().EngineReopens; n != 1 {
				t.Fatalf("EngineReopens = %d, want 1", n)
			}
			for _, k := range acked {
				if got := mustGet(t, db, k); got != k {
					t.Fatalf("acknowledged and synced %s = %q after recovery", k, got)
				}
			}
			if got := mustGet(t, db, "k0"); got != "v" {
				t.Fatalf("k0 = %q", got)
			}
			if !w.Changed() {
				t.Error("a watch did not report a change across the reopen")
			}
			mustSet(t, db, "after", "v", time.Second)
			clk.Advance(time.Second)
			_, err = db.expireDue(nil)
			testutil.Must(t, err)
			testutil.Must(t, db.Sync())
			evs, _, err := db.ReadEvents(seqBefore, 10)
			testutil.Must(t, err)
			if len(evs) != 1 || evs[0].Seq != seqBefore+1 || string(evs[0].Key) != "after" {
				t.Fatalf("events after recovery: %+v, want the expiry of after as %d", evs, seqBefore+1)
			}
			keys, _ := scanCounts(t, db, nil)
			if keys != db.Len() {
				t.Fatalf("Len %d, a scan finds %d", db.Len(), keys)
			}
			checkClean(t, db)
			everyShardWritable(t, db)
		})
	}
}

// The DB retries by itself: once the fault is gone it accepts writes
// again without any call.
func TestRecover_Automatic(t *testing.T) {
	fs, tg := testutil.FaultFS(testutil.LogWrites)
	db, err := Open("db", &Options{FS: fs, Clock: testutil.NewClock(), SyncWrites: true, RecoverInterval: 5 * time.Millisecond})
	testutil.Must(t, err)
	defer db.Close()
	mustSet(t, db, "k", "v", 0)
	acked := failLog(t, db, tg, true)
	if db.Stats().EngineReopens != 0 {
		t.Fatal("reopened while the log still fails")
	}
	tg.Off()
	testutil.Eventually(t, "the engine is reopened", func() bool { return db.Health() == nil })
	mustSet(t, db, "after", "v", 0)
	for _, k := range append(acked, "k", "after") {
		if _, err := db.Get([]byte(k)); err != nil {
			t.Fatalf("Get(%s) after automatic recovery: %v", k, err)
		}
	}
	checkClean(t, db)
}

// Close during a failure, and after a failed reopen, returns and releases
// everything.
func TestRecover_CloseWhileFailed(t *testing.T) {
	fs, tg := testutil.FaultFS(testutil.LogWrites)
	db, err := Open("db", &Options{FS: fs, Clock: testutil.NewClock(), SyncWrites: true, RecoverInterval: time.Millisecond})
	testutil.Must(t, err)
	failLog(t, db, tg, true)
	time.Sleep(20 * time.Millisecond) // let the retry loop fail a few times
	within(t, 10*time.Second, "Close", func() {
		if err := db.Close(); err == nil {
			t.Error("Close of a failed store returned no error")
		}
	})
	if _, err := db.Get([]byte("k")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}
