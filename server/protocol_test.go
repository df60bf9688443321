package server

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// Raw-socket tests of the protocol: inline commands, pipelining, and every
// kind of bad input. After each, the server must still serve other clients
// and the data must be intact.

// healthy asserts that the server answers a fresh client and that the
// sentinel key still holds its value.
func (ts *testServer) healthy(t *testing.T) {
	t.Helper()
	rc := ts.dial(t)
	eq(t, "PING on a fresh connection", rc.do("PING"), "+PONG")
	eq(t, "sentinel", rc.do("GET", "sentinel"), `"intact"`)
}

func startWithSentinel(t *testing.T, conf ...func(*Server)) *testServer {
	ts := startServer(t, conf...)
	eq(t, "SET sentinel", ts.dial(t).do("SET", "sentinel", "intact"), "+OK")
	return ts
}

func TestProtocol_Inline(t *testing.T) {
	ts := startWithSentinel(t)
	rc := ts.dial(t)
	rc.send("PING\r\n")
	eq(t, "inline PING", rc.read(), "+PONG")
	rc.send("SET k \"a b\\r\\n\\x41\"\n") // LF alone ends a line too
	eq(t, "inline SET", rc.read(), "+OK")
	eq(t, "GET", rc.do("GET", "k"), `"a b\r\nA"`)
	rc.send("SET q 'it\\'s'\r\nGET q\r\n")
	eq(t, "single quotes", rc.read(), "+OK")
	eq(t, "single quotes GET", rc.read(), `"it's"`)
	rc.send("\r\n   \r\n*0\r\n*-1\r\nPING\r\n") // empty commands are skipped
	eq(t, "after empty commands", rc.read(), "+PONG")
	rc.send("SET k \"unbalanced\r\n")
	eq(t, "unbalanced quotes", rc.read(), "-ERR Protocol error: unbalanced quotes in request")
	rc.expectClosed()
	ts.healthy(t)
}

func TestProtocol_Pipelining(t *testing.T) {
	ts := startWithSentinel(t)
	rc := ts.dial(t)
	const n = 10000
	var b strings.Builder
	for i := range n {
		b.WriteString(encodeCommand("SET", fmt.Sprint("k", i), fmt.Sprint(i)))
		b.WriteString("INCR counter\r\n") // RESP and inline mixed
	}
	go rc.send(b.String()) // larger than the socket buffers: write while reading
	for i := range n {
		if got := rc.read(); got != "+OK" {
			t.Fatalf("reply %d to SET = %s", i, got)
		}
		if got, want := rc.read(), fmt.Sprint(":", i+1); got != want {
			t.Fatalf("reply %d to INCR = %s, want %s", i, got, want)
		}
	}
	eq(t, "GET k9999", rc.do("GET", "k9999"), `"9999"`)
}

// TestProtocol_BadInput sends each kind of malformed request on its own
// connection: the server replies with Redis's protocol error (or just
// closes), closes that connection, and keeps serving.
func TestProtocol_BadInput(t *testing.T) {
	ts := startWithSentinel(t)
	big := strings.Repeat("x", 70<<10)
	cases := []struct {
		name  string
		input string
		reply string // "" when the server closes without replying
	}{
		{"multibulk count not a number", "*abc\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"multibulk count with leading zero", "*01\r\n$4\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"multibulk count huge", "*2000000\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"multibulk count overflows", "*99999999999999999999999\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"multibulk count without CR", "*1\n$4\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"no $ before a bulk", "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'"},
		{"binary byte instead of $", "*1\r\n\x00PING\r\n", `-ERR Protocol error: expected '$', got '\x00'`},
		{"negative bulk length", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length"},
		{"bulk length not a number", "*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length"},
		{"bulk length over proto-max-bulk-len", "*1\r\n$600000000\r\n", "-ERR Protocol error: invalid bulk length"},
		{"bulk length overflows", "*1\r\n$99999999999999999999999\r\n", "-ERR Protocol error: invalid bulk length"},
		{"bulk longer than its length", "*1\r\n$3\r\nPINGPONG\r\n", "-ERR Protocol error: invalid bulk length"},
		{"bulk shorter than its length", "*2\r\n$3\r\nGET\r\n$5\r\nab\r\n$1\r\nx\r\n", "-ERR Protocol error: invalid bulk length"},
		{"count line too long", "*" + big, "-ERR Protocol error: too big mbulk count string"},
		{"bulk header too long", "*1\r\n$" + big, "-ERR Protocol error: too big bulk count string"},
		{"inline line too long", "GET " + big, "-ERR Protocol error: too big inline request"},
		{"HTTP request", "POST / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
		{"HTTP Host header", "Host: x\r\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := ts.dial(t)
			rc.send(tc.input)
			got := rc.expectClosed()
			want := []string(nil)
			if tc.reply != "" {
				want = []string{tc.reply}
			}
			eq(t, "replies", fmt.Sprint(got), fmt.Sprint(want))
		})
	}
	ts.healthy(t)
}

// TestProtocol_CommandsBeforeTheError get their replies before the
// protocol error.
func TestProtocol_RepliesBeforeAnError(t *testing.T) {
	ts := startWithSentinel(t)
	rc := ts.dial(t)
	rc.send("PING\r\n" + encodeCommand("SET", "a", "1") + "*1\r\n$-3\r\n" + "PING\r\n")
	got := rc.expectClosed()
	eq(t, "replies", fmt.Sprint(got), "[+PONG +OK -ERR Protocol error: invalid bulk length]")
	ts.healthy(t)
}

func TestProtocol_HalfSentCommands(t *testing.T) {
	ts := startWithSentinel(t)
	for _, partial := range []string{
		"*", "*2", "*2\r", "*2\r\n", "*2\r\n$3", "*2\r\n$3\r\nSET", "*3\r\n$3\r\nSET\r\n$8\r\nsentinel\r\n$100\r\nabc",
		"GET sentin", "SET sentinel \"ov",
	} {
		rc := ts.dial(t)
		rc.send(partial)
		must(t, rc.nc.(*net.TCPConn).CloseWrite())
		if got := rc.expectClosed(); len(got) != 0 {
			t.Errorf("%q: replies %v", partial, got)
		}
	}
	ts.healthy(t)
}

// TestProtocol_HalfSentIdle: a client that sends half a command and then
// nothing is closed by the idle timeout.
func TestProtocol_HalfSentIdle(t *testing.T) {
	ts := startWithSentinel(t, func(s *Server) { s.IdleTimeout = 200 * time.Millisecond })
	rc := ts.dial(t)
	rc.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nab")
	start := time.Now()
	rc.expectClosed()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closed after %v", d)
	}
	ts.healthy(t)
}

func TestProtocol_BinaryJunk(t *testing.T) {
	ts := startWithSentinel(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		junk := make([]byte, 1+r.IntN(4096))
		for j := range junk {
			junk[j] = byte(r.UintN(256))
		}
		if i%2 == 0 {
			junk[0] = '*' // exercise the RESP parser, not only inline
		}
		rc := ts.dial(t)
		_ = rc.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = rc.nc.Write(junk) // the server may close before reading it all
		_ = rc.nc.(*net.TCPConn).CloseWrite()
		_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, rc.nc); err != nil && !isConnReset(err) {
			t.Fatalf("junk %d: the server did not end the connection: %v", i, err)
		}
	}
	ts.healthy(t)
}

