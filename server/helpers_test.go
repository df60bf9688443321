package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/clock"
	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// testServer is a Server on a real Pebble store in a temporary directory,
// listening on a loopback port, with a manual clock.
type testServer struct {
	srv    *Server
	db     *epochdb.DB
	opts   *epochdb.Options
	clock  *clock.Manual
	dir    string
	addr   string
	done   chan error
	conf   []func(*Server)
	dbConf func(*epochdb.Options)
}

// startServer starts a test server; conf adjusts the Server before it
// serves. Cleanup shuts it down and closes the database.
func startServer(t testing.TB, conf ...func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{clock: testutil.NewClock(), dir: t.TempDir(), conf: conf}
	ts.start(t)
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// startServerDB is startServer with database options adjusted by dbConf.
func startServerDB(t testing.TB, dbConf func(*epochdb.Options), conf ...func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{clock: testutil.NewClock(), dir: t.TempDir(), conf: conf, dbConf: dbConf}
	ts.start(t)
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

func (ts *testServer) start(t testing.TB) {
	t.Helper()
	ts.opts = &epochdb.Options{Clock: ts.clock}
	if ts.dbConf != nil {
		ts.dbConf(ts.opts)
	}
	db, err := epochdb.Open(ts.dir, ts.opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.db = db
	ts.srv = &Server{DB: db, DBOptions: ts.opts}
	for _, f := range ts.conf {
		f(ts.srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ts.done = make(chan error, 1)
	go func() { ts.done <- ts.srv.Serve(ln) }()
}

// stop shuts the server down gracefully and closes the database; it is
// idempotent.
func (ts *testServer) stop(t testing.TB) {
	t.Helper()
	if ts.db == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if err := ts.db.Close(); err != nil {
		t.Errorf("db.Close: %v", err)
	}
	ts.db = nil
}

// restart stops the server and the database and opens both again on the
// same directory (the clock keeps its time).
func (ts *testServer) restart(t testing.TB) {
	t.Helper()
	ts.stop(t)
	ts.start(t)
}

// client returns a go-redis client speaking RESP3.
func (ts *testServer) client(t testing.TB, conf ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{
		Addr:                     ts.addr,
		Protocol:                 3,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		DialTimeout:              5 * time.Second,
		ReadTimeout:              10 * time.Second,
		WriteTimeout:             10 * time.Second,
		PoolSize:                 4,
	}
	for _, f := range conf {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawConn is a plain TCP connection for byte-level tests.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func (ts *testServer) dial(t testing.TB) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes s as is.
func (rc *rawConn) send(s string) {
	rc.t.Helper()
	_ = rc.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(rc.nc, s); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// do sends a command as a RESP array and returns its reply rendered by
// render.
func (rc *rawConn) do(args ...string) string {
	rc.t.Helper()
	rc.send(encodeCommand(args...))
	return rc.read()
}

// read reads one reply and renders it.
func (rc *rawConn) read() string {
	rc.t.Helper()
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := readRendered(rc.br)
	if err != nil {
		rc.t.Fatalf("read reply: %v", err)
	}
	return s
}

// expectClosed asserts that the server closes the connection (after any
// replies still buffered, which are returned).
func (rc *rawConn) expectClosed() []string {
	rc.t.Helper()
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []string
	for {
		s, err := readRendered(rc.br)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err) {
				return got
			}
			last := ""
			if len(got) > 0 {
				last = got[len(got)-1]
				if len(last) > 200 {
					last = last[:200] + "..."
				}
			}
			rc.t.Fatalf("expected the server to close the connection, got %v after %d replies (last %s)", err, len(got), last)
		}
		got = append(got, s)
	}
}

func isConnReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

func encodeCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// readRendered reads one RESP2/RESP3 reply and renders it compactly:
// +simple, -error, :int, "bulk", nil, [a b], {k: v}, ,double, #t, >[push].
func readRendered(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return "", fmt.Errorf("bad reply line %q", line)
	}
	typ, body := line[0], line[1:len(line)-2]
	switch typ {
	case '+', '-', ':', ',', '#', '(':
		return string(typ) + body, nil
	case '_':
		return "nil", nil
	case '$', '=':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "nil", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return strconv.Quote(string(buf[:n])), nil
	case '*', '~', '>', '%':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "nil", nil
		}
		count := n
		if typ == '%' {
			count = 2 * n
		}
		parts := make([]string, 0, count)
		for range count {
			p, err := readRendered(br)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		if typ == '%' {
			var kv []string
			for i := 0; i < len(parts); i += 2 {
				kv = append(kv, parts[i]+": "+parts[i+1])
			}
			return "{" + strings.Join(kv, ", ") + "}", nil
		}
		prefix := ""
		if typ == '>' {
			prefix = ">"
		}
		return prefix + "[" + strings.Join(parts, " ") + "]", nil
	}
	return "", fmt.Errorf("unknown reply type %q", line)
}

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eq fails the test unless got == want.
func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// runScript runs a command script on rc: one "command args => reply" per
// line, the command split like an inline command (quotes and \x escapes),
// the reply rendered as readRendered does. "!advance 10s" moves the manual
// clock; blank lines and '#' comments are skipped.
func runScript(t *testing.T, ts *testServer, rc *rawConn, script string) {
	t.Helper()
	for n, line := range strings.Split(script, "\n") {
		line = strings.TrimLeft(line, " \t") // a reply may end with a space
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if d, ok := strings.CutPrefix(line, "!advance "); ok {
			dur, err := time.ParseDuration(d)
			must(t, err)
			ts.clock.Advance(dur)
			continue
		}
		cmd, want, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("script line %d: no ' => ': %q", n+1, line)
		}
		args, ok := splitArgs([]byte(cmd), nil)
		if !ok {
			t.Fatalf("script line %d: bad quoting: %q", n+1, cmd)
		}
		strs := make([]string, len(args))
		for i, a := range args {
			strs[i] = string(a)
		}
		if got := rc.do(strs...); got != want {
			t.Errorf("line %d: %s\n got: %s\nwant: %s", n+1, cmd, got, want)
		}
	}
}
