package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/keyspace"
	"github.com/epochdb/epochdb/internal/testutil"
)

func TestDB_Set_Get_Delete(t *testing.T) {
	db, _ := mustOpen(t, nil)
	big := bytes.Repeat([]byte("x"), 1<<20)
	for _, tc := range []struct {
		name  string
		key   []byte
		value []byte
	}{
		{"plain", []byte("k"), []byte("v")},
		{"binary key and value", []byte{0, 0xff, '\n', 0}, []byte{0, 1, 2, 0xff}},
		{"empty value", []byte("empty"), []byte{}},
		{"nil value", []byte("nil"), nil},
		{"1 MiB value", []byte("big"), big},
		{"largest key", bytes.Repeat([]byte("k"), MaxKeySize), []byte("v")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.Must(t, db.Set(tc.key, tc.value, 0))
			got, err := db.Get(tc.key)
			testutil.Must(t, err)
			if !bytes.Equal(got, tc.value) || got == nil {
				t.Fatalf("Get = %q (nil: %t), want %q", trunc(got), got == nil, trunc(tc.value))
			}
			existed, err := db.Delete(tc.key)
			if err != nil || !existed {
				t.Fatalf("Delete = %t, %v; want true, nil", existed, err)
			}
			if _, err := db.Get(tc.key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
			}
			existed, err = db.Delete(tc.key)
			if err != nil || existed {
				t.Fatalf("second Delete = %t, %v; want false, nil", existed, err)
			}
		})
	}
	if n := db.Len(); n != 0 {
		t.Fatalf("Len after deleting everything = %d", n)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func TestDB_Get_ReturnsACopy(t *testing.T) {
	db, _ := mustOpen(t, nil)
	val := []byte("original")
	mustSet(t, db, "k", string(val), 0)
	got, _ := db.Get([]byte("k"))
	got[0] = 'X'
	if s := mustGet(t, db, "k"); s != "original" {
		t.Fatalf("mutating a returned value changed the store: %q", s)
	}
}

func TestDB_InvalidArguments(t *testing.T) {
	db, _ := mustOpen(t, &Options{MaxValueSize: 10})
	k := []byte("k")
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Set nil key", db.Set(nil, []byte("v"), 0), ErrEmptyKey},
		{"Set empty key", db.Set([]byte{}, []byte("v"), 0), ErrEmptyKey},
		{"Set key too large", db.Set(make([]byte, MaxKeySize+1), nil, 0), ErrKeyTooLarge},
		{"Set value too large", db.Set(k, make([]byte, 11), 0), ErrValueTooLarge},
		{"Set negative ttl", db.Set(k, nil, -time.Second), ErrInvalidTTL},
		{"Set overflowing ttl", db.Set(k, nil, math.MaxInt64), ErrInvalidTTL},
		{"Expire zero ttl", db.Expire(k, 0), ErrInvalidTTL},
		{"ExpireAt zero time", db.ExpireAt(k, time.Time{}), ErrInvalidTTL},
		{"Get empty key", second(db.Get(nil)), ErrEmptyKey},
		{"Delete empty key", second(db.Delete(nil)), ErrEmptyKey},
		{"Increment absent", second(db.IncrementFrequency([]byte("absent"))), ErrNotFound},
		{"Metadata absent", second(db.Metadata([]byte("absent"))), ErrNotFound},
		{"TTL absent", second(db.TTL([]byte("absent"))), ErrNotFound},
		{"Expire absent", db.Expire([]byte("absent"), time.Second), ErrNotFound},
		{"Persist absent", db.Persist([]byte("absent")), ErrNotFound},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if db.Len() != 0 {
		t.Fatalf("failed calls stored %d keys", db.Len())
	}
}

func second[T any](_ T, err error) error { return err }

func TestDB_Set_Overwrite_KeepsCreatedAtAndFrequency(t *testing.T) {
	db, clk := mustOpen(t, nil)
	t0 := clk.Now()
	mustSet(t, db, "k", "v1", time.Hour)
	for range 3 {
		if _, err := db.IncrementFrequency([]byte("k")); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Minute)
	mustSet(t, db, "k", "v2", 0)
	md, err := db.Metadata([]byte("k"))
	testutil.Must(t, err)
	if md.Frequency != 3 {
		t.Errorf("Frequency = %d, want 3 (kept across overwrite)", md.Frequency)
	}
	if !md.CreatedAt.Equal(t0) || !md.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("CreatedAt %v UpdatedAt %v; want %v and %v", md.CreatedAt, md.UpdatedAt, t0, t0.Add(time.Minute))
	}
	if !md.LastAccess.Equal(t0.Add(time.Minute)) {
		t.Errorf("LastAccess %v, want the overwrite's time %v", md.LastAccess, t0.Add(time.Minute))
	}
	// The heat did not grow with the write (a write is not a read) and
	// decays from the last increment.
	if want := 4 * math.Exp2(-float64(time.Minute.Milliseconds())/float64(db.halfLifeMs())); math.Abs(md.Heat-want) > 1e-9 {
		t.Errorf("Heat %v, want %v", md.Heat, want)
	}
	if !md.ExpiresAt.IsZero() {
		t.Errorf("ttl 0 on overwrite must make the key persistent, ExpiresAt = %v", md.ExpiresAt)
	}
	if ttl, _ := db.TTL([]byte("k")); ttl != NoTTL {
		t.Errorf("TTL = %v, want NoTTL", ttl)
	}
	if s := db.Stats(); s.Keys != 1 || s.KeysWithTTL != 0 {
		t.Errorf("Keys %d KeysWithTTL %d, want 1 and 0", s.Keys, s.KeysWithTTL)
	}

	// Delete and re-create: a new key starts afresh.
	_, _ = db.Delete([]byte("k"))
	clk.Advance(time.Minute)
	mustSet(t, db, "k", "v3", 0)
	md, _ = db.Metadata([]byte("k"))
	if md.Frequency != 0 || !md.CreatedAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("recreated key: Frequency %d CreatedAt %v; want 0 and %v", md.Frequency, md.CreatedAt, t0.Add(2*time.Minute))
	}
}

