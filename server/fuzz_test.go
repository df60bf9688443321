package server

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzServer_Commands feeds arbitrary bytes to a live server as one
// client's input and then asserts that the server still answers another
// client and that a sentinel key is intact. Commands that stop the server,
// wipe data, change its configuration, kill other clients or wait for
// durability are left out of the command table of this server.
func FuzzServer_Commands(f *testing.F) {
	for _, seed := range []string{
		"PING\r\n",
		encodeCommand("SET", "k", "v", "EX", "10"),
		encodeCommand("MSET", "a", "1", "b", "2") + encodeCommand("MGET", "a", "b") + encodeCommand("DEL", "a", "b"),
		encodeCommand("INCRBYFLOAT", "f", "1.5e3") + encodeCommand("GETRANGE", "f", "-1", "-100"),
		encodeCommand("MULTI") + encodeCommand("INCR", "n") + encodeCommand("EXEC"),
		encodeCommand("WATCH", "w") + encodeCommand("MULTI") + encodeCommand("SET", "w", "1") + encodeCommand("DISCARD"),
		encodeCommand("HELLO", "3") + encodeCommand("EPOCH.META", "k"),
		encodeCommand("SUBSCRIBE", "ch") + encodeCommand("PSUBSCRIBE", "c*") + encodeCommand("PUBLISH", "ch", "m"),
		encodeCommand("SCAN", "0", "MATCH", "*[a-", "COUNT", "3") + encodeCommand("KEYS", "\\"),
		encodeCommand("SETRANGE", "r", "100", "x") + encodeCommand("APPEND", "r", "y"),
		encodeCommand("SELECT", "3") + encodeCommand("COPY", "a", "b", "DB", "0", "REPLACE"),
		encodeCommand("SETBIT", "b", "100", "1") + encodeCommand("BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "i5", "#3", "20") +
			encodeCommand("BITOP", "NOT", "c", "b") + encodeCommand("BITPOS", "c", "0", "-2", "-1", "BIT") + encodeCommand("LCS", "b", "c", "IDX"),
		encodeCommand("MOVE", "a", "2") + encodeCommand("RENAME", "b", "a"),
		"SET k \"a\\x41\" \r\nGET 'k'\r\n",
		"*2\r\n$3\r\nGET\r\n$-1\r\n",
		"*99999999\r\n",
		"*1\r\n$5\r\nhello\r\n*",
		"\x00\xff*\r\n$\r\n",
		"OBJECT\r\nPUBSUB\r\nSLOWLOG\r\nMULTI\r\nOBJECT\r\nEXEC\r\n",
		encodeCommand("MONITOR") + encodeCommand("AUTH", "x") + encodeCommand("SET", "m", "\x00\n"),
		"MEMORY USAGE k SAMPLES 0\r\nLATENCY HISTOGRAM\r\nCOMMAND GETKEYS mset a 1\r\nWAIT 0 0\r\nINFO all\r\n",
		encodeCommand("RPUSH", "l", "a", "b", "a") + encodeCommand("LPOS", "l", "a", "RANK", "-1", "COUNT", "0") +
			encodeCommand("LINSERT", "l", "BEFORE", "b", "x") + encodeCommand("LMPOP", "2", "m", "l", "RIGHT", "COUNT", "2"),
		encodeCommand("LMOVE", "l", "m", "LEFT", "RIGHT") + encodeCommand("BLPOP", "nokey", "0") + encodeCommand("LRANGE", "m", "0", "-1"),
	} {
		f.Add([]byte(seed))
	}
	// A handler's panic is recovered (the connection closes): the log is
	// where it shows.
	var logs syncBuffer
	ts := startServer(f, logTo(&logs), func(s *Server) {
		s.Handler = newCommandMux("shutdown", "flushall", "flushdb", "swapdb", "config", "client", "save", "flush")
		s.WriteTimeout = 5 * time.Second
	})
	ctl := ts.dial(f)
	const sentinel = "sentinel-5e1b0c7a9d"
	eq(f, "SET sentinel", ctl.do("SET", sentinel, "intact"), "+OK")
	f.Fuzz(func(t *testing.T, input []byte) {
		ctl.t = t // inputs run one at a time
		nc, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
		go func() {
			_, _ = nc.Write(input)
			_ = nc.(*net.TCPConn).CloseWrite()
		}()
		// The server must end the connection once the input is consumed.
		if _, err := io.Copy(io.Discard, nc); err != nil && !isConnReset(err) {
			t.Fatalf("server did not finish the connection: %v", err)
		}
		if got := ctl.do("GET", sentinel); got != `"intact"` {
			t.Fatalf("sentinel = %s", got)
		}
		if got := ctl.do("PING"); got != "+PONG" {
			t.Fatalf("PING = %s", got)
		}
		if strings.Contains(logs.String(), "panic") {
			t.Fatalf("a command panicked:\n%s", logs.String())
		}
	})
}

// FuzzReader_SplitArgs checks the inline splitter never panics and that
// unquoted words round-trip.
func FuzzReader_SplitArgs(f *testing.F) {
	for _, s := range []string{`a b`, `"a\x41" 'b\'c'`, `"unterminated`, `a"b c"`, "\t\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args, ok := splitArgs([]byte(line), nil)
		if !ok {
			return
		}
		if !strings.ContainsAny(line, `"'`) {
			// Words are separated by ASCII white space only, as Redis's
			// sdssplitargs does (isspace in the C locale): a non-breaking
			// space, say, is part of a word.
			words := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' })
			if got, want := len(args), len(words); got != want && !strings.ContainsAny(line, "\v\f") {
				t.Fatalf("splitArgs(%q) = %d args, want %d", line, got, want)
			}
		}
	})
}

// FuzzGlob checks globMatch never panics, matches literal patterns exactly
// and that '*' matches every non-empty string (as Redis's matcher: the
// empty string matches only the empty pattern).
func FuzzGlob(f *testing.F) {
	f.Add("a*b?[c-e]\\*", "axxbyd*")
	f.Add("[^", "x")
	f.Add("*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 60))
	f.Fuzz(func(t *testing.T, pattern, s string) {
		globMatch([]byte(pattern), []byte(s))
		if globMatch([]byte("*"), []byte(s)) != (s != "") {
			t.Fatalf("* matched %q: %v", s, s == "")
		}
		if !strings.ContainsAny(s, `*?[\`) && !globMatch([]byte(s), []byte(s)) {
			t.Fatalf("literal %q did not match itself", s)
		}
	})
}
