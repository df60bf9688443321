package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/clock"
)

// The differential test: the same command sequences go to a real
// redis-server and to an EpochDB server, over raw RESP connections, and the
// replies must be equal byte for byte, except for the short allow-list of
// intended differences in diffNormalize (documented in docs/SERVER.md).

// redisProc is a redis-server the test started.
type redisProc struct {
	addr string
	cmd  *exec.Cmd
}

// startRedis starts redis-server on a free loopback port, without
// persistence. A missing redis-server fails the test: scripts/deps.sh
// installs it.
func startRedis(t testing.TB) *redisProc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (%v): the differential test needs it; run scripts/deps.sh (Debian package redis-server)", err)
	}
	var lastErr error
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		dir := t.TempDir()
		var out bytes.Buffer
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
			"--protected-mode", "no", "--logfile", "")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		// Wait for it to accept connections (or to exit: the port was
		// taken in between, so try another).
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case err := <-exited:
				lastErr = fmt.Errorf("redis-server exited: %v: %s", err, out.String())
			default:
				nc, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					_ = nc.Close()
					t.Cleanup(func() {
						_ = cmd.Process.Kill()
						<-exited
					})
					return &redisProc{addr: addr, cmd: cmd}
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					<-exited
					t.Fatalf("redis-server did not start: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			break
		}
	}
	t.Fatalf("could not start redis-server: %v", lastErr)
	return nil
}

// diffConn is a raw connection that returns each reply's exact bytes.
type diffConn struct {
	nc net.Conn
	br *bufio.Reader
}

func dialDiff(t testing.TB, addr string) *diffConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &diffConn{nc: nc, br: bufio.NewReader(nc)}
}

func (d *diffConn) close() { _ = d.nc.Close() }

// do sends args as one RESP array and returns the raw reply.
func (d *diffConn) do(args [][]byte) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n", len(a))
		b.Write(a)
		b.WriteString("\r\n")
	}
	_ = d.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := d.nc.Write(b.Bytes()); err != nil {
		return nil, err
	}
	var out []byte
	err := readRaw(d.br, &out)
	return out, err
}

// readRaw appends one complete RESP2/RESP3 reply, as sent, to out.
func readRaw(br *bufio.Reader, out *[]byte) error {
	line, err := br.ReadBytes('\n')
	if err != nil {
		return err
	}
	*out = append(*out, line...)
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("bad reply line %q", line)
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', ',', '#', '(', '_':
		return nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return err
		}
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return err
		}
		*out = append(*out, buf...)
		return nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range max(n, 0) {
			if err := readRaw(br, out); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown reply type %q", line)
}

// parseRaw splits a raw reply into its elements when it is an array (nil
// otherwise).
func parseRaw(raw []byte) [][]byte {
	if len(raw) == 0 || raw[0] != '*' {
		return nil
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	line, _ := br.ReadBytes('\n')
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil || n < 0 {
		return nil
	}
	elems := make([][]byte, 0, n)
	for range n {
		var e []byte
		if readRaw(br, &e) != nil {
			return nil
		}
		elems = append(elems, e)
	}
	return elems
}

// diffPair is one client on each server.
type diffPair struct {
	redis, epoch *diffConn
}

// diffEnv is both servers.
type diffEnv struct {
	redisAddr, epochAddr string
}

func (e *diffEnv) pair(t testing.TB) *diffPair {
	return &diffPair{redis: dialDiff(t, e.redisAddr), epoch: dialDiff(t, e.epochAddr)}
}

func (p *diffPair) close() { p.redis.close(); p.epoch.close() }

// startDiffEnv starts redis-server and an EpochDB server on the wall clock
// (Redis runs on it too).
func startDiffEnv(t *testing.T) *diffEnv {
	t.Helper()
	rp := startRedis(t)
	ts := startServerDB(t, func(o *epochdb.Options) { o.Clock = clock.Real{} })
	return &diffEnv{redisAddr: rp.addr, epochAddr: ts.addr}
}

// diffMismatch describes a difference, or is "" when the replies agree.
// The allow-list of intended differences is diffNormalize.
func diffMismatch(args [][]byte, r, e []byte) string {
	r, e = diffNormalize(args, r), diffNormalize(args, e)
	if bytes.Equal(r, e) {
		return ""
	}
	if within, ok := approxEqual(args, r, e); ok && within {
		return ""
	}
	return fmt.Sprintf("%s\n redis: %q\n epoch: %q", showArgs(args), r, e)
}

func showArgs(args [][]byte) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = strconv.Quote(string(a))
	}
	return strings.Join(parts, " ")
}

