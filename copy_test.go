package epochdb

import (
	"errors"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// history sets key with a deadline, then gives it a history: accesses at
// different times, so that frequency, heat, created, updated and last
// access all differ from a fresh key's.
func history(t *testing.T, db *DB, clk interface{ Advance(time.Duration) time.Time }, key string, ttl time.Duration, accesses int) {
	t.Helper()
	testutil.Must(t, db.Set([]byte(key), []byte("value of "+key), ttl))
	clk.Advance(time.Minute)
	for range accesses {
		_, err := db.IncrementFrequency([]byte(key))
		testutil.Must(t, err)
	}
	clk.Advance(time.Minute)
	_, err := db.Get([]byte(key)) // a tracked read, not flushed yet
	testutil.Must(t, err)
	clk.Advance(time.Minute)
}

func mustMeta(t *testing.T, db *DB, key string) Metadata {
	t.Helper()
	md, err := db.Metadata([]byte(key))
	testutil.Must(t, err)
	return md
}

// TestTx_CopyKeepsHistory: Copy gives the destination the source's value,
// deadline and whole history, replacing the destination's own, and it all
// survives a restart; moving (Copy then Delete) leaves the counters right.
func TestTx_CopyKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	clk := testutil.NewClock()
	opts := &Options{Clock: clk, ExpiryInterval: time.Hour}
	db, err := Open(dir, opts)
	testutil.Must(t, err)
	history(t, db, clk, "src", time.Hour, 5)
	history(t, db, clk, "dst", 0, 1) // an older key with its own history
	want := mustMeta(t, db, "src")

	testutil.Must(t, db.Update(func(tx *Tx) error {
		if err := tx.Copy([]byte("src"), []byte("dst")); err != nil {
			return err
		}
		// The transaction sees the copy with its history.
		md, err := tx.Metadata([]byte("dst"))
		if err != nil {
			return err
		}
		if md != want {
			t.Errorf("in the transaction: dst %+v, want %+v", md, want)
		}
		return tx.Copy([]byte("src"), []byte("moved"))
	}))
	testutil.Must(t, db.Update(func(tx *Tx) error { return tx.Delete([]byte("src")) }))
	check := func(when string) {
		t.Helper()
		for _, k := range []string{"dst", "moved"} {
			if got := mustMeta(t, db, k); got != want {
				t.Errorf("%s: %s metadata\n got %+v\nwant %+v", when, k, got, want)
			}
			v, err := db.Get([]byte(k))
			testutil.Must(t, err)
			if string(v) != "value of src" {
				t.Errorf("%s: %s = %q", when, k, v)
			}
		}
		if _, err := db.Metadata([]byte("src")); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: src after the move: %v", when, err)
		}
		if ns := db.Namespace('d'); ns.Keys != 1 || ns.KeysWithTTL != 1 {
			t.Errorf("%s: namespace d counters %+v, want 1 key with a deadline", when, ns)
		}
		if ns := db.Namespace('s'); ns.Keys != 0 || ns.KeysWithTTL != 0 || ns.LiveBytes != 0 {
			t.Errorf("%s: namespace s counters %+v, want empty", when, ns)
		}
	}
	check("after commit")
	// Reads in check counted: the expected history moves on by two reads.
	want = mustMeta(t, db, "dst")
	testutil.Must(t, db.Close())
	db, err = Open(dir, opts)
	testutil.Must(t, err)
	defer db.Close()
	if got := mustMeta(t, db, "dst"); got != want {
		t.Errorf("after reopen: dst\n got %+v\nwant %+v", got, want)
	}

	// The copied deadline is the source's: past it, the copy is gone.
	clk.Advance(time.Hour)
	if _, err := db.Get([]byte("dst")); !errors.Is(err, ErrNotFound) {
		t.Errorf("dst past the copied deadline: %v", err)
	}
}

