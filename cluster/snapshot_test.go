package cluster

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/backupfmt"
	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/hashicorp/raft"
)

// snapshotting makes every node keep few entries behind a snapshot, and
// take snapshots only when told (Node.Snapshot). Its timeouts are longer
// than the other tests': installing a snapshot in the same process, under
// the race detector on a loaded machine, can starve the leader's
// heartbeats past a 100 ms lease, and these tests write through one
// leader.
func snapshotting(cfg *Config) {
	cfg.TrailingLogs = 10
	cfg.SnapshotThreshold = 1 << 40
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
}

// startJoiner starts a node that is in no configuration yet (no Peers), as
// `epoch serve --cluster` without --peers: it waits to be added.
func (c *testCluster) startJoiner(id string) {
	c.t.Helper()
	c.peers[id], c.dirs[id] = freeAddr(c.t), c.t.TempDir()
	conf := c.conf
	c.conf = func(cfg *Config) {
		conf(cfg)
		cfg.Peers = nil
	}
	defer func() { c.conf = conf }()
	c.start(id)
}

// storeDigest hashes every key-value pair of db's store, as its image
// holds them, and returns it with the applied index.
func storeDigest(t testing.TB, db *epochdb.DB) (string, uint64) {
	t.Helper()
	im, err := db.Image()
	for errors.Is(err, epochdb.ErrInstallingImage) { // a snapshot being installed: in a moment
		time.Sleep(5 * time.Millisecond)
		im, err = db.Image()
	}
	testutil.Must(t, err)
	defer im.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := im.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	br, err := backupfmt.NewReader(pr)
	testutil.Must(t, err)
	defer br.Close()
	h := sha256.New()
	for {
		rec, err := br.Next()
		if err == io.EOF {
			return fmt.Sprintf("%x (%d entries)", h.Sum(nil), br.Keys()), im.AppliedIndex()
		}
		testutil.Must(t, err)
		fmt.Fprintf(h, "%q=%q\n", rec.Key, rec.Value)
	}
}

// identical waits until every running node's store holds exactly the
// leader's entries, in every keyspace, at the same applied index, and
// their event logs read the same.
func (c *testCluster) identical(leader *Node) {
	c.t.Helper()
	c.converged(leader)
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range c.nodes {
		for {
			want, wantApplied := storeDigest(c.t, leader.DB())
			got, applied := storeDigest(c.t, n.DB())
			if got == want && applied == wantApplied {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("node %s holds %s at applied index %d; the leader %s at %d", n.ID(), got, applied, want, wantApplied)
			}
			time.Sleep(10 * time.Millisecond)
		}
		levs, _, err := leader.DB().ReadEvents(0, 1<<20)
		testutil.Must(c.t, err)
		evs, _, err := n.DB().ReadEvents(0, 1<<20)
		testutil.Must(c.t, err)
		if len(evs) != len(levs) {
			c.t.Fatalf("node %s has %d events, the leader %d", n.ID(), len(evs), len(levs))
		}
		for i := range evs {
			if evs[i].Seq != levs[i].Seq || evs[i].Kind != levs[i].Kind || !bytes.Equal(evs[i].Key, levs[i].Key) {
				c.t.Fatalf("node %s event %d: %+v, the leader's %+v", n.ID(), i, evs[i], levs[i])
			}
		}
		ls, s := leader.DB().Stats(), n.DB().Stats()
		if s.Keys != ls.Keys || s.KeysWithTTL != ls.KeysWithTTL || s.LiveBytes != ls.LiveBytes {
			c.t.Fatalf("node %s counters %d/%d/%d, the leader's %d/%d/%d", n.ID(), s.Keys, s.KeysWithTTL, s.LiveBytes,
				ls.Keys, ls.KeysWithTTL, ls.LiveBytes)
		}
	}
}

