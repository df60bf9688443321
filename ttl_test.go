package epochdb

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/clock"
	"github.com/epochdb/epochdb/internal/testutil"
)

// TestTTL_AroundTheDeadline walks a key with a 1500ms TTL through its
// deadline one millisecond at a time: it is visible to every call until the
// deadline and invisible to every call from it on, before any sweep.
func TestTTL_AroundTheDeadline(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour}) // no background sweep during the test
	start := clk.Now()
	mustSet(t, db, "k", "v", 1500*time.Millisecond)
	k := []byte("k")

	for _, tc := range []struct {
		at      time.Duration
		visible bool
		ttl     time.Duration
	}{
		{0, true, 1500 * time.Millisecond},
		{1498 * time.Millisecond, true, 2 * time.Millisecond},
		{1499 * time.Millisecond, true, time.Millisecond},
		{1499*time.Millisecond + 999*time.Microsecond, true, time.Millisecond},
		{1500 * time.Millisecond, false, 0},
		{1501 * time.Millisecond, false, 0},
		{time.Hour, false, 0},
	} {
		t.Run(fmt.Sprint(tc.at), func(t *testing.T) {
			clk.Set(start.Add(tc.at))
			_, getErr := db.Get(k)
			_, mdErr := db.Metadata(k)
			ttl, ttlErr := db.TTL(k)
			_, incErr := db.IncrementFrequency(k)
			var scanned int
			testutil.Must(t, db.Scan(ScanOptions{}, func([]byte, []byte, Metadata) error { scanned++; return nil }))
			expErr := db.Expire(k, time.Hour)
			if tc.visible {
				clk.Set(start.Add(tc.at)) // Expire moved nothing in time, but keep it explicit
				for name, err := range map[string]error{"Get": getErr, "Metadata": mdErr, "TTL": ttlErr, "Increment": incErr, "Expire": expErr} {
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
				}
				if ttl != tc.ttl || scanned != 1 {
					t.Errorf("TTL %v scanned %d; want %v and 1", ttl, scanned, tc.ttl)
				}
				// Restore the original deadline for the next step.
				testutil.Must(t, db.ExpireAt(k, start.Add(1500*time.Millisecond)))
				return
			}
			for name, err := range map[string]error{"Get": getErr, "Metadata": mdErr, "TTL": ttlErr, "Increment": incErr, "Expire": expErr} {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("%s: err = %v, want ErrNotFound", name, err)
				}
			}
			if scanned != 0 {
				t.Errorf("Scan saw the expired key")
			}
		})
	}
	if db.Stats().Expired != 0 || db.Len() != 1 {
		t.Fatalf("nothing swept yet, the key still counts: %+v", db.Stats())
	}
}

func TestTTL_SubMillisecondRoundsUp(t *testing.T) {
	db, clk := mustOpen(t, nil)
	clk.Set(testutil.Epoch.Add(300 * time.Microsecond))
	mustSet(t, db, "k", "v", time.Millisecond)
	md, _ := db.Metadata([]byte("k"))
	// now+1ms = Epoch+1.3ms, rounded up to Epoch+2ms: never early.
	if want := testutil.Epoch.Add(2 * time.Millisecond); !md.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", md.ExpiresAt, want)
	}
}

func TestTTL_ExpireAndPersist(t *testing.T) {
	db, clk := mustOpen(t, nil)
	k := []byte("k")
	mustSet(t, db, "k", "v", 0)
	testutil.Must(t, db.Expire(k, 10*time.Second))
	if ttl, _ := db.TTL(k); ttl != 10*time.Second {
		t.Fatalf("TTL = %v", ttl)
	}
	if s := db.Stats(); s.KeysWithTTL != 1 {
		t.Fatalf("KeysWithTTL = %d", s.KeysWithTTL)
	}
	testutil.Must(t, db.Persist(k))
	testutil.Must(t, db.Persist(k)) // no deadline: a no-op
	clk.Advance(time.Minute)
	if got := mustGet(t, db, "k"); got != "v" {
		t.Fatal(got)
	}
	if s := db.Stats(); s.KeysWithTTL != 0 {
		t.Fatalf("KeysWithTTL = %d after Persist", s.KeysWithTTL)
	}
	// Expire keeps value, CreatedAt and UpdatedAt.
	before, _ := db.Metadata(k)
	testutil.Must(t, db.Expire(k, time.Second))
	after, _ := db.Metadata(k)
	if !after.CreatedAt.Equal(before.CreatedAt) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("Expire changed timestamps: %+v -> %+v", before, after)
	}
	// A deadline in the past makes the key invisible at once; the sweeper
	// then removes it.
	testutil.Must(t, db.ExpireAt(k, clk.Now().Add(-time.Hour)))
	if _, err := db.Get(k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after ExpireAt(past): %v", err)
	}
	n, err := db.expireDue(nil)
	if err != nil || n != 1 || db.Len() != 0 {
		t.Fatalf("sweep: %d, %v, Len %d", n, err, db.Len())
	}
}

