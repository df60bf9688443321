package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb/internal/keyspace"
	"github.com/epochdb/epochdb/internal/testutil"
)

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func strs(bss [][]byte) []string {
	out := make([]string, len(bss))
	for i, b := range bss {
		out[i] = string(b)
	}
	return out
}

// listItems returns the whole list under key.
func listItems(t testing.TB, l *List) []string {
	t.Helper()
	items, err := l.Range(0, -1)
	testutil.Must(t, err)
	return strs(items)
}

func TestList_Operations(t *testing.T) {
	db, _ := mustOpen(t, nil)
	l := db.List([]byte("l"))
	type step struct {
		name string
		do   func() (any, error)
		want any
		err  error
	}
	steps := []step{
		{"len of a missing list", func() (any, error) { return l.Len() }, int64(0), nil},
		{"pushx on a missing list", func() (any, error) { return l.PushBackX(bs("x")...) }, int64(0), nil},
		{"range of a missing list", func() (any, error) { r, err := l.Range(0, -1); return strs(r), err }, []string{}, nil},
		{"rpush", func() (any, error) { return l.PushBack(bs("a", "b", "c")...) }, int64(3), nil},
		{"lpush reverses", func() (any, error) { return l.PushFront(bs("y", "z")...) }, int64(5), nil},
		{"range", func() (any, error) { return listItems(t, l), nil }, []string{"z", "y", "a", "b", "c"}, nil},
		{"range clipped", func() (any, error) { r, err := l.Range(-100, 1); return strs(r), err }, []string{"z", "y"}, nil},
		{"range empty", func() (any, error) { r, err := l.Range(3, 1); return strs(r), err }, []string{}, nil},
		{"range extreme", func() (any, error) { r, err := l.Range(math.MinInt64, math.MaxInt64); return len(r), err }, 5, nil},
		{"index -1", func() (any, error) { v, err := l.Index(-1); return string(v), err }, "c", nil},
		{"index out", func() (any, error) { return l.Index(5) }, []byte(nil), ErrNotFound},
		{"set", func() (any, error) { return nil, l.Set(-2, []byte("B")) }, nil, nil},
		{"set out of range", func() (any, error) { return nil, l.Set(9, []byte("x")) }, nil, ErrIndexOutOfRange},
		{"set missing", func() (any, error) { return nil, db.List([]byte("none")).Set(0, []byte("x")) }, nil, ErrNotFound},
		{"insert before near the front", func() (any, error) { return l.InsertBefore([]byte("y"), []byte("p")) }, int64(6), nil},
		{"insert after near the back", func() (any, error) { return l.InsertAfter([]byte("B"), []byte("q")) }, int64(7), nil},
		{"insert without pivot", func() (any, error) { return l.InsertAfter([]byte("nope"), []byte("q")) }, int64(-1), nil},
		{"insert on a missing list", func() (any, error) { return db.List([]byte("none")).InsertAfter([]byte("a"), []byte("q")) }, int64(0), nil},
		{"after inserts", func() (any, error) { return listItems(t, l), nil }, []string{"z", "p", "y", "a", "B", "q", "c"}, nil},
		{"pos", func() (any, error) { return l.Pos([]byte("q"), PosOptions{}) }, []int64{5}, nil},
		{"pos none", func() (any, error) { return l.Pos([]byte("nope"), PosOptions{}) }, []int64(nil), nil},
		{"pop front 2", func() (any, error) { v, err := l.PopFront(2); return strs(v), err }, []string{"z", "p"}, nil},
		{"pop back 2", func() (any, error) { v, err := l.PopBack(2); return strs(v), err }, []string{"c", "q"}, nil},
		{"pop 0", func() (any, error) { v, err := l.PopBack(0); return len(v), err }, 0, nil},
		{"after pops", func() (any, error) { return listItems(t, l), nil }, []string{"y", "a", "B"}, nil},
		{"move rotates", func() (any, error) {
			v, n, err := l.Move(Front, []byte("l"), Back)
			return fmt.Sprintf("%s %d", v, n), err
		}, "y 3", nil},
		{"move to another", func() (any, error) {
			v, n, err := l.Move(Back, []byte("l2"), Front)
			return fmt.Sprintf("%s %d", v, n), err
		}, "y 2", nil},
		{"after moves", func() (any, error) { return listItems(t, l), nil }, []string{"a", "B"}, nil},
		{"moved", func() (any, error) { return listItems(t, db.List([]byte("l2"))), nil }, []string{"y"}, nil},
		{"move from empty", func() (any, error) {
			_, _, err := db.List([]byte("none")).Move(Front, []byte("l"), Back)
			return nil, err
		}, nil, ErrNotFound},
		{"trim to one", func() (any, error) { return nil, l.Trim(1, 1) }, nil, nil},
		{"after trim", func() (any, error) { return listItems(t, l), nil }, []string{"B"}, nil},
		{"trim to nothing deletes", func() (any, error) { return nil, l.Trim(5, 10) }, nil, nil},
		{"gone", func() (any, error) { return db.Metadata([]byte("l")) }, Metadata{}, ErrNotFound},
		{"pop a missing list", func() (any, error) { v, err := l.PopFront(3); return len(v), err }, 0, nil},
	}
	for _, s := range steps {
		got, err := s.do()
		if !errors.Is(err, s.err) || (s.err == nil && fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", s.want)) {
			t.Fatalf("%s: got %#v, %v; want %#v, %v", s.name, got, err, s.want, s.err)
		}
	}
	mustCheck(t, db)

	// Another type under the key.
	mustSet(t, db, "s", "v", 0)
	for name, f := range map[string]func() error{
		"push":  func() error { _, err := db.List([]byte("s")).PushBack([]byte("x")); return err },
		"range": func() error { _, err := db.List([]byte("s")).Range(0, -1); return err },
		"len":   func() error { _, err := db.List([]byte("s")).Len(); return err },
		"move":  func() error { _, _, err := db.List([]byte("l2")).Move(Front, []byte("s"), Back); return err },
	} {
		if err := f(); !errors.Is(err, ErrWrongType) {
			t.Errorf("%s on a string: %v", name, err)
		}
	}
	if got := listItems(t, db.List([]byte("l2"))); len(got) != 1 {
		t.Fatalf("a move to a string took the item: %q", got)
	}
	if _, err := db.Get([]byte("l2")); !errors.Is(err, ErrWrongType) {
		t.Fatalf("get of a list: %v", err)
	}
	if md, err := db.Metadata([]byte("l2")); err != nil || md.Type != TypeList || md.Type.String() != "list" {
		t.Fatalf("metadata %+v %v", md, err)
	}
}

