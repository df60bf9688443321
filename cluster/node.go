// Package cluster replicates an EpochDB store across machines on
// hashicorp/raft: every write is a batch built by the leader's DB under
// the locks of its keys, committed to the raft log (fsynced on a quorum)
// and applied by every node in log order, so that all nodes hold the same
// store. See the package epochdb's Replicator and ApplyCommitted, and the
// "Replication" part of docs/ARCHITECTURE.md.
package cluster

import (
	"cmp"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Config configures a Node.
type Config struct {
	// NodeID names this node in the cluster; unique, stable across
	// restarts.
	NodeID string
	// RaftAddr is the address raft listens on and the other nodes reach
	// this one at (host:port).
	RaftAddr string
	// Peers are the initial members, by ID, with their raft addresses,
	// this node included. They bootstrap the cluster the first time its
	// nodes start (every node must be given the same Peers); afterwards
	// membership lives in the raft log.
	Peers map[string]string
	// Dir holds the node's raft state (log, snapshots); the store's
	// directory is given to Open separately.
	Dir string
	// ClientAddr is the address clients reach this node's server at; the
	// leader publishes its own so that followers can send writes to it.
	ClientAddr string
	// Logger receives the node's and raft's messages. The default discards
	// them.
	Logger *slog.Logger
	// Secret, if set, must be proven by every raft connection (an HMAC
	// challenge) before raft reads from it: the nodes of a cluster share
	// it. Required on a non-loopback RaftAddr.
	Secret []byte
	// TLS, if set, encrypts raft's traffic: the server side of accepted
	// connections, and ClientTLS the dialling side (its RootCAs and
	// ServerName verifying the peers).
	TLS, ClientTLS *tls.Config
	// Timing, for tests; zero values take raft's defaults.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration

	// QuorumReads makes every linearizable read confirm the leadership
	// with a quorum round trip (the read index rule). By default the
	// leader reads under a lease instead: while a majority accepted a
	// heartbeat it sent within the last half heartbeat timeout, no other
	// node can be elected (see Node.VerifyLeader), so it reads its store
	// at once. The lease trusts the machines' clocks to run at rates
	// within a factor of two of each other.
	QuorumReads bool

	// SnapshotThreshold is how many log entries since the last snapshot
	// make the node take a snapshot of its store and compact its log; it
	// checks every SnapshotInterval (with jitter). TrailingLogs entries
	// are kept behind a snapshot, so that a follower a little behind
	// catches up from the log rather than a whole snapshot. Zero values
	// mean 8192 entries, 2 minutes and 10240 entries.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
}

// Defaults of Config's snapshot settings.
const (
	DefaultSnapshotThreshold = 8192
	DefaultSnapshotInterval  = 2 * time.Minute
	DefaultTrailingLogs      = 10240
)

// Node is one member of a replicated EpochDB: a store whose writes go
// through raft.
type Node struct {
	cfg   Config
	db    *epochdb.DB
	raft  *raft.Raft
	logs  *logStore
	trans *confirmTransport
	log   *slog.Logger

	ready     atomic.Bool   // leader, and every earlier entry applied
	readyTerm atomic.Uint64 // the term ready was set in
	lease     time.Duration // how long a heartbeat a majority accepted lets the leader read (0: QuorumReads)

	seq     atomic.Uint64 // numbers this node's proposals
	pendMu  sync.Mutex
	pending map[uint64]chan error // proposals awaited by this node's writers

	proposals rounds[proposal]   // batches waiting to be proposed (proposeRounds)
	verifies  rounds[chan error] // callers waiting for a leadership check (verifyRounds)

	leaderMu     sync.Mutex
	leaderID     string // as published by the leader (entryLeader)
	leaderClient string

	met snapMetrics

	done chan struct{}
	wg   sync.WaitGroup
}

// Entry kinds in the raft log.
const (
	entryBatch   byte = 1 // a store batch: proposer, sequence, Pebble batch
	entryBatches byte = 3 // store batches: proposer, count, then each one's sequence, length and batch
	entryLeader  byte = 2 // the leader's ID and client address
)

// logCacheSize is how many of the newest log entries a node keeps in
// memory for replication.
const logCacheSize = 4096

// applyTimeout bounds how long a write waits for its entry to commit.
const applyTimeout = 10 * time.Second

// ErrNotLeader is returned by writes on a node that does not lead.
var ErrNotLeader = epochdb.ErrNotLeader

// Open opens the store in dbDir with opts (its Replicator set to the node)
// and starts the node's raft. The store is readable at once; it accepts
// writes once this node is elected leader and has applied the log.
func Open(cfg Config, dbDir string, opts *epochdb.Options) (*Node, error) {
	if cfg.NodeID == "" || cfg.RaftAddr == "" || cfg.Dir == "" {
		return nil, errors.New("cluster: NodeID, RaftAddr and Dir are required")
	}
	if _, ok := cfg.Peers[cfg.NodeID]; !ok && len(cfg.Peers) > 0 {
		return nil, fmt.Errorf("cluster: Peers does not list this node (%s)", cfg.NodeID)
	}
	opened := time.Now()
	n := &Node{cfg: cfg, pending: map[uint64]chan error{}, done: make(chan struct{}), log: cfg.Logger}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	var o epochdb.Options
	if opts != nil {
		o = *opts
	}
	o.Replicator = n
	db, err := epochdb.Open(dbDir, &o)
	if err != nil {
		return nil, err
	}
	n.db = db
	if err := n.startRaft(opened); err != nil {
		_ = db.Close()
		n.closeRaftStores()
		return nil, err
	}
	n.wg.Add(2)
	go n.watchLeadership()
	go n.syncLoop()
	return n, nil
}

func (n *Node) startRaft(opened time.Time) error {
	if err := os.MkdirAll(n.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	logs, err := openLogStore(filepath.Join(n.cfg.Dir, "raft-log"), n.relaxLogSync)
	if err != nil {
		return err
	}
	n.logs = logs
	snaps, err := raft.NewFileSnapshotStoreWithLogger(n.cfg.Dir, 2, n.hclog())
	if err != nil {
		return fmt.Errorf("cluster: snapshot store: %w", err)
	}
	addr, err := net.ResolveTCPAddr("tcp", n.cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("cluster: raft address %q: %w", n.cfg.RaftAddr, err)
	}
	if len(n.cfg.Secret) == 0 && (addr.IP == nil || !addr.IP.IsLoopback()) {
		return fmt.Errorf("cluster: refusing raft on %s without a shared secret (Secret)", n.cfg.RaftAddr)
	}
	if (n.cfg.TLS == nil) != (n.cfg.ClientTLS == nil) {
		return errors.New("cluster: TLS and ClientTLS go together")
	}
	stream, err := newStreamLayer(n.cfg.RaftAddr, addr, n.cfg.Secret, n.cfg.TLS, n.cfg.ClientTLS)
	if err != nil {
		return fmt.Errorf("cluster: raft transport on %s: %w", n.cfg.RaftAddr, err)
	}
	trans := newConfirmTransport(raft.NewNetworkTransportWithLogger(stream, 3, 10*time.Second, n.hclog()))
	n.trans = trans

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.Logger = n.hclog()
	// Snapshots are images of the store (snapshot.go). At start raft hands
	// the state machine its newest one, which the store, persistent and
	// holding its applied index, skips unless it is behind it.
	rc.SnapshotThreshold = cmp.Or(n.cfg.SnapshotThreshold, DefaultSnapshotThreshold)
	rc.SnapshotInterval = cmp.Or(n.cfg.SnapshotInterval, DefaultSnapshotInterval)
	rc.TrailingLogs = cmp.Or(n.cfg.TrailingLogs, DefaultTrailingLogs)
	if n.cfg.HeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	}
	if n.cfg.ElectionTimeout > 0 {
		rc.ElectionTimeout = n.cfg.ElectionTimeout
	}
	if n.cfg.LeaderLeaseTimeout > 0 {
		rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	}
	if !n.cfg.QuorumReads {
		n.lease = rc.HeartbeatTimeout / 2
	}
	existing, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if !existing && len(n.cfg.Peers) > 0 {
		var servers []raft.Server
		for id, a := range n.cfg.Peers {
			servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(a)})
		}
		sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
		if err := raft.BootstrapCluster(rc, logs, logs, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			return fmt.Errorf("cluster: bootstrap: %w", err)
		}
	}
	// A node that restarts has forgotten which leader it followed, and
	// would vote for anyone at once: the heartbeats it accepted before it
	// stopped may still hold up the leader's lease. It joins the election
	// only once those leases are over.
	time.Sleep(time.Until(opened.Add(n.lease)))
	// The newest entries stay in memory: replication reads each entry it
	// sends back from the log store, a Pebble seek apiece otherwise.
	cached, err := raft.NewLogCache(logCacheSize, logs)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	r, err := raft.NewRaft(rc, (*fsm)(n), cached, logs, snaps, trans)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.raft = r
	r.RegisterObserver(raft.NewObserver(nil, false, n.met.countLeaders))
	return nil
}

