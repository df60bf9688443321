package epochdb

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
	"github.com/epochdb/epochdb/internal/testutil"
)

func TestDB_Check_FindsProblems(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"a", "b"} {
		if err := db.Set([]byte(k), []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	r, err := db.Check()
	if err != nil || len(r.Problems) != 0 || r.Records != 2 || r.TTLRecords != 2 || r.TTLEntries != 2 {
		t.Fatalf("clean store: %+v, %v", r, err)
	}
	// Damage it below the API: metadata without data, a deadline index entry
	// without a record, and a record whose index entry is gone.
	rec, closer, err := db.pdb.Get(keyspace.DataKey(nil, []byte("b")))
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, _ := keyspace.DecodeRecord(rec)
	closer.Close()
	for _, op := range []error{
		db.pdb.Set(keyspace.MetaKey(nil, []byte("ghost")), keyspace.AppendMeta(nil, keyspace.Meta{}), pebble.Sync),
		db.pdb.Set(keyspace.TTLKey(nil, 12345, []byte("gone")), nil, pebble.Sync),
		db.pdb.Delete(keyspace.TTLKey(nil, hdr.ExpiresAt, []byte("b")), pebble.Sync),
	} {
		if op != nil {
			t.Fatal(op)
		}
	}
	r, err = db.Check()
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(r.Problems, "\n")
	if !strings.Contains(all, `key "b" has a deadline`) || len(r.Problems) != 1 {
		t.Errorf("problems: want only the deadline missing from the index:\n%s", all)
	}
	// Harmless by design, counted: an index entry without a record (as a
	// namespace drop leaves) and metadata without data.
	if r.StaleTTLEntries != 1 || r.OrphanMeta != 1 {
		t.Errorf("stale index entries %d, orphan metadata %d; want 1 and 1", r.StaleTTLEntries, r.OrphanMeta)
	}
}

func TestDB_Repair_FixesWhatCheckFinds(t *testing.T) {
	db, clk := mustOpen(t, nil)
	for i := range 20 {
		mustSet(t, db, fmt.Sprint("k", i), "value", time.Minute)
	}
	mustSet(t, db, "\x05other", "v", 0)
	// Damage below the API: an index entry lost, a stale one, orphaned
	// metadata, and wrong counters.
	rec, closer, err := db.pdb.Get(keyspace.DataKey(nil, []byte("k3")))
	testutil.Must(t, err)
	hdr, _, _ := keyspace.DecodeRecord(rec)
	closer.Close()
	testutil.Must(t, db.pdb.Delete(keyspace.TTLKey(nil, hdr.ExpiresAt, []byte("k3")), pebble.Sync))
	testutil.Must(t, db.pdb.Set(keyspace.TTLKey(nil, 12345, []byte("gone")), nil, pebble.Sync))
	testutil.Must(t, db.pdb.Set(keyspace.MetaKey(nil, []byte("ghost")), keyspace.AppendMeta(nil, keyspace.Meta{}), pebble.Sync))
	db.setNSCounters('k', 100, 0, 0)
	before, err := db.Check()
	testutil.Must(t, err)
	if len(before.Problems) < 2 {
		t.Fatalf("check found %v before the repair", before.Problems)
	}

	r, err := db.Repair()
	testutil.Must(t, err)
	if r.TTLAdded != 1 || r.TTLRemoved != 1 || r.MetaRemoved != 1 || string(r.CountersFixed) != "k" {
		t.Fatalf("repair report %+v", r)
	}
	after, err := db.Check()
	testutil.Must(t, err)
	if len(after.Problems) != 0 || after.StaleTTLEntries != 0 || after.OrphanMeta != 0 {
		t.Fatalf("after the repair: %+v", after)
	}
	if got := db.Namespace('k'); got.Keys != 20 || got.KeysWithTTL != 20 || db.Len() != 21 {
		t.Fatalf("counters after the repair: %+v, Len %d", got, db.Len())
	}
	// The key whose index entry was lost is swept again.
	clk.Advance(2 * time.Minute)
	n, err := db.expireDue(nil)
	testutil.Must(t, err)
	if n != 20 || db.Len() != 1 {
		t.Fatalf("the sweep after the repair expired %d keys, %d left; want 20 and 1", n, db.Len())
	}
}
