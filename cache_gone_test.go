package epochdb

import (
	"errors"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// A cached key that a write deletes stays in the record cache as gone:
// reads and writes of it need no engine read (which, for a key written
// many times before, skips every version the memtable holds), and a new
// write of it replaces the gone entry.
func TestCache_DeletedKeyStaysCachedAsGone(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	z := db.ZSet([]byte("z"))
	_, _, err := z.Add(ZAddOptions{}, zm("a", 1), zm("b", 2))
	testutil.Must(t, err)
	mustSet(t, db, "s", "v", 0)
	_, err = z.PopMin(2) // the last members: the key goes
	testutil.Must(t, err)
	_, err = db.Delete([]byte("s"))
	testutil.Must(t, err)
	before := db.Stats()
	if _, err := db.Get([]byte("s")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get of a deleted key: %v", err)
	}
	if got, err := z.PopMin(1); err != nil || len(got) != 0 {
		t.Fatalf("pop of a drained sorted set: %v %v", got, err)
	}
	if n, err := z.Card(); err != nil || n != 0 {
		t.Fatalf("card of a drained sorted set: %d %v", n, err)
	}
	d := db.Stats().Sub(before)
	if d.CacheMisses != 0 || d.CacheHits != 3 {
		t.Fatalf("reads of deleted keys: %d cache hits, %d misses; want 3 hits", d.CacheHits, d.CacheMisses)
	}
	mustSet(t, db, "s", "again", 0)
	_, _, err = z.Add(ZAddOptions{}, zm("c", 3))
	testutil.Must(t, err)
	if v := mustGet(t, db, "s"); v != "again" {
		t.Fatalf("recreated key reads %q", v)
	}
	if got, err := z.Range(ZRange{Start: 0, Stop: -1}); err != nil || showZ(got) != "c:3" {
		t.Fatalf("recreated sorted set: %s %v", showZ(got), err)
	}
	mustCheck(t, db)
}