func (n *Node) hclog() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{n.log}})
}

// DB returns the node's store. Reads on it see what this node applied;
// writes succeed on the leader only (ErrNotLeader elsewhere).
func (n *Node) DB() *epochdb.DB { return n.db }

// ID returns the node's ID.
func (n *Node) ID() string { return n.cfg.NodeID }

// Leader reports whether this node leads and has applied the whole log, so
// that its writes go through (epochdb.Replicator): ready, and still in the
// term it became ready in (raft's notifications of leadership changes
// keep only the latest, so a leadership lost and won again might not be
// seen by watchLeadership).
func (n *Node) Leader() bool {
	return n.ready.Load() && n.raft.CurrentTerm() == n.readyTerm.Load()
}

// LeaderInfo returns the ID and client address the current leader
// published ("" while unknown).
func (n *Node) LeaderInfo() (id, clientAddr string) {
	_, rid := n.raft.LeaderWithID()
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	if string(rid) != n.leaderID {
		return string(rid), "" // elected, not yet published (or none)
	}
	return n.leaderID, n.leaderClient
}

// State is raft's view of this node: Leader, Follower, Candidate.
func (n *Node) State() string { return n.raft.State().String() }

// Stats returns raft's counters (commit_index, applied_index, term, …)
// and the node's own: apply_lag, first_log_index, leader_changes,
// snapshots, snapshot_failures, last_snapshot_duration,
// snapshot_restores, snapshot_restore_failures,
// last_snapshot_restore_duration.
func (n *Node) Stats() map[string]string {
	st := n.raft.Stats()
	m := n.Metrics()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	st["apply_lag"] = u(m.ApplyLag())
	st["first_log_index"] = u(m.FirstLogIndex)
	st["leader_changes"] = u(m.LeaderChanges)
	st["snapshots"] = u(m.Snapshots)
	st["snapshot_failures"] = u(m.SnapshotFailures)
	st["last_snapshot_duration"] = m.LastSnapshotDuration.String()
	st["snapshot_restores"] = u(m.Restores)
	st["snapshot_restore_failures"] = u(m.RestoreFailures)
	st["last_snapshot_restore_duration"] = m.LastRestoreDuration.String()
	return st
}