// TestTx_CopyThenWrite: writes after a Copy in the same transaction keep
// the copied history, as an overwrite keeps a key's history.
func TestTx_CopyThenWrite(t *testing.T) {
	db, clk := mustOpen(t, nil)
	history(t, db, clk, "src", 0, 3)
	want := mustMeta(t, db, "src")
	testutil.Must(t, db.Update(func(tx *Tx) error {
		if err := tx.Copy([]byte("src"), []byte("dst")); err != nil {
			return err
		}
		if err := tx.Set([]byte("dst"), []byte("new"), time.Minute); err != nil {
			return err
		}
		_, err := tx.IncrementFrequency([]byte("dst"))
		return err
	}))
	got := mustMeta(t, db, "dst")
	if got.Frequency != want.Frequency+1 || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("dst %+v; want frequency %d+1 and CreatedAt %v", got, want.Frequency, want.CreatedAt)
	}
	if !got.UpdatedAt.Equal(clk.Now()) || got.ExpiresAt.IsZero() {
		t.Errorf("dst %+v: want updated now (%v) with a deadline", got, clk.Now())
	}
}

// TestTx_CopyMissing: copying an absent or expired key is ErrNotFound and
// leaves the destination alone; copying a key onto itself does nothing.
func TestTx_CopyMissing(t *testing.T) {
	db, clk := mustOpen(t, nil)
	testutil.Must(t, db.Set([]byte("dst"), []byte("kept"), 0))
	testutil.Must(t, db.Set([]byte("short"), []byte("s"), time.Second))
	clk.Advance(2 * time.Second)
	for _, src := range []string{"absent", "short"} {
		err := db.Update(func(tx *Tx) error { return tx.Copy([]byte(src), []byte("dst")) })
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Copy(%s): %v, want ErrNotFound", src, err)
		}
	}
	testutil.Must(t, db.Update(func(tx *Tx) error { return tx.Copy([]byte("dst"), []byte("dst")) }))
	if v, err := db.Get([]byte("dst")); err != nil || string(v) != "kept" {
		t.Errorf("dst = %q, %v", v, err)
	}
	err := db.View(func(tx *Tx) error { return tx.Copy([]byte("dst"), []byte("x")) })
	if !errors.Is(err, ErrTxReadOnly) {
		t.Errorf("Copy in a read-only transaction: %v", err)
	}
}

// TestTx_Swap: two keys exchange values, deadlines and histories; a key
// whose counterpart is absent is deleted.
func TestTx_Swap(t *testing.T) {
	db, clk := mustOpen(t, nil)
	history(t, db, clk, "a", time.Hour, 4)
	history(t, db, clk, "b", 0, 1)
	history(t, db, clk, "c", 0, 2)
	ma, mb, mc := mustMeta(t, db, "a"), mustMeta(t, db, "b"), mustMeta(t, db, "c")
	testutil.Must(t, db.Update(func(tx *Tx) error {
		if err := tx.Swap([]byte("a"), []byte("b")); err != nil {
			return err
		}
		return tx.Swap([]byte("c"), []byte("absent"))
	}))
	for _, c := range []struct {
		key  string
		want Metadata
	}{{"a", mb}, {"b", ma}, {"absent", mc}} {
		if got := mustMeta(t, db, c.key); got != c.want {
			t.Errorf("%s after the swap\n got %+v\nwant %+v", c.key, got, c.want)
		}
	}
	if v, _ := db.Get([]byte("a")); string(v) != "value of b" {
		t.Errorf("a = %q", v)
	}
	if _, err := db.Get([]byte("c")); !errors.Is(err, ErrNotFound) {
		t.Errorf("c after swapping with an absent key: %v", err)
	}
	// The swap conflicts with a concurrent write of either key: Update
	// retries, and the result is a clean swap of the newest values.
	tx, err := db.Begin(true)
	testutil.Must(t, err)
	testutil.Must(t, tx.Swap([]byte("a"), []byte("b")))
	testutil.Must(t, db.Set([]byte("a"), []byte("concurrent"), 0))
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Errorf("Commit after a concurrent write: %v, want ErrConflict", err)
	}
}