// writeMix writes keys with and without deadlines, a hash with a field
// deadline, a set and tracked accesses through the leader, then lets some
// keys expire (the leader's sweeper: events).
func writeMix(t *testing.T, c *testCluster, l *Node, prefix string, n int) {
	t.Helper()
	db := l.DB()
	for i := range n {
		k := fmt.Sprintf("%s%04d", prefix, i)
		testutil.Must(t, db.Set([]byte(k), []byte(k), time.Duration(i%3)*time.Minute))
	}
	h := db.Hash([]byte(prefix + "hash"))
	_, err := h.Set([]byte("f1"), []byte("v1"))
	testutil.Must(t, err)
	_, err = h.Set([]byte("f2"), []byte("v2"))
	testutil.Must(t, err)
	testutil.Must(t, h.Expire([]byte("f2"), time.Hour))
	_, err = db.SetOf([]byte(prefix+"set")).Add([]byte("a"), []byte("b"))
	testutil.Must(t, err)
	_, err = db.IncrementFrequency([]byte(prefix + "0000"))
	testutil.Must(t, err)
	before := db.LastEventSeq()
	c.clk.Advance(90 * time.Second) // the keys with a 1 minute TTL expire
	deadline := time.Now().Add(20 * time.Second)
	for db.LastEventSeq() < before+uint64(n/3) {
		if time.Now().After(deadline) {
			t.Fatalf("the leader's sweeper did not expire %d keys (events %d to %d)", n/3, before, db.LastEventSeq())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A leader that has compacted its log past its start: a node that joins
// catches up from the leader's snapshot, then the log, and ends with the
// same store — every keyspace byte for byte, the event log, the counters
// — and knows the leader's client address; writes after the join reach it,
// also into a collection the snapshot brought. A restarted node that holds
// its own snapshot uses its store and the log, without installing.
func TestCluster_JoinCatchesUpFromSnapshot(t *testing.T) {
	c := newCluster(t, 3, snapshotting)
	l := c.leader()
	writeMix(t, c, l, "a", 300)
	c.converged(l)
	testutil.Must(t, l.Snapshot())
	first, err := l.logs.FirstIndex()
	testutil.Must(t, err)
	if first <= 1 || l.Metrics().Snapshots != 1 {
		t.Fatalf("after a snapshot the leader's log starts at %d (%d snapshots)", first, l.Metrics().Snapshots)
	}

	c.startJoiner("n4")
	n4 := c.nodes["n4"]
	testutil.Must(t, l.Join("n4", c.peers["n4"]))
	c.identical(l)
	if m := n4.Metrics(); m.Restores != 1 || m.RestoreFailures != 0 {
		t.Fatalf("the joined node installed %d snapshots (%d failed), want 1", m.Restores, m.RestoreFailures)
	}
	if id, addr := n4.LeaderInfo(); id != l.ID() || addr != "client-"+l.ID() {
		t.Fatalf("the joined node sees leader %q at %q", id, addr)
	}
	_, err = l.DB().Hash([]byte("ahash")).Set([]byte("f3"), []byte("v3"))
	testutil.Must(t, err)
	writeMix(t, c, l, "b", 60)
	c.identical(l)
	if n, err := n4.DB().Hash([]byte("ahash")).Len(); err != nil || n != 3 {
		t.Fatalf("the joined node's hash has %d fields (%v), want 3", n, err)
	}

	// The leader restarts: its own newest snapshot is not installed (its
	// store holds it); it replays the log behind it.
	old := l.ID()
	c.stop(old)
	l = c.leader()
	testutil.Must(t, l.DB().Set([]byte("while-down"), []byte("v"), 0))
	c.start(old)
	c.identical(c.leader())
	if m := c.nodes[old].Metrics(); m.Restores != 0 {
		t.Fatalf("the restarted node installed %d snapshots over its own store", m.Restores)
	}
	r, err := n4.DB().Check()
	testutil.Must(t, err)
	if len(r.Problems) > 0 {
		t.Fatalf("the joined node's Check: %v", r.Problems)
	}
}

// loadedFollower starts three nodes that snapshot when told, writes a
// mix through the leader, and returns the leader and a follower's ID once
// every node holds it.
func loadedFollower(t *testing.T) (*testCluster, *Node, string) {
	c := newCluster(t, 3, snapshotting)
	l := c.leader()
	writeMix(t, c, l, "a", 90)
	c.converged(l)
	for id := range c.nodes {
		if id != l.ID() {
			return c, l, id
		}
	}
	t.Fatal("no follower")
	return nil, nil, ""
}

// A follower down while the leader compacts its log past the follower's
// last entry catches up on restart from the leader's snapshot.
func TestCluster_FollowerDownPastCompaction(t *testing.T) {
	c, l, down := loadedFollower(t)
	downLast, err := c.nodes[down].logs.LastIndex()
	testutil.Must(t, err)
	c.stop(down)
	writeMix(t, c, l, "b", 150)
	testutil.Must(t, l.Snapshot())
	if first, err := l.logs.FirstIndex(); err != nil || first <= downLast+1 {
		t.Fatalf("the leader's log starts at %d (%v): not past the stopped follower's %d", first, err, downLast)
	}
	c.start(down)
	c.identical(l)
	if m := c.nodes[down].Metrics(); m.Restores != 1 {
		t.Fatalf("the restarted follower installed %d snapshots, want 1", m.Restores)
	}
}

// A node whose store directory was lost (its raft directory kept) comes
// back from its own newest snapshot, installed at start because the
// empty store is behind it, then the log.
func TestCluster_LostStoreRestoredFromOwnSnapshot(t *testing.T) {
	c, l, id := loadedFollower(t)
	testutil.Must(t, c.nodes[id].Snapshot())
	c.stop(id)
	testutil.Must(t, os.RemoveAll(filepath.Join(c.dirs[id], "data")))
	c.start(id)
	if m := c.nodes[id].Metrics(); m.Restores != 1 {
		t.Fatalf("the node with a lost store installed %d snapshots at start, want 1", m.Restores)
	}
	testutil.Must(t, l.DB().Set([]byte("after"), []byte("v"), 0))
	c.identical(l)
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }

// snapshotBytes takes n's snapshot as raft would and returns its bytes.
func snapshotBytes(t *testing.T, n *Node) []byte {
	t.Helper()
	s, err := (*fsm)(n).Snapshot()
	testutil.Must(t, err)
	defer s.Release()
	var sink memSink
	testutil.Must(t, s.Persist(&sink))
	return sink.Bytes()
}

// A damaged snapshot — a flipped byte in its header or its image, a
// truncation — is refused by the state machine, and the store keeps its
// contents; the intact snapshot installs.
func TestCluster_CorruptSnapshotRefused(t *testing.T) {
	one := func(prefix string, keys int) *Node {
		c := newCluster(t, 1)
		l := c.leader()
		for i := range keys {
			testutil.Must(t, l.DB().Set([]byte(fmt.Sprint(prefix, i)), bytes.Repeat([]byte("v"), i%100), 0))
		}
		return l
	}
	// dst is behind src's applied index: a snapshot at or behind a
	// store's index is not installed at all.
	src, dst := one("src", 500), one("dst", 50)
	snap := snapshotBytes(t, src)
	before, _ := storeDigest(t, dst.DB())
	hdrLen := len(snapHeader{applied: 1, leaderID: src.ID(), leaderAddr: "client-" + src.ID()}.encode())
	for _, off := range []int{0, 9, hdrLen - 1, hdrLen + 3, hdrLen + backupfmt.HeaderLen + 30, len(snap) / 2, len(snap) - 2} {
		bad := bytes.Clone(snap)
		bad[off] ^= 0x40
		for _, b := range [][]byte{bad, snap[:off]} {
			if err := (*fsm)(dst).Restore(io.NopCloser(bytes.NewReader(b))); err == nil {
				t.Fatalf("a snapshot damaged at byte %d of %d was installed", off, len(snap))
			}
			if got, _ := storeDigest(t, dst.DB()); got != before {
				t.Fatalf("a refused snapshot (byte %d) changed the store", off)
			}
		}
	}
	if m := dst.Metrics(); m.RestoreFailures == 0 || m.Restores != 0 {
		t.Fatalf("restores %d, failures %d", m.Restores, m.RestoreFailures)
	}
	testutil.Must(t, (*fsm)(dst).Restore(io.NopCloser(bytes.NewReader(snap))))
	got, _ := storeDigest(t, dst.DB())
	want, _ := storeDigest(t, src.DB())
	if got != want || dst.DB().Len() != 500 {
		t.Fatalf("after the install: %s, want %s", got, want)
	}
	if _, err := dst.DB().Get([]byte("dst1")); !errors.Is(err, epochdb.ErrNotFound) {
		t.Fatalf("dst1 after the install: %v", err)
	}
}

// FuzzReadSnapHeader: the snapshot header's reader never panics, and
// reads back what encode wrote.
func FuzzReadSnapHeader(f *testing.F) {
	good := snapHeader{applied: 77, leaderID: "n1", leaderAddr: "127.0.0.1:6380"}.encode()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte(snapMagic))
	f.Add(append(bytes.Clone(good), "EPOCHBAK"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := readSnapHeader(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			if !errors.Is(err, errSnapHeader) {
				t.Fatalf("error %v does not wrap errSnapHeader", err)
			}
			return
		}
		if enc := h.encode(); !bytes.HasPrefix(data, enc) {
			t.Fatalf("read %+v from %x, which encodes to %x", h, data, enc)
		}
	})
}

var _ raft.SnapshotSink = (*memSink)(nil)
