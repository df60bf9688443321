package epochdb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

func getInt(t testing.TB, tx *Tx, key string) int {
	t.Helper()
	v, err := tx.Get([]byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func setInt(tx *Tx, key string, n int) error {
	return tx.Set([]byte(key), []byte(strconv.Itoa(n)), 0)
}

var errInsufficient = errors.New("insufficient funds")

// TestTx_BankTransfers: 8 goroutines × 1000 random transfers among 100
// accounts; the total is conserved and no balance goes negative.
func TestTx_BankTransfers(t *testing.T) {
	db, _ := mustOpen(t, nil)
	const accounts, start = 100, 100
	testutil.Must(t, db.Update(func(tx *Tx) error {
		for i := range accounts {
			if err := setInt(tx, fmt.Sprintf("acct%03d", i), start); err != nil {
				return err
			}
		}
		return nil
	}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for range 1000 {
				from := fmt.Sprintf("acct%03d", rng.IntN(accounts))
				to := fmt.Sprintf("acct%03d", rng.IntN(accounts))
				amount := 1 + rng.IntN(50)
				err := db.Update(func(tx *Tx) error {
					a, b := getInt(t, tx, from), getInt(t, tx, to)
					if a < amount {
						return errInsufficient
					}
					if from == to {
						return nil
					}
					if err := setInt(tx, from, a-amount); err != nil {
						return err
					}
					return setInt(tx, to, b+amount)
				})
				switch {
				case errors.Is(err, errInsufficient):
					mu.Lock()
					refused++
					mu.Unlock()
				case err != nil:
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	testutil.Must(t, db.View(func(tx *Tx) error {
		return tx.Scan(ScanOptions{Prefix: []byte("acct")}, func(k, v []byte, _ Metadata) error {
			n, _ := strconv.Atoi(string(v))
			if n < 0 {
				t.Errorf("%s has a negative balance %d", k, n)
			}
			total += n
			return nil
		})
	}))
	if total != accounts*start {
		t.Fatalf("total = %d, want %d", total, accounts*start)
	}
	s := db.Stats()
	t.Logf("commits %d, conflicts %d, retries %d, refused %d", s.TxCommits, s.TxConflicts, s.TxRetries, refused)
}

// TestTx_WriteSkewIsRejected: two doctors on call, each may go off call only
// if the other stays. Under snapshot isolation both would succeed; here the
// second commit must conflict.
func TestTx_WriteSkewIsRejected(t *testing.T) {
	db, _ := mustOpen(t, &Options{TxMaxRetries: -1})
	mustSet(t, db, "alice", "on", 0)
	mustSet(t, db, "bob", "on", 0)
	offCall := func(me, other string) func(*Tx) error {
		return func(tx *Tx) error {
			v, err := tx.Get([]byte(other))
			if err != nil {
				return err
			}
			if string(v) != "on" {
				return errors.New("the other doctor is off call")
			}
			return tx.Set([]byte(me), []byte("off"), 0)
		}
	}
	tx1, _ := db.Begin(true)
	tx2, _ := db.Begin(true)
	testutil.Must(t, offCall("alice", "bob")(tx1))
	testutil.Must(t, offCall("bob", "alice")(tx2))
	testutil.Must(t, tx1.Commit())
	if err := tx2.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("second commit: %v, want ErrConflict (write skew)", err)
	}
	if mustGet(t, db, "bob") != "on" {
		t.Fatal("a doctor must stay on call")
	}
	// Update retries on a fresh snapshot and then refuses on the application rule.
	db.opts.TxMaxRetries = 3
	if err := db.Update(offCall("bob", "alice")); err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("retried Update: %v, want the application's refusal", err)
	}
}

func TestTx_ConflictWithPlainWrites(t *testing.T) {
	db, clk := mustOpen(t, &Options{TxMaxRetries: -1, ExpiryInterval: time.Hour})
	mustSet(t, db, "k", "1", 0)
	mustSet(t, db, "e", "1", time.Second)
	for _, tc := range []struct {
		name  string
		read  string
		write func()
	}{
		{"Set", "k", func() { mustSet(t, db, "k", "2", 0) }},
		{"Delete", "k", func() { _, _ = db.Delete([]byte("k")) }},
		{"Modify", "k", func() {
			_ = db.Modify([]byte("k"), func(Entry, bool) (Change, error) { return Change{Action: Put, Value: []byte("3")}, nil })
		}},
		{"Batch", "k", func() { b := db.NewBatch(); _ = b.Set([]byte("k"), []byte("4"), 0); _ = b.Commit() }},
		{"expiry", "e", func() { clk.Advance(2 * time.Second); _, _ = db.expireDue(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustSet(t, db, "k", "1", 0)
			tx, err := db.Begin(true)
			testutil.Must(t, err)
			_, _ = tx.Get([]byte(tc.read))
			testutil.Must(t, tx.Set([]byte("out"), []byte("x"), 0))
			tc.write()
			if err := tx.Commit(); !errors.Is(err, ErrConflict) {
				t.Fatalf("commit after a %s of a key it read: %v, want ErrConflict", tc.name, err)
			}
			if _, err := db.Get([]byte("out")); !errors.Is(err, ErrNotFound) {
				t.Fatal("a conflicting transaction wrote")
			}
		})
	}
	// Frequency increments and tracked reads do not conflict with readers.
	tx, _ := db.Begin(true)
	_, _ = tx.Get([]byte("k"))
	_, _ = db.IncrementFrequency([]byte("k"))
	_, _ = db.Get([]byte("k"))
	testutil.Must(t, tx.Set([]byte("out"), []byte("x"), 0))
	testutil.Must(t, tx.Commit())
}

func TestTx_PhantomInScannedRange(t *testing.T) {
	db, _ := mustOpen(t, &Options{TxMaxRetries: -1})
	mustSet(t, db, "q:1", "a", 0)
	tx, _ := db.Begin(true)
	n := 0
	testutil.Must(t, tx.Scan(ScanOptions{Prefix: []byte("q:")}, func([]byte, []byte, Metadata) error { n++; return nil }))
	testutil.Must(t, tx.Set([]byte("count"), []byte(strconv.Itoa(n)), 0))
	mustSet(t, db, "q:2", "b", 0) // a phantom inside the scanned range
	mustSet(t, db, "r:1", "c", 0) // outside it
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit after an insert into the scanned range: %v", err)
	}
}

func TestTx_RollbackOnErrorAndPanic(t *testing.T) {
	db, _ := mustOpen(t, nil)
	mustSet(t, db, "k", "orig", 0)
	boom := errors.New("boom")
	var leaked *Tx
	err := db.Update(func(tx *Tx) error {
		leaked = tx
		_ = tx.Set([]byte("k"), []byte("changed"), 0)
		_ = tx.Set([]byte("new"), []byte("x"), 0)
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) || err.Error() != "wrapped: boom" {
		t.Fatalf("Update returned %v, want the function's error unchanged", err)
	}
	if mustGet(t, db, "k") != "orig" || db.Len() != 1 {
		t.Fatal("a failed transaction wrote")
	}
	if err := leaked.Set([]byte("k"), nil, 0); !errors.Is(err, ErrTxClosed) {
		t.Fatalf("using a tx after Update returned: %v, want ErrTxClosed", err)
	}
	if _, err := leaked.Get([]byte("k")); !errors.Is(err, ErrTxClosed) {
		t.Fatalf("Get on a finished tx: %v", err)
	}

	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Fatalf("recovered %v, want the re-panic", r)
			}
		}()
		_ = db.Update(func(tx *Tx) error {
			_ = tx.Set([]byte("k"), []byte("changed"), 0)
			panic("kaboom")
		})
	}()
	if mustGet(t, db, "k") != "orig" {
		t.Fatal("a panicking transaction wrote")
	}
	// Close must not wait for the rolled-back transactions.
}

func TestTx_View_IsReadOnlyAndConsistent(t *testing.T) {
	db, _ := mustOpen(t, nil)
	mustSet(t, db, "a", "1", 0)
	err := db.View(func(tx *Tx) error {
		if err := tx.Set([]byte("a"), []byte("2"), 0); !errors.Is(err, ErrTxReadOnly) {
			t.Errorf("Set in View: %v", err)
		}
		if err := tx.Delete([]byte("a")); !errors.Is(err, ErrTxReadOnly) {
			t.Errorf("Delete in View: %v", err)
		}
		if _, err := tx.IncrementFrequency([]byte("a")); !errors.Is(err, ErrTxReadOnly) {
			t.Errorf("IncrementFrequency in View: %v", err)
		}
		mustSet(t, db, "a", "changed outside", 0)
		if v, _ := tx.Get([]byte("a")); string(v) != "1" {
			t.Errorf("View saw a write made after its snapshot: %q", v)
		}
		return nil
	})
	testutil.Must(t, err)
}

func TestTx_ReadYourWrites(t *testing.T) {
	db, clk := mustOpen(t, nil)
	for _, k := range []string{"a", "b", "c", "d"} {
		mustSet(t, db, k, "old-"+k, 0)
	}
	_, _ = db.IncrementFrequency([]byte("c"))
	start := clk.Now()
	testutil.Must(t, db.Update(func(tx *Tx) error {
		_ = tx.Set([]byte("b"), []byte("new-b"), time.Minute)
		_ = tx.Delete([]byte("c"))
		_ = tx.Set([]byte("c"), []byte("new-c"), 0) // deleted then recreated: a new key
		_ = tx.Delete([]byte("d"))
		_ = tx.Set([]byte("e"), []byte("new-e"), 0)
		if n, err := tx.IncrementFrequency([]byte("a")); n != 1 || err != nil {
			t.Errorf("IncrementFrequency in tx = %d, %v", n, err)
		}
		var got []string
		err := tx.Scan(ScanOptions{}, func(k, v []byte, md Metadata) error {
			got = append(got, string(k)+"="+string(v))
			if string(k) == "b" && !md.ExpiresAt.Equal(start.Add(time.Minute)) {
				t.Errorf("b ExpiresAt %v", md.ExpiresAt)
			}
			if string(k) == "c" && md.Frequency != 0 {
				t.Errorf("recreated c has frequency %d", md.Frequency)
			}
			return nil
		})
		if want := "[a=old-a b=new-b c=new-c e=new-e]"; fmt.Sprint(got) != want {
			t.Errorf("Scan in tx = %v, want %s", got, want)
		}
		if _, err := tx.Get([]byte("d")); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get of a key deleted in the tx: %v", err)
		}
		return err
	}))
	md, _ := db.Metadata([]byte("a"))
	if md.Frequency != 1 {
		t.Fatalf("a frequency after commit = %d", md.Frequency)
	}
	md, _ = db.Metadata([]byte("c"))
	if md.Frequency != 0 || mustGet(t, db, "c") != "new-c" {
		t.Fatalf("c after commit: %+v", md)
	}
	if s := db.Stats(); s.Keys != 4 || s.KeysWithTTL != 1 {
		t.Fatalf("counters after commit: %+v", s)
	}
}

func TestTx_DeadlinesJudgedAtStart(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour, TxMaxRetries: -1})
	mustSet(t, db, "k", "v", time.Second)
	tx, _ := db.Begin(false)
	defer tx.Rollback()
	clk.Advance(2 * time.Second)
	if v, err := tx.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("a key live at the transaction's start must stay visible to it: %q %v", v, err)
	}
	if _, err := db.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatal("outside the transaction the key is expired")
	}
}

