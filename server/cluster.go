package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/epochdb/epochdb"
)

// ClusterNode is the replication a server runs on (the cluster package's
// Node): Server.Cluster. A replicated server routes each data command:
//
//   - a write runs on the leader (its store replicates it); a follower
//     forwards it to the leader over RESP and relays the reply;
//   - a read on the leader first confirms the leadership with a quorum, so
//     it is linearizable; a follower forwards it, unless the connection
//     sent READONLY, when it reads its own store (possibly stale, as Redis
//     Cluster's replicas);
//   - MULTI/EXEC runs on the leader: a follower queues the commands and
//     forwards MULTI, them and EXEC together; WATCH and the blocking
//     writes (BLPOP, BLMOVE, ...) run on the leader only: a follower
//     refuses them with the leader's address.
//
// Connection, server and EpochDB administration commands run where they
// are sent.
type ClusterNode interface {
	ID() string
	Leader() bool
	LeaderInfo() (id, clientAddr string)
	VerifyLeader() error
	State() string
	Stats() map[string]string
	Members() ([]ClusterMember, error)
	Join(id, raftAddr string) error
	Remove(id string) error
}

// ClusterMember is a node of the cluster's configuration.
type ClusterMember = struct {
	ID, RaftAddr string
	Voter        bool
}

// forwardTimeout bounds a forwarded command's round trip.
const forwardTimeout = 10 * time.Second

// errOutcomeUnknown answers a write that may or may not have been applied:
// its entry reached the raft log, but the leader lost its leadership (or
// did not answer) before it was known to commit. Not READONLY or TRYAGAIN,
// which say that nothing happened, and which clients retry on their own
// (an INCR would count twice).
const errOutcomeUnknown = "ERR outcome unknown: the leader lost its leadership or did not answer before the write was known to commit; it may yet be applied"

// routeCluster decides where a data command runs on a replicated server:
// true means here; false means the reply was written (forwarded or an
// error).
func (c *Conn) routeCluster(e *entry, args [][]byte) bool {
	cl := c.srv.Cluster
	flags := e.spec.Flags
	if flags&(FlagKeyspace|FlagWrite|FlagTx) == 0 && e.spec.Name != "watch" {
		return true // connection, server, administration
	}
	switch e.spec.Name {
	case "multi", "discard":
		// The queue is the connection's, wherever EXEC runs. MULTI is
		// never refused: a client pipelines MULTI, its commands and EXEC,
		// and commands after a refused MULTI would run one by one.
		c.route = "here"
		return true
	case "exec":
		if cl.Leader() || c.tx == nil || c.tx.aborted {
			c.route = "here"
			return true // run, or answered without a write
		}
		return c.routeExec()
	}
	if cl.Leader() {
		if flags&FlagWrite != 0 || e.spec.Name == "watch" {
			c.route = "leader"
			return true // the store replicates the writes
		}
		if err := cl.VerifyLeader(); err == nil {
			c.route = "leader-verified"
			return true
		}
		// Deposed meanwhile: the new leader answers.
	} else if flags&FlagWrite == 0 && e.spec.Name != "watch" && c.readOnly {
		c.route = "readonly"
		return true
	}
	c.route = "refused"
	addr := c.leaderAddr()
	if e.spec.Name == "watch" || flags&(FlagBlocking|FlagWrite) == FlagBlocking|FlagWrite {
		// WATCH's keys are watched in the store of the node that runs
		// EXEC. A forwarded command must end within the forward timeout:
		// a blocking one may wait for ever.
		what := "transactions with WATCH"
		if flags&FlagBlocking != 0 {
			what = "blocking commands"
		}
		c.refuse(what, addr)
		return false
	}
	if addr == "" {
		c.WriteError("TRYAGAIN no leader is elected yet")
		return false
	}
	c.forwardOrFail(addr, flags&FlagWrite != 0, args)
	return false
}