func TestDB_Frequency_TrackedReads(t *testing.T) {
	db, clk := mustOpen(t, nil)
	mustSet(t, db, "k", "v", 0)
	clk.Advance(time.Second)
	for range 5 {
		mustGet(t, db, "k")
	}
	md, _ := db.Metadata([]byte("k"))
	if md.Frequency != 5 || !md.LastAccess.Equal(clk.Now()) {
		t.Fatalf("before flush: Frequency %d LastAccess %v; want 5 and %v", md.Frequency, md.LastAccess, clk.Now())
	}
	if db.Stats().PendingTrackedKeys != 1 {
		t.Fatalf("reads must be pending in memory, not written: %+v", db.Stats())
	}
	testutil.Must(t, db.flushTracked())
	if n, err := db.IncrementFrequency([]byte("k")); n != 6 || err != nil {
		t.Fatalf("IncrementFrequency after flush = %d, %v; want 6", n, err)
	}
	mustGet(t, db, "k")
	md, _ = db.Metadata([]byte("k"))
	if md.Frequency != 7 {
		t.Fatalf("Frequency = %d, want 7", md.Frequency)
	}
	if _, err := db.Get([]byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if s := db.Stats(); s.Gets != 7 || s.Misses != 1 {
		t.Fatalf("Gets %d Misses %d, want 7 and 1", s.Gets, s.Misses)
	}
}

func TestDB_Frequency_ReadTrackingDisabled(t *testing.T) {
	db, _ := mustOpen(t, &Options{DisableReadTracking: true})
	mustSet(t, db, "k", "v", 0)
	mustGet(t, db, "k")
	md, _ := db.Metadata([]byte("k"))
	if md.Frequency != 0 {
		t.Fatalf("Frequency = %d with read tracking off, want 0", md.Frequency)
	}
}

func TestDB_IncrementFrequency_Concurrent(t *testing.T) {
	for _, syncWrites := range []bool{false, true} {
		t.Run(fmt.Sprintf("SyncWrites=%t", syncWrites), func(t *testing.T) {
			db, _ := mustOpen(t, &Options{SyncWrites: syncWrites})
			const goroutines, calls = 8, 200
			keys := []string{"hot", "a", "b", "c"}
			for _, k := range keys {
				mustSet(t, db, k, "v", 0)
			}
			var wg sync.WaitGroup
			seen := make([]map[uint64]bool, goroutines)
			for g := range goroutines {
				seen[g] = map[uint64]bool{}
				wg.Go(func() {
					for i := range calls {
						n, err := db.IncrementFrequency([]byte("hot"))
						if err != nil {
							t.Error(err)
							return
						}
						seen[g][n] = true
						_, _ = db.IncrementFrequency([]byte(keys[1+i%3]))
						_, _ = db.Get([]byte("hot")) // tracked reads interleave
					}
				})
			}
			wg.Wait()
			// Every returned count is distinct: no two increments saw the same value.
			all := map[uint64]bool{}
			for _, m := range seen {
				for n := range m {
					if all[n] {
						t.Fatalf("count %d returned twice", n)
					}
					all[n] = true
				}
			}
			md, _ := db.Metadata([]byte("hot"))
			if want := uint64(2 * goroutines * calls); md.Frequency != want {
				t.Fatalf("hot Frequency = %d, want %d (increments + tracked reads)", md.Frequency, want)
			}
			var sum uint64
			for _, k := range keys[1:] {
				md, _ := db.Metadata([]byte(k))
				sum += md.Frequency
			}
			if want := uint64(goroutines * calls); sum != want {
				t.Fatalf("sum of frequencies = %d, want %d", sum, want)
			}
		})
	}
}

// A hot key written far more often than maxMergeRun between flushes has its
// meta merge operands collapsed into Sets along the way; no access is lost
// in the collapse, whichever writer (Set, IncrementFrequency, a transaction,
// the tracked-read flush) does it.
func TestDB_HotKey_MetaCollapseKeepsEveryAccess(t *testing.T) {
	dir := t.TempDir()
	clk := testutil.NewClock()
	db, err := Open(dir, &Options{Clock: clk})
	testutil.Must(t, err)
	mustSet(t, db, "hot", "v0", 0)
	const goroutines, rounds = 4, 150
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				switch i % 4 {
				case 0:
					if err := db.Set([]byte("hot"), []byte(fmt.Sprint(g, i)), 0); err != nil {
						t.Error(err)
					}
				case 1:
					if _, err := db.IncrementFrequency([]byte("hot")); err != nil {
						t.Error(err)
					}
				case 2:
					if _, err := db.Get([]byte("hot")); err != nil {
						t.Error(err)
					}
				case 3:
					err := db.Update(func(tx *Tx) error {
						_, err := tx.IncrementFrequency([]byte("hot"))
						return err
					})
					if err != nil {
						t.Error(err)
					}
				}
				if i%10 == 0 {
					if err := db.flushTracked(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	// Per goroutine: rounds/4 increments, rounds/4 tracked reads and
	// rounds/4 transactional increments, rounded up for the partial round.
	per := func(r int) uint64 { return uint64((rounds - r + 3) / 4) }
	want := goroutines * (per(1) + per(2) + per(3))
	md, err := db.Metadata([]byte("hot"))
	testutil.Must(t, err)
	if md.Frequency != want {
		t.Fatalf("Frequency = %d, want %d", md.Frequency, want)
	}
	testutil.Must(t, db.Close())
	db, err = Open(dir, &Options{Clock: clk})
	testutil.Must(t, err)
	defer db.Close()
	md, err = db.Metadata([]byte("hot"))
	testutil.Must(t, err)
	if md.Frequency != want {
		t.Fatalf("after reopen: Frequency = %d, want %d", md.Frequency, want)
	}
}

func TestDB_ConcurrentSetDelete_CountsStayExact(t *testing.T) {
	db, clk := mustOpen(t, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				k := []byte(fmt.Sprintf("k%d", (g*7+i)%50))
				switch i % 3 {
				case 0:
					_ = db.Set(k, []byte("v"), time.Duration(i%2)*time.Hour)
				case 1:
					_, _ = db.Delete(k)
				case 2:
					_ = db.Set(k, []byte("w"), 0)
				}
			}
		})
	}
	wg.Wait()
	keys, withTTL := scanCounts(t, db, nil)
	// Every index entry belongs to a live record with that deadline.
	clk.Advance(2 * time.Hour)
	n, err := db.expireDue(nil)
	testutil.Must(t, err)
	if int64(n) != withTTL || db.Len() != keys-withTTL {
		t.Fatalf("sweeper removed %d keys, Len %d; want %d and %d", n, db.Len(), withTTL, keys-withTTL)
	}
}