// Snapshot takes a snapshot now and compacts the log behind it (keeping
// TrailingLogs entries), as raft does by itself every SnapshotThreshold
// entries.
func (n *Node) Snapshot() error {
	if err := n.await(n.raft.Snapshot()); err != nil {
		return fmt.Errorf("cluster: snapshot: %w", err)
	}
	return nil
}

// VerifyLeader confirms that this node still leads, so that a read of its
// store served after it is linearizable: under the lease, at once; else by
// a round trip to a quorum.
//
// The lease: a follower that accepted a heartbeat refuses to vote for
// another candidate for a whole heartbeat timeout after it (raft's leader
// stickiness; its own election timer does not fire either). So while a
// majority accepted heartbeats this leader sent within the last half
// heartbeat timeout, every majority that could elect another leader
// includes one of them, none of which votes yet: no other leader exists,
// nor any write this node has not applied. A node that restarts forgot
// whom it followed, and waits a lease before its raft starts (Open).
func (n *Node) VerifyLeader() error {
	if !n.Leader() {
		return ErrNotLeader
	}
	if n.leaseHolds() {
		return nil
	}
	if err := n.verify(); err != nil {
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	return nil
}

// verify confirms the leadership with a quorum in a round that starts
// after the call: concurrent callers share rounds (one in flight, the
// callers that arrive meanwhile wait for the next one), as ReadIndex
// implementations batch their reads, so that a read costs one quorum
// round trip however many readers there are.
func (n *Node) verify() error {
	ch := make(chan error, 1)
	if n.verifies.add(ch) {
		go n.verifyRounds() // ends with the last caller (await ends at Close)
	}
	select {
	case err := <-ch:
		return err
	case <-n.done:
		return raft.ErrRaftShutdown
	}
}

// rounds queues work for a goroutine that takes it in rounds: the caller
// that queues first starts the goroutine, and it ends when it finds the
// queue empty (the next caller starts another).
type rounds[T any] struct {
	mu      sync.Mutex
	running bool
	queue   []T
}

// add queues x and reports whether the caller must start the goroutine.
func (r *rounds[T]) add(x T) (start bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, x)
	start = !r.running
	r.running = true
	return start
}