func TestTx_Reopen_AfterCommit(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	testutil.Must(t, err)
	testutil.Must(t, db.Update(func(tx *Tx) error {
		_ = tx.Set([]byte("x"), []byte("1"), time.Hour)
		return tx.Set([]byte("y"), []byte("2"), 0)
	}))
	testutil.Must(t, db.Close())
	db, err = Open(dir, nil)
	testutil.Must(t, err)
	defer db.Close()
	if v, _ := db.Get([]byte("x")); string(v) != "1" {
		t.Fatal("committed transaction lost across reopen")
	}
	if s := db.Stats(); s.Keys != 2 || s.KeysWithTTL != 1 {
		t.Fatalf("counters after reopen: %+v", s)
	}
}

func TestWatch(t *testing.T) {
	db, _ := mustOpen(t, &Options{TxMaxRetries: -1})
	mustSet(t, db, "w", "1", 0)
	w, err := db.Watch([]byte("w"))
	testutil.Must(t, err)
	defer w.Close()
	mustSet(t, db, "other", "x", 0)
	if w.Changed() {
		t.Fatal("a write to another key changed the watch")
	}
	tx, _ := db.Begin(true)
	testutil.Must(t, tx.Watch(w))
	_ = tx.Set([]byte("w"), []byte("2"), 0)
	mustSet(t, db, "w", "by someone else", 0)
	if !w.Changed() {
		t.Fatal("watch missed a write")
	}
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit with a changed watch: %v", err)
	}
}

