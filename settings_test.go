package epochdb

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb/internal/testutil"
)

func TestReconfigure_InvalidChangesNothing(t *testing.T) {
	db, _ := mustOpen(t, &Options{MaxKeys: 10})
	before := db.Settings()
	for _, c := range []struct {
		field string
		edit  func(s *Settings)
	}{
		{"SyncInterval", func(s *Settings) { s.SyncInterval = 0 }},
		{"HeatHalfLife", func(s *Settings) { s.HeatHalfLife = 0 }},
		{"PruneIdle", func(s *Settings) { s.PruneIdle = -time.Second }},
		{"PruneInterval", func(s *Settings) { s.PruneInterval = 0 }},
		{"PruneBatchSize", func(s *Settings) { s.PruneBatchSize = -1 }},
		{"MaxKeys", func(s *Settings) { s.MaxKeys = -1; s.PruneMinFrequency = 5 }},
		{"MaxDiskBytes", func(s *Settings) { s.MaxDiskBytes = -1 }},
		{"EvictionPolicy", func(s *Settings) { s.EvictionPolicy = 9 }},
		{"EventLogMaxEntries", func(s *Settings) { s.EventLogMaxEntries = 0 }},
		{"EventLogMaxAge", func(s *Settings) { s.EventLogMaxAge = -time.Hour }},
	} {
		err := db.Reconfigure(c.edit)
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want ErrInvalidOptions naming the field", c.field, err)
		}
	}
	if got := db.Settings(); got != before {
		t.Fatalf("settings changed by invalid edits: %+v, want %+v", got, before)
	}
	if before.MaxKeys != 10 || before.HeatHalfLife != time.Hour || before.PruneInterval != time.Minute {
		t.Fatalf("Settings does not report the options with defaults: %+v", before)
	}
}

func TestReconfigure_BudgetLoweredEvictsDownToIt(t *testing.T) {
	db, _ := mustOpen(t, nil)
	for i := range 50 {
		mustSet(t, db, fmt.Sprintf("k%02d", i), "v", 0)
	}
	// Keys read often stay: eviction by heat takes the cold ones.
	for range 3 {
		mustGet(t, db, "k07")
	}
	testutil.Must(t, db.Reconfigure(func(s *Settings) {
		s.MaxKeys = 20
		s.EvictionPolicy = EvictAllKeysLFU
	}))
	testutil.Eventually(t, "the store is down to its new budget", func() bool { return db.Len() <= 20 })
	if got := db.Len(); got != 20 {
		t.Fatalf("Len = %d after eviction, want exactly the budget, 20", got)
	}
	if got := mustGet(t, db, "k07"); got != "v" {
		t.Fatalf("the hot key was evicted")
	}
	if ev := db.Stats().Evicted; ev != 30 {
		t.Fatalf("Evicted = %d, want 30", ev)
	}
}

func TestReconfigure_NoEvictionBudgetRefusesThenAdmits(t *testing.T) {
	db, _ := mustOpen(t, nil)
	for i := range 5 {
		mustSet(t, db, fmt.Sprintf("k%d", i), "v", 0)
	}
	testutil.Must(t, db.Reconfigure(func(s *Settings) { s.MaxKeys = 5 }))
	if err := db.Set([]byte("new"), []byte("v"), 0); !errors.Is(err, ErrFull) {
		t.Fatalf("Set over the new budget: err = %v, want ErrFull", err)
	}
	// Overwrites do not grow the store: still admitted.
	mustSet(t, db, "k1", "w", 0)
	testutil.Must(t, db.Reconfigure(func(s *Settings) { s.MaxKeys = 0 }))
	mustSet(t, db, "new", "v", 0)
	if got := db.Len(); got != 6 {
		t.Fatalf("Len = %d, want 6", got)
	}
}

