package server

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Tests with redis-cli, a real RESP2 client (RESP3 with -3). make test
// installs it (scripts/deps.sh); without it these tests skip.

// redisCLI runs redis-cli against ts with args and returns its output.
func redisCLI(t *testing.T, ts *testServer, args ...string) (string, error) {
	t.Helper()
	return redisCLIInput(t, ts, "", args...)
}

func redisCLIInput(t *testing.T, ts *testServer, stdin string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (make test installs it)")
	}
	host, port, _ := strings.Cut(ts.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-h", host, "-p", port}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func TestRedisCLI_Commands(t *testing.T) {
	ts := startServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG\n"},
		{[]string{"SET", "k", "hello world"}, "OK\n"},
		{[]string{"GET", "k"}, "hello world\n"},
		{[]string{"GET", "missing"}, "\n"},
		{[]string{"INCR", "n"}, "1\n"},
		{[]string{"INCRBY", "n", "41"}, "42\n"},
		{[]string{"MSET", "a", "1", "b", "2"}, "OK\n"},
		{[]string{"MGET", "a", "missing", "b"}, "1\n\n2\n"},
		{[]string{"SET", "t", "v", "EX", "100"}, "OK\n"},
		{[]string{"TTL", "t"}, "100\n"},
		{[]string{"EXPIRE", "t", "50", "LT"}, "1\n"},
		{[]string{"PTTL", "t"}, "50000\n"},
		{[]string{"DEL", "a", "b", "missing"}, "2\n"},
		{[]string{"EXISTS", "k", "n"}, "2\n"},
		{[]string{"KEYS", "*"}, "k\nn\nt\n"},
		{[]string{"DBSIZE"}, "3\n"},
		{[]string{"SELECT", "2"}, "OK\n"},
		{[]string{"-n", "2", "SET", "in2", "x"}, "OK\n"},
		{[]string{"-n", "2", "DBSIZE"}, "1\n"},
		{[]string{"INFO", "keyspace"}, "# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb2:keys=1,expires=0,avg_ttl=0\r\n\n"},
		{[]string{"GET", "n", "extra"}, "ERR wrong number of arguments for 'get' command\n"},
		{[]string{"INCR", "k"}, "ERR value is not an integer or out of range\n"},
		{[]string{"NOSUCH", "a"}, "ERR unknown command 'NOSUCH', with args beginning with: 'a' \n"},
		{[]string{"EPOCH.META", "missing"}, "\n"},
		{[]string{"-3", "HELLO", "3"}, ""},
		{[]string{"OBJECT", "ENCODING", "n"}, "int\n"},
		{[]string{"CONFIG", "GET", "appendfsync"}, "appendfsync\neverysec\n"},
		{[]string{"COMMAND", "COUNT"}, ""},
	} {
		out, _ := redisCLI(t, ts, tc.args...)
		if tc.want != "" && strings.TrimRight(out, "\n") != strings.TrimRight(tc.want, "\n") {
			t.Errorf("redis-cli %s\n got: %q\nwant: %q", strings.Join(tc.args, " "), out, tc.want)
		}
		if tc.want == "" && (out == "" || strings.Contains(out, "ERR")) {
			t.Errorf("redis-cli %s: %q", strings.Join(tc.args, " "), out)
		}
	}
	// Values from stdin (-x) are binary-safe.
	bin := "a\x00b\r\nc\xff"
	out, err := redisCLIInput(t, ts, bin, "-x", "SET", "bin")
	if err != nil || out != "OK\n" {
		t.Fatalf("redis-cli -x SET: %v %q", err, out)
	}
	eq(t, "binary GET", ts.dial(t).do("GET", "bin"), fmt.Sprintf("%q", bin))
}

// TestRedisCLI_ScanAndPipe: --scan pages through SCAN cursors, --pipe
// streams a mass insertion (pipelined, without waiting for replies).
func TestRedisCLI_ScanAndPipe(t *testing.T) {
	ts := startServer(t)
	var in strings.Builder
	const n = 5000
	for i := range n {
		in.WriteString(encodeCommand("SET", fmt.Sprintf("key:%05d", i), fmt.Sprint(i)))
	}
	out, err := redisCLIInput(t, ts, in.String(), "--pipe")
	if err != nil || !strings.Contains(out, fmt.Sprintf("errors: 0, replies: %d", n)) {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out)
	}
	out, err = redisCLI(t, ts, "--scan", "--pattern", "key:01*")
	if err != nil {
		t.Fatalf("redis-cli --scan: %v: %s", err, out)
	}
	lines := strings.Fields(out)
	eq(t, "--scan keys", len(lines), 1000)
	eq(t, "first", lines[0], "key:01000")
	out, err = redisCLI(t, ts, "DBSIZE")
	must(t, err)
	eq(t, "DBSIZE", out, fmt.Sprint(n, "\n"))
}

func TestRedisCLI_Auth(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.RequirePass = "pw" })
	out, _ := redisCLI(t, ts, "GET", "k")
	eq(t, "without password", strings.TrimSpace(out), "NOAUTH Authentication required.")
	out, _ = redisCLI(t, ts, "--no-auth-warning", "-a", "pw", "SET", "k", "v")
	eq(t, "with password", out, "OK\n")
	out, _ = redisCLI(t, ts, "--no-auth-warning", "-a", "pw", "-3", "GET", "k")
	eq(t, "RESP3 with password", out, "v\n")
	out, _ = redisCLI(t, ts, "--no-auth-warning", "-a", "wrong", "GET", "k")
	if !strings.Contains(out, "WRONGPASS") && !strings.Contains(out, "NOAUTH") {
		t.Errorf("wrong password: %q", out)
	}
}