// next takes what is queued; nothing means the goroutine must end.
func (r *rounds[T]) next() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queue
	r.queue = nil
	if len(q) == 0 {
		r.running = false
	}
	return q
}

// verifyRounds runs leadership checks while callers wait for one, each for
// the callers that were waiting when it started.
func (n *Node) verifyRounds() {
	for {
		batch := n.verifies.next()
		if len(batch) == 0 {
			return
		}
		err := n.confirmLeadership(time.Now())
		for _, ch := range batch {
			ch <- err
		}
	}
}

// confirmLeadership confirms that this node led, in the term it became
// ready in, until some moment after start: raft's leadership check (which
// also sends every follower a heartbeat at once), then, if raft counted a
// reply to a heartbeat sent before start, the replies to those newer
// heartbeats (see confirmTransport).
func (n *Node) confirmLeadership(start time.Time) error {
	term := n.readyTerm.Load()
	if err := n.await(n.raft.VerifyLeader()); err != nil {
		return err
	}
	deadline := time.NewTimer(applyTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(confirmPoll)
	defer poll.Stop()
	for {
		if !n.ready.Load() || n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
			return raft.ErrNotLeader
		}
		voters, err := n.voters()
		if err != nil {
			return err
		}
		ok, changed := n.trans.confirmed(raft.ServerID(n.cfg.NodeID), voters, term, start)
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-poll.C:
		case <-deadline.C:
			return errNoAnswer
		case <-n.done:
			return raft.ErrRaftShutdown
		}
	}
}

// leaseHolds reports whether this node reads under its lease now.
func (n *Node) leaseHolds() bool {
	if n.lease == 0 || n.raft.State() != raft.Leader {
		return false
	}
	voters, err := n.voters()
	if err != nil {
		return false
	}
	ok, _ := n.trans.confirmed(raft.ServerID(n.cfg.NodeID), voters, n.readyTerm.Load(), time.Now().Add(-n.lease))
	return ok
}

// confirmPoll is how often confirmLeadership, waiting for heartbeat
// replies, checks that the node still leads.
const confirmPoll = 20 * time.Millisecond

// voters returns the IDs of the voters in raft's latest configuration.
func (n *Node) voters() ([]raft.ServerID, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []raft.ServerID
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, s.ID)
		}
	}
	return out, nil
}