// TestSweeper_RemovesDueKeysInBatches checks the sweeper deletes exactly the
// due keys, with data, meta and index entries, in bounded batches.
func TestSweeper_RemovesDueKeysInBatches(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour, ExpiryBatchSize: 7})
	for i := range 100 {
		mustSet(t, db, fmt.Sprintf("k%03d", i), "v", time.Duration(1+i%10)*time.Second)
	}
	for i := range 20 {
		mustSet(t, db, fmt.Sprintf("p%03d", i), "v", 0)
	}
	clk.Advance(5 * time.Second) // deadlines 1s..5s are due: 50 keys
	n, err := db.expireDue(nil)
	testutil.Must(t, err)
	if n != 50 {
		t.Fatalf("swept %d keys, want 50", n)
	}
	s := db.Stats()
	if s.Keys != 70 || s.KeysWithTTL != 50 || s.Expired != 50 {
		t.Fatalf("after sweep: %+v", s)
	}
	// Nothing of the swept keys is left in any keyspace.
	for _, prefix := range []byte{'d', 'm', 't'} {
		count := 0
		it, _ := db.pdb.NewIter(nil)
		for it.First(); it.Valid(); it.Next() {
			if it.Key()[0] == prefix {
				count++
			}
		}
		_ = it.Close()
		want := map[byte]int{'d': 70, 'm': 70, 't': 50}[prefix]
		if count != want {
			t.Errorf("keyspace %c holds %d entries, want %d", prefix, count, want)
		}
	}
	clk.Advance(time.Hour)
	n, _ = db.expireDue(nil)
	if n != 50 || db.Len() != 20 {
		t.Fatalf("second sweep %d, Len %d", n, db.Len())
	}
}

// TestSweeper_Background runs the real background loop on the wall clock: a
// key with a 20ms TTL is reclaimed (Len drops) soon after its deadline.
func TestSweeper_Background(t *testing.T) {
	db, _ := mustOpen(t, &Options{Clock: clock.Real{}, ExpiryInterval: 5 * time.Millisecond})
	testutil.Must(t, db.Set([]byte("k"), []byte("v"), 20*time.Millisecond))
	deadline := time.Now().Add(10 * time.Second)
	for db.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the background sweeper did not remove the key: %+v", db.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if s := db.Stats(); s.Expired != 1 || s.ExpirySweeps == 0 {
		t.Fatalf("stats after sweep: %+v", s)
	}
}

// TestSweeper_DoesNotRemoveRewrittenKey: a key given a new deadline (or none)
// between becoming due and being swept is left alone.
func TestSweeper_DoesNotRemoveRewrittenKey(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	mustSet(t, db, "a", "v", time.Second)
	mustSet(t, db, "b", "v", time.Second)
	clk.Advance(2 * time.Second)
	mustSet(t, db, "a", "new", 0)           // replaces the expired record
	mustSet(t, db, "b", "new", time.Minute) // new deadline
	n, err := db.expireDue(nil)
	testutil.Must(t, err)
	if n != 0 || mustGet(t, db, "a") != "new" || mustGet(t, db, "b") != "new" {
		t.Fatalf("swept %d live keys", n)
	}
	// Replacing an expired record counts as an expiry and starts the key afresh.
	if s := db.Stats(); s.Expired != 2 || s.Keys != 2 || s.KeysWithTTL != 1 {
		t.Fatalf("stats: %+v", s)
	}
}

// TestSweeper_DeadlineBehindThePreviousSweep: a sweep starts where the last
// one ended; a deadline written afterwards before that point (ExpireAt in
// the past) must still be swept.
func TestSweeper_DeadlineBehindThePreviousSweep(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	mustSet(t, db, "a", "v", time.Second)
	clk.Advance(time.Minute)
	if n, _ := db.expireDue(nil); n != 1 {
		t.Fatalf("first sweep removed %d", n)
	}
	mustSet(t, db, "b", "v", 0)
	testutil.Must(t, db.ExpireAt([]byte("b"), clk.Now().Add(-30*time.Second)))
	testutil.Must(t, db.Modify([]byte("c"), func(Entry, bool) (Change, error) {
		return Change{Action: Put, Value: []byte("v"), ExpiresAt: clk.Now().Add(-time.Hour)}, nil
	}))
	if n, err := db.expireDue(nil); n != 2 || err != nil || db.Len() != 0 {
		t.Fatalf("second sweep removed %d (%v), Len %d", n, err, db.Len())
	}
}
