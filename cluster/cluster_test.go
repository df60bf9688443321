package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/clock"
	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/hashicorp/raft"
)

// testCluster is n nodes in this process, on loopback, each with its own
// directories, sharing one manual clock.
type testCluster struct {
	t     testing.TB
	conf  func(*Config) // adjusts every node's configuration
	clk   *clock.Manual
	peers map[string]string
	dirs  map[string]string
	nodes map[string]*Node
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func newCluster(t testing.TB, size int, conf ...func(*Config)) *testCluster {
	c := &testCluster{t: t, conf: func(*Config) {}, clk: testutil.NewClock(), peers: map[string]string{}, dirs: map[string]string{}, nodes: map[string]*Node{}}
	if len(conf) > 0 {
		c.conf = conf[0]
	}
	for i := range size {
		id := fmt.Sprint("n", i+1)
		c.peers[id] = freeAddr(t)
		c.dirs[id] = t.TempDir()
	}
	for id := range c.peers {
		c.start(id)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			_ = n.Close()
		}
	})
	return c
}

func (c *testCluster) start(id string) {
	c.t.Helper()
	cfg := Config{
		NodeID: id, RaftAddr: c.peers[id], Peers: c.peers, Dir: filepath.Join(c.dirs[id], "raft"),
		ClientAddr:       "client-" + id,
		Logger:           slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
	}
	c.conf(&cfg)
	n, err := Open(cfg, filepath.Join(c.dirs[id], "data"), &epochdb.Options{Clock: c.clk, EventLog: true})
	testutil.Must(c.t, err)
	c.nodes[id] = n
}

func (c *testCluster) stop(id string) {
	c.t.Helper()
	testutil.Must(c.t, c.nodes[id].Close())
	delete(c.nodes, id)
}

