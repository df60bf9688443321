package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// clusterNode is an epoch serve --cluster process; sec are the raft
// security flags every node gets.
type clusterNode struct {
	sec               []string
	id, dir, raftAddr string
	cmd               *exec.Cmd
	addr              string
	c                 *redis.Client
}

func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func (n *clusterNode) start(t *testing.T, peers string) {
	t.Helper()
	n.cmd, n.addr = startChild(t, n.dir, append([]string{"--cluster", "--node-id", n.id, "--raft-addr", n.raftAddr, "--peers", peers}, n.sec...)...)
	n.c = redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, ReadTimeout: 15 * time.Second})
	t.Cleanup(func() { _ = n.c.Close() })
}

// frequency is EPOCH.META's frequency of key (-1 if it cannot be read).
func frequency(ctx context.Context, c *redis.Client, key string) int64 {
	v, err := c.Do(ctx, "EPOCH.META", key).Result()
	if err != nil {
		return -1
	}
	switch v := v.(type) {
	case map[any]any: // RESP3
		n, _ := v["frequency"].(int64)
		return n
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			if v[i] == "frequency" {
				n, _ := v[i+1].(int64)
				return n
			}
		}
	}
	return -1
}

func role(ctx context.Context, c *redis.Client) string {
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil || len(v) == 0 {
		return ""
	}
	s, _ := v[0].(string)
	return s
}