// routeExec runs on the leader the transaction a follower queued: MULTI,
// its commands and EXEC are forwarded in one go, and EXEC's reply is
// relayed. A transaction that watches keys cannot go (they are watched in
// this node's store, which the leader's writes do not pass through first):
// it is discarded, as a leader deposed between WATCH and EXEC discards
// its own.
func (c *Conn) routeExec() bool {
	queued := c.tx
	c.endTx()
	defer c.unwatchAll()
	c.route = "refused"
	addr := c.leaderAddr()
	if len(c.watches) > 0 {
		c.refuse("transactions with WATCH", addr)
		return false
	}
	for _, q := range queued.cmds {
		if connState[q.e.spec.Name] {
			// It would change the forwarding connection, not this one.
			c.refuse("transactions with "+strings.ToUpper(q.e.spec.Name), addr)
			return false
		}
	}
	if addr == "" {
		c.WriteError("TRYAGAIN no leader is elected yet")
		return false
	}
	cmds := make([][][]byte, 0, len(queued.cmds)+2)
	cmds = append(cmds, [][]byte{[]byte("MULTI")})
	for _, q := range queued.cmds {
		cmds = append(cmds, q.args)
	}
	cmds = append(cmds, [][]byte{[]byte("EXEC")})
	c.forwardOrFail(addr, true, cmds...)
	return false
}

// connState are the commands that may be queued in MULTI and change the
// connection's own state.
var connState = map[string]bool{"select": true, "client": true, "readonly": true, "readwrite": true}

// refuse answers a command that runs on the leader only.
func (c *Conn) refuse(what, addr string) {
	if addr == "" {
		c.WriteError("TRYAGAIN no leader is elected yet")
	} else {
		c.WriteError("READONLY " + what + " run on the leader, at " + addr)
	}
}

// forwardOrFail forwards cmds to the leader at addr and relays the last
// one's reply, or answers why it could not: the outcome of a write is
// unknown once it was sent.
func (c *Conn) forwardOrFail(addr string, write bool, cmds ...[][]byte) {
	c.route = "forward " + addr
	sent, err := c.forward(addr, cmds...)
	if err == nil {
		return
	}
	c.closeForward()
	if sent && write {
		// The leader may have run it: only its reply was lost.
		c.WriteError(errOutcomeUnknown + " (the leader at " + addr + " did not answer: " + sanitize(err.Error()) + ")")
	} else {
		c.WriteError("TRYAGAIN the leader at " + addr + " did not answer: " + sanitize(err.Error()))
	}
}

// traceRoute writes the DebugTrace line of a data command whose reply
// starts at c.out[mark:].
func (c *Conn) traceRoute(e *entry, args [][]byte, mark int) {
	cl := c.srv.Cluster
	st := cl.Stats()
	var key []byte
	if len(args) > 1 {
		key = args[1]
	}
	var reply []byte
	if mark <= len(c.out) {
		reply = c.out[mark:min(len(c.out), mark+48)]
	}
	line := fmt.Sprintf("%d node=%s conn=%d cmd=%s key=%q route=%q state=%s ready=%t term=%s commit=%s applied=%s reply=%q\n",
		time.Now().UnixNano(), cl.ID(), c.id, e.spec.Name, key, c.route, cl.State(), cl.Leader(),
		st["term"], st["commit_index"], st["applied_index"], reply)
	c.srv.traceMu.Lock()
	defer c.srv.traceMu.Unlock()
	_, _ = io.WriteString(c.srv.DebugTrace, line)
}

// leaderWait bounds how long a follower waits for a newly elected leader
// to publish its address before it answers TRYAGAIN.
const leaderWait = 2 * time.Second

