package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/clock"
	"github.com/epochdb/epochdb/internal/testutil"
)

// logReplicator is an in-process replicated log for the library's tests:
// a committed entry is applied to the leader's DB (as local) and to every
// follower's, in order, before Replicate returns. The cluster package's
// tests run the real one, on hashicorp/raft.
type logReplicator struct {
	mu        sync.Mutex
	log       [][]byte
	leader    *DB
	followers []*DB
	isLeader  bool
}

func (r *logReplicator) Replicate(repr []byte) error {
	if !r.isLeader {
		return ErrNotLeader
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, bytes.Clone(repr))
	idx := uint64(len(r.log))
	for _, f := range r.followers {
		if err := f.ApplyCommitted(idx, repr, false); err != nil {
			return err
		}
	}
	return r.leader.ApplyCommitted(idx, repr, true)
}

func (r *logReplicator) Leader() bool { return r.isLeader }

// followerRepl is the Replicator of a follower: it cannot write.
type followerRepl struct{}

func (followerRepl) Replicate([]byte) error { return ErrNotLeader }
func (followerRepl) Leader() bool           { return false }

// openLogLeader opens a store on disk replicating through a logReplicator
// it leads, with the expiry sweeper out of the way.
func openLogLeader(t *testing.T, clk *clock.Manual) (*DB, *logReplicator) {
	t.Helper()
	repl := &logReplicator{isLeader: true}
	leader, err := Open(t.TempDir(), &Options{Clock: clk, Replicator: repl, ExpiryInterval: time.Hour})
	testutil.Must(t, err)
	t.Cleanup(func() { _ = leader.Close() })
	repl.leader = leader
	return leader, repl
}

