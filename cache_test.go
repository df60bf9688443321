package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// modelEntry is a key in the model of TestRecordCache_Model.
type modelEntry struct {
	value string
	exp   time.Time // zero: none
}

// TestRecordCache_Model runs random operations — Set with and without
// TTL, Get, Delete, Modify, SetDeadline, transactions, batches, clock
// advances, sweeps, evictions, namespace drops — against a DB with a tiny
// record cache (so that entries are evicted and filled again all the time)
// and against a map, and checks after every step that each key reads as
// the map says; at the end, a backup restored elsewhere holds the same.
func TestRecordCache_Model(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { cacheModelRun(t, seed) })
	}
}

func cacheModelRun(t *testing.T, seed uint64) {
	clk := testutil.NewClock()
	db, _ := mustOpen(t, &Options{Clock: clk, RecordCacheSize: 16 << 10, RecordCacheValueMax: 8,
		MaxKeys: 40, EvictionPolicy: EvictAllKeysLRU, ExpiryInterval: time.Hour, PruneInterval: time.Hour})
	sub, err := db.Subscribe(1 << 16)
	testutil.Must(t, err)
	r := rand.New(rand.NewPCG(seed, 99))
	model := map[string]modelEntry{}
	key := func() string { return fmt.Sprintf("%c%d", 'a'+r.IntN(2), r.IntN(60)) }
	val := func() string { return strconv.Itoa(r.IntN(1000)) + string(make([]byte, r.IntN(3)*6)) }
	ttl := func() time.Duration {
		if r.IntN(3) == 0 {
			return time.Duration(1+r.IntN(5)) * time.Second
		}
		return 0
	}
	live := func(k string) (modelEntry, bool) {
		e, ok := model[k]
		if ok && !e.exp.IsZero() && !clk.Now().Before(e.exp) {
			return modelEntry{}, false
		}
		return e, ok
	}
	put := func(k, v string, ttl time.Duration) {
		e := modelEntry{value: v}
		if ttl > 0 {
			e.exp = clk.Now().Add(ttl)
		}
		model[k] = e
	}
	// retire applies the events of keys the store retired on its own.
	retire := func() {
		for {
			select {
			case ev := <-sub.C():
				if ev.Kind == EventEvicted {
					delete(model, string(ev.Key))
				}
			default:
				return
			}
		}
	}
	check := func(step int, op string) {
		t.Helper()
		retire()
		for i := range 2 {
			for n := range 60 {
				k := fmt.Sprintf("%c%d", 'a'+i, n)
				want, ok := live(k)
				got, err := db.Get([]byte(k))
				if ok && errors.Is(err, ErrNotFound) {
					// The background eviction (every second, on a real
					// ticker) may have removed it meanwhile: its event is
					// published before the removal is visible.
					retire()
					want, ok = live(k)
				}
				switch {
				case ok && (err != nil || string(got) != want.value):
					t.Fatalf("step %d (%s): Get(%q) = %q, %v; the model has %q", step, op, k, got, err, want.value)
				case !ok && !errors.Is(err, ErrNotFound):
					t.Fatalf("step %d (%s): Get(%q) = %q, %v; the model has no such key", step, op, k, got, err)
				}
			}
		}
	}
	steps := 600
	if raceEnabled {
		steps = 200
	}
	for step := range steps {
		var op string
		switch n := r.IntN(100); {
		case n < 30:
			op = "set"
			k, v, d := key(), val(), ttl()
			testutil.Must(t, db.Set([]byte(k), []byte(v), d))
			put(k, v, d)
		case n < 40:
			op = "delete"
			k := key()
			_, err := db.Delete([]byte(k))
			testutil.Must(t, err)
			delete(model, k)
		case n < 50:
			op = "modify"
			k := key()
			err := db.Modify([]byte(k), func(cur Entry, ok bool) (Change, error) {
				return Change{Action: Put, Value: append(slices.Clone(cur.Value), 'x'), ExpiresAt: cur.ExpiresAt}, nil
			})
			testutil.Must(t, err)
			e, _ := live(k)
			model[k] = modelEntry{value: e.value + "x", exp: e.exp}
		case n < 58:
			op = "setdeadline"
			k := key()
			at := time.Time{}
			if r.IntN(2) == 0 {
				at = clk.Now().Add(time.Duration(1+r.IntN(4)) * time.Second).Truncate(time.Millisecond)
			}
			ok, err := db.SetDeadline([]byte(k), at, Always)
			e, live := live(k)
			switch {
			case !live && !errors.Is(err, ErrNotFound), live && (err != nil || !ok):
				t.Fatalf("step %d: SetDeadline(%q) = %v, %v; live in the model: %v", step, k, ok, err, live)
			case live:
				model[k] = modelEntry{value: e.value, exp: at}
			}
		case n < 68:
			op = "update"
			k1, k2, v := key(), key(), val()
			testutil.Must(t, db.Update(func(tx *Tx) error {
				if err := tx.Set([]byte(k1), []byte(v), 0); err != nil {
					return err
				}
				return tx.Delete([]byte(k2))
			}))
			if k1 != k2 {
				put(k1, v, 0)
			}
			delete(model, k2)
		case n < 76:
			op = "batch"
			b := db.NewBatch()
			for range 5 {
				k, v, d := key(), val(), ttl()
				testutil.Must(t, b.Set([]byte(k), []byte(v), d))
				put(k, v, d)
			}
			testutil.Must(t, b.Commit())
		case n < 86:
			op = "advance"
			clk.Advance(time.Duration(r.IntN(1500)) * time.Millisecond)
		case n < 94:
			op = "sweep"
			_, err := db.expireDue(nil)
			testutil.Must(t, err)
		case n < 96:
			op = "drop"
			_, err := db.DropNamespace('b')
			testutil.Must(t, err)
			for k := range model {
				if k[0] == 'b' {
					delete(model, k)
				}
			}
		default:
			op = "get-from-snapshot"
			k := key()
			testutil.Must(t, db.View(func(tx *Tx) error {
				got, err := tx.Get([]byte(k))
				if e, ok := live(k); ok != (err == nil) || ok && string(got) != e.value {
					return fmt.Errorf("View Get(%q) = %q, %v; model %q, %v", k, got, err, e.value, ok)
				}
				return nil
			}))
		}
		check(step, op)
	}
	if s := db.Stats(); s.CacheHits == 0 || s.CacheMisses == 0 || s.CacheBytes > 16<<10+numShards*256 {
		t.Fatalf("cache stats %d hits, %d misses, %d bytes: the run did not exercise it", s.CacheHits, s.CacheMisses, s.CacheBytes)
	}

	// A restored copy holds what the model holds.
	var file bytes.Buffer
	_, err = db.Backup(&file)
	testutil.Must(t, err)
	restored := filepath.Join(t.TempDir(), "restored")
	_, err = Restore(&file, restored, &RestoreOptions{Options: &Options{Clock: clk}})
	testutil.Must(t, err)
	rdb, err := Open(restored, &Options{Clock: clk})
	testutil.Must(t, err)
	defer rdb.Close()
	retire()
	n := 0
	testutil.Must(t, rdb.Scan(ScanOptions{}, func(k, v []byte, _ Metadata) error {
		n++
		if e, ok := live(string(k)); !ok || e.value != string(v) {
			return fmt.Errorf("restored %q = %q; the model has %q, %v", k, v, e.value, ok)
		}
		return nil
	}))
	want := 0
	for k := range model {
		if _, ok := live(k); ok {
			want++
		}
	}
	if n != want {
		t.Fatalf("restored %d keys, the model has %d", n, want)
	}
}