// waitLeader returns the node whose ROLE is master.
func waitLeader(t *testing.T, ctx context.Context, nodes []*clusterNode) *clusterNode {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.cmd != nil && role(ctx, n.c) == "master" {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader within 30s")
	return nil
}

// Three epoch serve processes in a raft cluster, used as a Redis user
// would: writes sent to a follower are forwarded to the leader, reads are
// the leader's (or the follower's own after READONLY), and after the
// leader is killed with SIGKILL another takes over with every
// acknowledged write. The nodes snapshot and compact their logs often, so
// that a node joining later catches up from a snapshot.
func TestServe_Cluster_ForwardsAndFailsOver(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	// Raft over TLS with a shared secret, as across machines.
	cert, key, _ := testutil.SelfSigned(t, tmp)
	secret := filepath.Join(tmp, "raft-secret")
	must(t, os.WriteFile(secret, []byte("cluster secret\n"), 0o600))
	sec := []string{"--raft-secret-file", secret, "--raft-tls-cert", cert, "--raft-tls-key", key, "--raft-tls-ca", cert,
		"--raft-snapshot-threshold", "64", "--raft-snapshot-interval", "50ms", "--raft-trailing-logs", "16"}
	var nodes []*clusterNode
	var peers []string
	for i := range 3 {
		n := &clusterNode{sec: sec, id: fmt.Sprint("n", i+1), dir: filepath.Join(tmp, fmt.Sprint("n", i+1)), raftAddr: freeTCPAddr(t)}
		nodes = append(nodes, n)
		peers = append(peers, n.id+"="+n.raftAddr)
	}
	for _, n := range nodes {
		n.start(t, strings.Join(peers, ","))
	}
	leader := waitLeader(t, ctx, nodes)
	var follower *clusterNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	if r := role(ctx, follower.c); r != "slave" {
		t.Fatalf("follower ROLE %q", r)
	}
	// Writes through the follower, in a database other than 0.
	fc := redis.NewClient(&redis.Options{Addr: follower.addr, DB: 3, MaxRetries: -1})
	defer fc.Close()
	var acked []string
	for i := range 200 {
		k := fmt.Sprint("k", i)
		if err := fc.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET through the follower: %v", err)
		}
		acked = append(acked, k)
	}
	if n, err := fc.Incr(ctx, "counter").Result(); err != nil || n != 1 {
		t.Fatalf("INCR through the follower = %d, %v", n, err)
	}
	if v, err := fc.Get(ctx, "k7").Result(); err != nil || v != "k7" {
		t.Fatalf("GET through the follower = %q, %v", v, err)
	}
	lc := redis.NewClient(&redis.Options{Addr: leader.addr, DB: 3})
	defer lc.Close()
	if n, err := lc.DBSize(ctx).Result(); err != nil || n != 201 {
		t.Fatalf("the leader's DBSIZE in db 3 = %d, %v", n, err)
	}
	// The follower's own store, read with READONLY.
	ro := redis.NewClient(&redis.Options{Addr: follower.addr, DB: 3, OnConnect: func(ctx context.Context, cn *redis.Conn) error {
		return cn.Do(ctx, "READONLY").Err()
	}})
	defer ro.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := ro.Get(ctx, "k199").Result()
		if err == nil && v == "k199" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower's own store lacks k199: %q %v", v, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Reads the follower serves itself count on the leader, which decides
	// the lifecycle, and come back to every node with its flush.
	for range 20 {
		must(t, ro.Get(ctx, "k5").Err())
	}
	for _, c := range []*redis.Client{lc, ro} {
		deadline = time.Now().Add(20 * time.Second)
		for frequency(ctx, c, "k5") < 20 {
			if time.Now().After(deadline) {
				t.Fatalf("k5's frequency %d after 20 reads on the follower, want 20", frequency(ctx, c, "k5"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := fc.Watch(ctx, func(tx *redis.Tx) error { return nil }, "k1"); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("WATCH on a follower: %v, want a READONLY error naming the leader", err)
	}
	// MULTI/EXEC without WATCH runs on the leader, forwarded whole.
	cmds, err := fc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "txk", "1", 0)
		p.IncrBy(ctx, "txk", 41)
		return nil
	})
	if err != nil || cmds[1].(*redis.IntCmd).Val() != 42 {
		t.Fatalf("MULTI SET INCRBY EXEC through a follower: %v, %v", cmds, err)
	}
	if v, err := lc.Get(ctx, "txk").Result(); err != nil || v != "42" {
		t.Fatalf("txk on the leader = %q, %v, want 42", v, err)
	}
	must(t, lc.Del(ctx, "txk").Err())
	// Lists: pushes and pops are forwarded; a blocking pop, which could
	// outwait the forwarding, runs on the leader only.
	if n, err := fc.RPush(ctx, "list", "a", "b").Result(); err != nil || n != 2 {
		t.Fatalf("RPUSH through the follower = %d, %v", n, err)
	}
	if v, err := fc.LPop(ctx, "list").Result(); err != nil || v != "a" {
		t.Fatalf("LPOP through the follower = %q, %v", v, err)
	}
	if _, err := fc.BLPop(ctx, 0, "list").Result(); err == nil || !strings.Contains(err.Error(), "READONLY blocking commands run on the leader, at "+leader.addr) {
		t.Fatalf("BLPOP on a follower: %v, want a READONLY error naming the leader", err)
	}
	if r, err := lc.BLPop(ctx, 0, "list").Result(); err != nil || r[1] != "b" {
		t.Fatalf("BLPOP on the leader = %v, %v", r, err)
	}
	// The leader has compacted its log by now.
	deadline = time.Now().Add(30 * time.Second)
	for {
		info, err := leader.c.Info(ctx, "replication").Result()
		must(t, err)
		if !strings.Contains(info, "cluster_first_log_index:1\r") && !strings.Contains(info, "cluster_snapshots:0\r") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader did not snapshot and compact its log:\n%s", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A fourth node joins (epoch cluster join, sent to the leader), catches
	// up from a snapshot and the log, shows in the status, and is removed.
	n4 := &clusterNode{sec: sec, id: "n4", dir: filepath.Join(tmp, "n4"), raftAddr: freeTCPAddr(t)}
	n4.start(t, "")
	wantFail(t, "membership changes run on the leader, at "+leader.addr, "cluster", "join", "n4", n4.raftAddr, "--addr", follower.addr)
	mustEpoch(t, "cluster", "join", "n4", n4.raftAddr, "--addr", leader.addr)
	r4 := redis.NewClient(&redis.Options{Addr: n4.addr, DB: 3, OnConnect: func(ctx context.Context, cn *redis.Conn) error {
		return cn.Do(ctx, "READONLY").Err()
	}})
	defer r4.Close()
	deadline = time.Now().Add(30 * time.Second)
	for {
		if n, err := r4.DBSize(ctx).Result(); err == nil && n == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the joined node did not catch up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The store shows the snapshot's keys a moment before raft's restore
	// call returns and the install is counted.
	testutil.Eventually(t, "the joined node to count its snapshot install", func() bool {
		repl, err := n4.c.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(repl, "cluster_snapshot_installs:1\r")
	})
	status := mustEpoch(t, "cluster", "status", "--addr", follower.addr)
	for _, want := range []string{"role: slave", "cluster_leader_id: " + leader.id, "[n4 " + n4.raftAddr + " voter]"} {
		if !strings.Contains(status, want) {
			t.Fatalf("epoch cluster status lacks %q:\n%s", want, status)
		}
	}
	mustEpoch(t, "cluster", "remove", "n4", "--addr", leader.addr)
	if status := mustEpoch(t, "cluster", "status", "--addr", leader.addr); strings.Contains(status, "n4") {
		t.Fatalf("n4 still a member after remove:\n%s", status)
	}

	info, err := follower.c.Info(ctx, "replication").Result()
	must(t, err)
	if !strings.Contains(info, "role:slave") || !strings.Contains(info, "cluster_leader_addr:"+leader.addr) {
		t.Fatalf("INFO replication on the follower:\n%s", info)
	}

	// Kill the leader; the survivors elect another, which has everything.
	must(t, leader.cmd.Process.Signal(syscall.SIGKILL))
	_ = leader.cmd.Wait()
	leader.cmd = nil
	killed := time.Now()
	newLeader := waitLeader(t, ctx, nodes)
	t.Logf("failover: a new leader (%s) %v after SIGKILL", newLeader.id, time.Since(killed).Round(time.Millisecond))
	var survivor *clusterNode
	for _, n := range nodes {
		if n.cmd != nil && n != newLeader {
			survivor = n
		}
	}
	sc := redis.NewClient(&redis.Options{Addr: survivor.addr, DB: 3, MaxRetries: -1})
	defer sc.Close()
	deadline = time.Now().Add(20 * time.Second)
	for {
		err := sc.Set(ctx, "after", "failover", 0).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted after the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // TRYAGAIN while the leader publishes its address
	}
	for _, k := range acked {
		if v, err := sc.Get(ctx, k).Result(); err != nil || v != k {
			t.Fatalf("acknowledged %s = %q, %v after the failover", k, v, err)
		}
	}
	if n, err := sc.Get(ctx, "counter").Int(); err != nil || n != 1 {
		t.Fatalf("counter = %d, %v", n, err)
	}
}

// Nodes that serve their clients over TLS: a follower forwards a write to
// the leader over TLS, verifying the leader's certificate against
// --tls-ca, and reads it back through the leader.
func TestServe_Cluster_ForwardsOverTLS(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	cert, key, pool := testutil.SelfSigned(t, tmp)
	tlsFlags := []string{"--tls-cert", cert, "--tls-key", key, "--tls-ca", cert}
	var nodes []*clusterNode
	var peers []string
	for i := range 3 {
		n := &clusterNode{sec: tlsFlags, id: fmt.Sprint("t", i+1), dir: filepath.Join(tmp, fmt.Sprint("t", i+1)), raftAddr: freeTCPAddr(t)}
		nodes = append(nodes, n)
		peers = append(peers, n.id+"="+n.raftAddr)
	}
	for _, n := range nodes {
		n.start(t, strings.Join(peers, ","))
		_ = n.c.Close()
		n.c = redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	}
	leader := waitLeader(t, ctx, nodes)
	var follower *clusterNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	if err := follower.c.Set(ctx, "over", "tls", 0).Err(); err != nil {
		t.Fatalf("SET through the follower, forwarded over TLS: %v", err)
	}
	if v, err := leader.c.Get(ctx, "over").Result(); err != nil || v != "tls" {
		t.Fatalf("GET from the leader = %q, %v", v, err)
	}
}

// --raft-reads takes lease or quorum.
func TestServe_Cluster_RaftReadsFlag(t *testing.T) {
	wantFail(t, `--raft-reads "sometimes": want lease or quorum`, "serve", "--cluster", "--node-id", "n1",
		"--raft-addr", "127.0.0.1:0", "--dir", t.TempDir(), "--addr", "127.0.0.1:0", "--http-addr", "", "--raft-reads", "sometimes")
}
