package server

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer = testutil.SyncBuffer

// logTo makes the server log its errors (a recovered panic is one) into buf.
func logTo(buf *syncBuffer) func(*Server) {
	return func(s *Server) {
		s.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelError}))
	}
}

// TestCommands_ContainerWithoutSubcommand: the subcommand containers sent
// alone used to index past their arguments and panic, which took the whole
// process down. They answer Redis's arity error, also while queueing in
// MULTI (which makes EXEC abort), and the connection stays usable.
func TestCommands_ContainerWithoutSubcommand(t *testing.T) {
	ts := startWithSentinel(t)
	rc := ts.dial(t)
	for _, name := range []string{"CLIENT", "CONFIG", "OBJECT", "PUBSUB", "SLOWLOG"} {
		eq(t, name, rc.do(name), fmt.Sprintf("-ERR wrong number of arguments for '%s' command", strings.ToLower(name)))
		eq(t, "MULTI", rc.do("MULTI"), "+OK")
		eq(t, name+" in MULTI", rc.do(name), fmt.Sprintf("-ERR wrong number of arguments for '%s' command", strings.ToLower(name)))
		eq(t, "EXEC", rc.do("EXEC"), "-EXECABORT Transaction discarded because of previous errors.")
	}
	eq(t, "COMMAND alone is valid", strings.HasPrefix(rc.do("COMMAND"), "["), true)
	eq(t, "OBJECT FREQ alone", rc.do("OBJECT", "FREQ"), "-ERR wrong number of arguments for 'object|freq' command")
	eq(t, "PING", rc.do("PING"), "+PONG")
	ts.healthy(t)
}

// TestCommands_EveryCommandWithAnyArgumentCount sends every command of the
// table with 0 to 4 arguments of a few shapes, each on a new connection,
// and asserts that none panics (the server logs a recovered panic) and
// the server keeps serving. Commands that stop the server or wipe the data
// are left out.
func TestCommands_EveryCommandWithAnyArgumentCount(t *testing.T) {
	t.Chdir(t.TempDir()) // EPOCH.BACKUP x writes into ./x
	var logs syncBuffer
	skip := []string{"shutdown", "flushall", "flushdb", "flush"}
	ts := startServer(t, logTo(&logs), func(s *Server) { s.Handler = newCommandMux(skip...) })
	eq(t, "SET sentinel", ts.dial(t).do("SET", "sentinel", "intact"), "+OK")
	shapes := [][]string{
		{"x", "y", "z", "w"},
		{"0", "0", "0", "0"},
		{"-1", "-1", "-1", "-1"},
		{"", "", "", ""},
		{"help", "x", "1", "2"},
		{"get", "k", "ex", "1"},
		{"list", "type", "id", "x"},
	}
	for _, spec := range newCommandMux(skip...).Specs() {
		for _, shape := range shapes {
			for n := 0; n <= len(shape); n++ {
				args := append([]string{spec.Name}, shape[:n]...)
				nc, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
				must(t, err)
				rc := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
				// The reply does not matter (SUBSCRIBE may not even
				// answer in kind); QUIT ends the connection either way.
				rc.send(encodeCommand(args...) + encodeCommand("QUIT"))
				rc.expectClosed()
				_ = nc.Close()
				if strings.Contains(logs.String(), "panic") {
					t.Fatalf("%q panicked:\n%s", args, logs.String())
				}
			}
		}
	}
	ts.healthy(t)
}

// TestServer_HandlerPanicClosesOnlyThatConnection: a panic in a handler
// is logged and ends that client's connection, not the process; the
// keyspace lock it held is released, also inside EXEC, and the server
// still shuts down cleanly.
func TestServer_HandlerPanicClosesOnlyThatConnection(t *testing.T) {
	var logs syncBuffer
	ts := startWithSentinel(t, logTo(&logs), func(s *Server) {
		m := NewCommandMux()
		m.HandleFunc(CommandSpec{Name: "boom", Arity: 1, Flags: FlagKeyspace},
			func(c *Conn, cmd Command) {
				c.WriteArray(2) // a reply half written
				panic("boom")
			})
		s.Handler = m
	})

	rc := ts.dial(t)
	rc.send(encodeCommand("SET", "a", "1") + encodeCommand("BOOM") + encodeCommand("PING"))
	eq(t, "replies before the connection closes", fmt.Sprint(rc.expectClosed()), "[]")
	if got := logs.String(); !strings.Contains(got, "panic serving a command") || !strings.Contains(got, "panic=boom") {
		t.Errorf("the panic was not logged:\n%s", got)
	}
	// SET took the keyspace lock shared: it would block forever had BOOM
	// kept the lock exclusively.
	other := ts.dial(t)
	eq(t, "GET a", other.do("GET", "a"), `"1"`)
	eq(t, "SET b", other.do("SET", "b", "2"), "+OK")

	// Inside EXEC, whose commands share one library transaction: the panic
	// rolls it back whole (the INCR before BOOM is not applied) and leaves
	// no lock held.
	rc = ts.dial(t)
	eq(t, "MULTI", rc.do("MULTI"), "+OK")
	eq(t, "INCR", rc.do("INCR", "n"), "+QUEUED")
	eq(t, "BOOM", rc.do("BOOM"), "+QUEUED")
	rc.send(encodeCommand("EXEC"))
	rc.expectClosed()
	eq(t, "INCR after the panic in EXEC", other.do("INCR", "n"), ":1")
	ts.healthy(t)
	ts.stop(t) // Shutdown waits for every connection: none is stuck
}
