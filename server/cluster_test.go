package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/clock"
	"github.com/redis/go-redis/v9"
)

// fakeNode is the cluster membership a server routes by, without raft: a
// follower (leader false) that names leaderAddr as the leader's, or a
// leader.
type fakeNode struct {
	leader     bool
	leaderAddr string
}

func (f fakeNode) ID() string   { return "n1" }
func (f fakeNode) Leader() bool { return f.leader }
func (f fakeNode) LeaderInfo() (string, string) {
	if f.leader {
		return "n1", ""
	}
	return "n2", f.leaderAddr
}
func (f fakeNode) VerifyLeader() error               { return nil }
func (f fakeNode) State() string                     { return "Follower" }
func (f fakeNode) Stats() map[string]string          { return map[string]string{} }
func (f fakeNode) Members() ([]ClusterMember, error) { return nil, nil }
func (f fakeNode) Join(string, string) error         { return nil }
func (f fakeNode) Remove(string) error               { return nil }

// dyingLeader listens like a leader that takes the forwarder's set-up
// commands (HELLO, SELECT, AUTH), then reads the forwarded command and dies
// before it answers (the write may have been applied).
func dyingLeader(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					// A command: *n, then n bulk strings ($len, data).
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					var n int
					_, _ = fmt.Sscanf(line, "*%d", &n)
					var args []string
					for range n {
						if _, err := br.ReadString('\n'); err != nil {
							return
						}
						arg, err := br.ReadString('\n')
						if err != nil {
							return
						}
						args = append(args, strings.TrimSpace(arg))
					}
					if len(args) == 0 {
						return
					}
					switch strings.ToUpper(args[0]) {
					case "HELLO", "SELECT", "AUTH":
						_, _ = c.Write([]byte("+OK\r\n"))
					default:
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A follower whose forwarded write loses its reply cannot know whether the
// leader applied it: it must not answer TRYAGAIN (nothing happened, which
// clients retry on their own: an INCR would count twice) but an unknown
// outcome. A read, or a write that never reached the leader, is TRYAGAIN.
func TestCluster_ForwardedWriteWithLostReplyIsUnknown(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, func(s *Server) { s.Cluster = fakeNode{leaderAddr: dyingLeader(t)} })
	c := ts.client(t, func(o *redis.Options) { o.MaxRetries = -1 })
	err := c.Incr(ctx, "k").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "ERR outcome unknown") {
		t.Fatalf("INCR forwarded to a leader that died before answering: %v, want ERR outcome unknown", err)
	}
	if err := c.Get(ctx, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "TRYAGAIN") {
		t.Fatalf("GET forwarded to a leader that died before answering: %v, want TRYAGAIN", err)
	}

	// A leader that cannot be reached never saw the write.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	gone := ln.Addr().String()
	must(t, ln.Close())
	ts2 := startServer(t, func(s *Server) { s.Cluster = fakeNode{leaderAddr: gone} })
	c2 := ts2.client(t, func(o *redis.Options) { o.MaxRetries = -1 })
	if err := c2.Incr(ctx, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "TRYAGAIN") {
		t.Fatalf("INCR forwarded to an unreachable leader: %v, want TRYAGAIN", err)
	}
}

// flipNode is a fakeNode whose leadership can change.
type flipNode struct {
	fakeNode
	leads atomic.Bool
}

func (f *flipNode) Leader() bool { return f.leads.Load() }
func (f *flipNode) LeaderInfo() (string, string) {
	if f.leads.Load() {
		return "n1", ""
	}
	return "n2", f.leaderAddr
}