func TestDB_Modify(t *testing.T) {
	db, clk := mustOpen(t, nil)
	k := []byte("counter")
	incr := func(cur Entry, exists bool) (Change, error) {
		n := 0
		if exists {
			fmt.Sscan(string(cur.Value), &n)
		}
		return Change{Action: Put, Value: []byte(fmt.Sprint(n + 1)), ExpiresAt: cur.ExpiresAt}, nil
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if err := db.Modify(k, incr); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := mustGet(t, db, "counter"); got != "400" {
		t.Fatalf("counter = %s, want 400", got)
	}

	// Keep writes nothing; an error is returned unchanged; Remove deletes.
	boom := errors.New("boom")
	if err := db.Modify(k, func(Entry, bool) (Change, error) { return Change{Action: Put, Value: []byte("x")}, boom }); err != boom {
		t.Fatalf("err = %v, want boom", err)
	}
	testutil.Must(t, db.Modify(k, func(Entry, bool) (Change, error) { return Change{Action: Keep}, nil }))
	if got := mustGet(t, db, "counter"); got != "400" {
		t.Fatalf("after Keep and a failed Put: %s", got)
	}
	deadline := clk.Now().Add(time.Minute)
	testutil.Must(t, db.Modify(k, func(cur Entry, _ bool) (Change, error) {
		return Change{Action: Put, Value: cur.Value, ExpiresAt: deadline}, nil
	}))
	if ttl, _ := db.TTL(k); ttl != time.Minute {
		t.Fatalf("TTL = %v, want 1m", ttl)
	}
	testutil.Must(t, db.Modify(k, func(Entry, bool) (Change, error) { return Change{Action: Remove}, nil }))
	if _, err := db.Get(k); !errors.Is(err, ErrNotFound) || db.Len() != 0 {
		t.Fatalf("after Remove: err %v, Len %d", err, db.Len())
	}
	if err := db.Modify([]byte("new"), func(cur Entry, exists bool) (Change, error) {
		if exists || cur.Value != nil {
			t.Errorf("absent key shown as %q, exists=%t", cur.Value, exists)
		}
		return Change{Action: Remove}, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestDB_Close(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	testutil.Must(t, err)
	testutil.Must(t, db.Set([]byte("k"), []byte("v"), 0))
	testutil.Must(t, db.Close())
	testutil.Must(t, db.Close()) // idempotent
	for name, err := range map[string]error{
		"Set":      db.Set([]byte("k"), nil, 0),
		"Get":      second(db.Get([]byte("k"))),
		"Delete":   second(db.Delete([]byte("k"))),
		"Incr":     second(db.IncrementFrequency([]byte("k"))),
		"Metadata": second(db.Metadata([]byte("k"))),
		"TTL":      second(db.TTL([]byte("k"))),
		"Expire":   db.Expire([]byte("k"), time.Second),
		"Persist":  db.Persist([]byte("k")),
		"Scan":     db.Scan(ScanOptions{}, func([]byte, []byte, Metadata) error { return nil }),
		"Modify":   db.Modify([]byte("k"), func(Entry, bool) (Change, error) { return Change{}, nil }),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	_ = db.Stats() // must not panic
}

func TestDB_Close_WaitsForCallsInFlight(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	testutil.Must(t, err)
	for i := range 100 {
		testutil.Must(t, db.Set([]byte(fmt.Sprint(i)), []byte("v"), 0))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				err := db.Set([]byte(fmt.Sprint(i%100)), []byte("w"), 0)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = db.Get([]byte(fmt.Sprint(i % 100)))
			}
		})
	}
	// A scan whose callback calls back into the DB while Close begins.
	wg.Go(func() {
		_ = db.Scan(ScanOptions{}, func(k, _ []byte, _ Metadata) error {
			_, _ = db.Get(k)
			return nil
		})
	})
	testutil.Must(t, db.Close())
	wg.Wait()
}

func TestDB_Corruption_NamesTheKey(t *testing.T) {
	// The record is corrupted behind the DB's back, so the record cache
	// (which would still hold the good record) is off.
	db, _ := mustOpen(t, &Options{RecordCacheSize: -1})
	mustSet(t, db, "good", "v", 0)
	mustSet(t, db, "bad", "v", 0)
	// Overwrite the record of "bad" with a header that cannot be decoded.
	testutil.Must(t, db.pdb.Set(keyspace.DataKey(nil, []byte("bad")), []byte{99, 1, 2}, nil))
	for name, err := range map[string]error{
		"Get":      second(db.Get([]byte("bad"))),
		"Metadata": second(db.Metadata([]byte("bad"))),
		"Set":      db.Set([]byte("bad"), []byte("v"), 0),
		"Scan":     db.Scan(ScanOptions{}, func([]byte, []byte, Metadata) error { return nil }),
	} {
		if !IsCorruption(err) || !strings.Contains(err.Error(), `"bad"`) {
			t.Errorf("%s: err = %v, want a corruption error naming key \"bad\"", name, err)
		}
	}
	if got := mustGet(t, db, "good"); got != "v" {
		t.Fatalf("other keys must stay readable, got %q", got)
	}
}

func TestOpen_InvalidOptions(t *testing.T) {
	for _, o := range []Options{
		{ExpiryInterval: -1},
		{MaxValueSize: -1},
		{TrackFlushInterval: -time.Second},
	} {
		if _, err := Open(t.TempDir(), &o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Open(%+v): err = %v, want ErrInvalidOptions", o, err)
		}
	}
}

func TestOpen_InMemory(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{InMemory: true})
	testutil.Must(t, err)
	testutil.Must(t, db.Set([]byte("k"), []byte("v"), 0))
	testutil.Must(t, db.Close())
	db, err = Open(dir, &Options{InMemory: true})
	testutil.Must(t, err)
	defer db.Close()
	if _, err := db.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("in-memory data survived a reopen: %v", err)
	}
}

func TestOptions_String(t *testing.T) {
	s := DefaultOptions().String()
	for _, want := range []string{"sync_writes=false", "sync_interval=100ms", "expiry_interval=100ms", "read_tracking=true"} {
		if !strings.Contains(s, want+"\n") {
			t.Errorf("DefaultOptions().String() lacks %q:\n%s", want, s)
		}
	}
}
