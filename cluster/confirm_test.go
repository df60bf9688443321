package cluster

import (
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/hashicorp/raft"
)

// The read index rule: a peer's acceptance counts for a check only if the
// request was sent in the check's term, at or after the check began.
func TestConfirmTransport_CountsOnlyRequestsSentSince(t *testing.T) {
	ct := newConfirmTransport(nil)
	voters := []raft.ServerID{"n1", "n2", "n3"}
	t0 := time.Unix(1000, 0)
	if ok, _ := ct.confirmed("n1", voters, 3, t0); ok {
		t.Fatal("confirmed with no acceptance noted")
	}
	_, changed := ct.confirmed("n1", voters, 3, t0)
	ct.note("n2", accepted{term: 3, sent: t0})
	select {
	case <-changed:
	default:
		t.Fatal("noting an acceptance did not signal the waiters")
	}
	for _, c := range []struct {
		term  uint64
		since time.Time
		want  bool
	}{
		{3, t0, true},                       // sent as the check began
		{3, t0.Add(-time.Second), true},     // after an earlier check
		{3, t0.Add(time.Nanosecond), false}, // sent before the check: proves nothing
		{4, t0, false},                      // another term
		{2, t0.Add(-time.Second), false},    // an older term
	} {
		if ok, _ := ct.confirmed("n1", voters, c.term, c.since); ok != c.want {
			t.Errorf("term %d since %v: confirmed %v, want %v", c.term, c.since.Sub(t0), ok, c.want)
		}
	}
	// An older acceptance (a reply arriving late) does not replace a newer.
	ct.note("n2", accepted{term: 3, sent: t0.Add(-time.Minute)})
	if ok, _ := ct.confirmed("n1", voters, 3, t0); !ok {
		t.Fatal("a late reply to an older request replaced the newer acceptance")
	}
	// Five voters need three: the leader and two peers.
	five := []raft.ServerID{"n1", "n2", "n3", "n4", "n5"}
	if ok, _ := ct.confirmed("n1", five, 3, t0); ok {
		t.Fatal("two of five confirmed")
	}
	ct.note("n5", accepted{term: 3, sent: t0.Add(time.Millisecond)})
	if ok, _ := ct.confirmed("n1", five, 3, t0); !ok {
		t.Fatal("three of five did not confirm")
	}
	// A leader that is not a voter (being removed) does not count itself.
	if ok, _ := ct.confirmed("n9", voters, 3, t0); ok {
		t.Fatal("a non-voter counted itself")
	}
}

// Raft's heartbeats go through the transport's notes: right after a
// leadership check, the leader holds a quorum of acceptances sent after it
// began; with both followers stopped, none newer comes and the check
// fails.
func TestCluster_LeadershipCheckUsesFreshHeartbeats(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.QuorumReads = true })
	l := c.leader()
	voters, err := l.voters()
	if err != nil || len(voters) != 3 {
		t.Fatalf("voters %v, %v", voters, err)
	}
	start := time.Now()
	if err := l.VerifyLeader(); err != nil {
		t.Fatalf("VerifyLeader on the leader: %v", err)
	}
	if ok, _ := l.trans.confirmed(raft.ServerID(l.ID()), voters, l.readyTerm.Load(), start); !ok {
		t.Fatal("no quorum of heartbeats sent since the check began was noted")
	}
	for id, n := range c.nodes {
		if n != l {
			c.stop(id)
		}
	}
	if err := l.VerifyLeader(); err == nil {
		t.Fatal("VerifyLeader passed with both followers stopped")
	}
}

// Under the lease, a healthy leader reads without a round trip: its
// followers accept its heartbeats continually. Once they stop, the lease
// runs out within half a heartbeat timeout and reads need (and fail) a
// quorum round.
func TestCluster_LeaseRunsOutWithoutFollowers(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	if l.lease == 0 {
		t.Fatal("no lease by default")
	}
	testutil.Eventually(t, "the leader's lease", l.leaseHolds)
	if err := l.VerifyLeader(); err != nil {
		t.Fatalf("VerifyLeader under the lease: %v", err)
	}
	for id, n := range c.nodes {
		if n != l {
			c.stop(id)
		}
	}
	testutil.Eventually(t, "the lease to run out", func() bool { return !l.leaseHolds() })
	if err := l.VerifyLeader(); err == nil {
		t.Fatal("VerifyLeader passed with both followers stopped and the lease over")
	}
}

// A node under QuorumReads has no lease.
func TestCluster_QuorumReadsHaveNoLease(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.QuorumReads = true })
	l := c.leader()
	if l.lease != 0 || l.leaseHolds() {
		t.Fatalf("lease %v under QuorumReads", l.lease)
	}
	if err := l.VerifyLeader(); err != nil {
		t.Fatalf("VerifyLeader of a single node: %v", err)
	}
}