// Member is a node of the cluster's configuration. (An alias of a plain
// struct, so that the server package can name the same type without
// importing this one.)
type Member = struct {
	ID, RaftAddr string
	Voter        bool
}

// Members returns the cluster's current configuration.
func (n *Node) Members() ([]Member, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Member
	for _, s := range f.Configuration().Servers {
		out = append(out, Member{ID: string(s.ID), RaftAddr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// Join adds a node (its ID and raft address) to the cluster as a voter. It
// runs on the leader; the new node catches up from the leader's latest
// snapshot, if the log was compacted past its start, then the log.
func (n *Node) Join(id, raftAddr string) error {
	if n.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, applyTimeout).Error()
}

// Remove takes a node out of the cluster. It runs on the leader.
func (n *Node) Remove(id string) error {
	if n.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return n.raft.RemoveServer(raft.ServerID(id), 0, applyTimeout).Error()
}

// Replicate commits a store batch to the raft log (epochdb.Replicator).
// The batches of concurrent writers go into one log entry (see propose).
func (n *Node) Replicate(repr []byte) error {
	if !n.Leader() {
		return ErrNotLeader
	}
	seq := n.seq.Add(1)
	ch := make(chan error, 1)
	n.addPending(seq, ch)
	if err := n.propose(seq, repr); err != nil {
		_, mine := n.claim(seq)
		if mine { // not applied here
			return proposalError(err)
		}
		// Applied meanwhile, as this node's own entry: its result stands.
	}
	return <-ch
}

// proposal is a batch waiting to be proposed, and where its entry's
// outcome goes.
type proposal struct {
	seq  uint64
	repr []byte
	done chan error
}

// propose puts the batch seq into the raft log and returns raft's verdict
// on the entry that carries it (nil: committed and applied). Proposals
// are merged as group commits are: one goroutine hands raft an entry at a
// time, with every batch queued meanwhile, so that many writers cost raft
// one entry (one handoff, one encoding, one log record on every node).
func (n *Node) propose(seq uint64, repr []byte) error {
	done := make(chan error, 1)
	if n.proposals.add(proposal{seq: seq, repr: repr, done: done}) {
		go n.proposeRounds()
	}
	// Always answered, within raft's enqueue timeout and await's bound:
	// until then proposeRounds may still read repr.
	return <-done
}

// proposeRounds proposes the queued batches, one entry at a time, while
// there are some; each entry's outcome is awaited apart, so that the next
// entry need not wait for the last one's commit.
func (n *Node) proposeRounds() {
	for {
		q := n.proposals.next()
		if len(q) == 0 {
			return
		}
		f := n.raft.Apply(encodeBatches(n.cfg.NodeID, q), applyTimeout)
		go func() {
			err := n.await(f)
			for _, p := range q {
				p.done <- err
			}
		}()
	}
}

// proposalError is the error of a proposal raft did not report applied:
// ErrNotLeader only when raft refused it before appending it to the log
// (the write certainly did not happen, and may be sent to the leader);
// otherwise the entry may be in the logs of other nodes and be committed
// by the next leader (raft's ErrLeadershipLost), or raft did not answer:
// epochdb.ErrOutcomeUnknown.
func proposalError(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipTransferInProgress) ||
		errors.Is(err, raft.ErrEnqueueTimeout) {
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	return fmt.Errorf("%w (%v)", epochdb.ErrOutcomeUnknown, err)
}

// errNoAnswer is await's error when raft did not resolve a future in time.
var errNoAnswer = fmt.Errorf("cluster: no answer from raft within %v", 2*applyTimeout)

// await waits for f, or for the node to close, or at most twice the apply
// timeout: raft does not resolve a future still queued when it shuts down
// (nor, it was seen, a leadership check on a node that lost the
// leadership), and a writer waiting on one would hold its keys' locks, and
// the store's Close, for ever.
func (n *Node) await(f raft.Future) error {
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	t := time.NewTimer(2 * applyTimeout) // a deposed leader may not resolve it either
	defer t.Stop()
	select {
	case err := <-errc:
		return err
	case <-n.done:
		return raft.ErrRaftShutdown
	case <-t.C:
		return errNoAnswer
	}
}

// addPending registers this node's proposal seq, awaited on ch.
func (n *Node) addPending(seq uint64, ch chan error) {
	n.pendMu.Lock()
	defer n.pendMu.Unlock()
	n.pending[seq] = ch
}

// claim takes the proposal seq of this node, if a writer still awaits it.
func (n *Node) claim(seq uint64) (chan error, bool) {
	n.pendMu.Lock()
	defer n.pendMu.Unlock()
	ch, ok := n.pending[seq]
	delete(n.pending, seq)
	return ch, ok
}

// watchLeadership marks the node ready once it leads and has applied every
// earlier entry (raft's barrier), and publishes its client address.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case isLeader := <-n.raft.LeaderCh():
			if !isLeader {
				n.ready.Store(false)
				continue
			}
			// The term is read before the barrier and checked after it:
			// the barrier then ran in the term ready is set for.
			term := n.raft.CurrentTerm()
			if err := n.await(n.raft.Barrier(applyTimeout)); err != nil {
				n.log.Warn("cluster: barrier after election failed", "err", err)
				continue
			}
			data := appendString([]byte{entryLeader}, n.cfg.NodeID)
			data = appendString(data, n.cfg.ClientAddr)
			if err := n.await(n.raft.Apply(data, applyTimeout)); err != nil {
				n.log.Warn("cluster: publishing the leader's address failed", "err", err)
				continue
			}
			if n.raft.State() == raft.Leader && n.raft.CurrentTerm() == term {
				n.readyTerm.Store(term)
				n.ready.Store(true)
				n.log.Info("cluster: leading", "node", n.cfg.NodeID)
			}
		}
	}
}