// TestProtocol_ClientVanishesMidReply: clients that disconnect while large
// replies are being written do not disturb the server.
func TestProtocol_ClientVanishesMidReply(t *testing.T) {
	ts := startWithSentinel(t)
	eq(t, "SET big", ts.dial(t).do("SET", "big", strings.Repeat("v", 4<<20)), "+OK")
	for range 20 {
		rc := ts.dial(t)
		rc.send(strings.Repeat(encodeCommand("GET", "big"), 8))
		buf := make([]byte, 1000)
		_, _ = io.ReadFull(rc.br, buf)
		_ = rc.nc.(*net.TCPConn).SetLinger(0) // reset, not a clean close
		_ = rc.nc.Close()
	}
	ts.healthy(t)
}

// TestProtocol_ClientNeverReads: a client that pipelines requests for large
// replies and never reads them is disconnected after the write timeout; the
// server stops reading its requests meanwhile, so it holds at most one
// batch of replies for it.
func TestProtocol_ClientNeverReads(t *testing.T) {
	ts := startWithSentinel(t, func(s *Server) { s.WriteTimeout = 300 * time.Millisecond })
	eq(t, "SET big", ts.dial(t).do("SET", "big", strings.Repeat("v", 1<<20)), "+OK")
	rc := ts.dial(t)
	_ = rc.nc.(*net.TCPConn).SetReadBuffer(4096)
	req := strings.Repeat(encodeCommand("GET", "big"), 1000)
	_ = rc.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var werr error
	for range 10000 { // 240 MB of requests for 10 TB of replies
		if _, werr = io.WriteString(rc.nc, req); werr != nil {
			break
		}
	}
	// Writing fails: the server stopped reading (and the write deadline
	// passed), or it closed the connection.
	if werr == nil {
		t.Fatal("the server kept reading requests it could not answer")
	}
	// The server has closed the connection: reading drains what the kernel
	// buffered and then fails.
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, rc.nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection is still open")
	}
	ts.healthy(t)
}

func TestProtocol_QueryBufferLimit(t *testing.T) {
	ts := startWithSentinel(t, func(s *Server) { s.QueryBufferLimit = 1 << 20 })
	rc := ts.dial(t)
	v := strings.Repeat("x", 600<<10)
	rc.send(encodeCommand("MSET", "a", v, "b", v))
	eq(t, "replies", fmt.Sprint(rc.expectClosed()), "[]")
	ts.healthy(t)
}

func TestProtocol_ProtoMaxBulkLen(t *testing.T) {
	ts := startWithSentinel(t, func(s *Server) { s.ProtoMaxBulkLen = 1 << 20 })
	rc := ts.dial(t)
	eq(t, "at the limit", rc.do("SET", "k", strings.Repeat("x", 1<<20)), "+OK")
	rc.send(encodeCommand("SET", "k", strings.Repeat("x", 1<<20+1)))
	eq(t, "over the limit", fmt.Sprint(rc.expectClosed()), "[-ERR Protocol error: invalid bulk length]")
	rc = ts.dial(t)
	eq(t, "APPEND over the limit", rc.do("APPEND", "k", "y"), "-ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	eq(t, "CONFIG SET", rc.do("CONFIG", "SET", "proto-max-bulk-len", "2mb"), "+OK")
	eq(t, "APPEND", rc.do("APPEND", "k", "y"), fmt.Sprint(":", 1<<20+1))
	ts.healthy(t)
}
