package cluster

import (
	"testing"

	"github.com/hashicorp/raft"
)

// TestLogStore_SyncModes: with appendfsync always every append is synced
// on its own; otherwise appends wait for the next sync, and a log closed
// and opened again has every entry and the stable values.
func TestLogStore_SyncModes(t *testing.T) {
	dir := t.TempDir()
	s, err := openLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	always := true
	s.syncEach = func() bool { return always }
	if err := s.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Data: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if s.unsynced.Load() {
		t.Fatal("an append with appendfsync always left the log unsynced")
	}
	always = false
	if err := s.StoreLogs([]*raft.Log{{Index: 2, Term: 1, Data: []byte("b")}, {Index: 3, Term: 2, Data: []byte("c")}}); err != nil {
		t.Fatal(err)
	}
	if !s.unsynced.Load() {
		t.Fatal("appends with everysec were synced one by one")
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	if err := s.sync(); err != nil || s.unsynced.Load() {
		t.Fatalf("sync: %v, unsynced %v", err, s.unsynced.Load())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range []string{"a", "b", "c"} {
		var l raft.Log
		if err := s.GetLog(uint64(i+1), &l); err != nil || string(l.Data) != want {
			t.Fatalf("entry %d after reopening: %q %v", i+1, l.Data, err)
		}
	}
	if term, err := s.GetUint64([]byte("CurrentTerm")); err != nil || term != 2 {
		t.Fatalf("term after reopening: %d %v", term, err)
	}
}
