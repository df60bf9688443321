package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// mustCheck runs Check and fails on any problem (counters, collection
// headers against their members, field deadlines against the index).
func mustCheck(t testing.TB, db *DB) CheckReport {
	t.Helper()
	r, err := db.Check()
	testutil.Must(t, err)
	if len(r.Problems) > 0 {
		t.Fatalf("check: %v", r.Problems)
	}
	return r
}

func hashFields(t testing.TB, h *Hash) map[string]string {
	t.Helper()
	got := map[string]string{}
	testutil.Must(t, h.Scan(nil, func(f FieldValue) bool {
		got[string(f.Field)] = string(f.Value)
		return true
	}))
	return got
}

func TestHash_Basics(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	h := db.Hash([]byte("h"))
	for _, tc := range []struct {
		name string
		run  func() (any, error)
		want any
	}{
		{"set new", func() (any, error) { return h.Set([]byte("a"), []byte("1")) }, true},
		{"set again", func() (any, error) { return h.Set([]byte("a"), []byte("2")) }, false},
		{"set fields", func() (any, error) {
			return h.SetFields(FieldValue{Field: []byte("b"), Value: []byte("x")}, FieldValue{Field: []byte("a"), Value: []byte("3")}, FieldValue{Field: []byte("c")})
		}, 2},
		{"get", func() (any, error) { v, err := h.Get([]byte("a")); return string(v), err }, "3"},
		{"get empty value", func() (any, error) { v, err := h.Get([]byte("c")); return v != nil && len(v) == 0, err }, true},
		{"len", func() (any, error) { return h.Len() }, int64(3)},
		{"get many", func() (any, error) {
			vs, err := h.GetMany([]byte("b"), []byte("nope"))
			return fmt.Sprintf("%q", vs), err
		}, `["x" ""]`},
		{"del", func() (any, error) { return h.Del([]byte("b"), []byte("nope")) }, 1},
		{"type", func() (any, error) { md, err := db.Metadata([]byte("h")); return md.Type, err }, TypeHash},
		{"string get is wrong type", func() (any, error) { _, err := db.Get([]byte("h")); return errors.Is(err, ErrWrongType), nil }, true},
		{"set op is wrong type", func() (any, error) {
			_, err := db.SetOf([]byte("h")).Add([]byte("m"))
			return errors.Is(err, ErrWrongType), nil
		}, true},
		{"modify is wrong type", func() (any, error) {
			err := db.Modify([]byte("h"), func(Entry, bool) (Change, error) { return Change{}, nil })
			return errors.Is(err, ErrWrongType), nil
		}, true},
	} {
		got, err := tc.run()
		if err != nil || got != tc.want {
			t.Fatalf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if got := hashFields(t, h); len(got) != 2 || got["a"] != "3" || got["c"] != "" {
		t.Fatalf("fields %v", got)
	}
	if _, err := h.Get([]byte("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing field: %v", err)
	}
	mustCheck(t, db)
	// Deleting the last fields removes the key.
	if n, err := h.Del([]byte("a"), []byte("c")); n != 2 || err != nil {
		t.Fatalf("del = %d %v", n, err)
	}
	if _, err := db.Metadata([]byte("h")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty hash still there: %v", err)
	}
	if s := db.Stats(); s.Keys != 0 || s.LiveBytes != 0 {
		t.Fatalf("stats after the last field: %d keys %d bytes", s.Keys, s.LiveBytes)
	}
	mustCheck(t, db)
}

func TestHash_StringOverwriteAndDelete(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	for _, n := range []int{3, pointDropMax + 50} { // point deletions and a range deletion
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := db.Hash([]byte("h"))
			for i := range n {
				_, err := h.Set(fmt.Appendf(nil, "f%04d", i), []byte("value"))
				testutil.Must(t, err)
			}
			if r := mustCheck(t, db); r.Collections != 1 {
				t.Fatalf("collections %d", r.Collections)
			}
			testutil.Must(t, db.Set([]byte("h"), []byte("now a string"), 0))
			if mustGet(t, db, "h") != "now a string" {
				t.Fatal("string not written")
			}
			mustCheck(t, db)
			if ok, err := db.Delete([]byte("h")); !ok || err != nil {
				t.Fatal(ok, err)
			}
			_, err := h.Set([]byte("x"), []byte("y"))
			testutil.Must(t, err)
			if got := hashFields(t, h); len(got) != 1 {
				t.Fatalf("recreated hash sees old fields: %v", got)
			}
			if ok, err := db.Delete([]byte("h")); !ok || err != nil {
				t.Fatal(ok, err)
			}
			if s := db.Stats(); s.Keys != 0 || s.LiveBytes != 0 {
				t.Fatalf("stats: %d keys %d bytes", s.Keys, s.LiveBytes)
			}
			mustCheck(t, db)
		})
	}
}

