package epochdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/epochdb/epochdb/internal/testutil"
)

// TestWatch_IdleWatcherMemoryStaysFlat: an open watch costs memory for its
// keys only, however many writes others make (there is no log of writes
// to trim), and still sees a write to its own key afterwards.
func TestWatch_IdleWatcherMemoryStaysFlat(t *testing.T) {
	db, _ := mustOpen(t, &Options{DisableReadTracking: true})
	w, err := db.Watch([]byte("watched"))
	testutil.Must(t, err)
	defer w.Close()
	writes := 1_000_000
	if raceEnabled || testing.Short() {
		writes = 50_000
	}
	b := db.NewBatch()
	for i := range writes {
		testutil.Must(t, b.Set([]byte(fmt.Sprint("other-", i%4096)), []byte("v"), 0))
		if b.Len() == 4096 || i == writes-1 {
			testutil.Must(t, b.Commit())
			b = db.NewBatch()
		}
	}
	for range 1000 { // and plain writes, one by one
		mustSet(t, db, "other", "v", 0)
	}
	if w.Changed() {
		t.Fatal("the watch reports a change although nobody wrote its key")
	}
	watchers := 0
	for i := range db.shards {
		watchers += len(db.shards[i].watchers)
	}
	db.rlog.mu.Lock()
	logged := len(db.rlog.entries)
	db.rlog.mu.Unlock()
	if watchers != 1 || logged != 0 {
		t.Fatalf("after %d writes by others: %d watched keys and %d logged writes, want 1 and 0", writes, watchers, logged)
	}
	mustSet(t, db, "watched", "v", 0)
	if !w.Changed() {
		t.Fatal("the watch missed a write to its key")
	}
	w.Close()
	for i := range db.shards {
		watchers += len(db.shards[i].watchers)
	}
	if watchers != 1 {
		t.Fatalf("a closed watch left %d keys registered", watchers-1)
	}
}

// TestRangeLog_IsBounded: an idle read-write transaction does not make the
// log of written keys grow without bound; once what it needs was dropped,
// its commit conflicts rather than missing a phantom.
func TestRangeLog_IsBounded(t *testing.T) {
	db, _ := mustOpen(t, &Options{DisableReadTracking: true})
	tx, err := db.Begin(true)
	testutil.Must(t, err)
	testutil.Must(t, tx.Scan(ScanOptions{Prefix: []byte("p/")}, func([]byte, []byte, Metadata) error { return nil }))
	testutil.Must(t, tx.Set([]byte("q"), []byte("v"), 0))
	b := db.NewBatch()
	for i := range rangeLogMax + 10 {
		testutil.Must(t, b.Set([]byte(fmt.Sprint("x/", i)), []byte("v"), 0))
	}
	testutil.Must(t, b.Commit())
	db.rlog.mu.Lock()
	logged := len(db.rlog.entries)
	db.rlog.mu.Unlock()
	if logged > rangeLogMax {
		t.Fatalf("the range log holds %d entries, the bound is %d", logged, rangeLogMax)
	}
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("a transaction whose range log was dropped committed: %v", err)
	}
}

// TestTx_HistoryWithPlainWrites runs transactions, plain read-modify-writes
// and read-only views concurrently over the same keys and checks what a
// serializable history guarantees:
//
//   - counters: each of Modify (plain) and Update (transactional) adds 1 to
//     a counter it reads; the final value is exactly the number of
//     successful increments (a transaction validated without seeing a plain
//     write applied before it would lose an increment);
//   - a bank: transfers between accounts keep the total, which every View
//     sees exactly, with no account negative.
func TestTx_HistoryWithPlainWrites(t *testing.T) {
	db, _ := mustOpen(t, &Options{DisableReadTracking: true, TxMaxRetries: 1 << 20})
	const counters, accounts, initial = 4, 8, 100
	u64 := func(v []byte) uint64 { return binary.BigEndian.Uint64(v) }
	enc := func(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
	for i := range counters {
		testutil.Must(t, db.Set([]byte(fmt.Sprint("c", i)), enc(0), 0))
	}
	for i := range accounts {
		testutil.Must(t, db.Set([]byte(fmt.Sprint("a", i)), enc(initial), 0))
	}
	rounds := 400
	if raceEnabled {
		rounds = 150
	}
	var incs [counters]atomic.Uint64
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range rounds {
				c := r.IntN(counters)
				ck := []byte(fmt.Sprint("c", c))
				switch g % 3 {
				case 0: // plain read-modify-write
					err := db.Modify(ck, func(cur Entry, _ bool) (Change, error) {
						return Change{Action: Put, Value: enc(u64(cur.Value) + 1)}, nil
					})
					testutil.Must(t, err)
					incs[c].Add(1)
				case 1: // a transaction: a counter increment and a transfer
					from, to := r.IntN(accounts), r.IntN(accounts)
					err := db.Update(func(tx *Tx) error {
						v, err := tx.Get(ck)
						if err != nil {
							return err
						}
						if err := tx.Set(ck, enc(u64(v)+1), 0); err != nil {
							return err
						}
						if from == to {
							return nil
						}
						fk, tk := []byte(fmt.Sprint("a", from)), []byte(fmt.Sprint("a", to))
						fv, err := tx.Get(fk)
						if err != nil {
							return err
						}
						tv, err := tx.Get(tk)
						if err != nil {
							return err
						}
						if u64(fv) == 0 {
							return nil
						}
						if err := tx.Set(fk, enc(u64(fv)-1), 0); err != nil {
							return err
						}
						return tx.Set(tk, enc(u64(tv)+1), 0)
					})
					testutil.Must(t, err)
					incs[c].Add(1)
				case 2: // a read-only view of the bank
					err := db.View(func(tx *Tx) error {
						var sum uint64
						for i := range accounts {
							v, err := tx.Get([]byte(fmt.Sprint("a", i)))
							if err != nil {
								return err
							}
							sum += u64(v)
						}
						if sum != accounts*initial {
							return fmt.Errorf("a view saw a total of %d, want %d", sum, accounts*initial)
						}
						return nil
					})
					testutil.Must(t, err)
				}
			}
		}()
	}
	wg.Wait()
	for i := range counters {
		if got, want := u64([]byte(mustGet(t, db, fmt.Sprint("c", i)))), incs[i].Load(); got != want {
			t.Errorf("counter c%d = %d after %d increments: an increment was lost", i, got, want)
		}
	}
}
