package cluster

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Metrics are a node's raft figures, for monitoring: see Node.Metrics.
// The cmd/epoch server exports them on /metrics as epochdb_raft_*.
type Metrics struct {
	State         string // Leader, Follower, Candidate or Shutdown
	Term          uint64
	CommitIndex   uint64 // the last entry known committed
	AppliedIndex  uint64 // the last entry handed to the store
	LastLogIndex  uint64
	FirstLogIndex uint64 // the oldest entry the log holds (compaction moves it up; 0: empty)
	// LastContact is the time since the leader was last heard from: 0 on
	// the leader, -1 if never.
	LastContact time.Duration
	// LeaderChanges counts the leaders this node has seen elected since it
	// started.
	LeaderChanges uint64

	LastSnapshotIndex, LastSnapshotTerm uint64 // raft's newest snapshot (0: none)
	Snapshots, SnapshotFailures         uint64 // snapshots this node took (and failed to) since it started
	LastSnapshotDuration                time.Duration
	LastSnapshotBytes                   int64
	Restores, RestoreFailures           uint64 // snapshots it installed (a leader's, or its own at start)
	LastRestoreDuration                 time.Duration
}

// ApplyLag is the number of committed entries not yet applied.
func (m Metrics) ApplyLag() uint64 {
	if m.CommitIndex < m.AppliedIndex {
		return 0
	}
	return m.CommitIndex - m.AppliedIndex
}

// snapMetrics counts snapshots taken and installed.
type snapMetrics struct {
	leaderChanges atomic.Uint64

	mu               sync.Mutex
	snapshots        uint64
	snapshotFailures uint64
	lastSnapshot     time.Duration
	lastSnapBytes    int64
	restores         uint64
	restoreFailures  uint64
	lastRestore      time.Duration
}

func (m *snapMetrics) snapshotDone(took time.Duration, size int64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.snapshotFailures++
		return
	}
	m.snapshots++
	m.lastSnapshot, m.lastSnapBytes = took, size
}

func (m *snapMetrics) restoreDone(took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.restoreFailures++
		return
	}
	m.restores++
	m.lastRestore = took
}

// countLeaders is raft's observer filter: it counts every leader elected
// (an observation naming one; losing one names none) and passes nothing
// on.
func (m *snapMetrics) countLeaders(o *raft.Observation) bool {
	if lo, ok := o.Data.(raft.LeaderObservation); ok && lo.LeaderID != "" {
		m.leaderChanges.Add(1)
	}
	return false
}

// Metrics returns the node's raft figures.
func (n *Node) Metrics() Metrics {
	r := n.raft
	m := Metrics{
		State:         r.State().String(),
		Term:          r.CurrentTerm(),
		CommitIndex:   r.CommitIndex(),
		AppliedIndex:  r.AppliedIndex(),
		LastLogIndex:  r.LastIndex(),
		LeaderChanges: n.met.leaderChanges.Load(),
		LastContact:   -1,
	}
	select {
	case <-n.done: // the log store is closed, or about to be
	default:
		if first, err := n.logs.FirstIndex(); err == nil {
			m.FirstLogIndex = first
		}
	}
	switch last := r.LastContact(); {
	case r.State() == raft.Leader:
		m.LastContact = 0
	case !last.IsZero():
		m.LastContact = time.Since(last)
	}
	st := r.Stats()
	m.LastSnapshotIndex, _ = strconv.ParseUint(st["last_snapshot_index"], 10, 64)
	m.LastSnapshotTerm, _ = strconv.ParseUint(st["last_snapshot_term"], 10, 64)
	n.met.mu.Lock()
	defer n.met.mu.Unlock()
	m.Snapshots, m.SnapshotFailures = n.met.snapshots, n.met.snapshotFailures
	m.LastSnapshotDuration, m.LastSnapshotBytes = n.met.lastSnapshot, n.met.lastSnapBytes
	m.Restores, m.RestoreFailures, m.LastRestoreDuration = n.met.restores, n.met.restoreFailures, n.met.lastRestore
	return m
}