func TestList_RemoveAndPos(t *testing.T) {
	db, _ := mustOpen(t, nil)
	l := db.List([]byte("l"))
	reset := func(items ...string) {
		t.Helper()
		_, err := db.Delete([]byte("l"))
		testutil.Must(t, err)
		_, err = l.PushBack(bs(items...)...)
		testutil.Must(t, err)
	}
	for _, tc := range []struct {
		items []string
		count int64
		want  []string
		n     int64
	}{
		{[]string{"x", "a", "x", "b", "x"}, 0, []string{"a", "b"}, 3},
		{[]string{"x", "a", "x", "b", "x"}, 2, []string{"a", "b", "x"}, 2},
		{[]string{"x", "a", "x", "b", "x"}, -2, []string{"x", "a", "b"}, 2},
		{[]string{"x", "a", "x", "b", "x"}, math.MinInt64, []string{"a", "b"}, 3},
		{[]string{"a", "b", "c", "d", "e", "f", "x"}, 0, []string{"a", "b", "c", "d", "e", "f"}, 1},
		{[]string{"x", "a", "b", "c", "d", "e", "f"}, 0, []string{"a", "b", "c", "d", "e", "f"}, 1},
		{[]string{"x", "x"}, 0, nil, 2},
		{[]string{"a"}, 0, []string{"a"}, 0},
	} {
		reset(tc.items...)
		n, err := l.Remove(tc.count, []byte("x"))
		testutil.Must(t, err)
		got, _ := l.Range(0, -1)
		if n != tc.n || fmt.Sprint(strs(got)) != fmt.Sprint(tc.want) && len(tc.want)+len(got) > 0 {
			t.Fatalf("remove %d x from %q: %d %q, want %d %q", tc.count, tc.items, n, strs(got), tc.n, tc.want)
		}
		mustCheck(t, db)
	}

	items := []string{"a", "b", "c", "1", "2", "3", "c", "c"}
	reset(items...)
	for _, tc := range []struct {
		o    PosOptions
		want []int64
	}{
		{PosOptions{}, []int64{2, 6, 7}},
		{PosOptions{Rank: 2}, []int64{6, 7}},
		{PosOptions{Rank: -1}, []int64{7, 6, 2}},
		{PosOptions{Rank: -3, Count: 1}, []int64{2}},
		{PosOptions{Count: 2}, []int64{2, 6}},
		{PosOptions{MaxLen: 3}, []int64{2}},
		{PosOptions{Rank: -1, MaxLen: 2}, []int64{7, 6}},
		{PosOptions{Rank: 4}, nil},
		{PosOptions{Rank: math.MinInt64}, nil},
	} {
		got, err := l.Pos([]byte("c"), tc.o)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("pos %+v: %v %v, want %v", tc.o, got, err, tc.want)
		}
	}
	// A long list: LPOS from the back reads chunks of growing size.
	var long []string
	for i := range 1000 {
		long = append(long, fmt.Sprint(i%10))
	}
	reset(long...)
	got, err := l.Pos([]byte("3"), PosOptions{Rank: -1, Count: 3})
	if err != nil || fmt.Sprint(got) != "[993 983 973]" {
		t.Fatalf("pos from the back: %v %v", got, err)
	}
}