// openLogFollower opens a store on disk that only applies committed
// entries.
func openLogFollower(t *testing.T, clk *clock.Manual) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), &Options{Clock: clk, Replicator: followerRepl{}, ExpiryInterval: time.Hour})
	testutil.Must(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// contents lists every live key of db with its value and metadata.
func contents(t *testing.T, db *DB) []string {
	t.Helper()
	var out []string
	testutil.Must(t, db.Scan(ScanOptions{}, func(k, v []byte, md Metadata) error {
		out = append(out, fmt.Sprintf("%q=%q exp=%v created=%v freq=%d", k, v, md.ExpiresAt.UnixMilli(), md.CreatedAt.UnixMilli(), md.Frequency))
		return nil
	}))
	return out
}

// A follower that applies the leader's batches holds the same data,
// counters and event log, its caches and watches follow, and it refuses
// writes of its own.
func TestReplicated_FollowerMirrorsLeader(t *testing.T) {
	clk := testutil.NewClock()
	repl := &logReplicator{isLeader: true}
	opts := func(r Replicator) *Options {
		return &Options{Clock: clk, Replicator: r, EventLog: true, MaxKeys: 40, EvictionPolicy: EvictAllKeysLFU,
			ExpiryInterval: time.Hour}
	}
	leader, err := Open(t.TempDir(), opts(repl))
	testutil.Must(t, err)
	defer leader.Close()
	fdir := t.TempDir()
	follower, err := Open(fdir, opts(followerRepl{}))
	testutil.Must(t, err)
	repl.leader, repl.followers = leader, []*DB{follower}

	// The follower caches a key, and watches another.
	mustSet(t, leader, "cached", "v1", 0)
	if got := mustGet(t, follower, "cached"); got != "v1" {
		t.Fatalf("follower cached = %q", got)
	}
	w, err := follower.Watch([]byte("watched"))
	testutil.Must(t, err)
	defer w.Close()

	for i := range 50 { // over the budget: the leader evicts, the follower follows
		mustSet(t, leader, fmt.Sprintf("k%02d", i), "v", time.Duration(i%3)*time.Second)
	}
	mustSet(t, leader, "cached", "v2", 0)
	mustSet(t, leader, "watched", "x", 0)
	_, err = leader.Delete([]byte("k07"))
	testutil.Must(t, err)
	_, err = leader.IncrementFrequency([]byte("k10"))
	testutil.Must(t, err)
	testutil.Must(t, leader.Update(func(tx *Tx) error {
		if err := tx.Set([]byte("tx1"), []byte("a"), 0); err != nil {
			return err
		}
		return tx.Set([]byte("tx2"), []byte("b"), time.Minute)
	}))
	// Collections: a hash with a field that expires, a set, a big hash
	// deleted by range.
	h := leader.Hash([]byte("h"))
	_, err = h.Set([]byte("f1"), []byte("v1"))
	testutil.Must(t, err)
	_, err = h.Set([]byte("f2"), []byte("v2"))
	testutil.Must(t, err)
	testutil.Must(t, h.Expire([]byte("f2"), time.Second))
	_, err = leader.SetOf([]byte("s")).Add([]byte("a"), []byte("b"))
	testutil.Must(t, err)
	big := leader.Hash([]byte("big"))
	for i := range 200 {
		_, err = big.Set([]byte(fmt.Sprint("f", i)), []byte("v"))
		testutil.Must(t, err)
	}
	_, err = leader.Delete([]byte("big"))
	testutil.Must(t, err)
	clk.Advance(3 * time.Second)
	_, err = leader.expireDue(nil) // expiry events, replicated
	testutil.Must(t, err)
	_, err = leader.expireFieldsDue(nil)
	testutil.Must(t, err)
	if n, err := follower.Hash([]byte("h")).Len(); err != nil || n != 1 {
		t.Fatalf("follower's hash has %d fields (%v), want 1 after the field expiry", n, err)
	}
	if ok, err := follower.SetOf([]byte("s")).IsMember([]byte("b")); err != nil || !ok {
		t.Fatalf("follower's set lacks b: %v %v", ok, err)
	}
	_, err = leader.DropNamespace('z')
	testutil.Must(t, err)

	if got := mustGet(t, follower, "cached"); got != "v2" {
		t.Fatalf("follower's cache kept %q after the leader's overwrite", got)
	}
	if !w.Changed() {
		t.Fatal("a watch on the follower missed the leader's write")
	}
	if l, f := contents(t, leader), contents(t, follower); !slices.Equal(l, f) {
		t.Fatalf("follower differs from leader:\nleader   %v\nfollower %v", l, f)
	}
	if l, f := leader.Len(), follower.Len(); l != f || l == 0 {
		t.Fatalf("Len leader %d follower %d", l, f)
	}
	ls, fs := leader.Stats(), follower.Stats()
	if ls.KeysWithTTL != fs.KeysWithTTL || ls.LiveBytes != fs.LiveBytes {
		t.Fatalf("counters differ: leader %+v follower %+v", ls, fs)
	}
	levs, _, err := leader.ReadEvents(0, 1000)
	testutil.Must(t, err)
	fevs, _, err := follower.ReadEvents(0, 1000)
	testutil.Must(t, err)
	if len(levs) == 0 || len(levs) != len(fevs) || levs[len(levs)-1].Seq != fevs[len(fevs)-1].Seq {
		t.Fatalf("event logs differ: leader %d events, follower %d", len(levs), len(fevs))
	}
	checkClean(t, follower)
	// Applying entries it did not build leaves no write in flight in the
	// follower's record cache: were the count off, a Get racing with a
	// write once this node leads could fill the cache with the state the
	// write replaces.
	for _, db := range []*DB{leader, follower} {
		for i := range db.shards {
			c := &db.shards[i].cache
			c.mu.RLock()
			writing := c.writing
			c.mu.RUnlock()
			if writing != 0 {
				t.Fatalf("shard %d's cache counts %d writes in flight, want 0", i, writing)
			}
		}
	}

	if err := follower.Set([]byte("mine"), []byte("v"), 0); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a write on the follower: %v, want ErrNotLeader", err)
	}

	// A replay after a restart skips what was applied.
	applied := follower.AppliedIndex()
	testutil.Must(t, follower.Close())
	follower, err = Open(fdir, opts(followerRepl{}))
	testutil.Must(t, err)
	defer follower.Close()
	if follower.AppliedIndex() != applied || applied != uint64(len(repl.log)) {
		t.Fatalf("applied index %d after reopen, want %d", follower.AppliedIndex(), applied)
	}
	for i, e := range repl.log {
		testutil.Must(t, follower.ApplyCommitted(uint64(i+1), e, false))
	}
	if l, f := leader.Len(), follower.Len(); l != f {
		t.Fatalf("after a replay Len leader %d follower %d", l, f)
	}
	checkClean(t, follower)
}