// Close stops the node: raft, then the store.
func (n *Node) Close() error {
	select {
	case <-n.done:
		return nil
	default:
	}
	close(n.done)
	n.ready.Store(false)
	var errs []error
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	n.wg.Wait()
	errs = append(errs, n.db.Close())
	n.closeRaftStores()
	return errors.Join(errs...)
}

// relaxLogSync says whether the raft log's fsyncs may be put off (not
// with appendfsync always) and for how long at most: half the store's sync
// interval, as the store syncs its own log, so that an append is durable
// within the interval (a second without periodic sync).
func (n *Node) relaxLogSync() (bool, time.Duration) {
	st := n.db.Settings()
	return !st.SyncWrites, logSyncEvery(st.SyncInterval)
}

func logSyncEvery(interval time.Duration) time.Duration {
	if interval <= 0 {
		return time.Second
	}
	return interval / 2
}

// syncLoop fsyncs the raft log every half sync interval if an fsync was
// put off meanwhile (appendfsync everysec and no: relaxLogSync), so that
// the last appends before a quiet spell are durable too; at Close, once
// more.
func (n *Node) syncLoop() {
	defer n.wg.Done()
	for {
		interval := logSyncEvery(n.db.Settings().SyncInterval)
		select {
		case <-n.done:
			return
		case <-time.After(interval):
		}
		if err := n.logs.sync(); err != nil {
			n.log.Error("cluster: syncing the raft log failed", "err", err)
		}
	}
}

func (n *Node) closeRaftStores() {
	if n.logs != nil {
		if err := n.logs.sync(); err != nil {
			n.log.Error("cluster: syncing the raft log failed", "err", err)
		}
	}
	if n.trans != nil {
		_ = n.trans.Close()
	}
	if n.logs != nil {
		_ = n.logs.Close()
	}
}

// fsm is the node as raft's state machine.
type fsm Node