// A follower queues MULTI's commands and runs the transaction on the
// leader: MULTI, the commands and EXEC are forwarded together, and the
// replies are EXEC's, as on the leader.
func TestCluster_FollowerForwardsTransactions(t *testing.T) {
	ctx := context.Background()
	leader := startServer(t, func(s *Server) { s.Cluster = fakeNode{leader: true} })
	follower := startServer(t, func(s *Server) { s.Cluster = fakeNode{leaderAddr: leader.addr} })
	fc := follower.client(t, func(o *redis.Options) { o.MaxRetries = -1; o.DB = 2 })
	cmds, err := fc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "a", "1", 0)
		p.Incr(ctx, "a")
		p.Get(ctx, "a")
		return nil
	})
	must(t, err)
	if got := fmt.Sprintf("%v %v %v", cmds[0].(*redis.StatusCmd).Val(), cmds[1].(*redis.IntCmd).Val(), cmds[2].(*redis.StringCmd).Val()); got != "OK 2 2" {
		t.Fatalf("MULTI SET INCR GET EXEC through the follower = %s, want OK 2 2", got)
	}
	lc := leader.client(t, func(o *redis.Options) { o.DB = 2 })
	if v, err := lc.Get(ctx, "a").Result(); err != nil || v != "2" {
		t.Fatalf("the leader holds a = %q, %v, want 2", v, err)
	}
	if n := follower.db.Len(); n != 0 {
		t.Fatalf("the follower's own store was written: %d keys", n)
	}
	// A command that fails to queue aborts the transaction, on the
	// follower already.
	_, err = fc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "b", "1", 0)
		p.Do(ctx, "NOSUCHCOMMAND")
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Fatalf("EXEC after a command that failed to queue: %v, want EXECABORT", err)
	}
	if err := lc.Get(ctx, "b").Err(); err != redis.Nil {
		t.Fatalf("b after an aborted transaction: %v, want nil", err)
	}
	// SELECT inside MULTI would change the forwarding connection: such a
	// transaction runs on the leader only, and nothing of it runs here.
	_, err = fc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Select(ctx, 5)
		p.Set(ctx, "c", "1", 0)
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "READONLY transactions with SELECT run on the leader") {
		t.Fatalf("EXEC of a transaction with SELECT through the follower: %v, want READONLY", err)
	}
	if n := leader.db.Len(); n != 1 {
		t.Fatalf("the leader holds %d keys, want 1 (a)", n)
	}
}

// A transaction whose keys were watched on a node that led, and that no
// longer leads when EXEC comes, is discarded: its commands run neither
// there nor, one by one, on the new leader. (Before, MULTI was refused on
// a follower and the pipelined commands after it ran as plain commands:
// a CAS reported as failed had written.)
func TestCluster_DeposedLeaderDiscardsWatchedTransaction(t *testing.T) {
	ctx := context.Background()
	leader := startServer(t, func(s *Server) { s.Cluster = fakeNode{leader: true} })
	node := &flipNode{fakeNode: fakeNode{leaderAddr: leader.addr}}
	node.leads.Store(true)
	deposed := startServer(t, func(s *Server) { s.Cluster = node })
	c := deposed.client(t, func(o *redis.Options) { o.MaxRetries = -1 })
	must(t, c.Set(ctx, "k", "old", 0).Err())
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		if v, err := tx.Get(ctx, "k").Result(); err != nil || v != "old" {
			t.Errorf("GET under WATCH = %q, %v", v, err)
		}
		node.leads.Store(false) // deposed between WATCH and EXEC
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "k", "new", 0)
			p.Incr(ctx, "n")
			return nil
		})
		return err
	}, "k")
	if err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Fatalf("EXEC of a watched transaction on a deposed leader: %v, want READONLY", err)
	}
	if v, err := deposed.db.Get([]byte("\x00k")); err != nil || string(v) != "old" {
		t.Fatalf("k on the deposed leader after the discarded transaction: %q, %v, want old", v, err)
	}
	if n := leader.db.Len(); n != 0 {
		t.Fatalf("the new leader holds %d keys after the discarded transaction, want 0", n)
	}
	if _, err := deposed.db.Get([]byte("\x00n")); !errors.Is(err, epochdb.ErrNotFound) {
		t.Fatalf("n on the deposed leader after the discarded transaction: %v, want not found", err)
	}
	// The connection is usable, with no transaction or watch left.
	if err := c.Do(ctx, "EXEC").Err(); err == nil || !strings.Contains(err.Error(), "EXEC without MULTI") {
		t.Fatalf("EXEC after the discarded transaction: %v, want EXEC without MULTI", err)
	}
}

// uncertainReplicator is a replicated log whose leadership is always lost
// after the entry was appended: every write's outcome is unknown.
type uncertainReplicator struct{}