// TestList_Positions checks the layout: pushes and pops at the ends and
// edits in the middle keep the items at dense positions (Check verifies
// them against the header), and a list deleted whole leaves no member.
func TestList_Positions(t *testing.T) {
	db, _ := mustOpen(t, nil)
	l := db.List([]byte("l"))
	var model []string
	for i := range 300 {
		v := fmt.Sprint(i)
		if i%2 == 0 {
			_, err := l.PushFront([]byte(v))
			testutil.Must(t, err)
			model = append([]string{v}, model...)
		} else {
			_, err := l.PushBack([]byte(v))
			testutil.Must(t, err)
			model = append(model, v)
		}
	}
	_, err := l.InsertAfter([]byte("100"), []byte("mid"))
	testutil.Must(t, err)
	at := slices.Index(model, "100") + 1
	model = slices.Insert(model, at, "mid")
	_, err = l.Remove(0, []byte("201"))
	testutil.Must(t, err)
	model = slices.DeleteFunc(model, func(s string) bool { return s == "201" })
	testutil.Must(t, l.Set(150, []byte("set")))
	model[150] = "set"
	if got := listItems(t, l); !slices.Equal(got, model) {
		t.Fatalf("items differ from the model")
	}
	var c keyspace.Coll
	err = db.View(func(tx *Tx) error {
		v, err := tx.txColl([]byte("l"), false)
		c = v.coll
		return err
	})
	testutil.Must(t, err)
	if c.Count != int64(len(model)) || !c.List || c.Head != -151 {
		t.Fatalf("header %+v for %d items", c, len(model))
	}
	r := mustCheck(t, db)
	if r.Collections != 1 {
		t.Fatalf("check: %+v", r)
	}
	before := db.Stats().CollectionRangeDrops
	ok, err := db.Delete([]byte("l"))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if db.Stats().CollectionRangeDrops != before+1 {
		t.Fatal("a list of 300 items was not dropped with one range deletion")
	}
	if n := countMembers(t, db); n != 0 {
		t.Fatalf("%d members left", n)
	}
	mustCheck(t, db)
}

// countMembers counts the records of the member keyspace.
func countMembers(t testing.TB, db *DB) int {
	t.Helper()
	it, err := db.pdb.NewIter(nil)
	testutil.Must(t, err)
	defer it.Close()
	n := 0
	for ok := it.SeekGE([]byte{keyspace.PrefixMember}); ok && it.Key()[0] == keyspace.PrefixMember; ok = it.Next() {
		n++
	}
	return n
}