func TestBatch(t *testing.T) {
	db, clk := mustOpen(t, nil)
	mustSet(t, db, "existing", "old", 0)
	_, _ = db.IncrementFrequency([]byte("existing"))
	b := db.NewBatch()
	for i := range 1000 {
		testutil.Must(t, b.Set([]byte(fmt.Sprintf("k%04d", i)), []byte("v"), time.Duration(i%2)*time.Minute))
	}
	testutil.Must(t, b.Set([]byte("existing"), []byte("new"), 0))
	testutil.Must(t, b.Delete([]byte("k0000")))
	testutil.Must(t, b.Set([]byte("k0001"), []byte("last wins"), 0))
	if err := b.Set(nil, nil, 0); !errors.Is(err, ErrEmptyKey) {
		t.Fatal(err)
	}
	if b.Len() != 1001 {
		t.Fatalf("Len = %d", b.Len())
	}
	testutil.Must(t, b.Commit())
	if err := b.Commit(); err == nil {
		t.Fatal("a batch commits once")
	}
	if s := db.Stats(); s.Keys != 1000 || s.KeysWithTTL != 499 {
		t.Fatalf("counters: %+v", s)
	}
	if mustGet(t, db, "k0001") != "last wins" || mustGet(t, db, "existing") != "new" {
		t.Fatal("batch content wrong")
	}
	md, _ := db.Metadata([]byte("existing"))
	if md.Frequency != 2 { // the increment before the batch and the Get above
		t.Fatalf("overwrite by batch must keep frequency, got %d", md.Frequency)
	}
	clk.Advance(time.Hour)
	if n, _ := db.expireDue(nil); n != 499 {
		t.Fatalf("swept %d batch keys with ttl", n)
	}
}

