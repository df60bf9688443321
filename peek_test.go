package epochdb

import (
	"errors"
	"testing"
	"time"
)

// TestPeek_IsNotAnAccess: Peek returns the value like Get but leaves the
// key's frequency, heat and last access as they were, with the record
// cache on and off; a Get afterwards counts as usual.
func TestPeek_IsNotAnAccess(t *testing.T) {
	for _, cache := range []int64{0, -1} {
		db, clk := mustOpen(t, &Options{RecordCacheSize: cache})
		mustSet(t, db, "k", "v", 0)
		before, err := db.Metadata([]byte("k"))
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		for range 3 {
			v, err := db.Peek([]byte("k"))
			if err != nil || string(v) != "v" {
				t.Fatalf("cache %d: Peek = %q, %v", cache, v, err)
			}
		}
		if err := db.flushTracked(); err != nil {
			t.Fatal(err)
		}
		after, err := db.Metadata([]byte("k"))
		if err != nil {
			t.Fatal(err)
		}
		if after.Frequency != before.Frequency || !after.LastAccess.Equal(before.LastAccess) {
			t.Errorf("cache %d: after Peek frequency %d last access %v, want %d %v", cache,
				after.Frequency, after.LastAccess, before.Frequency, before.LastAccess)
		}
		if after.Heat >= before.Heat {
			t.Errorf("cache %d: heat %v after a minute of Peeks, was %v: it should only decay", cache, after.Heat, before.Heat)
		}
		if _, err := db.Peek([]byte("missing")); !errors.Is(err, ErrNotFound) {
			t.Errorf("Peek(missing) = %v", err)
		}
		mustGet(t, db, "k")
		got, _ := db.Metadata([]byte("k"))
		if got.Frequency != before.Frequency+1 || !got.LastAccess.Equal(clk.Now().Truncate(time.Millisecond)) {
			t.Errorf("cache %d: after Get frequency %d last access %v", cache, got.Frequency, got.LastAccess)
		}
		if s := db.Stats(); s.Gets != 5 || s.Misses != 1 {
			t.Errorf("cache %d: Gets %d Misses %d, want 5 and 1", cache, s.Gets, s.Misses)
		}
	}
}

// TestTx_SetNoTouch: a transaction's Gets count as accesses unless
// SetNoTouch(true); either way they count in Stats.Gets and Misses.
func TestTx_SetNoTouch(t *testing.T) {
	db, clk := mustOpen(t, nil)
	mustSet(t, db, "k", "v", 0)
	clk.Advance(time.Second)
	err := db.View(func(tx *Tx) error {
		tx.SetNoTouch(true)
		if v, err := tx.Get([]byte("k")); err != nil || string(v) != "v" {
			t.Errorf("Get = %q, %v", v, err)
		}
		_, err := tx.Get([]byte("missing"))
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(missing) = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := db.Metadata([]byte("k"))
	if md.Frequency != 0 {
		t.Errorf("frequency after a no-touch Get in a transaction = %d, want 0", md.Frequency)
	}
	err = db.Update(func(tx *Tx) error {
		_, err := tx.Get([]byte("k"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	md, _ = db.Metadata([]byte("k"))
	if md.Frequency != 1 {
		t.Errorf("frequency after a Get in a transaction = %d, want 1", md.Frequency)
	}
	if s := db.Stats(); s.Gets != 3 || s.Misses != 1 {
		t.Errorf("Gets %d Misses %d, want 3 and 1", s.Gets, s.Misses)
	}
}

// TestKeySize: the stored size counts the data record, the metadata record
// once there is one and the deadline's index entry; the cached size is the
// record cache's entry, once a Get brought the key in.
func TestKeySize(t *testing.T) {
	db, clk := mustOpen(t, &Options{RecordCacheSize: 1 << 20})
	if _, err := db.KeySize([]byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("KeySize(missing) = %v", err)
	}
	value := "0123456789"
	mustSet(t, db, "key", value, 0)
	ks, err := db.KeySize([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	record := int64(1 + 3 + 25 + len(value)) // prefix, key, header, value
	if ks.Stored < record || ks.Stored > record+1+3+25 {
		t.Errorf("Stored = %d, want the record (%d) plus at most a metadata record", ks.Stored, record)
	}
	mustSet(t, db, "key", value, time.Hour)
	withTTL, _ := db.KeySize([]byte("key"))
	if withTTL.Stored != ks.Stored+1+8+3 {
		t.Errorf("Stored with a deadline = %d, want %d (plus the index entry)", withTTL.Stored, ks.Stored+12)
	}
	mustGet(t, db, "key")
	cached, _ := db.KeySize([]byte("key"))
	if want := int64(3 + len(value) + cacheEntryOverhead); cached.Cached != want {
		t.Errorf("Cached = %d, want %d", cached.Cached, want)
	}
	big := make([]byte, 64<<10)
	if err := db.Set([]byte("big"), big, 0); err != nil {
		t.Fatal(err)
	}
	bs, _ := db.KeySize([]byte("big"))
	if bs.Stored < int64(len(big)) {
		t.Errorf("Stored of a 64 KiB value = %d", bs.Stored)
	}
	clk.Advance(2 * time.Hour)
	if _, err := db.KeySize([]byte("key")); !errors.Is(err, ErrNotFound) {
		t.Errorf("KeySize of an expired key = %v", err)
	}
	if _, err := db.KeySize(nil); !errors.Is(err, ErrEmptyKey) {
		t.Errorf("KeySize(nil) = %v", err)
	}
}

// TestBudgetError_NamesTheLimit: a write refused for the budget returns a
// *BudgetError (matching ErrFull) that says which limit is full.
func TestBudgetError_NamesTheLimit(t *testing.T) {
	db, _ := mustOpen(t, &Options{MaxKeys: 1})
	mustSet(t, db, "a", "v", 0)
	err := db.Set([]byte("b"), []byte("v"), 0)
	var be *BudgetError
	if !errors.Is(err, ErrFull) || !errors.As(err, &be) {
		t.Fatalf("Set over MaxKeys = %v", err)
	}
	if !be.KeysFull || be.DiskFull || be.Limits() != "MaxKeys" || be.Keys != 1 || be.MaxKeys != 1 {
		t.Errorf("BudgetError = %+v (%s)", be, be.Limits())
	}

	db, _ = mustOpen(t, &Options{MaxDiskBytes: 10})
	mustSet(t, db, "a", "v", 0)
	err = db.Update(func(tx *Tx) error { return tx.Set([]byte("b"), []byte("0123456789"), 0) })
	if !errors.As(err, &be) || be.KeysFull || !be.DiskFull || be.Limits() != "MaxDiskBytes" {
		t.Errorf("Set over MaxDiskBytes = %v", err)
	}

	db, _ = mustOpen(t, &Options{MaxKeys: 1, MaxDiskBytes: 5})
	mustSet(t, db, "a", "v", 0)
	b := db.NewBatch()
	_ = b.Set([]byte("b"), []byte("0123456789"), 0)
	if err := b.Commit(); !errors.As(err, &be) || be.Limits() != "MaxKeys and MaxDiskBytes" {
		t.Errorf("batch over both = %v", err)
	}
}