func TestList_TransactionsAndModify(t *testing.T) {
	db, _ := mustOpen(t, nil)
	_, err := db.List([]byte("a")).PushBack(bs("1", "2", "3")...)
	testutil.Must(t, err)
	err = db.Update(func(tx *Tx) error {
		a, b := tx.List([]byte("a")), tx.List([]byte("b"))
		if _, _, err := a.Move(Back, []byte("b"), Front); err != nil {
			return err
		}
		if _, err := b.PushBack([]byte("x")); err != nil {
			return err
		}
		// The transaction reads its own writes.
		if got, err := b.Range(0, -1); err != nil || fmt.Sprint(strs(got)) != "[3 x]" {
			return fmt.Errorf("b in the transaction: %q %v", got, err)
		}
		if n, err := a.Len(); err != nil || n != 2 {
			return fmt.Errorf("len %d %v", n, err)
		}
		_, _, err := a.Move(Front, []byte("a"), Back)
		return err
	})
	testutil.Must(t, err)
	if got := listItems(t, db.List([]byte("a"))); fmt.Sprint(got) != "[2 1]" {
		t.Fatalf("a = %q", got)
	}
	if got := listItems(t, db.List([]byte("b"))); fmt.Sprint(got) != "[3 x]" {
		t.Fatalf("b = %q", got)
	}
	// A failed transaction writes nothing.
	boom := errors.New("boom")
	err = db.Update(func(tx *Tx) error {
		if _, err := tx.List([]byte("a")).PopFront(5); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if n, _ := db.List([]byte("a")).Len(); n != 2 {
		t.Fatalf("a rolled-back pop removed items: %d left", n)
	}
	// A transaction that read a list conflicts with a push by another.
	tx, err := db.Begin(true)
	testutil.Must(t, err)
	_, err = tx.List([]byte("a")).Range(0, -1)
	testutil.Must(t, err)
	_, err = tx.List([]byte("c")).PushBack([]byte("from tx"))
	testutil.Must(t, err)
	_, err = db.List([]byte("a")).PushBack([]byte("other"))
	testutil.Must(t, err)
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit after a concurrent push: %v", err)
	}
	// A list a transaction emptied is gone for the rest of it: X pushes
	// push nothing, and the key may take another type.
	err = db.Update(func(tx *Tx) error {
		l := tx.List([]byte("b"))
		if _, err := l.PopFront(10); err != nil {
			return err
		}
		if n, err := l.PushBackX([]byte("x")); err != nil || n != 0 {
			return fmt.Errorf("pushx on an emptied list: %d %v", n, err)
		}
		if err := l.Set(0, []byte("x")); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("set on an emptied list: %v", err)
		}
		_, err := tx.Hash([]byte("b")).Set([]byte("f"), []byte("v"))
		return err
	})
	testutil.Must(t, err)
	if md, err := db.Metadata([]byte("b")); err != nil || md.Type != TypeHash {
		t.Fatalf("b after the transaction: %+v %v", md, err)
	}
	// Modify: several steps as one write; View: read-only.
	err = db.List([]byte("a")).Modify(func(v *ListView) error {
		if _, err := v.Push(Front, []byte("f")); err != nil {
			return err
		}
		if _, err := v.Pop(Back, 1); err != nil {
			return err
		}
		return v.Set(1, []byte("S"))
	})
	testutil.Must(t, err)
	err = db.List([]byte("a")).View(func(v *ListView) error {
		if _, err := v.Push(Front, []byte("x")); !errors.Is(err, ErrTxReadOnly) {
			return fmt.Errorf("push in a view: %v", err)
		}
		items, err := v.Range(0, -1)
		if err != nil || fmt.Sprint(strs(items)) != "[f S 1]" || v.Len() != 3 || !v.Exists() {
			return fmt.Errorf("view: %q %v", items, err)
		}
		return nil
	})
	testutil.Must(t, err)
	mustCheck(t, db)
}

func TestList_LifecycleAndBackup(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	l := db.List([]byte("l"))
	var big [][]byte
	for i := range 200 {
		big = append(big, fmt.Appendf(nil, "item-%03d", i))
	}
	_, err := l.PushBack(big...)
	testutil.Must(t, err)
	_, err = l.PushFront([]byte("first"))
	testutil.Must(t, err)
	_, err = db.List([]byte("short")).PushBack(bs("a", "b")...)
	testutil.Must(t, err)
	testutil.Must(t, db.Expire([]byte("short"), time.Minute))
	_, err = db.List([]byte("gone")).PushBack([]byte("x"))
	testutil.Must(t, err)
	testutil.Must(t, db.Expire([]byte("gone"), time.Second))

	// A read counts as an access of the key.
	f0, _ := db.Metadata([]byte("l"))
	_, err = l.Index(3)
	testutil.Must(t, err)
	if f1, _ := db.Metadata([]byte("l")); f1.Frequency != f0.Frequency+1 {
		t.Fatalf("frequency %d after a read, was %d", f1.Frequency, f0.Frequency)
	}
	// Lazy expiry: invisible from its deadline on.
	clk.Advance(2 * time.Second)
	if n, err := db.List([]byte("gone")).Len(); err != nil || n != 0 {
		t.Fatalf("expired list: %d %v", n, err)
	}
	// The budget and the counters count the items.
	st := db.Stats()
	if st.Keys != 3 || st.LiveBytes < 201*(8+8) {
		t.Fatalf("stats %+v", st)
	}

	var buf bytes.Buffer
	info, err := db.Backup(&buf)
	testutil.Must(t, err)
	if info.Keys != 2 {
		t.Fatalf("backup of %d keys", info.Keys)
	}
	dir := t.TempDir() + "/restored"
	rinfo, err := Restore(bytes.NewReader(buf.Bytes()), dir, &RestoreOptions{Options: &Options{Clock: clk}})
	if err != nil || rinfo.Keys != 2 {
		t.Fatalf("restore: %+v %v", rinfo, err)
	}
	db2, err := Open(dir, &Options{Clock: clk, ExpiryInterval: time.Hour})
	testutil.Must(t, err)
	defer db2.Close()
	want := append([]string{"first"}, strs(big)...)
	if got := listItems(t, db2.List([]byte("l"))); !slices.Equal(got, want) {
		t.Fatalf("restored list of %d items differs", len(got))
	}
	if md, err := db2.Metadata([]byte("short")); err != nil || md.ExpiresAt.IsZero() || md.Type != TypeList {
		t.Fatalf("restored metadata %+v %v", md, err)
	}
	// The restored lists work on: positions were numbered again from 0.
	_, err = db2.List([]byte("l")).PushFront([]byte("new"))
	testutil.Must(t, err)
	if v, err := db2.List([]byte("l")).Index(1); err != nil || string(v) != "first" {
		t.Fatalf("index 1 after a push: %q %v", v, err)
	}
	mustCheck(t, db2)

	// Overwriting a list with a string (directly or in a batch) and
	// dropping the namespace remove its items.
	_, err = db.List([]byte("b")).PushBack(big...)
	testutil.Must(t, err)
	batch := db.NewBatch()
	testutil.Must(t, batch.Set([]byte("b"), []byte("a string now"), 0))
	testutil.Must(t, batch.Commit())
	if v := mustGet(t, db, "b"); v != "a string now" {
		t.Fatalf("b = %q", v)
	}
	mustSet(t, db, "l", "now a string", 0)
	for _, ns := range "sg" { // "short", and "gone" (expired, not swept yet)
		_, err = db.DropNamespace(byte(ns))
		testutil.Must(t, err)
	}
	if n := countMembers(t, db); n != 0 {
		t.Fatalf("%d members left", n)
	}
	mustCheck(t, db)
}

