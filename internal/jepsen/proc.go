package jepsen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config describes a cluster the harness runs.
type Config struct {
	// Bin is the epoch binary.
	Bin string
	// Dir holds the nodes' directories, their logs and the raft secret.
	Dir string
	// Size is the number of nodes (3 or 5).
	Size int
	// Appendfsync is the nodes' --appendfsync (always, everysec, no).
	Appendfsync string
	// Logf receives the harness's progress lines (a test's Logf).
	Logf func(format string, args ...any)
}

// Node is one `epoch serve --cluster` process of a Cluster.
type Node struct {
	ID       string
	Dir      string
	RaftAddr string // the node's own raft listener (the proxies dial it)
	Addr     string // its RESP address, the same across restarts
	Peers    string // its --peers: itself, and the proxies to the others
	Log      string // the file its stderr is appended to
	Trace    string // its --debug-trace file: where each command ran

	// Admin is a client for the harness's own questions (ROLE, INFO,
	// EPOCH.DEBUG): it never retries and times out quickly.
	Admin *redis.Client

	mu       sync.Mutex // guards the fields below
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has exited
	paused   bool
	killed   bool   // the harness stopped it: an exit is expected
	crashErr string // an exit the harness did not cause
}

// Cluster is a running set of nodes and the network between them.
type Cluster struct {
	cfg    Config
	Net    *Net
	Nodes  []*Node
	secret string

	mu      sync.Mutex
	crashes []string // unexpected exits
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartCluster starts cfg.Size nodes, each raft link through a proxy of
// the harness's Net, and waits until they answer.
func StartCluster(cfg Config) (*Cluster, error) {
	c := &Cluster{cfg: cfg, Net: NewNet(), secret: filepath.Join(cfg.Dir, "raft-secret")}
	if err := os.WriteFile(c.secret, []byte("jepsen secret\n"), 0o600); err != nil {
		return nil, err
	}
	for i := range cfg.Size {
		raftAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		id := fmt.Sprint("n", i+1)
		n := &Node{ID: id, Dir: filepath.Join(cfg.Dir, id), RaftAddr: raftAddr, Addr: addr,
			Log: filepath.Join(cfg.Dir, id+".log"), Trace: filepath.Join(cfg.Dir, id+".trace")}
		n.Admin = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
			ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, PoolSize: 4})
		c.Nodes = append(c.Nodes, n)
	}
	// Node a reaches node b through the proxy (a, b); its own entry is its
	// listener. The lists differ from node to node, which raft allows: the
	// configuration is stored by every node as it bootstrapped, and no
	// membership change runs during the harness's runs.
	for _, a := range c.Nodes {
		var peers []string
		for _, b := range c.Nodes {
			addr := a.RaftAddr
			if a != b {
				var err error
				if addr, err = c.Net.AddLink(a.ID, b.ID, b.RaftAddr); err != nil {
					c.Stop()
					return nil, err
				}
			}
			peers = append(peers, b.ID+"="+addr)
		}
		a.Peers = strings.Join(peers, ",")
	}
	if err := c.StartAll(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// StartAll starts every node, in parallel.
func (c *Cluster) StartAll() error {
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Go(func() { errs[i] = c.Start(n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// IDs returns the nodes' IDs.
func (c *Cluster) IDs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.ID)
	}
	return out
}

// Node returns the node with the ID id.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Start starts n's process (again) and waits until it answers PING.
func (c *Cluster) Start(n *Node) error {
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(c.cfg.Bin, "serve", "--dir", n.Dir, "--addr", n.Addr, "--http-addr=",
		"--cluster", "--node-id", n.ID, "--raft-addr", n.RaftAddr, "--peers", n.Peers,
		"--raft-secret-file", c.secret, "--appendfsync", c.cfg.Appendfsync,
		"--event-log", "yes", "--debug-clock", "--debug-trace", n.Trace, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.ID, err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited, n.paused, n.killed, n.crashErr = cmd, exited, false, false, ""
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		if !n.killed {
			n.crashErr = fmt.Sprintf("%s exited on its own: %v", n.ID, err)
		}
		msg := n.crashErr
		n.mu.Unlock()
		if msg != "" {
			c.mu.Lock()
			c.crashes = append(c.crashes, msg+"\n"+tail(n.Log, 30))
			c.mu.Unlock()
		}
		close(exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := n.Admin.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited at start:\n%s", n.ID, tail(n.Log, 30))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within 30s: %v\n%s", n.ID, err, tail(n.Log, 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Running reports whether n's process runs and is not paused.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.paused {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Kill kills n with SIGKILL and waits for it to exit.
func (c *Cluster) Kill(n *Node) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.killed = true
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	n.mu.Lock()
	n.cmd = nil
	n.mu.Unlock()
}

// Pause stops n with SIGSTOP: its sockets stay open, it answers nothing.
func (c *Cluster) Pause(n *Node) { c.signal(n, syscall.SIGSTOP, true) }

// Resume continues a paused n with SIGCONT.
func (c *Cluster) Resume(n *Node) { c.signal(n, syscall.SIGCONT, false) }

func (c *Cluster) signal(n *Node, sig syscall.Signal, paused bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(sig)
		n.paused = paused
	}
}

// Crashes returns the exits the harness did not cause, with the end of
// each node's log.
func (c *Cluster) Crashes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.crashes...)
}

// Role returns n's ROLE ("master", "slave"), "" if it does not answer.
func (n *Node) Role(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	v, err := n.Admin.Do(ctx, "ROLE").Slice()
	if err != nil || len(v) == 0 {
		return ""
	}
	s, _ := v[0].(string)
	return s
}

// Leader returns the running node that says it leads, nil if none does.
func (c *Cluster) Leader(ctx context.Context) *Node {
	for _, n := range c.Nodes {
		if n.Running() && n.Role(ctx) == "master" {
			return n
		}
	}
	return nil
}

// WaitLeader waits up to timeout for a leader.
func (c *Cluster) WaitLeader(ctx context.Context, timeout time.Duration) (*Node, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l := c.Leader(ctx); l != nil {
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no leader within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop resumes and kills every node and closes the network.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		c.Resume(n)
		c.Kill(n)
		_ = n.Admin.Close()
	}
	c.Net.Close()
}

// tail returns the last lines of a file.
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// sortedIDs returns the IDs of nodes, sorted.
func sortedIDs(nodes []*Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.ID)
	}
	sort.Strings(out)
	return out
}

// Traces returns the lines of the nodes' --debug-trace files about key,
// in time order, each time given as history time (since start): which
// node ran each command on the key, how it routed it, raft's view then,
// and the reply.
func (c *Cluster) Traces(key string, start time.Time) string {
	type line struct {
		at   time.Duration
		text string
	}
	var lines []line
	want := fmt.Sprintf("key=%q", key)
	for _, n := range c.Nodes {
		data, err := os.ReadFile(n.Trace)
		if err != nil {
			lines = append(lines, line{text: fmt.Sprintf("%s: %v", n.ID, err)})
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			ns, rest, ok := strings.Cut(l, " ")
			if !ok || !strings.Contains(rest, want) {
				continue
			}
			t, err := strconv.ParseInt(ns, 10, 64)
			if err != nil {
				continue
			}
			at := time.Unix(0, t).Sub(start)
			lines = append(lines, line{at, fmt.Sprintf("%8v %s", at.Round(time.Millisecond), rest)})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at < lines[j].at })
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintln(&b, l.text)
	}
	return b.String()
}