func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries (raft.BatchingFSM): each run of
// store batches in one store commit (DB.ApplyCommittedBatch), so that a
// node applies what raft committed together at the cost of one write,
// and releases the writers waiting for its own entries together.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	n := (*Node)(f)
	out := make([]any, len(logs))
	var entries []epochdb.Committed
	var at []int             // each entry's position in logs
	var waiting []chan error // each entry's local writer (nil for the others)
	flush := func() {
		if len(entries) == 0 {
			return
		}
		errs := n.db.ApplyCommittedBatch(entries)
		for i, err := range errs {
			if err != nil {
				n.log.Error("cluster: applying a committed entry failed", "index", entries[i].Index, "err", err)
				out[at[i]] = err
			}
			if waiting[i] != nil {
				waiting[i] <- err
			}
		}
		entries, at, waiting = entries[:0], at[:0], waiting[:0]
	}
	add := func(i int, l *raft.Log, proposer string, seq uint64, repr []byte) {
		var ch chan error
		local := false
		if proposer == n.cfg.NodeID {
			ch, local = n.claim(seq)
		}
		entries = append(entries, epochdb.Committed{Index: l.Index, Repr: repr, Local: local})
		at = append(at, i)
		waiting = append(waiting, ch)
	}
	for i, l := range logs {
		if l.Type != raft.LogCommand || len(l.Data) == 0 || l.Data[0] != entryBatch && l.Data[0] != entryBatches {
			flush()
			out[i] = f.applyOther(l)
			continue
		}
		proposer, rest, ok := readString(l.Data[1:])
		if ok && l.Data[0] == entryBatch && len(rest) >= 8 {
			add(i, l, proposer, binary.BigEndian.Uint64(rest), rest[8:])
			continue
		}
		// Several batches in one entry: all of them go into the run, so
		// that the entry applies whole.
		var batches []proposal
		if ok && l.Data[0] == entryBatches {
			batches, ok = decodeBatches(rest)
		}
		if !ok {
			flush()
			out[i] = fmt.Errorf("cluster: malformed entry %d", l.Index)
			continue
		}
		for _, b := range batches {
			add(i, l, proposer, b.seq, b.repr)
		}
	}
	flush()
	return out
}

// encodeBatches makes the entryBatches entry of proposer's batches q.
func encodeBatches(proposer string, q []proposal) []byte {
	size := 1 + 2*binary.MaxVarintLen64 + len(proposer)
	for _, p := range q {
		size += 8 + binary.MaxVarintLen64 + len(p.repr)
	}
	data := make([]byte, 0, size)
	data = append(data, entryBatches)
	data = appendString(data, proposer)
	data = binary.AppendUvarint(data, uint64(len(q)))
	for _, p := range q {
		data = binary.BigEndian.AppendUint64(data, p.seq)
		data = binary.AppendUvarint(data, uint64(len(p.repr)))
		data = append(data, p.repr...)
	}
	return data
}

// decodeBatches reads the batches of an entryBatches entry after its
// proposer.
func decodeBatches(b []byte) ([]proposal, bool) {
	count, w := binary.Uvarint(b)
	if w <= 0 || count > uint64(len(b)) {
		return nil, false
	}
	b = b[w:]
	out := make([]proposal, 0, count)
	for range count {
		if len(b) < 8 {
			return nil, false
		}
		seq := binary.BigEndian.Uint64(b)
		size, w := binary.Uvarint(b[8:])
		if w <= 0 || size > uint64(len(b)-8-w) {
			return nil, false
		}
		b = b[8+w:]
		out = append(out, proposal{seq: seq, repr: b[:size:size]})
		b = b[size:]
	}
	return out, len(b) == 0
}

// applyOther applies an entry that is not a store batch.
func (f *fsm) applyOther(l *raft.Log) any {
	n := (*Node)(f)
	if l.Type != raft.LogCommand || len(l.Data) == 0 {
		return nil
	}
	if l.Data[0] == entryLeader {
		id, rest, ok := readString(l.Data[1:])
		client, _, ok2 := readString(rest)
		if ok && ok2 {
			n.adoptLeader(id, client, true)
		}
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", nil, false
	}
	return string(b[w : w+int(n)]), b[w+int(n):], true
}

// slogWriter turns raft's log lines into slog records.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(string(p))
	return len(p), nil
}