// TestList_Model runs random list operations against a model of slices:
// pushes, pops, moves, edits in the middle, deadlines on the manual clock,
// transactions (committed and rolled back), string writes over lists, and
// power losses (the store runs with SyncWrites on a crashable in-memory
// filesystem, so every acknowledged operation survives).
func TestList_Model(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	fs := vfs.NewCrashableMem()
	clk := testutil.NewClock()
	opts := Options{SyncWrites: true, Clock: clk, ExpiryInterval: time.Hour}
	db := openCrashable(t, fs, opts)
	defer func() { db.Close() }()

	type entry struct {
		str   bool
		items []string
		exp   int64
	}
	model := map[string]*entry{}
	now := func() int64 { return clk.Now().UnixMilli() }
	live := func(k string) *entry {
		e := model[k]
		if e == nil || (e.exp != 0 && now() >= e.exp) {
			return nil
		}
		return e
	}
	keys := []string{"\x00a", "\x00b", "\x01a", "\x00a\x00"}
	values := []string{"", "x", "y", "z", "\x00", "long-" + strings.Repeat("v", 50)}
	val := func() string { return values[rng.IntN(len(values))] }
	idx := func() int64 { return int64(rng.IntN(60) - 30) }

	verify := func(step int) {
		t.Helper()
		for _, k := range keys {
			e := live(k)
			items, err := db.List([]byte(k)).Range(0, -1)
			switch {
			case e == nil:
				if err != nil || len(items) != 0 {
					t.Fatalf("step %d: %q: %q %v, want none", step, k, items, err)
				}
			case e.str:
				if !errors.Is(err, ErrWrongType) {
					t.Fatalf("step %d: %q: %v, want ErrWrongType", step, k, err)
				}
			default:
				if err != nil || !slices.Equal(strs(items), e.items) {
					t.Fatalf("step %d: %q: %q %v, want %q", step, k, strs(items), err, e.items)
				}
			}
		}
	}
	// listOp runs a random operation on the list l and on its model items
	// (empty: no list), and returns the new items and the outcome.
	type outcome struct {
		got, want string
	}
	var l *List
	listOp := func(k string, items []string) ([]string, outcome) {
		switch rng.IntN(15) {
		case 0, 1, 11, 12, 13: // push
			vs := []string{val()}
			for rng.IntN(2) == 0 {
				vs = append(vs, val())
			}
			if rng.IntN(8) == 0 { // now and then a long list
				for range 20 + rng.IntN(40) {
					vs = append(vs, val())
				}
			}
			front, x := rng.IntN(2) == 0, rng.IntN(4) == 0
			var n int64
			var err error
			switch {
			case front && x:
				n, err = l.PushFrontX(bs(vs...)...)
			case front:
				n, err = l.PushFront(bs(vs...)...)
			case x:
				n, err = l.PushBackX(bs(vs...)...)
			default:
				n, err = l.PushBack(bs(vs...)...)
			}
			if !x || len(items) > 0 {
				for _, v := range vs {
					if front {
						items = append([]string{v}, items...)
					} else {
						items = append(items, v)
					}
				}
			}
			return items, outcome{fmt.Sprint(n, err), fmt.Sprint(len(items), nil)}
		case 2, 3: // pop
			count := rng.IntN(4)
			var got [][]byte
			var err error
			var want []string
			c := min(count, len(items))
			if rng.IntN(2) == 0 {
				got, err = l.PopFront(count)
				want = slices.Clone(items[:c])
				items = items[c:]
			} else {
				got, err = l.PopBack(count)
				for i := range c {
					want = append(want, items[len(items)-1-i])
				}
				items = items[:len(items)-c]
			}
			return items, outcome{fmt.Sprintf("%q %v", strs(got), err), fmt.Sprintf("%q %v", want, nil)}
		case 4: // index
			i := idx()
			got, err := l.Index(i)
			j := i
			if j < 0 {
				j += int64(len(items))
			}
			want := fmt.Sprint("", ErrNotFound)
			if j >= 0 && j < int64(len(items)) {
				want = fmt.Sprint(items[j], nil)
			}
			return items, outcome{fmt.Sprint(string(got), err), want}
		case 5: // range
			a, b := idx(), idx()
			got, err := l.Range(a, b)
			i, j := clip(a, b, int64(len(items)))
			return items, outcome{fmt.Sprintf("%q %v", strs(got), err), fmt.Sprintf("%q %v", items[i:j], nil)}
		case 6: // set
			i, v := idx(), val()
			err := l.Set(i, []byte(v))
			j := i
			if j < 0 {
				j += int64(len(items))
			}
			var want error
			switch {
			case len(items) == 0:
				want = ErrNotFound
			case j < 0 || j >= int64(len(items)):
				want = ErrIndexOutOfRange
			default:
				items[j] = v
			}
			return items, outcome{fmt.Sprint(err), fmt.Sprint(want)}
		case 7: // insert
			pivot, v, after := val(), val(), rng.IntN(2)
			var n int64
			var err error
			if after == 1 {
				n, err = l.InsertAfter([]byte(pivot), []byte(v))
			} else {
				n, err = l.InsertBefore([]byte(pivot), []byte(v))
			}
			want := int64(0)
			if len(items) > 0 {
				want = -1
				if at := slices.Index(items, pivot); at >= 0 {
					items = slices.Insert(items, at+after, v)
					want = int64(len(items))
				}
			}
			return items, outcome{fmt.Sprint(n, err), fmt.Sprint(want, nil)}
		case 8: // remove
			count, v := int64(rng.IntN(5)-2), val()
			n, err := l.Remove(count, []byte(v))
			removed := int64(0)
			if count >= 0 {
				for i := 0; i < len(items); {
					if items[i] == v && (count == 0 || removed < count) {
						items = slices.Delete(items, i, i+1)
						removed++
						continue
					}
					i++
				}
			} else {
				for i := len(items) - 1; i >= 0; i-- {
					if items[i] == v && removed < -count {
						items = slices.Delete(items, i, i+1)
						removed++
					}
				}
			}
			return items, outcome{fmt.Sprint(n, err), fmt.Sprint(removed, nil)}
		case 9: // trim: mostly a little off the ends
			a, b := idx(), idx()
			if rng.IntN(4) > 0 {
				a, b = int64(rng.IntN(3)), int64(-1-rng.IntN(3))
			}
			err := l.Trim(a, b)
			i, j := clip(a, b, int64(len(items)))
			items = slices.Clone(items[i:j])
			return items, outcome{fmt.Sprint(err), fmt.Sprint(nil)}
		case 10: // pos
			v := val()
			o := PosOptions{Rank: int64(rng.IntN(5) - 2), Count: int64(rng.IntN(3)), MaxLen: int64(rng.IntN(4))}
			got, err := l.Pos([]byte(v), o)
			var want []int64
			rank, order := max(o.Rank, 1), []int{}
			for i := range items {
				order = append(order, i)
			}
			if o.Rank < 0 {
				rank = -o.Rank
				slices.Reverse(order)
			}
			if o.MaxLen > 0 && int(o.MaxLen) < len(order) {
				order = order[:o.MaxLen]
			}
			m := int64(0)
			for _, i := range order {
				if items[i] == v {
					if m++; m >= rank && (o.Count == 0 || int64(len(want)) < o.Count) {
						want = append(want, int64(i))
					}
				}
			}
			return items, outcome{fmt.Sprint(got, err), fmt.Sprint(want, nil)}
		default: // len
			n, err := l.Len()
			return items, outcome{fmt.Sprint(n, err), fmt.Sprint(len(items), nil)}
		}
	}

	for step := range 2500 {
		k := keys[rng.IntN(len(keys))]
		switch op := rng.IntN(20); {
		case op < 12: // a list operation on k, directly or in a transaction
			e := live(k)
			if e != nil && e.str {
				if _, err := db.List([]byte(k)).PushBack([]byte("x")); !errors.Is(err, ErrWrongType) {
					t.Fatalf("step %d: push on a string: %v", step, err)
				}
				if rng.IntN(3) == 0 {
					_, err := db.Delete([]byte(k))
					testutil.Must(t, err)
					delete(model, k)
				}
				continue
			}
			var items []string
			if e != nil {
				items = slices.Clone(e.items)
			}
			var next []string
			var res outcome
			rollback := false
			if op%3 == 0 {
				rollback = rng.IntN(4) == 0
				errRollback := errors.New("rollback")
				err := db.Update(func(tx *Tx) error {
					// A few operations on the key in one transaction.
					l = tx.List([]byte(k))
					next = slices.Clone(items)
					for range 1 + rng.IntN(3) {
						if next, res = listOp(k, next); res.got != res.want {
							break
						}
					}
					if rollback {
						return errRollback
					}
					return nil
				})
				if err != nil && !(rollback && errors.Is(err, errRollback)) {
					t.Fatalf("step %d: transaction: %v", step, err)
				}
			} else {
				l = db.List([]byte(k))
				next, res = listOp(k, items)
			}
			if res.got != res.want {
				t.Fatalf("step %d: %q: got %s, want %s", step, k, res.got, res.want)
			}
			if rollback {
				continue
			}
			switch {
			case len(next) == 0:
				delete(model, k)
			case e == nil:
				model[k] = &entry{items: next}
			default:
				e.items = next
			}
		case op == 12: // LMOVE between two keys, maybe the same
			k2 := keys[rng.IntN(len(keys))]
			from, to := End(rng.IntN(2)), End(rng.IntN(2))
			e, e2 := live(k), live(k2)
			got, left, err := db.List([]byte(k)).Move(from, []byte(k2), to)
			switch {
			case e != nil && e.str:
				if !errors.Is(err, ErrWrongType) {
					t.Fatalf("step %d: move from a string: %v", step, err)
				}
			case e == nil:
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("step %d: move from nothing: %q %v", step, got, err)
				}
			case e2 != nil && e2.str:
				if !errors.Is(err, ErrWrongType) {
					t.Fatalf("step %d: move to a string: %v", step, err)
				}
			default:
				var item string
				if from == Front {
					item, e.items = e.items[0], e.items[1:]
				} else {
					item, e.items = e.items[len(e.items)-1], e.items[:len(e.items)-1]
				}
				if len(e.items) == 0 {
					delete(model, k)
				}
				if e2 = live(k2); e2 == nil {
					e2 = &entry{}
					model[k2] = e2
				}
				if to == Front {
					e2.items = append([]string{item}, e2.items...)
				} else {
					e2.items = append(e2.items, item)
				}
				want := int64(len(e.items))
				if k == k2 {
					want = int64(len(e2.items))
				}
				if err != nil || string(got) != item || left != want {
					t.Fatalf("step %d: move: %q %d %v, want %q %d", step, got, left, err, item, want)
				}
			}
		case op == 13 && rng.IntN(4) == 0: // a string over the key
			mustSet(t, db, k, "s", 0)
			model[k] = &entry{str: true}
		case op == 14 && rng.IntN(4) == 0: // delete
			_, err := db.Delete([]byte(k))
			testutil.Must(t, err)
			delete(model, k)
		case op == 15: // a deadline, and time passing
			if e := live(k); e != nil && rng.IntN(4) == 0 {
				ttl := time.Duration(5+rng.IntN(60)) * time.Second
				testutil.Must(t, db.Expire([]byte(k), ttl))
				e.exp = clk.Now().Add(ttl).UnixMilli()
			}
			clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
		case op == 17: // power loss
			db, fs = powerLossWith(t, fs, db, opts)
		default:
			verify(step)
		}
		if step%100 == 0 {
			verify(step)
			mustCheck(t, db)
		}
	}
	verify(-1)
	mustCheck(t, db)
}

