package server

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/epochdb/epochdb"
)

// Reads served by a follower (READONLY connections) count on the leader,
// where the lifecycle is decided: the follower's store hands the reads it
// tracked, aggregated per key every flush interval, to the server
// (epochdb.DB.SetReadSink), which sends them to the leader as EPOCH.READS
// over a connection of its own; the leader adds them to its own tracked
// reads (DB.AddReads), and its flush replicates them with its own.

// readsPerCommand bounds the keys of one EPOCH.READS.
const readsPerCommand = 512

// readForwarder is a server's link to the leader for tracked reads.
type readForwarder struct {
	srv *Server
	mu  sync.Mutex // serializes flushes; guards f
	f   *forwarder
}

// startReadForwarding makes a replicated server's store send its reads to
// the leader while it follows.
func (s *Server) startReadForwarding() {
	if s.Cluster == nil {
		return
	}
	rf := &readForwarder{srv: s}
	s.DB.SetReadSink(rf.send)
}

// stopReadForwarding stops it (shutdown): later reads are dropped.
func (s *Server) stopReadForwarding() {
	if s.Cluster != nil && s.DB != nil {
		s.DB.SetReadSink(nil)
	}
}

// send is the store's ReadSink: one EPOCH.READS per readsPerCommand keys.
func (rf *readForwarder) send(reads []epochdb.TrackedRead) error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	_, addr := rf.srv.Cluster.LeaderInfo()
	if addr == "" {
		return errors.New("no leader is known")
	}
	if rf.f != nil && rf.f.addr != addr {
		_ = rf.f.nc.Close()
		rf.f = nil
	}
	if rf.f == nil {
		f, err := rf.srv.dialLeader(addr)
		if err != nil {
			return err
		}
		rf.f = f
	}
	for len(reads) > 0 {
		n := min(len(reads), readsPerCommand)
		args := make([]string, 0, 1+3*n)
		args = append(args, "EPOCH.READS")
		for _, r := range reads[:n] {
			args = append(args, string(r.Key), strconv.FormatUint(r.Count, 10), strconv.FormatInt(r.Last.UnixMilli(), 10))
		}
		if err := rf.f.do(args...); err != nil {
			_ = rf.f.nc.Close()
			rf.f = nil
			return err
		}
		reads = reads[n:]
	}
	return nil
}

// cmdEpochReads is EPOCH.READS key count last-ms [key count last-ms ...]:
// reads another node of the cluster served, counted here (the leader).
// The keys are the store's own (a database's keys carry its number), not
// a client's. It replies with the number of keys counted (those live
// here).
func cmdEpochReads(c *Conn, cmd Command) {
	args := cmd.Args[1:]
	if len(args)%3 != 0 {
		c.WriteError(errSyntax)
		return
	}
	reads := make([]epochdb.TrackedRead, 0, len(args)/3)
	for i := 0; i < len(args); i += 3 {
		n, err1 := strconv.ParseUint(string(args[i+1]), 10, 64)
		ms, err2 := strconv.ParseInt(string(args[i+2]), 10, 64)
		if err1 != nil || err2 != nil {
			c.WriteError(errNotInteger)
			return
		}
		reads = append(reads, epochdb.TrackedRead{Key: args[i], Count: n, Last: time.UnixMilli(ms)})
	}
	n, err := c.srv.DB.AddReads(reads)
	if err != nil && !errors.Is(err, epochdb.ErrReadTrackingOff) {
		c.writeErr(err)
		return
	}
	c.WriteInt(int64(n))
}
