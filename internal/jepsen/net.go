// Package jepsen is a Jepsen-style fault-injection harness for EpochDB's
// raft cluster: it runs `epoch serve --cluster` processes, puts a TCP proxy
// owned by the harness in front of every raft link, drives Redis clients
// that record a history of operations (with their invocation and return
// times and outcomes), injects faults (kill -9, SIGSTOP, partitions through
// the proxies, clock jumps through EPOCH.DEBUG CLOCK) and checks the
// outcome: every history linearizable (porcupine), no acknowledged write
// lost, and after healing every node holding the same data and the same
// event log. Its tests (jepsen_test.go) are the harness's runs; see the
// "How the cluster is tested" part of docs/ARCHITECTURE.md.
package jepsen

import (
	"net"
	"sync"
)

// Net is the network between the nodes' raft ports: one TCP proxy for
// every ordered pair of nodes (from, to), which from dials to reach to.
// The bytes a link carries in each direction can be held (a cut: the
// proxy stops forwarding them, so the sender's writes back up as behind a
// black hole, and raft's own timeouts fire) and released (heal: what was
// held is delivered late, as a healed network delivers retransmitted
// segments). Reset closes the connections of a pair, as a peer's RST does.
type Net struct {
	mu    sync.Mutex
	cond  *sync.Cond
	cut   map[[2]string]bool // bytes from [0] to [1] are held
	links map[[2]string]*link
	done  bool
}

// link is the proxy for connections from one node to another.
type link struct {
	from, to string
	ln       net.Listener
	target   string
	conns    map[net.Conn]struct{} // both ends of every proxied connection
}

// NewNet returns a network without links.
func NewNet() *Net {
	n := &Net{cut: map[[2]string]bool{}, links: map[[2]string]*link{}}
	n.cond = sync.NewCond(&n.mu)
	return n
}

// AddLink starts the proxy that node from dials to reach node to's raft
// listener at target, and returns its address (127.0.0.1:port).
func (n *Net) AddLink(from, to, target string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	l := &link{from: from, to: to, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	n.mu.Lock()
	n.links[[2]string{from, to}] = l
	n.mu.Unlock()
	go n.accept(l)
	return ln.Addr().String(), nil
}

func (n *Net) accept(l *link) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		go n.serve(l, c)
	}
}

// serve proxies one connection: from's side c to to's listener.
func (n *Net) serve(l *link, c net.Conn) {
	up, err := net.Dial("tcp", l.target)
	if err != nil {
		_ = c.Close() // to is down: from sees a closed connection
		return
	}
	n.mu.Lock()
	if n.done {
		n.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	l.conns[c], l.conns[up] = struct{}{}, struct{}{}
	n.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.pipe(up, c, l.from, l.to) }()
	go func() { defer wg.Done(); n.pipe(c, up, l.to, l.from) }()
	wg.Wait()
	n.mu.Lock()
	delete(l.conns, c)
	delete(l.conns, up)
	n.mu.Unlock()
}

// pipe copies src to dst, the bytes going from node a to node b: each
// chunk waits while that direction is cut.
func (n *Net) pipe(dst, src net.Conn, a, b string) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if !n.waitOpen(a, b) {
				return
			}
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or closed: the deferred closes pass it on
		}
	}
}

// waitOpen blocks while bytes from a to b are held; false once the network
// is closed.
func (n *Net) waitOpen(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.cut[[2]string{a, b}] && !n.done {
		n.cond.Wait()
	}
	return !n.done
}

// Cut holds the bytes from a to b (one direction).
func (n *Net) Cut(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[[2]string{a, b}] = true
}

// Reset closes every connection between a and b, in both directions'
// proxies.
func (n *Net) Reset(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, key := range [][2]string{{a, b}, {b, a}} {
		if l := n.links[key]; l != nil {
			for c := range l.conns {
				_ = c.Close()
			}
		}
	}
}

// Partition cuts both directions between every pair of nodes that
// connected reports false for, and resets their connections; the pairs it
// reports true for are left as they are.
func (n *Net) Partition(nodes []string, connected func(a, b string) bool) {
	for _, a := range nodes {
		for _, b := range nodes {
			if a < b && !connected(a, b) {
				n.Cut(a, b)
				n.Cut(b, a)
				n.Reset(a, b)
			}
		}
	}
}

// Heal releases every cut.
func (n *Net) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
	n.cond.Broadcast()
}

// Cuts returns the directions cut, as "a->b".
func (n *Net) Cuts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for k, v := range n.cut {
		if v {
			out = append(out, k[0]+"->"+k[1])
		}
	}
	return out
}

// Close stops every proxy and closes their connections.
func (n *Net) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.done = true
	n.cond.Broadcast()
	for _, l := range n.links {
		_ = l.ln.Close()
		for c := range l.conns {
			_ = c.Close()
		}
	}
}