// leader waits for a node that accepts writes.
func (c *testCluster) leader() *Node {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if n.Leader() {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no leader within 20s")
	return nil
}

// converged waits until every running node holds what the leader holds:
// the same live keys, the same count of stored keys (expired ones not yet
// removed included) and the same event log. The leader's view is read
// again each time: reads it tracked reach the store (and the others) with
// its next flush.
func (c *testCluster) converged(leader *Node) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range c.nodes {
		for {
			want := contents(c.t, leader.DB())
			if slices.Equal(contents(c.t, n.DB()), want) && n.DB().Len() == leader.DB().Len() &&
				n.DB().LastEventSeq() == leader.DB().LastEventSeq() {
				break
			}
			if time.Now().After(deadline) {
				got := contents(c.t, n.DB())
				var diff []string
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						diff = append(diff, got[i]+" vs the leader's "+want[i])
					}
				}
				c.t.Fatalf("node %s did not converge: %d live keys, %d stored, events to %d; the leader %d, %d, %d; %v",
					n.ID(), len(got), n.DB().Len(), n.DB().LastEventSeq(),
					len(want), leader.DB().Len(), leader.DB().LastEventSeq(), diff)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func contents(t testing.TB, db *epochdb.DB) []string {
	t.Helper()
	for {
		var out []string
		err := db.Scan(epochdb.ScanOptions{}, func(k, v []byte, md epochdb.Metadata) error {
			out = append(out, fmt.Sprintf("%s=%s@%d/%d/%d", k, v, md.CreatedAt.UnixMilli(), md.ExpiresAt.UnixMilli(), md.Frequency))
			return nil
		})
		if errors.Is(err, epochdb.ErrInstallingImage) { // a snapshot being installed: in a moment
			time.Sleep(5 * time.Millisecond)
			continue
		}
		testutil.Must(t, err)
		return out
	}
}

// Three nodes: writes on the leader reach every node, a follower refuses
// writes, the leader's death elects another that has every acknowledged
// write and takes new ones, and the old leader rejoins and catches up.
func TestCluster_ReplicatesAndFailsOver(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	var acked []string
	for i := range 100 {
		k := fmt.Sprint("k", i)
		testutil.Must(t, l.DB().Set([]byte(k), []byte(k), time.Duration(i%3)*time.Minute))
		acked = append(acked, k)
	}
	_, err := l.DB().IncrementFrequency([]byte("k1"))
	testutil.Must(t, err)
	testutil.Must(t, l.DB().Update(func(tx *epochdb.Tx) error { return tx.Set([]byte("tx"), []byte("v"), 0) }))
	c.converged(l)

	for _, n := range c.nodes {
		if n != l {
			if err := n.DB().Set([]byte("x"), []byte("y"), 0); !errors.Is(err, epochdb.ErrNotLeader) {
				t.Fatalf("a write on follower %s: %v, want ErrNotLeader", n.ID(), err)
			}
			if id, addr := n.LeaderInfo(); id != l.ID() || addr != "client-"+l.ID() {
				t.Fatalf("follower %s sees leader %q at %q", n.ID(), id, addr)
			}
		}
	}

	// Expiry is the leader's decision, replicated with its events.
	c.clk.Advance(2 * time.Minute)
	deadline := time.Now().Add(20 * time.Second)
	for l.DB().Len() > 35 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.converged(l)
	testutil.Must(t, l.DB().SyncEvents())
	levs, _, err := l.DB().ReadEvents(0, 1000)
	testutil.Must(t, err)
	if len(levs) == 0 {
		t.Fatal("no expiry events on the leader")
	}
	for _, n := range c.nodes {
		evs, _, err := n.DB().ReadEvents(0, 1000)
		testutil.Must(t, err)
		if len(evs) != len(levs) || evs[len(evs)-1].Seq != levs[len(levs)-1].Seq {
			t.Fatalf("node %s has %d events, the leader %d", n.ID(), len(evs), len(levs))
		}
	}

	old := l.ID()
	c.stop(old)
	start := time.Now()
	l = c.leader()
	t.Logf("failover: %v to a new leader (%s)", time.Since(start), l.ID())
	for _, k := range acked {
		v, err := l.DB().Get([]byte(k))
		if errors.Is(err, epochdb.ErrNotFound) {
			continue // expired, a replicated decision
		}
		testutil.Must(t, err)
		if string(v) != k {
			t.Fatalf("%s = %q on the new leader", k, v)
		}
	}
	if _, err := l.DB().Get([]byte("tx")); err != nil {
		t.Fatalf("the transaction's write is missing on the new leader: %v", err)
	}
	testutil.Must(t, l.DB().Set([]byte("after"), []byte("failover"), 0))

	c.start(old) // rejoins from its own log and store
	c.converged(c.leader())
	if v, err := c.nodes[old].DB().Get([]byte("after")); err != nil || string(v) != "failover" {
		t.Fatalf("the rejoined node lacks the write made while it was down: %q %v", v, err)
	}
	r, err := c.nodes[old].DB().Check()
	testutil.Must(t, err)
	if len(r.Problems) > 0 {
		t.Fatalf("rejoined node's Check: %v", r.Problems)
	}
}

// testWriter logs to the test (warnings and errors of the nodes).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// With TLS and a shared secret, the cluster works, and a connection that
// does not prove the secret never reaches raft: a node with another
// secret gets no entries.
func TestCluster_TLSAndSecret(t *testing.T) {
	cert, key, pool := testutil.SelfSigned(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(cert, key)
	testutil.Must(t, err)
	secure := func(secret string) func(*Config) {
		return func(cfg *Config) {
			cfg.Secret = []byte(secret)
			cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS13}
			cfg.ClientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
		}
	}
	c := newCluster(t, 3, secure("s3cret"))
	l := c.leader()
	testutil.Must(t, l.DB().Set([]byte("k"), []byte("v"), 0))
	c.converged(l)

	// An intruder that speaks TLS but not the secret: its connection is
	// closed after the challenge, and the cluster carries on.
	conn, err := tls.Dial("tcp", c.peers[l.ID()], &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	testutil.Must(t, err)
	var nonce [32]byte
	_, err = io.ReadFull(conn, nonce[:])
	testutil.Must(t, err)
	_, _ = conn.Write(make([]byte, 32))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection with a wrong answer was kept open")
	}
	_ = conn.Close()

	// A fourth node with the wrong secret, joined to the configuration,
	// never receives the log.
	id := "n4"
	c.peers[id], c.dirs[id] = freeAddr(t), t.TempDir()
	c.conf = secure("wrong")
	c.start(id)
	testutil.Must(t, l.raft.AddVoter("n4", raft.ServerAddress(c.peers[id]), 0, time.Second).Error())
	testutil.Must(t, l.DB().Set([]byte("k2"), []byte("v"), 0))
	// k2 was committed by a quorum that n4 would be part of by now, had
	// it been let in: every node with the secret has it.
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range c.nodes {
		for n.ID() != id && n.DB().Len() != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("node %s did not get k2", n.ID())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := c.nodes[id].DB().Len(); n != 0 {
		t.Fatalf("the node with the wrong secret holds %d keys", n)
	}
	testutil.Must(t, l.raft.RemoveServer("n4", 0, time.Second).Error())
}

func TestCluster_RefusesNonLoopbackWithoutSecret(t *testing.T) {
	_, err := Open(Config{NodeID: "n1", RaftAddr: "0.0.0.0:0", Dir: t.TempDir()}, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "without a shared secret") {
		t.Fatalf("Open on 0.0.0.0 without a secret: %v", err)
	}
}

// A write the leader appended to its log but could not commit before it
// lost the leadership may still be committed by the next leader: its
// error is an unknown outcome, never ErrNotLeader (which says the write
// did not happen, and which the server answers with READONLY, a reply
// clients retry on their own). A write refused before the log is
// ErrNotLeader.
func TestCluster_LostLeadershipIsAnUnknownOutcome(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	testutil.Must(t, l.DB().Set([]byte("before"), []byte("v"), 0))
	for id := range c.peers {
		if id != l.ID() {
			c.stop(id)
		}
	}
	// Raft appends the entry, finds no quorum and steps down after its
	// lease.
	err := l.DB().Set([]byte("k"), []byte("v"), 0)
	if !errors.Is(err, epochdb.ErrOutcomeUnknown) || errors.Is(err, epochdb.ErrNotLeader) {
		t.Fatalf("a write whose leader lost its quorum after appending it: %v, want ErrOutcomeUnknown", err)
	}
	// Now a follower (or a candidate), the node refuses writes outright.
	if err := l.DB().Set([]byte("k2"), []byte("v"), 0); !errors.Is(err, epochdb.ErrNotLeader) {
		t.Fatalf("a write on a node that no longer leads: %v, want ErrNotLeader", err)
	}
}

func TestProposalError(t *testing.T) {
	for _, c := range []struct {
		err     error
		unknown bool
	}{
		{raft.ErrNotLeader, false},
		{raft.ErrLeadershipTransferInProgress, false},
		{raft.ErrEnqueueTimeout, false},
		{raft.ErrLeadershipLost, true},
		{raft.ErrRaftShutdown, true},
		{errNoAnswer, true},
		{errors.New("failed to store logs"), true},
	} {
		got := proposalError(c.err)
		if errors.Is(got, epochdb.ErrOutcomeUnknown) != c.unknown || errors.Is(got, ErrNotLeader) == c.unknown {
			t.Errorf("proposalError(%v) = %v; unknown outcome wanted: %v", c.err, got, c.unknown)
		}
	}
}