// powerLossWith is powerLoss reopening with opts; it returns the store
// and its filesystem.
func powerLossWith(t *testing.T, fs *vfs.MemFS, db *DB, opts Options) (*DB, *vfs.MemFS) {
	t.Helper()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	testutil.Must(t, db.Close())
	return openCrashable(t, crashed, opts), crashed
}

// TestList_Replicated: a follower applying the leader's batches holds the
// same lists (items, positions, counters), also after reading them
// (cached headers follow the leader's writes) and after a big list is
// dropped with a range deletion.
func TestList_Replicated(t *testing.T) {
	clk := testutil.NewClock()
	repl := &logReplicator{isLeader: true}
	leader, err := Open(t.TempDir(), &Options{Clock: clk, Replicator: repl})
	testutil.Must(t, err)
	defer leader.Close()
	follower, err := Open(t.TempDir(), &Options{Clock: clk, Replicator: followerRepl{}})
	testutil.Must(t, err)
	defer follower.Close()
	repl.leader, repl.followers = leader, []*DB{follower}

	l := leader.List([]byte("l"))
	_, err = l.PushBack(bs("a", "b", "c", "d")...)
	testutil.Must(t, err)
	if got := listItems(t, follower.List([]byte("l"))); fmt.Sprint(got) != "[a b c d]" {
		t.Fatalf("follower: %q", got)
	}
	_, err = l.PushFront([]byte("z"))
	testutil.Must(t, err)
	_, err = l.InsertAfter([]byte("b"), []byte("b2"))
	testutil.Must(t, err)
	_, err = l.Remove(1, []byte("c"))
	testutil.Must(t, err)
	_, _, err = l.Move(Back, []byte("m"), Front)
	testutil.Must(t, err)
	testutil.Must(t, l.Trim(0, -2))
	var big [][]byte
	for i := range 300 {
		big = append(big, fmt.Appendf(nil, "%d", i))
	}
	_, err = leader.List([]byte("big")).PushBack(big...)
	testutil.Must(t, err)
	_, err = leader.Delete([]byte("big"))
	testutil.Must(t, err)
	if _, err := follower.List([]byte("l")).PushBack([]byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a push on the follower: %v", err)
	}
	for _, k := range []string{"l", "m"} {
		lg, fg := listItems(t, leader.List([]byte(k))), listItems(t, follower.List([]byte(k)))
		if !slices.Equal(lg, fg) {
			t.Fatalf("%s: leader %q, follower %q", k, lg, fg)
		}
	}
	if ls, fs := leader.Stats(), follower.Stats(); ls.Keys != fs.Keys || ls.LiveBytes != fs.LiveBytes || ls.Keys != 2 {
		t.Fatalf("counters: leader %+v follower %+v", ls, fs)
	}
	if n := countMembers(t, follower); n != 4 {
		t.Fatalf("follower holds %d members, want 4", n)
	}
	mustCheck(t, follower)
}