// diffNormalize applies the allow-list of intended differences to a raw
// reply of the command args:
//   - KEYS and SCAN list keys in Redis's hash order and in EpochDB's key
//     order: the key lists are compared sorted.
//   - SCAN cursors are opaque and differ (EpochDB's are random ids): a
//     non-zero cursor is compared as "cursor".
//   - Set members and hash fields come in Redis's hash order and in
//     EpochDB's byte order (random ones in random orders): they are
//     compared sorted, HGETALL's and HRANDFIELD WITHVALUES's by pair.
func diffNormalize(args [][]byte, raw []byte) []byte {
	name := strings.ToLower(string(args[0]))
	switch name {
	case "hrandfield":
		if len(args) < 4 {
			if elems := parseRaw(raw); elems != nil {
				return joinSorted(elems)
			}
			break
		}
		return diffNormalizePairs(raw)
	case "hgetall":
		return diffNormalizePairs(raw)
	case "keys", "smembers", "sinter", "sunion", "sdiff", "hkeys", "hvals", "srandmember", "spop":
		if elems := parseRaw(raw); elems != nil {
			return joinSorted(elems)
		}
	case "scan":
		if elems := parseRaw(raw); len(elems) == 2 {
			cur := elems[0]
			if !bytes.Equal(cur, []byte("$1\r\n0\r\n")) {
				cur = []byte("cursor")
			}
			keys := parseRaw(elems[1])
			return append(append([]byte("*2\r\n"), cur...), joinSorted(keys)...)
		}
	}
	return raw
}

// diffNormalizePairs sorts a flat array of field-value pairs by pair.
func diffNormalizePairs(raw []byte) []byte {
	elems := parseRaw(raw)
	if elems == nil || len(elems)%2 != 0 {
		return raw
	}
	pairs := make([][]byte, 0, len(elems)/2)
	for i := 0; i < len(elems); i += 2 {
		pairs = append(pairs, append(slices.Clip(elems[i]), elems[i+1]...))
	}
	return joinSorted(pairs)
}

func joinSorted(elems [][]byte) []byte {
	elems = slices.Clone(elems)
	slices.SortFunc(elems, bytes.Compare)
	out := fmt.Appendf(nil, "*%d\r\n", len(elems))
	for _, e := range elems {
		out = append(out, e...)
	}
	return out
}

// approxEqual compares the integer replies of commands that read the clock
// with a relative deadline (PTTL, PEXPIRETIME, TTL, EXPIRETIME): the two
// servers read their clocks at different instants, so their values may
// differ by the time between (at most 1 second or 1000 ms here). ok is false
// for other commands.
func approxEqual(args [][]byte, r, e []byte) (within, ok bool) {
	tol := int64(0)
	switch strings.ToLower(string(args[0])) {
	case "pttl", "pexpiretime":
		tol = 1000
	case "ttl", "expiretime":
		tol = 1
	default:
		return false, false
	}
	if len(r) < 4 || len(e) < 4 || r[0] != ':' || e[0] != ':' {
		return false, true
	}
	a, err1 := strconv.ParseInt(string(r[1:len(r)-2]), 10, 64)
	b, err2 := strconv.ParseInt(string(e[1:len(e)-2]), 10, 64)
	if err1 != nil || err2 != nil || (a < 0) != (b < 0) || a < 0 && a != b {
		return false, true
	}
	return max(a-b, b-a) <= tol, true
}