func TestReconfigure_PruneRuleAtRunTime(t *testing.T) {
	db, clk := mustOpen(t, &Options{EventLog: true})
	sub, err := db.Subscribe(16)
	testutil.Must(t, err)
	defer sub.Close()
	mustSet(t, db, "cold", "v", 0)
	mustSet(t, db, "warm", "v", 0)
	for range 3 {
		_, err := db.IncrementFrequency([]byte("warm"))
		testutil.Must(t, err)
	}
	if _, err := db.Prune(0); !errors.Is(err, ErrNoPruneRule) {
		t.Fatalf("Prune without a rule: err = %v", err)
	}
	testutil.Must(t, db.Reconfigure(func(s *Settings) {
		s.PruneMinFrequency = 2
		s.PruneGrace = time.Hour
	}))
	r, err := db.Prune(0)
	testutil.Must(t, err)
	if r.Removed != 0 {
		t.Fatalf("pruned %d keys younger than the grace period", r.Removed)
	}
	clk.Advance(2 * time.Hour)
	r, err = db.Prune(0)
	testutil.Must(t, err)
	if r.Removed != 1 || r.Examined != 2 {
		t.Fatalf("Prune = %+v, want 1 removed of 2 examined", r)
	}
	if _, err := db.Get([]byte("cold")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cold key still there: %v", err)
	}
	mustGet(t, db, "warm")
	select {
	case ev := <-sub.C():
		if ev.Kind != EventPruned || string(ev.Key) != "cold" {
			t.Fatalf("event %+v, want the cold key pruned", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event for the pruned key")
	}
}

func TestReconfigure_HeatHalfLifeAppliesToStoredHeat(t *testing.T) {
	db, clk := mustOpen(t, nil)
	mustSet(t, db, "k", "v", 0)
	clk.Advance(time.Hour)
	before, err := db.Metadata([]byte("k"))
	testutil.Must(t, err)
	testutil.Must(t, db.Reconfigure(func(s *Settings) { s.HeatHalfLife = 30 * time.Minute }))
	after, err := db.Metadata([]byte("k"))
	testutil.Must(t, err)
	// The same accumulated heat, one hour old: halved once with a 1h
	// half-life, twice with 30m.
	if before.Heat == 0 || after.Heat*2 != before.Heat {
		t.Fatalf("heat %v with 1h half-life, %v with 30m: want half", before.Heat, after.Heat)
	}
	testutil.Must(t, db.Reconfigure(func(s *Settings) { s.HeatHalfLife = -1 }))
	off, err := db.Metadata([]byte("k"))
	testutil.Must(t, err)
	if off.Heat != before.Heat*2 {
		t.Fatalf("heat %v without decay, want the undecayed %v", off.Heat, before.Heat*2)
	}
}

// Switching to SyncWrites at run time makes every later write, and every
// write before it, survive a power loss; switching back leaves the
// periodic sync in charge.
func TestReconfigure_SyncWritesSurvivesPowerLoss(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db := openCrashable(t, fs, Options{SyncInterval: time.Hour})
	before := writeKeys(t, db, "before", 2, 20)
	testutil.Must(t, db.Reconfigure(func(s *Settings) { s.SyncWrites = true }))
	after := writeKeys(t, db, "after", 4, 25)
	db = powerLoss(t, fs, db)
	if n := countPresent(t, db, before); n != len(before) {
		t.Errorf("%d of %d writes before the switch survived; the first synced write covers them", n, len(before))
	}
	if n := countPresent(t, db, after); n != len(after) {
		t.Errorf("%d of %d acknowledged writes survived with SyncWrites switched on", n, len(after))
	}
	testutil.Must(t, db.Close())

	fs = vfs.NewCrashableMem()
	db = openCrashable(t, fs, Options{SyncWrites: true})
	testutil.Must(t, db.Reconfigure(func(s *Settings) {
		s.SyncWrites = false
		s.SyncInterval = 10 * time.Millisecond
	}))
	keys := writeKeys(t, db, "periodic", 2, 20)
	testutil.Eventually(t, "the periodic sync covers the writes", func() bool {
		return db.syncedSeq.Load() == db.writeSeq.Load()
	})
	db = powerLoss(t, fs, db)
	defer db.Close()
	if n := countPresent(t, db, keys); n != len(keys) {
		t.Errorf("%d of %d writes survived after the periodic sync ran", n, len(keys))
	}
}

func TestReconfigure_EventLogRetention(t *testing.T) {
	db, clk := mustOpen(t, &Options{EventLog: true})
	for i := range 10 {
		mustSet(t, db, fmt.Sprintf("k%d", i), "v", time.Second)
	}
	clk.Advance(2 * time.Second)
	testutil.Eventually(t, "the keys expire", func() bool { return db.Len() == 0 })
	testutil.Must(t, db.SyncEvents())
	testutil.Must(t, db.Reconfigure(func(s *Settings) { s.EventLogMaxEntries = 3 }))
	testutil.Eventually(t, "the log is trimmed to 3 events", func() bool {
		evs, _, err := db.ReadEvents(0, 100)
		testutil.Must(t, err)
		return len(evs) == 3
	})
	evs, _, err := db.ReadEvents(0, 100)
	testutil.Must(t, err)
	if last := db.LastEventSeq(); evs[2].Seq != last {
		t.Fatalf("kept events end at %d, want the newest, %d", evs[2].Seq, last)
	}
}

// Stats.WALSyncLag is the age of the oldest write not yet fsynced.
func TestStats_WALSyncLag(t *testing.T) {
	db, _ := mustOpen(t, &Options{SyncInterval: time.Hour})
	if lag := db.Stats().WALSyncLag; lag != 0 {
		t.Fatalf("lag %v before any write", lag)
	}
	mustSet(t, db, "k", "v", 0)
	testutil.Eventually(t, "the lag shows", func() bool { return db.Stats().WALSyncLag > 0 })
	testutil.Must(t, db.Sync())
	if lag := db.Stats().WALSyncLag; lag != 0 {
		t.Fatalf("lag %v after Sync", lag)
	}
	testutil.Must(t, db.Reconfigure(func(s *Settings) { s.SyncWrites = true }))
	mustSet(t, db, "k2", "v", 0)
	if lag := db.Stats().WALSyncLag; lag != 0 {
		t.Fatalf("lag %v with SyncWrites", lag)
	}
}