// TestList_BudgetAndEvents: a list is one key for the budget (MaxKeys
// counts it once, a push that would add a key over it fails, a push onto
// it does not) and for expiry, which deletes it whole with one event.
func TestList_BudgetAndEvents(t *testing.T) {
	db, clk := mustOpen(t, &Options{MaxKeys: 1, ExpiryInterval: time.Hour})
	l := db.List([]byte("l"))
	for range 3 {
		_, err := l.PushBack(bs("a", "b")...)
		testutil.Must(t, err)
	}
	if _, err := db.List([]byte("other")).PushBack([]byte("x")); !errors.Is(err, ErrFull) {
		t.Fatalf("a second list over MaxKeys 1: %v", err)
	}
	sub, err := db.Subscribe(8)
	testutil.Must(t, err)
	defer sub.Close()
	testutil.Must(t, db.Expire([]byte("l"), time.Second))
	clk.Advance(time.Second)
	n, err := db.expireDue(nil)
	testutil.Must(t, err)
	if n != 1 {
		t.Fatalf("expired %d keys", n)
	}
	select {
	case ev := <-sub.C():
		if ev.Kind != EventExpired || string(ev.Key) != "l" || ev.Metadata.Type != TypeList {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no expiry event")
	}
	if n := countMembers(t, db); n != 0 {
		t.Fatalf("%d items left after the expiry", n)
	}
	if st := db.Stats(); st.Keys != 0 || st.LiveBytes != 0 {
		t.Fatalf("stats after the expiry: %+v", st)
	}
	mustCheck(t, db)
}

// TestList_QueueNotRebased: a list used as a queue (pushes at one end,
// pops at the other) piles up deletions far beyond its length; it keeps
// its positions and header (lists are not rebased: their reads seek past
// the tombstones).
func TestList_QueueNotRebased(t *testing.T) {
	db, _ := mustOpen(t, nil)
	l := db.List([]byte("q"))
	_, err := l.PushBack(bs("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")...)
	testutil.Must(t, err)
	for i := 10; i < 1010; i++ {
		_, err := l.PushBack([]byte(fmt.Sprint(i)))
		testutil.Must(t, err)
		got, err := l.PopFront(1)
		testutil.Must(t, err)
		if string(got[0]) != fmt.Sprint(i-10) {
			t.Fatalf("popped %q, want %d", got[0], i-10)
		}
	}
	if got := listItems(t, l); len(got) != 10 || got[0] != "1000" || got[9] != "1009" {
		t.Fatalf("queue holds %q", got)
	}
	if n := db.Stats().CollectionRebases; n != 0 {
		t.Fatalf("%d rebases of a list", n)
	}
	mustCheck(t, db)
}