// TestRecordCache_FillNeverStale: readers that miss the cache fill it
// from the engine while a writer keeps replacing and deleting the values;
// no reader ever sees a value older than one it saw before, nor a value
// again after seeing its key deleted (a fill of a replaced or deleted
// record would bring it back).
func TestRecordCache_FillNeverStale(t *testing.T) {
	db, _ := mustOpen(t, &Options{RecordCacheSize: numShards * 200, DisableReadTracking: true})
	const keys = 8
	writes := 3001 // odd: every key ends with a value (an even round deletes)
	if raceEnabled {
		writes = 801
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		for i := 1; i <= writes; i++ {
			for k := range keys {
				key := []byte(fmt.Sprint("k", k))
				testutil.Must(t, db.Set(key, []byte(fmt.Sprintf("%08d", i)), 0))
				if i%2 == 0 {
					_, err := db.Delete(key)
					testutil.Must(t, err)
				}
			}
			if i%10 == 0 { // churn: push the keys out of the tiny cache
				testutil.Must(t, db.Set([]byte(fmt.Sprint("churn", i)), make([]byte, 150), 0))
			}
		}
	})
	for range 3 {
		wg.Go(func() {
			last := make([][]byte, keys)
			gone := make([]bool, keys) // deleted since last was read
			for {
				select {
				case <-stop:
					return
				default:
				}
				for k := range keys {
					v, err := db.Get([]byte(fmt.Sprint("k", k)))
					if errors.Is(err, ErrNotFound) {
						gone[k] = last[k] != nil
						continue
					}
					testutil.Must(t, err)
					if c := bytes.Compare(v, last[k]); c < 0 || c == 0 && gone[k] {
						t.Errorf("k%d went back from %s (deleted since: %v) to %s", k, last[k], gone[k], v)
						return
					}
					last[k], gone[k] = v, false
				}
			}
		})
	}
	wg.Wait()
	// A fill (of a record or of an absent key) that lost a race with a write
	// would stay in the cache until the key's next write: there is none.
	for k := range keys {
		v, err := db.Get([]byte(fmt.Sprint("k", k)))
		testutil.Must(t, err)
		if want := fmt.Sprintf("%08d", writes); string(v) != want {
			t.Errorf("k%d reads %s after the last write of %s", k, v, want)
		}
	}
}