// A fresh node that replays the whole log from the start ends with the
// leader's store, as a new node catching up would.
func TestReplicated_ReplayFromEmpty(t *testing.T) {
	clk := clock.NewManual(testutil.Epoch)
	leader, repl := openLogLeader(t, clk)
	for i := range 200 {
		mustSet(t, leader, fmt.Sprint("k", i%70), fmt.Sprint("v", i), 0)
	}
	fresh := openLogFollower(t, clk)
	for i, e := range repl.log {
		testutil.Must(t, fresh.ApplyCommitted(uint64(i+1), e, false))
	}
	if l, f := contents(t, leader), contents(t, fresh); !slices.Equal(l, f) || len(l) != 70 {
		t.Fatalf("replayed node differs: %d keys vs %d", len(f), len(l))
	}
	if fresh.Len() != 70 {
		t.Fatalf("replayed Len = %d", fresh.Len())
	}
}

// Committed entries applied in runs (as raft hands a batch of them) give
// the same store as the leader's; a run that reaches back before the
// applied index (a replay) applies only what is new; a malformed entry in
// a run is left out with its own error and the others are applied.
func TestReplicated_ApplyCommittedBatch(t *testing.T) {
	clk := clock.NewManual(testutil.Epoch)
	leader, repl := openLogLeader(t, clk)
	for i := range 120 {
		mustSet(t, leader, fmt.Sprint("k", i%50), fmt.Sprint("v", i), 0)
		if i%7 == 0 {
			_, err := leader.Delete([]byte(fmt.Sprint("k", i%13)))
			testutil.Must(t, err)
		}
	}
	var all []Committed
	for i, e := range repl.log {
		all = append(all, Committed{Index: uint64(i + 1), Repr: e})
	}
	node := openLogFollower(t, clk)
	for i := 0; i < len(all); i += 17 {
		for _, err := range node.ApplyCommittedBatch(all[i:min(i+17, len(all))]) {
			testutil.Must(t, err)
		}
	}
	same := func(what string) {
		t.Helper()
		if l, n := contents(t, leader), contents(t, node); !slices.Equal(l, n) || node.Len() != leader.Len() {
			t.Fatalf("%s: the store differs from the leader's (Len %d vs %d):\n%v\n%v", what, node.Len(), leader.Len(), n, l)
		}
	}
	same("applied in runs of 17")
	if node.AppliedIndex() != uint64(len(all)) {
		t.Fatalf("applied %d of %d", node.AppliedIndex(), len(all))
	}
	for _, err := range node.ApplyCommittedBatch(all) {
		testutil.Must(t, err)
	}
	same("after a replayed run")

	// Three entries, the second malformed.
	fresh := openLogFollower(t, clk)
	run := []Committed{all[0], {Index: 2, Repr: []byte("not a batch")}, all[2]}
	errs := fresh.ApplyCommittedBatch(run)
	if errs[0] != nil || !errors.Is(errs[1], ErrCorrupt) || errs[2] != nil {
		t.Fatalf("errors %v, want nil, ErrCorrupt, nil", errs)
	}
	if fresh.AppliedIndex() != 3 {
		t.Fatalf("applied index %d, want 3", fresh.AppliedIndex())
	}
	for _, k := range []string{"k0", "k1"} { // entries 1 and 3 (entry 2 deleted k0)
		if _, err := fresh.Get([]byte(k)); err != nil {
			t.Fatalf("%s after the run: %v", k, err)
		}
	}
}

func FuzzApplyCommitted(f *testing.F) {
	clk := testutil.NewClock()
	repl := &logReplicator{isLeader: true}
	leader, err := Open("", &Options{InMemory: true, Clock: clk, Replicator: repl})
	if err != nil {
		f.Fatal(err)
	}
	defer leader.Close()
	repl.leader = leader
	_ = leader.Set([]byte("a"), []byte("b"), time.Second)
	_, _ = leader.Delete([]byte("a"))
	for _, e := range repl.log {
		f.Add(e)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, repr []byte) {
		db, err := Open("", &Options{InMemory: true, Clock: clk, Replicator: followerRepl{}})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// Bad input is an error, never a panic or a wedged DB.
		_ = db.ApplyCommitted(1, repr, false)
		if _, err := db.Get([]byte("x")); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Get after a fuzzed entry: %v", err)
		}
	})
}
