package epochdb

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

func TestDB_DropNamespace(t *testing.T) {
	dir := t.TempDir()
	clk := testutil.NewClock()
	opts := &Options{Clock: clk}
	db, err := Open(dir, opts)
	testutil.Must(t, err)
	for i := range 300 {
		ttl := time.Duration(0)
		if i%3 == 0 {
			ttl = time.Minute
		}
		mustSet(t, db, fmt.Sprint("\x01k", i), "value", ttl)
		mustSet(t, db, fmt.Sprint("\x02k", i), "v", 0)
	}
	_, _ = db.Get([]byte("\x01k5")) // a tracked read not yet flushed
	if got := db.Namespace(1); got.Keys != 300 || got.KeysWithTTL != 100 {
		t.Fatalf("namespace 1 before the drop: %+v", got)
	}
	before2 := db.Namespace(2)
	w, err := db.Watch([]byte("\x01k7"))
	testutil.Must(t, err)
	defer w.Close()
	tx, err := db.Begin(true)
	testutil.Must(t, err)
	_, _ = tx.Get([]byte("\x02k1")) // a key of another namespace
	testutil.Must(t, tx.Set([]byte("\x02new"), []byte("v"), 0))

	n, err := db.DropNamespace(1)
	testutil.Must(t, err)
	if n != 300 {
		t.Fatalf("DropNamespace removed %d keys, want 300", n)
	}
	if got := db.Namespace(1); got != (NamespaceStats{}) {
		t.Fatalf("namespace 1 after the drop: %+v", got)
	}
	if got := db.Namespace(2); got != before2 || db.Len() != 300 {
		t.Fatalf("namespace 2 after dropping 1: %+v (was %+v), Len %d", got, before2, db.Len())
	}
	if _, err := db.Get([]byte("\x01k5")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a dropped key: %v", err)
	}
	if got := mustGet(t, db, "\x02k5"); got != "v" {
		t.Fatalf("a key of another namespace: %q", got)
	}
	if !w.Changed() {
		t.Error("a watch of a dropped key saw no write")
	}
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Errorf("a transaction that began before the drop committed: %v", err)
	}
	scanCounts(t, db, func(k, _ []byte, _ Metadata) {
		if k[0] == 1 {
			t.Fatalf("scan found dropped key %q", k)
		}
	})
	testutil.Must(t, db.flushTracked())
	// The namespace is usable at once, and the stale ttl-index entries of
	// the dropped keys are swept without touching the counters.
	mustSet(t, db, "\x01k0", "again", 0)
	clk.Advance(2 * time.Minute)
	_, err = db.expireDue(nil)
	testutil.Must(t, err)
	if got := db.Namespace(1); got.Keys != 1 || got.KeysWithTTL != 0 {
		t.Fatalf("namespace 1 after a new write and a sweep: %+v", got)
	}
	testutil.Must(t, db.Close())

	db, err = Open(dir, opts)
	testutil.Must(t, err)
	defer db.Close()
	if got := db.Namespace(1); got.Keys != 1 {
		t.Fatalf("namespace 1 after reopening: %+v", got)
	}
	if got := db.Namespace(2); got != before2 {
		t.Fatalf("namespace 2 after reopening: %+v, want %+v", got, before2)
	}
	scanCounts(t, db, nil)
}