func TestHash_FieldTTL(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	sub, err := db.Subscribe(16)
	testutil.Must(t, err)
	h := db.Hash([]byte("session"))
	_, err = h.SetFields(FieldValue{Field: []byte("user"), Value: []byte("ann")}, FieldValue{Field: []byte("csrf"), Value: []byte("tok")})
	testutil.Must(t, err)
	testutil.Must(t, h.Expire([]byte("csrf"), 2*time.Second))
	if ttl, err := h.FieldTTL([]byte("csrf")); ttl != 2*time.Second || err != nil {
		t.Fatalf("ttl %v %v", ttl, err)
	}
	if ttl, err := h.FieldTTL([]byte("user")); ttl != NoTTL || err != nil {
		t.Fatalf("ttl %v %v", ttl, err)
	}
	mustCheck(t, db)
	clk.Advance(2 * time.Second)
	// Invisible at once, before any sweep.
	if _, err := h.Get([]byte("csrf")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired field visible: %v", err)
	}
	if got := hashFields(t, h); len(got) != 1 {
		t.Fatalf("fields %v", got)
	}
	if n, _ := h.Len(); n != 2 {
		t.Fatalf("len before the sweep %d, want 2 (as Redis's HLEN)", n)
	}
	n, err := db.expireFieldsDue(nil)
	if n != 1 || err != nil {
		t.Fatalf("swept %d %v", n, err)
	}
	ev := <-sub.C()
	if ev.Kind != EventFieldExpired || string(ev.Key) != "session" || string(ev.Field) != "csrf" || ev.Metadata.Type != TypeHash {
		t.Fatalf("event %+v", ev)
	}
	if n, _ := h.Len(); n != 1 {
		t.Fatalf("len after the sweep %d", n)
	}
	mustCheck(t, db)
	// The last field expiring removes the key.
	testutil.Must(t, h.ExpireAt([]byte("user"), clk.Now().Add(time.Second)))
	clk.Advance(time.Second)
	if n, err := db.expireFieldsDue(nil); n != 1 || err != nil {
		t.Fatalf("swept %d %v", n, err)
	}
	if _, err := db.Metadata([]byte("session")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("hash without fields: %v", err)
	}
	if st := db.Stats(); st.Keys != 0 || st.FieldsExpired != 2 {
		t.Fatalf("stats %+v", st)
	}
	mustCheck(t, db)
	// A stale index entry (field overwritten, hash deleted) is removed alone.
	_, err = h.Set([]byte("a"), []byte("1"))
	testutil.Must(t, err)
	testutil.Must(t, h.Expire([]byte("a"), time.Second))
	_, err = h.Set([]byte("a"), []byte("2")) // HSET removes the deadline
	testutil.Must(t, err)
	testutil.Must(t, h.Expire([]byte("a"), time.Second))
	_, err = db.Delete([]byte("session"))
	testutil.Must(t, err)
	clk.Advance(time.Second)
	if n, err := db.expireFieldsDue(nil); n != 0 || err != nil {
		t.Fatalf("swept %d %v", n, err)
	}
	mustCheck(t, db)
}