// A batch large enough to be sorted and regrouped by keyspace (regroupMin)
// gives exactly the state of the same writes done one by one: values,
// deadlines, frequencies kept on overwrite, counters, the ttl index, and an
// expiry event for an expired key it replaces.
func TestBatch_LargeSortedCommitMatchesSingleWrites(t *testing.T) {
	const n = 3 * regroupMin
	run := func(t *testing.T, batched bool) map[string]string {
		db, clk := mustOpen(t, nil)
		sub, _ := db.Subscribe(16)
		for i := 0; i < n; i += 3 {
			mustSet(t, db, fmt.Sprintf("k%06d", i), "old", time.Duration(i%2)*time.Minute)
			if i%9 == 0 {
				_, err := db.IncrementFrequency([]byte(fmt.Sprintf("k%06d", i)))
				testutil.Must(t, err)
			}
		}
		mustSet(t, db, "doomed", "x", time.Second)
		clk.Advance(2 * time.Second) // "doomed" has expired; the sweeper has not run
		write := func(i int) (string, []byte, time.Duration, bool) {
			k := fmt.Sprintf("k%06d", (i*7919)%n) // scattered order
			switch i % 5 {
			case 0:
				return k, nil, 0, true
			case 1:
				return k, []byte("v" + k), time.Hour, false
			default:
				return k, []byte("w"), 0, false
			}
		}
		b := db.NewBatch()
		for i := range n {
			k, v, ttl, del := write(i)
			if batched {
				if del {
					testutil.Must(t, b.Delete([]byte(k)))
				} else {
					testutil.Must(t, b.Set([]byte(k), v, ttl))
				}
			} else if del {
				_, err := db.Delete([]byte(k))
				testutil.Must(t, err)
			} else {
				testutil.Must(t, db.Set([]byte(k), v, ttl))
			}
		}
		if batched {
			testutil.Must(t, b.Set([]byte("doomed"), []byte("reborn"), 0))
			testutil.Must(t, b.Commit())
		} else {
			testutil.Must(t, db.Set([]byte("doomed"), []byte("reborn"), 0))
		}
		select {
		case ev := <-sub.C():
			if ev.Kind != EventExpired || string(ev.Key) != "doomed" {
				t.Fatalf("event %+v", ev)
			}
		default:
			t.Fatal("no expiry event for the expired key the write replaced")
		}
		state := map[string]string{}
		_, withTTL := scanCounts(t, db, func(k, v []byte, md Metadata) {
			state[string(k)] = fmt.Sprintf("%s f=%d c=%v e=%v", v, md.Frequency, md.CreatedAt, md.ExpiresAt)
		})
		clk.Advance(2 * time.Hour)
		swept, err := db.expireDue(nil)
		testutil.Must(t, err)
		if int64(swept) != withTTL {
			t.Fatalf("the ttl index held %d entries for %d keys with a deadline", swept, withTTL)
		}
		return state
	}
	single, batched := run(t, false), run(t, true)
	if len(single) < n/2 {
		t.Fatalf("only %d keys", len(single))
	}
	if !reflect.DeepEqual(single, batched) {
		for k, v := range single {
			if batched[k] != v {
				t.Fatalf("%s: one by one %q, batched %q", k, v, batched[k])
			}
		}
		t.Fatalf("batched state has %d keys, one by one %d", len(batched), len(single))
	}
}
