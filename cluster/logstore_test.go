package cluster

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestLogStore_SyncModes: with appendfsync always every append is fsynced
// on its own; otherwise its fsync is put off (the append is still written
// to the file) until sync; the stable store's values are fsynced whatever
// the mode; and a log closed and opened again has every entry.
func TestLogStore_SyncModes(t *testing.T) {
	dir := t.TempDir()
	relaxed := false
	s, err := openLogStore(dir, func() (bool, time.Duration) { return relaxed, time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Data: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if s.fs.owed.Load() {
		t.Fatal("an append with appendfsync always left its fsync owed")
	}
	relaxed = true
	if err := s.StoreLogs([]*raft.Log{{Index: 2, Term: 1, Data: []byte("b")}, {Index: 3, Term: 2, Data: []byte("c")}}); err != nil {
		t.Fatal(err)
	}
	if !s.fs.owed.Load() {
		t.Fatal("an append with everysec was fsynced at once")
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	if s.fs.owed.Load() {
		t.Fatal("a stable store write with everysec was not fsynced")
	}
	if err := s.StoreLogs([]*raft.Log{{Index: 4, Term: 2, Data: []byte("d")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.sync(); err != nil || s.fs.owed.Load() {
		t.Fatalf("sync: %v, owed %v", err, s.fs.owed.Load())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openLogStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range []string{"a", "b", "c", "d"} {
		var l raft.Log
		if err := s.GetLog(uint64(i+1), &l); err != nil || string(l.Data) != want {
			t.Fatalf("entry %d after reopening: %q %v", i+1, l.Data, err)
		}
	}
	if term, err := s.GetUint64([]byte("CurrentTerm")); err != nil || term != 2 {
		t.Fatalf("term after reopening: %d %v", term, err)
	}
}