func TestHash_WholeKeyLifecycle(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	h := db.Hash([]byte("h"))
	_, err := h.Set([]byte("f"), []byte("v"))
	testutil.Must(t, err)
	testutil.Must(t, db.Expire([]byte("h"), time.Second))
	for range 3 {
		_, err := h.Get([]byte("f"))
		testutil.Must(t, err)
	}
	md, err := db.Metadata([]byte("h"))
	testutil.Must(t, err)
	if md.Frequency != 3 || md.ExpiresAt.IsZero() || md.Type != TypeHash {
		t.Fatalf("metadata %+v", md)
	}
	clk.Advance(time.Second)
	if _, err := h.Get([]byte("f")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("field of an expired hash: %v", err)
	}
	// Writing to an expired hash starts a new one.
	_, err = h.Set([]byte("g"), []byte("w"))
	testutil.Must(t, err)
	if got := hashFields(t, h); len(got) != 1 || got["g"] != "w" {
		t.Fatalf("fields %v", got)
	}
	if ttl, err := db.TTL([]byte("h")); ttl != NoTTL || err != nil {
		t.Fatal(ttl, err)
	}
	mustCheck(t, db)
	testutil.Must(t, db.Expire([]byte("h"), time.Second))
	clk.Advance(time.Second)
	if n, err := db.expireDue(nil); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if s := db.Stats(); s.Keys != 0 || s.LiveBytes != 0 {
		t.Fatalf("stats %+v", s)
	}
	mustCheck(t, db)
}

func TestSet_Basics(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	s := db.SetOf([]byte("s"))
	if n, err := s.Add([]byte("a"), []byte("b"), []byte("a")); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	if ok, _ := s.IsMember([]byte("a")); !ok {
		t.Fatal("a not a member")
	}
	if r, _ := s.AreMembers([]byte("b"), []byte("z")); !r[0] || r[1] {
		t.Fatal(r)
	}
	if n, _ := s.Card(); n != 2 {
		t.Fatal(n)
	}
	ms, err := s.Members()
	if err != nil || len(ms) != 2 || string(ms[0]) != "a" || string(ms[1]) != "b" {
		t.Fatal(ms, err)
	}
	r, err := s.Random(-5)
	if err != nil || len(r) != 5 {
		t.Fatal(r, err)
	}
	popped, err := s.Pop(1)
	if err != nil || len(popped) != 1 {
		t.Fatal(popped, err)
	}
	if n, _ := s.Card(); n != 1 {
		t.Fatal(n)
	}
	if _, err := db.Hash([]byte("s")).Get([]byte("a")); !errors.Is(err, ErrWrongType) {
		t.Fatal(err)
	}
	mustCheck(t, db)
	popped, _ = s.Pop(5)
	if len(popped) != 1 {
		t.Fatal(popped)
	}
	if s := db.Stats(); s.Keys != 0 {
		t.Fatalf("keys %d", s.Keys)
	}
	// A large set: random picks and pops by seeking.
	var all [][]byte
	for i := range 2000 {
		all = append(all, fmt.Appendf(nil, "m%05d", i))
	}
	_, err = s.Add(all...)
	testutil.Must(t, err)
	popped, err = s.Pop(10)
	if err != nil || len(popped) != 10 {
		t.Fatal(len(popped), err)
	}
	if n, _ := s.Card(); n != 1990 {
		t.Fatal(n)
	}
	mustCheck(t, db)
}

func TestColl_InTransaction(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	_, err := db.Hash([]byte("h")).Set([]byte("old"), []byte("1"))
	testutil.Must(t, err)
	err = db.Update(func(tx *Tx) error {
		h := tx.Hash([]byte("h"))
		if _, err := h.Set([]byte("new"), []byte("2")); err != nil {
			return err
		}
		if got := hashFields(t, h); len(got) != 2 {
			t.Errorf("tx sees %v", got)
		}
		if md, err := tx.Metadata([]byte("h")); err != nil || md.Type != TypeHash {
			t.Errorf("tx metadata %+v %v", md, err)
		}
		// Delete then recreate, as another type.
		if err := tx.Delete([]byte("h")); err != nil {
			return err
		}
		if _, err := tx.SetOf([]byte("h")).Add([]byte("m")); err != nil {
			return err
		}
		if _, err := tx.Hash([]byte("h")).Get([]byte("new")); !errors.Is(err, ErrWrongType) {
			t.Errorf("hash get of a set: %v", err)
		}
		_, err := tx.SetOf([]byte("s2")).Add([]byte("x"))
		return err
	})
	testutil.Must(t, err)
	ms, err := db.SetOf([]byte("h")).Members()
	if err != nil || len(ms) != 1 || string(ms[0]) != "m" {
		t.Fatal(ms, err)
	}
	mustCheck(t, db)
	// A transaction that read a hash conflicts with a write of a field.
	tx, err := db.Begin(true)
	testutil.Must(t, err)
	_, _ = tx.SetOf([]byte("s2")).Card()
	_, err = db.SetOf([]byte("s2")).Add([]byte("y"))
	testutil.Must(t, err)
	_, err = tx.SetOf([]byte("s2")).Add([]byte("z"))
	testutil.Must(t, err)
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit: %v", err)
	}
	w, err := db.Watch([]byte("s2"))
	testutil.Must(t, err)
	_, err = db.SetOf([]byte("s2")).Remove([]byte("y"))
	testutil.Must(t, err)
	if !w.Changed() {
		t.Fatal("a watch of a set did not see a member removed")
	}
	w.Close()
}

