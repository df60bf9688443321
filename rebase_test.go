package epochdb

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// TestColl_RebaseSparseSet: a set drained by Pop ends up walked over its
// deleted members; a pop rebases it onto a new version, after which the
// set holds exactly the members not popped, and the store checks clean.
func TestColl_RebaseSparseSet(t *testing.T) {
	db, _ := mustOpen(t, nil)
	s := db.SetOf([]byte("s"))
	model := map[string]bool{}
	var ms [][]byte
	for i := range 2000 {
		m := fmt.Appendf(nil, "member-%05d", i)
		ms = append(ms, m)
		model[string(m)] = true
	}
	_, err := s.Add(ms...)
	testutil.Must(t, err)
	for len(model) > 0 {
		got, err := s.Pop(1)
		testutil.Must(t, err)
		if len(got) != 1 || !model[string(got[0])] {
			t.Fatalf("popped %q with %d members left", got, len(model))
		}
		delete(model, string(got[0]))
		if len(model) == 300 {
			if db.Stats().CollectionRebases == 0 {
				t.Fatal("1,700 pops and no rebase")
			}
			members, err := s.Members()
			testutil.Must(t, err)
			want := make([]string, 0, len(model))
			for m := range model {
				want = append(want, m)
			}
			slices.Sort(want)
			if len(members) != len(want) {
				t.Fatalf("%d members after the rebase, want %d", len(members), len(want))
			}
			for i, m := range members {
				if string(m) != want[i] {
					t.Fatalf("member %d is %q, want %q", i, m, want[i])
				}
			}
			if n, err := s.Card(); n != 300 || err != nil {
				t.Fatalf("card %d %v", n, err)
			}
			mustCheck(t, db)
		}
	}
	if _, err := db.Metadata([]byte("s")); err == nil {
		t.Fatal("the drained set still exists")
	}
	mustCheck(t, db)
}

// TestColl_RebaseKeepsFieldDeadlinesAndHistory: a rebase of a hash keeps
// its fields' deadlines (those already passed included: the sweeper still
// reports them), the key's deadline, creation time and frequency.
func TestColl_RebaseKeepsFieldDeadlinesAndHistory(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	sub, err := db.Subscribe(64)
	testutil.Must(t, err)
	h := db.Hash([]byte("h"))
	var fields []FieldValue
	for i := range 1500 {
		fields = append(fields, FieldValue{Field: fmt.Appendf(nil, "f%05d", i), Value: []byte("v")})
	}
	_, err = h.SetFields(fields...)
	testutil.Must(t, err)
	// Fields near the end: two that will have expired by the rebase, one
	// that will not.
	testutil.Must(t, h.Expire([]byte("f01490"), time.Second))
	testutil.Must(t, h.Expire([]byte("f01491"), time.Second))
	testutil.Must(t, h.Expire([]byte("f01492"), time.Hour))
	if _, err := db.SetDeadline([]byte("h"), clk.Now().Add(2*time.Hour), Always); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, err := h.Get([]byte("f00000"))
		testutil.Must(t, err)
	}
	before, err := db.Metadata([]byte("h"))
	testutil.Must(t, err)
	clk.Advance(2 * time.Second)

	// Delete the first 1,400 fields, 100 per write, each write walking
	// from the start (over the deleted ones) to find the next.
	for range 14 {
		testutil.Must(t, h.Modify(func(v *HashView) error {
			var next [][]byte
			err := v.Scan(nil, func(f FieldValue) bool {
				next = append(next, slices.Clone(f.Field))
				return len(next) < 100
			})
			for _, f := range next {
				if _, err := v.Del(f); err != nil {
					return err
				}
			}
			return err
		}))
	}
	if db.Stats().CollectionRebases == 0 {
		t.Fatal("no rebase after 1,400 deletions walked over")
	}
	got := hashFields(t, h)
	if len(got) != 98 { // f01400..f01499 but the two expired
		t.Fatalf("%d fields visible, want 98", len(got))
	}
	if n, _ := h.Len(); n != 100 {
		t.Fatalf("len %d, want 100 (expired fields count until swept)", n)
	}
	if ttl, err := h.FieldTTL([]byte("f01492")); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("the live field's ttl after the rebase: %v %v", ttl, err)
	}
	after, err := db.Metadata([]byte("h"))
	testutil.Must(t, err)
	if !after.CreatedAt.Equal(before.CreatedAt) || !after.ExpiresAt.Equal(before.ExpiresAt) || after.Frequency < before.Frequency {
		t.Fatalf("the key's history changed: before %+v after %+v", before, after)
	}
	mustCheck(t, db)
	n, err := db.expireFieldsDue(nil)
	if n != 2 || err != nil {
		t.Fatalf("swept %d %v, want the 2 expired fields", n, err)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case ev := <-sub.C():
			if ev.Kind == EventFieldExpired {
				seen[string(ev.Field)] = true
			}
		default:
			t.Fatalf("field-expired events %v, want f01490 and f01491", seen)
		}
	}
	if !seen["f01490"] || !seen["f01491"] {
		t.Fatalf("field-expired events %v", seen)
	}
	mustCheck(t, db)
}