// leaderAddr returns the leader's client address, waiting a little while a
// leader is elected but has not published it yet ("" if none).
func (c *Conn) leaderAddr() string {
	deadline := time.Now().Add(leaderWait)
	for {
		id, addr := c.srv.Cluster.LeaderInfo()
		if addr != "" || time.Now().After(deadline) {
			return addr
		}
		if id == "" && c.srv.Cluster.State() != "Follower" {
			return "" // an election is under way
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// forwarder is a follower connection's link to the leader.
type forwarder struct {
	addr string
	nc   net.Conn
	br   *bufio.Reader
	db   int
	resp int
}

// forward sends cmds to the leader at addr, in the connection's database
// and protocol, in one go, and relays the last one's reply. sent reports
// that the failure, if any, came once the commands themselves were being
// sent: the leader may have run them.
func (c *Conn) forward(addr string, cmds ...[][]byte) (sent bool, err error) {
	f := c.fwd
	if f != nil && f.addr != addr {
		c.closeForward()
		f = nil
	}
	if f == nil {
		f, err = c.srv.dialLeader(addr)
		if err != nil {
			return false, err
		}
		c.fwd = f
	}
	if f.resp != c.resp {
		if err := f.do("HELLO", strconv.Itoa(c.resp)); err != nil {
			return false, err
		}
		f.resp = c.resp
	}
	if f.db != c.db {
		if err := f.do("SELECT", strconv.Itoa(c.db)); err != nil {
			return false, err
		}
		f.db = c.db
	}
	reply, err := f.send(cmds)
	if err != nil {
		return true, err
	}
	c.out = append(c.out, reply...)
	return true, nil
}

// dialLeader connects to the leader's client address, authenticated with
// the server's own password if it has one.
func (s *Server) dialLeader(addr string) (*forwarder, error) {
	var nc net.Conn
	var err error
	if s.ForwardTLS != nil {
		cfg := s.ForwardTLS.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		nc, err = tls.DialWithDialer(&net.Dialer{Timeout: forwardTimeout}, "tcp", addr, cfg)
	} else {
		nc, err = net.DialTimeout("tcp", addr, forwardTimeout)
	}
	if err != nil {
		return nil, err
	}
	f := &forwarder{addr: addr, nc: nc, br: bufio.NewReader(nc), resp: 2}
	if pass := s.cfg.plainPassword(); pass != "" {
		if err := f.do("AUTH", pass); err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	return f, nil
}

// do sends one command whose reply must not be an error.
func (f *forwarder) do(args ...string) error {
	cmd := make([][]byte, len(args))
	for i, a := range args {
		cmd[i] = []byte(a)
	}
	reply, err := f.send([][][]byte{cmd})
	if err != nil {
		return err
	}
	if len(reply) > 0 && reply[0] == '-' {
		return errors.New(strings.TrimSpace(string(reply[1:])))
	}
	return nil
}

// send writes cmds at once and reads their replies, returning the last
// one raw.
func (f *forwarder) send(cmds [][][]byte) ([]byte, error) {
	_ = f.nc.SetDeadline(time.Now().Add(forwardTimeout))
	var b []byte
	for _, args := range cmds {
		b = append(b, '*')
		b = strconv.AppendInt(b, int64(len(args)), 10)
		b = append(b, "\r\n"...)
		for _, a := range args {
			b = append(b, '$')
			b = strconv.AppendInt(b, int64(len(a)), 10)
			b = append(b, "\r\n"...)
			b = append(b, a...)
			b = append(b, "\r\n"...)
		}
	}
	if _, err := f.nc.Write(b); err != nil {
		return nil, err
	}
	var reply []byte
	for range cmds {
		reply = reply[:0]
		if err := readRawReply(f.br, &reply); err != nil {
			return nil, err
		}
	}
	return reply, nil
}

// closeForward drops the connection to the leader.
func (c *Conn) closeForward() {
	if c.fwd != nil {
		_ = c.fwd.nc.Close()
		c.fwd = nil
	}
}

// readRawReply appends one whole RESP2/RESP3 reply, as read, to dst.
func readRawReply(br *bufio.Reader, dst *[]byte) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return errors.New("malformed reply from the leader")
	}
	*dst = append(*dst, line...)
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', ',', '#', '_', '(':
		return nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return errors.New("malformed bulk length from the leader")
		}
		if n == -1 {
			return nil
		}
		start := len(*dst)
		*dst = append(*dst, make([]byte, n+2)...)
		_, err = ioReadFull(br, (*dst)[start:])
		return err
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return errors.New("malformed aggregate length from the leader")
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range max(n, 0) {
			if err := readRawReply(br, dst); err != nil {
				return err
			}
		}
		if line[0] == '|' { // an attribute precedes the reply it describes
			return readRawReply(br, dst)
		}
		return nil
	}
	return fmt.Errorf("unknown reply type %q from the leader", line[0])
}

