package epochdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

func keysOf(t *testing.T, db *DB) []string {
	t.Helper()
	var keys []string
	testutil.Must(t, db.Scan(ScanOptions{}, func(k, _ []byte, _ Metadata) error {
		keys = append(keys, string(k))
		return nil
	}))
	return keys
}

func incr(t *testing.T, db *DB, key string, n int) {
	t.Helper()
	for range n {
		if _, err := db.IncrementFrequency([]byte(key)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPrune_RuleBoundaries: grace 1h, minimum frequency 3. A key is pruned
// when it is at least 1h old and its frequency is below 3.
func TestPrune_RuleBoundaries(t *testing.T) {
	db, clk := mustOpen(t, &Options{PruneGrace: time.Hour, PruneMinFrequency: 3, PruneInterval: time.Hour, PruneBatchSize: 2})
	start := clk.Now()
	mustSet(t, db, "old-cold", "v", 0) // frequency 2 at age 1h: pruned
	incr(t, db, "old-cold", 2)
	mustSet(t, db, "old-warm", "v", 0) // frequency 3: kept
	incr(t, db, "old-warm", 3)
	mustSet(t, db, "old-zero", "v", 0) // frequency 0: pruned
	mustSet(t, db, "old-ttl", "v", 0)  // with a deadline, same rule: pruned
	testutil.Must(t, db.Expire([]byte("old-ttl"), 10*time.Hour))
	clk.Advance(time.Millisecond)
	mustSet(t, db, "young-cold", "v", 0) // 1ms younger: 1h-1ms old at the pass, kept
	clk.Set(start.Add(time.Hour))

	sub, err := db.Subscribe(10)
	testutil.Must(t, err)
	n, err := db.prunePass(nil)
	testutil.Must(t, err)
	if n != 3 {
		t.Fatalf("pruned %d keys, want 3", n)
	}
	if got, want := keysOf(t, db), []string{"old-warm", "young-cold"}; !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	var evs []string
	for range 3 {
		ev := <-sub.C()
		if ev.Kind != EventPruned || !ev.Time.Equal(clk.Now()) {
			t.Errorf("event %+v", ev)
		}
		evs = append(evs, fmt.Sprintf("%s:%d", ev.Key, ev.Metadata.Frequency))
	}
	slices.Sort(evs)
	if want := []string{"old-cold:2", "old-ttl:0", "old-zero:0"}; !slices.Equal(evs, want) {
		t.Fatalf("events %v, want %v", evs, want)
	}
	if s := db.Stats(); s.Pruned != 3 || s.PrunePasses != 1 || s.PruneScanned != 5 || s.Keys != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPrune_IdleRuleAndSkipTTL(t *testing.T) {
	db, clk := mustOpen(t, &Options{PruneIdle: 10 * time.Minute, PruneSkipTTLKeys: true})
	mustSet(t, db, "idle", "v", 0)
	mustSet(t, db, "read", "v", 0)
	mustSet(t, db, "idle-ttl", "v", time.Hour)
	clk.Advance(5 * time.Minute)
	mustGet(t, db, "read") // an access resets idleness
	clk.Advance(5 * time.Minute)
	n, err := db.prunePass(nil)
	testutil.Must(t, err)
	if got := keysOf(t, db); n != 1 || !slices.Equal(got, []string{"idle-ttl", "read"}) {
		t.Fatalf("pruned %d, left %v", n, got)
	}
}

func TestPreview_ListsWithoutRetiring(t *testing.T) {
	db, clk := mustOpen(t, &Options{PruneMinFrequency: 1, EvictionPolicy: EvictAllKeysLFU})
	for i := range 6 {
		mustSet(t, db, fmt.Sprintf("k%d", i), "v", 0)
		incr(t, db, fmt.Sprintf("k%d", i), i) // k0 has frequency 0
	}
	storeSettings(db, func(s *Settings) { s.MaxKeys = 3 }) // a budget the store is over: what would eviction take?
	clk.Advance(time.Minute)
	p, err := db.Preview(10)
	testutil.Must(t, err)
	if p.PruneTotal != 1 || string(p.Prune[0].Key) != "k0" {
		t.Fatalf("prune preview %+v", p)
	}
	// 6 keys, 1 pruned, budget 3: the two coldest of the rest go.
	var ev []string
	for _, c := range p.Evict {
		ev = append(ev, string(c.Key))
	}
	if p.EvictTotal != 2 || !slices.Equal(ev, []string{"k1", "k2"}) {
		t.Fatalf("evict preview %v (total %d)", ev, p.EvictTotal)
	}
	if db.Len() != 6 {
		t.Fatal("Preview retired keys")
	}
}

func TestHeat_HalvesEveryHalfLife(t *testing.T) {
	db, clk := mustOpen(t, &Options{HeatHalfLife: time.Hour})
	mustSet(t, db, "k", "v", 0) // heat 1 at creation
	incr(t, db, "k", 3)         // +3 → 4
	md, _ := db.Metadata([]byte("k"))
	if md.Heat != 4 || md.Frequency != 3 {
		t.Fatalf("heat %v frequency %d, want 4 and 3", md.Heat, md.Frequency)
	}
	clk.Advance(time.Hour)
	md, _ = db.Metadata([]byte("k"))
	if math.Abs(md.Heat-2) > 1e-9 || md.Frequency != 3 {
		t.Fatalf("after one half-life: heat %v (want 2), frequency %d (exact, unchanged)", md.Heat, md.Frequency)
	}
	mustGet(t, db, "k") // a tracked read adds 1: 3
	md, _ = db.Metadata([]byte("k"))
	if math.Abs(md.Heat-3) > 1e-9 {
		t.Fatalf("after a read: heat %v, want 3", md.Heat)
	}
	testutil.Must(t, db.flushTracked())
	clk.Advance(2 * time.Hour)
	md, _ = db.Metadata([]byte("k"))
	if math.Abs(md.Heat-0.75) > 1e-9 {
		t.Fatalf("after two more half-lives: heat %v, want 0.75", md.Heat)
	}
}

// TestEvict_KeepsHotKeys: a budget of 100 keys; 20 hot keys are read often;
// 400 cold keys stream in. The budget holds and the hot keys survive.
func TestEvict_KeepsHotKeys(t *testing.T) {
	for _, policy := range []EvictionPolicy{EvictAllKeysLFU, EvictAllKeysLRU} {
		t.Run(policy.String(), func(t *testing.T) {
			db, clk := mustOpen(t, &Options{MaxKeys: 100, EvictionPolicy: policy})
			sub, _ := db.Subscribe(1000)
			for i := range 20 {
				mustSet(t, db, fmt.Sprintf("hot%02d", i), "v", 0)
			}
			for i := range 400 {
				clk.Advance(time.Second)
				mustSet(t, db, fmt.Sprintf("cold%03d", i), "v", 0)
				mustGet(t, db, fmt.Sprintf("hot%02d", i%20)) // each hot key read every 20s
				if db.Len() > 100+evictPerWrite {
					t.Fatalf("Len %d overshoots the budget", db.Len())
				}
			}
			if db.Len() > 100 {
				t.Fatalf("Len %d over budget after the writes", db.Len())
			}
			for i := range 20 {
				if _, err := db.Get([]byte(fmt.Sprintf("hot%02d", i))); err != nil {
					t.Fatalf("hot key %d evicted", i)
				}
			}
			s := db.Stats()
			if s.Evicted != 320 {
				t.Fatalf("evicted %d, want 320", s.Evicted)
			}
			for range s.Evicted {
				if ev := <-sub.C(); ev.Kind != EventEvicted {
					t.Fatalf("event %+v", ev)
				}
			}
		})
	}
}

// A write never evicts its own keys, even when they are the coldest: with
// MaxKeys 2 and two keys read often, each new key evicts an older one and
// stays (Redis evicts before the command runs, to the same effect).
func TestEvict_NeverEvictsTheKeysJustWritten(t *testing.T) {
	for _, policy := range []EvictionPolicy{EvictAllKeysLFU, EvictAllKeysLRU} {
		t.Run(policy.String(), func(t *testing.T) {
			db, clk := mustOpen(t, &Options{MaxKeys: 2, EvictionPolicy: policy})
			mustSet(t, db, "a", "v", 0)
			mustSet(t, db, "b", "v", 0)
			for range 5 {
				clk.Advance(time.Second)
				mustGet(t, db, "a")
				mustGet(t, db, "b")
			}
			for i, write := range []func(k string) error{
				func(k string) error { return db.Set([]byte(k), []byte("v"), 0) },
				func(k string) error {
					b := db.NewBatch()
					_ = b.Set([]byte(k), []byte("v"), 0)
					return b.Commit()
				},
				func(k string) error {
					return db.Update(func(tx *Tx) error { return tx.Set([]byte(k), []byte("v"), 0) })
				},
			} {
				k := fmt.Sprintf("new%d", i)
				clk.Advance(time.Second)
				testutil.Must(t, write(k))
				if got := mustGet(t, db, k); got != "v" {
					t.Fatalf("write %d: %q", i, got)
				}
				if db.Len() != 2 {
					t.Fatalf("write %d: Len %d, want 2", i, db.Len())
				}
			}
		})
	}
}

func TestEvict_NoEvictionFailsWrites(t *testing.T) {
	db, _ := mustOpen(t, &Options{MaxKeys: 2})
	mustSet(t, db, "a", "v", 0)
	mustSet(t, db, "b", "v", 0)
	if err := db.Set([]byte("c"), []byte("v"), 0); !errors.Is(err, ErrFull) {
		t.Fatalf("third key: %v, want ErrFull", err)
	}
	mustSet(t, db, "a", "overwrite is fine", 0)
	b := db.NewBatch()
	_ = b.Set([]byte("d"), nil, 0)
	if err := b.Commit(); !errors.Is(err, ErrFull) {
		t.Fatalf("batch: %v", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.Set([]byte("e"), nil, 0) }); !errors.Is(err, ErrFull) {
		t.Fatalf("tx: %v", err)
	}
	if db.Len() != 2 {
		t.Fatalf("Len %d", db.Len())
	}
}

func TestEvict_VolatileOnlyEvictsKeysWithTTL(t *testing.T) {
	db, _ := mustOpen(t, &Options{MaxKeys: 3, EvictionPolicy: EvictVolatileLFU})
	mustSet(t, db, "p1", "v", 0)
	mustSet(t, db, "p2", "v", 0)
	mustSet(t, db, "t1", "v", time.Hour)
	mustSet(t, db, "t2", "v", time.Hour) // over budget: t1 or t2 goes
	if got := keysOf(t, db); len(got) != 3 || got[0] != "p1" || got[1] != "p2" {
		t.Fatalf("left %v", got)
	}
	mustSet(t, db, "p3", "v", 0) // evicts the last key with a ttl
	mustSet(t, db, "p4", "v", 0) // nothing evictable: the write stands, over budget
	if got := keysOf(t, db); !slices.Equal(got, []string{"p1", "p2", "p3", "p4"}) {
		t.Fatalf("left %v", got)
	}
}

func TestEvict_MaxDiskBytes(t *testing.T) {
	db, _ := mustOpen(t, &Options{MaxDiskBytes: 10_000, EvictionPolicy: EvictAllKeysLFU})
	for i := range 100 {
		testutil.Must(t, db.Set([]byte(fmt.Sprintf("k%03d", i)), make([]byte, 996), 0)) // 1000 bytes each
	}
	if s := db.Stats(); s.LiveBytes > 10_000 || s.Keys != 10 {
		t.Fatalf("stats %+v", s)
	}
}

func TestEvents_ExpiryOncePerKey_SlowSubscriberDoesNotStall(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	fast, _ := db.Subscribe(1000)
	slow, _ := db.Subscribe(1) // never read
	for i := range 300 {
		mustSet(t, db, fmt.Sprintf("k%03d", i), "v", time.Second)
	}
	incr(t, db, "k007", 5)
	clk.Advance(time.Second)
	n, err := db.expireDue(nil)
	testutil.Must(t, err)
	if n != 300 {
		t.Fatalf("expired %d", n)
	}
	seen := map[string]bool{}
	for range 300 {
		ev := <-fast.C()
		if ev.Kind != EventExpired || seen[string(ev.Key)] {
			t.Fatalf("event %+v (seen before: %t)", ev, seen[string(ev.Key)])
		}
		seen[string(ev.Key)] = true
		if string(ev.Key) == "k007" && ev.Metadata.Frequency != 5 {
			t.Fatalf("k007's last metadata %+v", ev.Metadata)
		}
	}
	select {
	case ev := <-fast.C():
		t.Fatalf("extra event %+v", ev)
	default:
	}
	if s := db.Stats(); s.EventsDropped != 299 {
		t.Fatalf("dropped %d events for the slow subscriber, want 299", s.EventsDropped)
	}
	slow.Close()
	slow.Close()
	// A key replaced after its deadline, before any sweep, is an expiry too.
	mustSet(t, db, "lazy", "v", time.Second)
	clk.Advance(time.Second)
	mustSet(t, db, "lazy", "new", 0)
	if ev := <-fast.C(); ev.Kind != EventExpired || string(ev.Key) != "lazy" {
		t.Fatalf("lazy expiry event %+v", ev)
	}
}

func TestEventLog_DurableAndResumable(t *testing.T) {
	dir := t.TempDir()
	clk := testutil.NewClock()
	opts := &Options{Clock: clk, EventLog: true, EventLogValues: true, ExpiryInterval: time.Hour, PruneInterval: time.Hour}
	db, err := Open(dir, opts)
	testutil.Must(t, err)
	for i := range 5 {
		testutil.Must(t, db.Set([]byte(fmt.Sprintf("s%d", i)), []byte(fmt.Sprint("value", i)), time.Second))
	}
	clk.Advance(time.Second)
	_, err = db.expireDue(nil)
	testutil.Must(t, err)
	testutil.Must(t, db.Sync()) // events are readable once durable
	evs, next, err := db.ReadEvents(0, 3)
	testutil.Must(t, err)
	if len(evs) != 3 || next != 3 {
		t.Fatalf("first page %+v next %d", evs, next)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.Kind != EventExpired || string(ev.Value) != "value"+string(ev.Key[1:]) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	testutil.Must(t, db.Close())

	db, err = Open(dir, opts)
	testutil.Must(t, err)
	defer db.Close()
	evs, next, err = db.ReadEvents(next, 10) // resume after a restart
	testutil.Must(t, err)
	if len(evs) != 2 || evs[0].Seq != 4 || next != 5 {
		t.Fatalf("resumed page %+v next %d", evs, next)
	}
	// New events continue the sequence; a waiting reader wakes up.
	woke := make(chan error, 1)
	go func() { woke <- db.WaitEvents(context.Background(), next) }()
	mustSet(t, db, "later", "v", time.Second)
	clk.Advance(time.Second)
	_, _ = db.expireDue(nil)
	testutil.Must(t, db.Sync())
	testutil.Must(t, <-woke)
	evs, _, _ = db.ReadEvents(next, 10)
	if len(evs) != 1 || evs[0].Seq != 6 || string(evs[0].Key) != "later" {
		t.Fatalf("after restart %+v", evs)
	}
	// Retention by count.
	testutil.Must(t, db.Reconfigure(func(s *Settings) { s.EventLogMaxEntries = 2 }))
	testutil.Must(t, db.trimEventLog(db.nowMs()))
	evs, _, _ = db.ReadEvents(0, 10)
	if len(evs) != 2 || evs[0].Seq != 5 {
		t.Fatalf("after trimming to 2: %+v", evs)
	}
}

func TestLifecycle_CountsAndHeatPersistAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	clk := testutil.NewClock()
	opts := &Options{Clock: clk, HeatHalfLife: time.Hour}
	db, err := Open(dir, opts)
	testutil.Must(t, err)
	mustSet(t, db, "k", "v", 0)
	incr(t, db, "k", 7)
	mustGet(t, db, "k")
	testutil.Must(t, db.Close())
	clk.Advance(time.Hour)
	db, err = Open(dir, opts)
	testutil.Must(t, err)
	defer db.Close()
	md, _ := db.Metadata([]byte("k"))
	if md.Frequency != 8 || math.Abs(md.Heat-4.5) > 1e-9 {
		t.Fatalf("after reopen and one half-life: %+v, want frequency 8 and heat 9/2", md)
	}
}

// TestLifecycle_ConcurrentMix runs transactions, plain writes, the sweeper,
// pruning and eviction at once with the event log on: no deadlock, counters
// consistent, every retirement logged once.
func TestLifecycle_ConcurrentMix(t *testing.T) {
	db, clk := mustOpen(t, &Options{EventLog: true, MaxKeys: 150, EvictionPolicy: EvictAllKeysLFU,
		PruneIdle: time.Hour, ExpiryInterval: time.Hour, PruneInterval: time.Hour})
	sub, _ := db.Subscribe(1 << 16)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := []byte(fmt.Sprintf("k%d", (g*31+i)%200))
				switch i % 4 {
				case 0:
					_ = db.Set(k, []byte("v"), time.Duration(1+i%3)*time.Second)
				case 1:
					err := db.Update(func(tx *Tx) error {
						_, _ = tx.Get(k)
						return tx.Set(k, []byte("tx"), time.Second)
					})
					if err != nil && !errors.Is(err, ErrConflict) {
						t.Error(err)
					}
				case 2:
					_, _ = db.Delete(k)
				case 3:
					_, _ = db.Get(k)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			clk.Advance(100 * time.Millisecond)
			if _, err := db.expireDue(nil); err != nil {
				t.Error(err)
			}
			if _, _, _, err := db.pruneStep(db.cfg().PruneBatchSize); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	clk.Advance(2 * time.Hour)
	_, err := db.expireDue(nil)
	testutil.Must(t, err)
	testutil.Must(t, db.Sync())
	if db.Len() != 0 || db.Stats().Keys != 0 {
		t.Fatalf("every key had a deadline, yet %d remain", db.Len())
	}
	s := db.Stats()
	retired := s.Expired + s.Pruned + s.Evicted
	evs, _, err := db.ReadEvents(0, 1<<20)
	testutil.Must(t, err)
	if uint64(len(evs)) != retired {
		t.Fatalf("%d events logged for %d retirements (%+v)", len(evs), retired, s)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has sequence %d", i, ev.Seq)
		}
	}
	if got := uint64(len(sub.C())); got != retired {
		t.Fatalf("subscriber got %d events for %d retirements", got, retired)
	}
}

func TestDB_LastEventSeqAndSync(t *testing.T) {
	// No periodic sync within the test: events become readable only when
	// Sync makes them durable.
	db, clk := mustOpen(t, &Options{EventLog: true, SyncInterval: time.Hour})
	if db.LastEventSeq() != 0 {
		t.Fatalf("LastEventSeq of a new store = %d", db.LastEventSeq())
	}
	for i := range 3 {
		mustSet(t, db, fmt.Sprint("k", i), "v", time.Second)
	}
	clk.Advance(time.Second)
	n, err := db.expireDue(nil)
	testutil.Must(t, err)
	if evs, _, err := db.ReadEvents(0, 10); n != 3 || err != nil || len(evs) != 0 || db.LastEventSeq() != 0 {
		t.Fatalf("before a sync: expired %d, read %d events (%v), LastEventSeq %d; want 3, 0, 0", n, len(evs), err, db.LastEventSeq())
	}
	testutil.Must(t, db.Sync())
	if db.LastEventSeq() != 3 {
		t.Fatalf("expired %d, LastEventSeq %d; want 3 and 3", n, db.LastEventSeq())
	}
	evs, next, err := db.ReadEvents(0, 10)
	testutil.Must(t, err)
	if len(evs) != 3 || next != db.LastEventSeq() {
		t.Fatalf("ReadEvents: %d events up to %d, LastEventSeq %d", len(evs), next, db.LastEventSeq())
	}
	testutil.Must(t, db.Sync())
	testutil.Must(t, db.Close())
	if err := db.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
}

func TestDB_Prune_Now(t *testing.T) {
	db, clk := mustOpen(t, &Options{PruneMinFrequency: 1, PruneInterval: time.Hour, PruneBatchSize: 7})
	if _, err := (func() (PruneResult, error) {
		other, _ := mustOpen(t, nil)
		return other.Prune(0)
	})(); !errors.Is(err, ErrNoPruneRule) {
		t.Fatalf("Prune without a rule: %v", err)
	}
	sub, err := db.Subscribe(100)
	testutil.Must(t, err)
	for i := range 30 {
		mustSet(t, db, fmt.Sprint("k", i), "v", 0)
	}
	for i := range 10 { // frequency 1: kept
		_, err := db.IncrementFrequency([]byte(fmt.Sprint("k", i)))
		testutil.Must(t, err)
	}
	clk.Advance(time.Second)
	r, err := db.Prune(5)
	testutil.Must(t, err)
	if r.Examined != 5 || r.Wrapped {
		t.Fatalf("Prune(5) = %+v", r)
	}
	r2, err := db.Prune(0) // a whole pass, from the first key
	testutil.Must(t, err)
	if r2.Examined != 30-r.Removed || r.Removed+r2.Removed != 20 || !r2.Wrapped {
		t.Fatalf("Prune(5) = %+v, then Prune(0) = %+v; want 20 removed in all, every key left examined by the pass", r, r2)
	}
	if db.Len() != 10 || len(sub.C()) != 20 {
		t.Fatalf("after pruning: %d keys, %d events", db.Len(), len(sub.C()))
	}
	if ev := <-sub.C(); ev.Kind != EventPruned {
		t.Fatalf("event %+v", ev)
	}
}