// TestRecordCache_AbsentEntries: a deleted key, and a key a Get found
// missing, are answered by the cache without an engine read, and every
// kind of write brings the key back.
func TestRecordCache_AbsentEntries(t *testing.T) {
	db, _ := mustOpen(t, &Options{DisableReadTracking: true})
	hits := func() uint64 { return db.Stats().CacheHits }
	mustMissing := func(key string) {
		t.Helper()
		if _, err := db.Get([]byte(key)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%s) = %v, want ErrNotFound", key, err)
		}
	}
	mustRead := func(key, want string) {
		t.Helper()
		v, err := db.Get([]byte(key))
		if err != nil || string(v) != want {
			t.Fatalf("Get(%s) = %q, %v; want %q", key, v, err, want)
		}
	}

	testutil.Must(t, db.Set([]byte("k"), []byte("v"), 0))
	_, err := db.Delete([]byte("k"))
	testutil.Must(t, err)
	h := hits()
	mustMissing("k")
	if hits() != h+1 {
		t.Fatalf("a Get of a deleted key read the engine (cache hits %d → %d)", h, hits())
	}
	testutil.Must(t, db.Set([]byte("k"), []byte("v2"), 0))
	mustRead("k", "v2")

	// A key never written: the first Get reads the engine, the next does not.
	mustMissing("m")
	h = hits()
	mustMissing("m")
	if hits() != h+1 {
		t.Fatalf("the second Get of a missing key read the engine (cache hits %d → %d)", h, hits())
	}
	testutil.Must(t, db.Update(func(tx *Tx) error { return tx.Set([]byte("m"), []byte("tx"), 0) }))
	mustRead("m", "tx")
	b := db.NewBatch()
	testutil.Must(t, b.Delete([]byte("m")))
	testutil.Must(t, b.Commit())
	mustMissing("m")
	testutil.Must(t, db.SetOf([]byte("m")).Modify(func(v *SetView) error { _, err := v.Add([]byte("x")); return err }))
	if ok, err := db.SetOf([]byte("m")).IsMember([]byte("x")); err != nil || !ok {
		t.Fatalf("the set written over an absent entry: %v %v", ok, err)
	}
}

// TestRecordCache_TrackedReadsExact: Gets of cached keys count on the cache
// entries; with a cache small enough that entries are evicted and filled
// all the time, flushes running and live keys overwritten concurrently, each
// key's frequency ends exactly at the number of its Gets.
func TestRecordCache_TrackedReadsExact(t *testing.T) {
	db, _ := mustOpen(t, &Options{RecordCacheSize: numShards * 300, TrackFlushInterval: time.Hour})
	const keys = 40
	for k := range keys {
		mustSet(t, db, fmt.Sprint("k", k), "v", 0)
	}
	rounds := 400
	if raceEnabled {
		rounds = 100
	}
	var gets [keys]atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range rounds * keys / 3 {
				k := r.IntN(keys)
				if _, err := db.Get([]byte(fmt.Sprint("k", k))); err != nil {
					t.Error(err)
					return
				}
				gets[k].Add(1)
			}
		})
	}
	var bg sync.WaitGroup
	bg.Go(func() { // flushes and overwrites (which keep the counts) meanwhile
		r := rand.New(rand.NewPCG(9, 9))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%4 == 0 {
				testutil.Must(t, db.flushTracked())
			}
			mustSet(t, db, fmt.Sprint("k", r.IntN(keys)), "v2", 0)
			mustSet(t, db, fmt.Sprint("churn", i%500), string(make([]byte, 100)), 0)
		}
	})
	wg.Wait()
	close(stop)
	bg.Wait()
	check := func(when string) {
		for k := range keys {
			md, err := db.Metadata([]byte(fmt.Sprint("k", k)))
			testutil.Must(t, err)
			if md.Frequency != uint64(gets[k].Load()) {
				t.Fatalf("%s: k%d has frequency %d after %d Gets", when, k, md.Frequency, gets[k].Load())
			}
		}
	}
	check("before the last flush")
	testutil.Must(t, db.flushTracked())
	check("after it")
	if s := db.Stats(); s.CacheHits == 0 {
		t.Fatal("no Get hit the cache: the test did not exercise the entries' counts")
	}
}
