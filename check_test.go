package epochdb

import (
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
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