// TestColl_Model runs random operations on hashes and sets (field TTLs,
// key TTLs, transactions, deletes, type changes, sweeps, reopen) against
// in-memory maps, with the manual clock, and checks every state and the
// store's consistency.
func TestColl_Model(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if testing.Short() {
		seed = 1
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	dir := t.TempDir()
	clk := testutil.NewClock()
	opts := &Options{Clock: clk, ExpiryInterval: time.Hour}
	db, err := Open(dir, opts)
	testutil.Must(t, err)
	defer func() { _ = db.Close() }()

	type field struct {
		v   string
		exp int64
	}
	type entry struct {
		typ    Type
		fields map[string]field
		exp    int64
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
	visible := func(e *entry) map[string]string {
		out := map[string]string{}
		for f, fv := range e.fields {
			if fv.exp == 0 || now() < fv.exp {
				out[f] = fv.v
			}
		}
		return out
	}
	keys := []string{"\x00a", "\x00b", "\x01c", "\x00a\x00"}
	members := []string{"", "m1", "m2", "m\x00", "m3", "zz"}
	ensure := func(k string, typ Type) *entry {
		if e := live(k); e != nil {
			return e
		}
		e := &entry{typ: typ, fields: map[string]field{}}
		model[k] = e
		return e
	}
	prune := func(k string) {
		// A collection whose stored members are all gone goes.
		if e := model[k]; e != nil && e.typ != TypeString && len(e.fields) == 0 {
			delete(model, k)
		}
	}
	verify := func(step int) {
		for _, k := range keys {
			e := live(k)
			md, err := db.Metadata([]byte(k))
			if e == nil {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("step %d: %q: metadata %v, want not found", step, k, err)
				}
				continue
			}
			if err != nil || md.Type != e.typ {
				t.Fatalf("step %d: %q: %+v %v, want type %v", step, k, md, err, e.typ)
			}
			switch e.typ {
			case TypeHash:
				got := hashFields(t, db.Hash([]byte(k)))
				want := visible(e)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("step %d: %q: fields %v, want %v", step, k, got, want)
				}
				if n, _ := db.Hash([]byte(k)).Len(); n != int64(len(e.fields)) {
					t.Fatalf("step %d: %q: len %d, want %d", step, k, n, len(e.fields))
				}
			case TypeSet:
				ms, err := db.SetOf([]byte(k)).Members()
				testutil.Must(t, err)
				var want []string
				for m := range e.fields {
					want = append(want, m)
				}
				slices.Sort(want)
				if fmt.Sprintf("%q", ms) != fmt.Sprintf("%q", want) && !(len(ms) == 0 && len(want) == 0) {
					t.Fatalf("step %d: %q: members %q, want %q", step, k, ms, want)
				}
			case TypeString:
				if v := mustGet(t, db, k); v != e.fields[""].v {
					t.Fatalf("step %d: %q: %q", step, k, v)
				}
			}
		}
	}
	for step := range 1500 {
		k := keys[rng.IntN(len(keys))]
		m := members[rng.IntN(len(members))]
		switch op := rng.IntN(15); op {
		case 0, 1: // HSET
			e := live(k)
			if e != nil && e.typ != TypeHash {
				if _, err := db.Hash([]byte(k)).Set([]byte(m), []byte("v")); !errors.Is(err, ErrWrongType) {
					t.Fatalf("step %d: hset on %v: %v", step, e.typ, err)
				}
				break
			}
			v := fmt.Sprint(step)
			_, err := db.Hash([]byte(k)).Set([]byte(m), []byte(v))
			testutil.Must(t, err)
			ensure(k, TypeHash).fields[m] = field{v: v}
		case 2: // HDEL
			e := live(k)
			n, err := db.Hash([]byte(k)).Del([]byte(m))
			if e != nil && e.typ != TypeHash {
				if !errors.Is(err, ErrWrongType) {
					t.Fatalf("step %d: %v", step, err)
				}
				break
			}
			testutil.Must(t, err)
			want := 0
			if e != nil {
				if fv, ok := e.fields[m]; ok {
					if fv.exp == 0 || now() < fv.exp {
						want = 1
					}
					delete(e.fields, m)
					prune(k)
				}
			}
			if n != want {
				t.Fatalf("step %d: hdel = %d, want %d", step, n, want)
			}
		case 3: // field TTL
			e := live(k)
			if e == nil || e.typ != TypeHash {
				break
			}
			d := time.Duration(rng.IntN(3000)) * time.Millisecond
			err := db.Hash([]byte(k)).ExpireAt([]byte(m), clk.Now().Add(d))
			fv, ok := e.fields[m]
			if !ok || (fv.exp != 0 && now() >= fv.exp) {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("step %d: expire of a missing field: %v", step, err)
				}
				break
			}
			testutil.Must(t, err)
			if exp := ceilMs(clk.Now().Add(d)); exp <= now() {
				delete(e.fields, m)
				prune(k)
			} else {
				fv.exp = exp
				e.fields[m] = fv
			}
		case 4, 5: // SADD
			e := live(k)
			_, err := db.SetOf([]byte(k)).Add([]byte(m))
			if e != nil && e.typ != TypeSet {
				if !errors.Is(err, ErrWrongType) {
					t.Fatalf("step %d: %v", step, err)
				}
				break
			}
			testutil.Must(t, err)
			ensure(k, TypeSet).fields[m] = field{}
		case 6: // SREM
			e := live(k)
			_, err := db.SetOf([]byte(k)).Remove([]byte(m))
			if e != nil && e.typ != TypeSet {
				if !errors.Is(err, ErrWrongType) {
					t.Fatalf("step %d: %v", step, err)
				}
				break
			}
			testutil.Must(t, err)
			if e != nil {
				delete(e.fields, m)
				prune(k)
			}
		case 7: // DEL
			_, err := db.Delete([]byte(k))
			testutil.Must(t, err)
			delete(model, k)
		case 8: // SET (string overwrite)
			testutil.Must(t, db.Set([]byte(k), []byte("s"), 0))
			model[k] = &entry{typ: TypeString, fields: map[string]field{"": {v: "s"}}}
		case 9: // key TTL
			if e := live(k); e != nil {
				d := time.Duration(1+rng.IntN(3000)) * time.Millisecond
				testutil.Must(t, db.Expire([]byte(k), d))
				e.exp = ceilMs(clk.Now().Add(d))
			}
		case 10: // time passes, sometimes with sweeps
			clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
			if rng.IntN(2) == 0 {
				_, err := db.expireDue(nil)
				testutil.Must(t, err)
				_, err = db.expireFieldsDue(nil)
				testutil.Must(t, err)
				for k, e := range model {
					if e.exp != 0 && now() >= e.exp {
						delete(model, k)
						continue
					}
					for f, fv := range e.fields {
						if fv.exp != 0 && now() >= fv.exp {
							delete(e.fields, f)
						}
					}
					prune(k)
				}
			}
		case 11: // a transaction: HSET + SADD on two keys, or a move
			k2 := keys[rng.IntN(len(keys))]
			e1, e2 := live(k), live(k2)
			if (e1 != nil && e1.typ != TypeHash) || (e2 != nil && e2.typ != TypeSet) || k == k2 {
				break
			}
			err := db.Update(func(tx *Tx) error {
				if _, err := tx.Hash([]byte(k)).Set([]byte(m), []byte("tx")); err != nil {
					return err
				}
				_, err := tx.SetOf([]byte(k2)).Add([]byte(m))
				return err
			})
			testutil.Must(t, err)
			ensure(k, TypeHash).fields[m] = field{v: "tx"}
			ensure(k2, TypeSet).fields[m] = field{}
		case 12: // a transaction that deletes and recreates
			e := live(k)
			if e == nil || e.typ != TypeHash {
				break
			}
			err := db.Update(func(tx *Tx) error {
				if err := tx.Delete([]byte(k)); err != nil {
					return err
				}
				_, err := tx.Hash([]byte(k)).Set([]byte(m), []byte("re"))
				return err
			})
			testutil.Must(t, err)
			model[k] = &entry{typ: TypeHash, fields: map[string]field{m: {v: "re"}}}
		case 13: // SPOP
			e := live(k)
			if e == nil || e.typ != TypeSet {
				break
			}
			popped, err := db.SetOf([]byte(k)).Pop(1)
			testutil.Must(t, err)
			if len(popped) != 1 {
				t.Fatalf("step %d: popped %q from %v", step, popped, e.fields)
			}
			if _, ok := e.fields[string(popped[0])]; !ok {
				t.Fatalf("step %d: popped %q, not a member", step, popped[0])
			}
			delete(e.fields, string(popped[0]))
			prune(k)
		case 14: // reopen
			testutil.Must(t, db.Close())
			db, err = Open(dir, opts)
			testutil.Must(t, err)
		}
		if step%50 == 0 {
			verify(step)
			mustCheck(t, db)
		}
	}
	verify(-1)
	mustCheck(t, db)
}