func (uncertainReplicator) Replicate([]byte) error {
	return fmt.Errorf("%w (leadership lost while committing log)", epochdb.ErrOutcomeUnknown)
}
func (uncertainReplicator) Leader() bool { return true }

// On the leader, a write whose entry may yet commit answers an unknown
// outcome, also inside EXEC, and never READONLY.
func TestCluster_UncertainWriteIsUnknown(t *testing.T) {
	ctx := context.Background()
	ts := startServerDB(t, func(o *epochdb.Options) { o.Replicator = uncertainReplicator{} },
		func(s *Server) { s.Cluster = fakeNode{leader: true} })
	c := ts.client(t, func(o *redis.Options) { o.MaxRetries = -1 })
	if err := c.Set(ctx, "k", "v", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR outcome unknown") {
		t.Fatalf("SET whose leadership was lost: %v, want ERR outcome unknown", err)
	}
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "n")
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "ERR outcome unknown") {
		t.Fatalf("EXEC whose leadership was lost: %v, want ERR outcome unknown", err)
	}
}

// EPOCH.DEBUG CLOCK is refused unless the server was given a debug clock;
// with one, it moves the store's clock, and TTL decisions follow it.
func TestEpochDebug_Clock(t *testing.T) {
	ctx := context.Background()
	plain := startServer(t)
	if err := plain.client(t).Do(ctx, "EPOCH.DEBUG", "CLOCK", "JUMP", "1000").Err(); err == nil ||
		!strings.Contains(err.Error(), "disabled") {
		t.Fatalf("EPOCH.DEBUG CLOCK without --debug-clock: %v, want a refusal", err)
	}

	clk := &clock.Offset{}
	ts := startServerDB(t, func(o *epochdb.Options) { o.Clock = clk }, func(s *Server) { s.DebugClock = clk })
	c := ts.client(t)
	must(t, c.Set(ctx, "k", "v", 0).Err())
	must(t, c.Do(ctx, "SET", "t", "v", "EX", "100").Err())
	if off, err := c.Do(ctx, "EPOCH.DEBUG", "CLOCK", "JUMP", "200000").Int64(); err != nil || off != 200000 {
		t.Fatalf("JUMP 200000 = %d, %v", off, err)
	}
	if err := c.Get(ctx, "t").Err(); err != redis.Nil {
		t.Fatalf("a key with 100 s to live, after a 200 s jump: %v, want nil", err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("a key without a deadline after the jump: %q, %v", v, err)
	}
	if off, err := c.Do(ctx, "EPOCH.DEBUG", "CLOCK", "JUMP", "-250000").Int64(); err != nil || off != -50000 {
		t.Fatalf("JUMP -250000 = %d, %v", off, err)
	}
	if off, err := c.Do(ctx, "EPOCH.DEBUG", "CLOCK").Int64(); err != nil || off != -50000 {
		t.Fatalf("CLOCK = %d, %v", off, err)
	}
	if off, err := c.Do(ctx, "EPOCH.DEBUG", "CLOCK", "SET", "0").Int64(); err != nil || off != 0 || clk.Offset() != 0 {
		t.Fatalf("SET 0 = %d, %v (offset %v)", off, err, clk.Offset())
	}
	for _, bad := range [][]any{
		{"EPOCH.DEBUG", "CLOCK", "JUMP", "x"},
		{"EPOCH.DEBUG", "CLOCK", "JUMP", "99999999999999"},
		{"EPOCH.DEBUG", "CLOCK", "SPIN", "1"},
		{"EPOCH.DEBUG", "NOPE"},
	} {
		if err := c.Do(ctx, bad...).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR") {
			t.Fatalf("%v: %v, want an error", bad, err)
		}
	}
	// Near the limit, a jump that would pass it is refused and changes
	// nothing.
	must(t, c.Do(ctx, "EPOCH.DEBUG", "CLOCK", "SET", "31000000000").Err())
	if err := c.Do(ctx, "EPOCH.DEBUG", "CLOCK", "JUMP", "31000000000").Err(); err == nil {
		t.Fatal("a jump past a year was accepted")
	}
	if clk.Offset().Milliseconds() != 31000000000 {
		t.Fatalf("a refused jump moved the clock to %v", clk.Offset())
	}
}