// runDiff sends each command to both servers and reports the mismatches.
// It follows Redis's MULTI state, so that the replies inside EXEC's are
// normalized as their commands' own (normalizeExec).
func runDiff(p *diffPair, cmds [][][]byte) ([]string, error) {
	var bad []string
	var queued [][][]byte
	for _, args := range cmds {
		r, err := p.redis.do(args)
		if err != nil {
			return bad, fmt.Errorf("redis: %s: %w", showArgs(args), err)
		}
		e, err := p.epoch.do(args)
		if err != nil {
			return bad, fmt.Errorf("epoch: %s: %w", showArgs(args), err)
		}
		name := strings.ToLower(string(args[0]))
		if name == "exec" {
			// Each reply inside EXEC's as its own command's.
			re, ee := parseRaw(r), parseRaw(e)
			if len(re) == len(queued) && len(ee) == len(queued) && len(queued) > 0 {
				for i := range queued {
					if m := diffMismatch(queued[i], re[i], ee[i]); m != "" {
						bad = append(bad, fmt.Sprintf("in EXEC: %s", m))
					}
				}
				queued = nil
				continue
			}
		}
		switch {
		case string(r) == "+QUEUED\r\n":
			queued = append(queued, args)
		case name == "multi" && string(r) == "+OK\r\n" || name == "exec" || name == "discard":
			queued = nil
		}
		if m := diffMismatch(args, r, e); m != "" {
			bad = append(bad, m)
		}
	}
	return bad, nil
}

// parseCase splits a hand-written case, one command a line in inline
// syntax (quotes and \x escapes), '#' comments skipped.
func parseCase(t testing.TB, src string) [][][]byte {
	t.Helper()
	var cmds [][][]byte
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		args, ok := splitArgs([]byte(line), nil)
		if !ok || len(args) == 0 {
			t.Fatalf("bad case line %q", line)
		}
		cmds = append(cmds, args)
	}
	return cmds
}

// flushBoth empties every database of both servers.
func (e *diffEnv) flushBoth(t testing.TB) {
	t.Helper()
	p := e.pair(t)
	defer p.close()
	for _, c := range []*diffConn{p.redis, p.epoch} {
		r, err := c.do([][]byte{[]byte("FLUSHALL")})
		if err != nil || string(r) != "+OK\r\n" {
			t.Fatalf("FLUSHALL: %q %v", r, err)
		}
	}
}

// runCases runs each case on fresh connections and empty servers, after
// setup (if any) prepared the connections.
func (e *diffEnv) runCases(t *testing.T, cases []string, setup ...func(p *diffPair)) {
	t.Helper()
	for i, src := range cases {
		cmds := parseCase(t, src)
		e.flushBoth(t)
		p := e.pair(t)
		for _, s := range setup {
			s(p)
		}
		bad, err := runDiff(p, cmds)
		p.close()
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		for _, m := range bad {
			t.Errorf("case %d (%s): %s", i, firstLine(src), m)
		}
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func TestDifferentialRedis(t *testing.T) {
	env := startDiffEnv(t)
	t.Run("HandWritten", func(t *testing.T) { env.runCases(t, diffCases) })
	t.Run("Random", func(t *testing.T) { env.runRandom(t, genSequence, 0x9e3779b97f4a7c15, 150, 40) })
}

// runRandom runs sequences random sequences of length commands from gen
// (seeded with EPOCH_DIFF_SEED, 1 by default, mixed with mix), each on
// empty servers, and reports the first three that differ.
func (e *diffEnv) runRandom(t *testing.T, gen func(*rand.Rand, int) [][][]byte, mix uint64, sequences, length int) {
	seed := uint64(1)
	if s := os.Getenv("EPOCH_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	t.Logf("seed %d (set EPOCH_DIFF_SEED to vary)", seed)
	rng := rand.New(rand.NewPCG(seed, seed^mix))
	failed := 0
	for i := range sequences {
		e.flushBoth(t)
		p := e.pair(t)
		cmds := gen(rng, length)
		bad, err := runDiff(p, cmds)
		p.close()
		if err != nil {
			t.Fatalf("sequence %d: %v", i, err)
		}
		for _, m := range bad {
			t.Errorf("sequence %d: %s", i, m)
		}
		if len(bad) > 0 {
			t.Logf("sequence %d was:\n%s", i, showSeq(cmds))
			if failed++; failed == 3 {
				break // enough to reproduce
			}
		}
	}
}

func showSeq(cmds [][][]byte) string {
	var b strings.Builder
	for _, c := range cmds {
		b.WriteString(showArgs(c))
		b.WriteByte('\n')
	}
	return b.String()
}