func TestColl_BackupRoundTrip(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	h := db.Hash([]byte("h"))
	_, err := h.SetFields(FieldValue{Field: []byte("a"), Value: []byte("1")}, FieldValue{Field: []byte("b"), Value: []byte("2")}, FieldValue{Field: []byte("gone"), Value: []byte("x")})
	testutil.Must(t, err)
	testutil.Must(t, h.Expire([]byte("b"), time.Hour))
	testutil.Must(t, h.Expire([]byte("gone"), time.Second))
	testutil.Must(t, db.Expire([]byte("h"), 2*time.Hour))
	var big [][]byte
	for i := range 300 {
		big = append(big, fmt.Appendf(nil, "m%d", i))
	}
	_, err = db.SetOf([]byte("s")).Add(big...)
	testutil.Must(t, err)
	_, err = db.Hash([]byte("allgone")).Set([]byte("x"), []byte("y"))
	testutil.Must(t, err)
	testutil.Must(t, db.Hash([]byte("allgone")).Expire([]byte("x"), time.Second))
	mustSet(t, db, "str", "v", 0)
	clk.Advance(time.Second)
	var buf bytes.Buffer
	info, err := db.Backup(&buf)
	testutil.Must(t, err)
	if info.Keys != 3 {
		t.Fatalf("backup of %d keys", info.Keys)
	}
	vinfo, err := VerifyBackup(bytes.NewReader(buf.Bytes()))
	if err != nil || vinfo.Keys != 3 {
		t.Fatalf("verify: %+v %v", vinfo, err)
	}
	dir := t.TempDir() + "/restored"
	rinfo, err := Restore(bytes.NewReader(buf.Bytes()), dir, &RestoreOptions{Options: &Options{Clock: clk}})
	if err != nil || rinfo.Keys != 3 {
		t.Fatalf("restore: %+v %v", rinfo, err)
	}
	db2, err := Open(dir, &Options{Clock: clk, ExpiryInterval: time.Hour})
	testutil.Must(t, err)
	defer db2.Close()
	got := hashFields(t, db2.Hash([]byte("h")))
	if len(got) != 2 || got["a"] != "1" || got["b"] != "2" {
		t.Fatalf("restored hash %v", got)
	}
	if ttl, err := db2.Hash([]byte("h")).FieldTTL([]byte("b")); err != nil || ttl <= 59*time.Minute {
		t.Fatalf("field ttl %v %v", ttl, err)
	}
	if md, err := db2.Metadata([]byte("h")); err != nil || md.ExpiresAt.IsZero() || md.Type != TypeHash {
		t.Fatalf("hash metadata %+v %v", md, err)
	}
	if n, _ := db2.SetOf([]byte("s")).Card(); n != 300 {
		t.Fatalf("restored set of %d", n)
	}
	if k := db2.Stats().Keys; k != 3 { // the hash whose fields all expired is left out
		t.Fatalf("restored %d keys", k)
	}
	mustCheck(t, db2)
}