func ioReadFull(br *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := br.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// cmdReadOnly is READONLY: this connection's reads are served by the node
// it is connected to, even a follower (possibly stale).
func cmdReadOnly(c *Conn, cmd Command) {
	c.readOnly = true
	c.WriteOK()
}

// cmdReadWrite is READWRITE: back to reads from the leader.
func cmdReadWrite(c *Conn, cmd Command) {
	c.readOnly = false
	c.WriteOK()
}

// cmdRole is ROLE.
func cmdRole(c *Conn, cmd Command) {
	cl := c.srv.Cluster
	if cl == nil {
		c.WriteArray(3)
		c.WriteBulkString("master")
		c.WriteInt(0)
		c.WriteArray(0)
		return
	}
	applied, _ := strconv.ParseInt(cl.Stats()["applied_index"], 10, 64)
	if cl.Leader() {
		c.WriteArray(3)
		c.WriteBulkString("master")
		c.WriteInt(applied)
		c.WriteArray(0)
		return
	}
	_, addr := cl.LeaderInfo()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	c.WriteArray(5)
	c.WriteBulkString("slave")
	c.WriteBulkString(host)
	c.WriteInt(int64(p))
	if addr == "" {
		c.WriteBulkString("connect")
	} else {
		c.WriteBulkString("connected")
	}
	c.WriteInt(applied)
}

// replicationInfo is INFO replication on a replicated server.
func (s *Server) replicationInfo() [][2]string {
	cl := s.Cluster
	st := cl.Stats()
	id, addr := cl.LeaderInfo()
	role := "slave"
	if cl.Leader() {
		role = "master"
	}
	return [][2]string{
		{"role", role},
		{"cluster_node_id", cl.ID()},
		{"cluster_state", strings.ToLower(cl.State())},
		{"cluster_leader_id", id},
		{"cluster_leader_addr", addr},
		{"cluster_term", st["term"]},
		{"cluster_commit_index", st["commit_index"]},
		{"cluster_applied_index", st["applied_index"]},
		{"cluster_last_contact", st["last_contact"]},
		{"cluster_peers", st["num_peers"]},
		{"cluster_apply_lag", st["apply_lag"]},
		{"cluster_first_log_index", st["first_log_index"]},
		{"cluster_last_log_index", st["last_log_index"]},
		{"cluster_leader_changes", st["leader_changes"]},
		{"cluster_last_snapshot_index", st["last_snapshot_index"]},
		{"cluster_snapshots", st["snapshots"]},
		{"cluster_snapshot_failures", st["snapshot_failures"]},
		{"cluster_last_snapshot_duration", st["last_snapshot_duration"]},
		{"cluster_snapshot_installs", st["snapshot_restores"]},
		{"cluster_snapshot_install_failures", st["snapshot_restore_failures"]},
		{"cluster_last_snapshot_install_duration", st["last_snapshot_restore_duration"]},
	}
}

// cmdEpochCluster is EPOCH.CLUSTER STATUS | JOIN id raft-addr | REMOVE id.
func cmdEpochCluster(c *Conn, cmd Command) {
	cl := c.srv.Cluster
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	if cl == nil && sub != "help" {
		c.WriteError("ERR this server is not part of a cluster (start epoch serve with --cluster)")
		return
	}
	switch {
	case sub == "status" && len(args) == 2:
		members, err := cl.Members()
		if err != nil {
			c.WriteError("ERR " + sanitize(err.Error()))
			return
		}
		info := c.srv.replicationInfo()
		c.WriteMap(len(info) + 1)
		for _, kv := range info {
			c.WriteBulkString(kv[0])
			c.WriteBulkString(kv[1])
		}
		c.WriteBulkString("members")
		c.WriteArray(len(members))
		for _, m := range members {
			c.WriteArray(3)
			c.WriteBulkString(m.ID)
			c.WriteBulkString(m.RaftAddr)
			if m.Voter {
				c.WriteBulkString("voter")
			} else {
				c.WriteBulkString("nonvoter")
			}
		}
	case sub == "join" && len(args) == 4:
		if _, _, err := net.SplitHostPort(string(args[3])); err != nil {
			c.WriteError("ERR the raft address must be host:port")
			return
		}
		c.clusterChange(cl.Join(string(args[2]), string(args[3])))
	case sub == "remove" && len(args) == 3:
		c.clusterChange(cl.Remove(string(args[2])))
	case sub == "help" && len(args) == 2:
		writeHelp(c, "EPOCH.CLUSTER", []string{
			"STATUS",
			"    This node's role, the leader, raft's term and indexes, and the members.",
			"JOIN <id> <raft-addr>",
			"    Add a node (started with --cluster and the same --peers) to the cluster. On the leader.",
			"REMOVE <id>",
			"    Take a node out of the cluster. On the leader.",
		})
	case sub == "status" || sub == "join" || sub == "remove" || sub == "help":
		c.WriteError(wrongArgs("epoch.cluster|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "EPOCH.CLUSTER"))
	}
}

// clusterChange answers a membership change.
func (c *Conn) clusterChange(err error) {
	switch {
	case err == nil:
		c.WriteOK()
	case errors.Is(err, epochdb.ErrNotLeader):
		if addr := c.leaderAddr(); addr != "" {
			c.WriteError("READONLY membership changes run on the leader, at " + addr)
		} else {
			c.WriteError("TRYAGAIN no leader is elected yet")
		}
	default:
		c.WriteError("ERR " + sanitize(err.Error()))
	}
}
