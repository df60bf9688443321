package server

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
)

// Tests of the introspection commands: MONITOR, CLIENT, INFO's statistics
// sections, LATENCY, MEMORY, COMMAND, WAIT, and the budget's OOM error.

// monitorPrefix is the start of a MONITOR line for the test clock.
func monitorPrefix(ts *testServer, db int, addr string) string {
	us := ts.clock.Now().UnixMicro()
	return fmt.Sprintf("+%d.%06d [%d %s]", us/1e6, us%1e6, db, addr)
}

// localAddr is the address the server sees for rc.
func localAddr(rc *rawConn) string { return rc.nc.LocalAddr().String() }

// TestMonitor_StreamsCommandsRedacted: a monitor sees every other
// client's commands with Redis's quoting, in the database they ran in
// (SELECT shows the new one), admin commands left out and AUTH/HELLO's
// credentials redacted; a failed AUTH is shown, as in Redis.
func TestMonitor_StreamsCommandsRedacted(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.RequirePass = "secret" })
	mon := ts.dial(t)
	eq(t, "AUTH", mon.do("AUTH", "secret"), "+OK")
	eq(t, "MONITOR", mon.do("MONITOR"), "+OK")
	cl := ts.dial(t)
	addr := localAddr(cl)
	eq(t, "AUTH wrong", cl.do("AUTH", "default", "nope"), "-WRONGPASS invalid username-password pair or user is disabled.")
	eq(t, "HELLO AUTH", cl.do("HELLO", "2", "AUTH", "default", "secret", "SETNAME", "me") != "", true)
	eq(t, "SET", cl.do("SET", "a\"", "x\n\x01y\\"), "+OK")
	eq(t, "CONFIG GET", cl.do("CONFIG", "GET", "maxclients"), `["maxclients" "10000"]`)
	eq(t, "SELECT", cl.do("SELECT", "2"), "+OK")
	eq(t, "GET", cl.do("get", "k"), "nil")

	br := mon.br
	_ = mon.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	p0, p2 := monitorPrefix(ts, 0, addr), monitorPrefix(ts, 2, addr)
	for _, want := range []string{
		p0 + ` "AUTH" "(redacted)" "(redacted)"`,
		p0 + ` "HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "me"`,
		p0 + ` "SET" "a\"" "x\n\x01y\\"`,
		p2 + ` "SELECT" "2"`,
		p2 + ` "get" "k"`,
	} {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("monitor read: %v", err)
		}
		eq(t, "monitor line", strings.TrimSuffix(line, "\r\n"), want)
	}
	if list := cl.do("CLIENT", "LIST"); !regexp.MustCompile(`flags=O db=0 `).MatchString(list) {
		t.Errorf("the monitor's CLIENT LIST flags are not O: %s", list)
	}
	if line, _ := br.ReadString('\n'); !strings.HasSuffix(line, `] "CLIENT" "LIST"`+"\r\n") {
		t.Errorf("monitor line = %q", line)
	}
	// RESET ends monitor mode: no more lines.
	mon.send(encodeCommand("RESET"))
	line, err := br.ReadString('\n')
	if err != nil || line != "+RESET\r\n" {
		t.Fatalf("RESET = %q, %v", line, err)
	}
	eq(t, "PING", cl.do("PING"), "+PONG")
	eq(t, "AUTH again", mon.do("AUTH", "secret"), "+OK") // RESET deauthenticated: the PING above was not fed
}

// TestMonitor_SlowMonitorIsDisconnected: a monitor that does not read is
// disconnected once its queue passes the limit, while the client whose
// commands it monitors is never held up.
func TestMonitor_SlowMonitorIsDisconnected(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, func(s *Server) {
		s.PubSubBufferLimit = 256 << 10
		s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	mon := ts.dial(t)
	_ = mon.nc.(*net.TCPConn).SetReadBuffer(4096)
	eq(t, "MONITOR", mon.do("MONITOR"), "+OK")
	cl := ts.dial(t)
	big := strings.Repeat("x", 64<<10)
	monID := ""
	for _, f := range strings.Fields(cl.do("CLIENT", "LIST")) {
		if strings.HasPrefix(f, `"id=`) || strings.HasPrefix(f, "id=") {
			monID = strings.TrimPrefix(strings.TrimPrefix(f, `"`), "id=")
			break
		}
	}
	// Far more than the socket buffers and the limit together.
	for i := 0; i < 600; i++ {
		cl.send(encodeCommand("ECHO", big))
		if got := cl.read(); len(got) != len(big)+2 {
			t.Fatalf("ECHO %d: reply of %d bytes", i, len(got))
		}
		if i%50 == 49 && !strings.Contains(cl.do("CLIENT", "LIST", "ID", monID), "id=") {
			break
		}
	}
	testutil.Eventually(t, "the monitor is disconnected", func() bool {
		return !strings.Contains(cl.do("CLIENT", "LIST", "ID", monID), "id=")
	})
	if !strings.Contains(logs.String(), "output buffer limit") {
		t.Errorf("no log line for the disconnected monitor:\n%s", logs.String())
	}
	eq(t, "monitors left", ts.srv.intro.monitors.n.Load() <= 1, true) // removed at the next feed
	eq(t, "PING", cl.do("PING"), "+PONG")
	eq(t, "monitors left", ts.srv.intro.monitors.n.Load(), int32(0))
}

// TestMonitor_RedisCLI: redis-cli's MONITOR mode prints the feed.
func TestMonitor_RedisCLI(t *testing.T) {
	ts := startServer(t)
	path, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (make test installs it)")
	}
	host, port, _ := strings.Cut(ts.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-h", host, "-p", port, "MONITOR")
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "OK" {
		t.Fatalf("redis-cli MONITOR first line = %q", sc.Text())
	}
	c := ts.client(t)
	must(t, c.Set(ctx, "key", "hello world", 0).Err())
	for sc.Scan() {
		if strings.HasSuffix(sc.Text(), `"set" "key" "hello world"`) {
			return
		}
	}
	t.Fatalf("redis-cli MONITOR never showed the SET: %v", sc.Err())
}

// TestClient_ListFields: CLIENT LIST and CLIENT INFO have Redis 7.2's
// fields in its order, and the flags of the connection's modes.
func TestClient_ListFields(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	info := rc.do("CLIENT", "INFO")
	var names []string
	for _, f := range strings.Fields(strings.Trim(info, `"\n`)) {
		k, _, _ := strings.Cut(f, "=")
		names = append(names, k)
	}
	eq(t, "fields", strings.Join(names, " "), "id addr laddr fd name age idle flags db sub psub ssub multi qbuf "+
		"qbuf-free argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp lib-name lib-ver")
	if !strings.Contains(info, " flags=N ") || !strings.Contains(info, " cmd=client ") {
		t.Errorf("CLIENT INFO = %s", info)
	}
	if m := regexp.MustCompile(` fd=(-?\d+) `).FindStringSubmatch(info); m == nil || m[1] == "-1" {
		t.Errorf("no descriptor in %s", info)
	}
	runScript(t, ts, rc, `
		CLIENT NO-EVICT on => +OK
		CLIENT NO-TOUCH on => +OK
		CLIENT NO-TOUCH maybe => -ERR syntax error
		CLIENT NO-TOUCH => -ERR wrong number of arguments for 'client|no-touch' command
	`)
	if info := rc.do("CLIENT", "INFO"); !strings.Contains(info, " flags=eT ") {
		t.Errorf("flags with NO-EVICT and NO-TOUCH: %s", info)
	}
	eq(t, "MULTI", rc.do("MULTI"), "+OK")
	if list := ts.dial(t).do("CLIENT", "LIST"); !strings.Contains(list, " flags=xeT ") {
		t.Errorf("flags in MULTI with NO-EVICT and NO-TOUCH: %s", list)
	}
	eq(t, "RESET", rc.do("RESET"), "+RESET")
	if info := rc.do("CLIENT", "INFO"); !strings.Contains(info, " flags=N ") {
		t.Errorf("RESET left modes on: %s", info)
	}
}

// TestClient_ListFilters: TYPE and ID as Redis parses them (ID in the
// order asked, unknown IDs left out), and Redis's errors.
func TestClient_ListFilters(t *testing.T) {
	ts := startServer(t)
	a, b := ts.dial(t), ts.dial(t)
	ida, idb := a.do("CLIENT", "ID")[1:], b.do("CLIENT", "ID")[1:]
	eq(t, "SUBSCRIBE", b.do("SUBSCRIBE", "ch"), `["subscribe" "ch" :1]`)
	ids := func(list string) string {
		var out []string
		for _, m := range regexp.MustCompile(`id=(\d+) `).FindAllStringSubmatch(list, -1) {
			out = append(out, m[1])
		}
		return strings.Join(out, ",")
	}
	eq(t, "LIST ID b a", ids(a.do("CLIENT", "LIST", "ID", idb, ida, "999", "0", "-5")), idb+","+ida)
	eq(t, "LIST TYPE pubsub", ids(a.do("CLIENT", "LIST", "TYPE", "pubsub")), idb)
	eq(t, "LIST TYPE normal", ids(a.do("CLIENT", "LIST", "TYPE", "NORMAL")), ida)
	eq(t, "LIST TYPE replica", ids(a.do("CLIENT", "LIST", "TYPE", "slave")), "")
	runScript(t, ts, a, `
		CLIENT LIST TYPE foo => -ERR Unknown client type 'foo'
		CLIENT LIST ID abc => -ERR Invalid client ID
		CLIENT LIST ID => -ERR syntax error
		CLIENT LIST TYPE normal ID 1 => -ERR syntax error
		CLIENT LIST foo => -ERR syntax error
	`)
}

// TestClient_KillFilters: every filter of CLIENT KILL, the old form, and
// Redis's errors.
func TestClient_KillFilters(t *testing.T) {
	ts := startServer(t)
	a := ts.dial(t)
	b, c, d := ts.dial(t), ts.dial(t), ts.dial(t)
	idb := b.do("CLIENT", "ID")[1:]
	eq(t, "SUBSCRIBE", c.do("SUBSCRIBE", "ch"), `["subscribe" "ch" :1]`)
	eq(t, "PING d", d.do("PING"), "+PONG")
	runScript(t, ts, a, `
		CLIENT KILL ID 0 => -ERR client-id should be greater than 0
		CLIENT KILL ID x => -ERR client-id should be greater than 0
		CLIENT KILL TYPE foo => -ERR Unknown client type 'foo'
		CLIENT KILL USER nobody => -ERR No such user 'nobody'
		CLIENT KILL SKIPME maybe => -ERR syntax error
		CLIENT KILL MAXAGE x => -ERR value is not an integer or out of range
		CLIENT KILL MAXAGE 0 => -ERR maxage should be greater than 0
		CLIENT KILL FOO bar => -ERR syntax error
		CLIENT KILL ID 1 SKIPME => -ERR syntax error
		CLIENT KILL 1.2.3.4:5 => -ERR No such client
		CLIENT KILL ADDR 1.2.3.4:5 => :0
		CLIENT KILL MAXAGE 1000000 => :0
		CLIENT KILL LADDR 1.2.3.4:5 => :0
	`)
	eq(t, "KILL ID", a.do("CLIENT", "KILL", "ID", idb), ":1")
	b.expectClosed()
	eq(t, "KILL TYPE pubsub", a.do("CLIENT", "KILL", "TYPE", "pubsub", "USER", "default"), ":1")
	c.expectClosed()
	// MAXAGE: make d an hour old (under the lock CLIENT KILL's snapshot
	// takes, so the change is ordered before its read).
	ts.srv.mu.Lock()
	for o := range ts.srv.conns {
		if o.raddr == localAddr(d) {
			o.created = o.created.Add(-time.Hour)
		}
	}
	ts.srv.mu.Unlock()
	eq(t, "KILL MAXAGE", a.do("CLIENT", "KILL", "MAXAGE", "3600"), ":1")
	d.expectClosed()
	// A round trip first: the server knows a connection once it has
	// accepted it, which may come after the dial returns.
	e := ts.dial(t)
	eq(t, "e PING", e.do("PING"), "+PONG")
	eq(t, "KILL ADDR", a.do("CLIENT", "KILL", "ADDR", localAddr(e)), ":1")
	e.expectClosed()
	f := ts.dial(t)
	eq(t, "f PING", f.do("PING"), "+PONG")
	eq(t, "KILL old form", a.do("CLIENT", "KILL", localAddr(f)), "+OK")
	f.expectClosed()
	// The server forgets a killed connection once its goroutine ends.
	testutil.Eventually(t, "only a is connected", func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return len(ts.srv.conns) == 1
	})
	eq(t, "KILL LADDR skipping me", a.do("CLIENT", "KILL", "LADDR", ts.addr), ":0")
	eq(t, "KILL me", a.do("CLIENT", "KILL", "LADDR", ts.addr, "SKIPME", "no"), ":1")
	a.expectClosed()
}

// heldClients returns the ids of the connections waiting in a blocking
// wait (CLIENT LIST flag b).
func heldClients(ts *testServer) []int64 {
	var ids []int64
	for _, c := range ts.srv.snapshotConns() {
		if c.shared.blocked.Load() {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// TestClient_PauseWrite: CLIENT PAUSE WRITE holds writes (and a write
// queued in MULTI, and EXEC of a transaction with one) until CLIENT
// UNPAUSE, while reads go on; Redis's errors for bad arguments.
func TestClient_PauseWrite(t *testing.T) {
	ts := startServer(t)
	ctl, w, m := ts.dial(t), ts.dial(t), ts.dial(t)
	runScript(t, ts, ctl, `
		SET k old => +OK
		CLIENT PAUSE abc => -ERR timeout is not an integer or out of range
		CLIENT PAUSE -1 => -ERR timeout is negative
		CLIENT PAUSE 10 FOO => -ERR CLIENT PAUSE mode must be WRITE or ALL
		CLIENT PAUSE => -ERR wrong number of arguments for 'client|pause' command
		CLIENT UNPAUSE x => -ERR wrong number of arguments for 'client|unpause' command
		CLIENT PAUSE 100000000 WRITE => +OK
		GET k => "old"
	`)
	eq(t, "MULTI", m.do("MULTI"), "+OK")
	eq(t, "GET queued", m.do("GET", "k"), "+QUEUED")
	w.send(encodeCommand("SET", "k", "new"))
	testutil.Eventually(t, "the SET is held", func() bool { return len(heldClients(ts)) == 1 })
	m.send(encodeCommand("SET", "k", "multi"))
	testutil.Eventually(t, "the queued SET is held", func() bool { return len(heldClients(ts)) == 2 })
	eq(t, "GET while paused", ctl.do("GET", "k"), `"old"`)
	if list := ctl.do("CLIENT", "LIST"); strings.Count(list, "flags=b ")+strings.Count(list, "flags=xb ") != 2 {
		t.Errorf("held clients not flagged b: %s", list)
	}
	eq(t, "UNPAUSE", ctl.do("CLIENT", "UNPAUSE"), "+OK")
	eq(t, "held SET", w.read(), "+OK")
	eq(t, "held queued SET", m.read(), "+QUEUED")
	eq(t, "EXEC", m.do("EXEC"), `["new" +OK]`)
	eq(t, "GET after", ctl.do("GET", "k"), `"multi"`)
	eq(t, "held count", len(heldClients(ts)), 0)

	// EXEC of a transaction that queued a write is held; a read-only one
	// is not.
	eq(t, "MULTI", m.do("MULTI"), "+OK")
	eq(t, "INCR queued", m.do("INCR", "n"), "+QUEUED")
	eq(t, "PAUSE", ctl.do("CLIENT", "PAUSE", "100000000", "WRITE"), "+OK")
	m.send(encodeCommand("EXEC"))
	testutil.Eventually(t, "EXEC is held", func() bool { return len(heldClients(ts)) == 1 })
	eq(t, "PUBLISH is held too", len(heldClients(ts)), 1)
	eq(t, "MULTI read-only", w.do("MULTI"), "+OK")
	eq(t, "GET queued", w.do("GET", "n"), "+QUEUED")
	eq(t, "read-only EXEC", w.do("EXEC"), "[nil]")
	eq(t, "UNPAUSE", ctl.do("CLIENT", "UNPAUSE"), "+OK")
	eq(t, "held EXEC", m.read(), "[:1]")
}

// TestClient_PauseAll: CLIENT PAUSE ALL holds every command, the pausing
// client's too, until the pause ends; a short pause ends by itself.
func TestClient_PauseAll(t *testing.T) {
	ts := startServer(t)
	a, b := ts.dial(t), ts.dial(t)
	eq(t, "PAUSE", a.do("CLIENT", "PAUSE", "100000000"), "+OK")
	a.send(encodeCommand("PING"))
	b.send(encodeCommand("GET", "k"))
	testutil.Eventually(t, "both held", func() bool { return len(heldClients(ts)) == 2 })
	ts.srv.intro.pause.unpause() // CLIENT UNPAUSE would be held as well
	eq(t, "PING", a.read(), "+PONG")
	eq(t, "GET", b.read(), "nil")
	// A pause of 1ms ends without UNPAUSE.
	eq(t, "short PAUSE", a.do("CLIENT", "PAUSE", "1", "ALL"), "+OK")
	eq(t, "PING after it", b.do("PING"), "+PONG")
	testutil.Eventually(t, "the pause ended", func() bool { return !ts.srv.intro.pause.on.Load() })
}

// TestClient_NoTouch: with CLIENT NO-TOUCH on, the connection's reads
// (GET, MGET, GETRANGE, STRLEN, reads in EXEC) leave the key's frequency
// and last access unchanged; off again, a GET counts.
func TestClient_NoTouch(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	eq(t, "SET", rc.do("SET", "k", "value"), "+OK")
	key := append([]byte{0}, "k"...)
	before, err := ts.db.Metadata(key)
	must(t, err)
	ts.clock.Advance(time.Minute)
	runScript(t, ts, rc, `
		CLIENT NO-TOUCH on => +OK
		GET k => "value"
		MGET k k missing => ["value" "value" nil]
		GETRANGE k 0 1 => "va"
		STRLEN k => :5
		MULTI => +OK
		GET k => +QUEUED
		MGET k => +QUEUED
		EXEC => ["value" ["value"]]
	`)
	after, err := ts.db.Metadata(key)
	must(t, err)
	eq(t, "frequency", after.Frequency, before.Frequency)
	eq(t, "last access", after.LastAccess, before.LastAccess)
	eq(t, "NO-TOUCH off", rc.do("CLIENT", "NO-TOUCH", "off"), "+OK")
	eq(t, "GET", rc.do("GET", "k"), `"value"`)
	got, err := ts.db.Metadata(key)
	must(t, err)
	eq(t, "frequency after a GET", got.Frequency, before.Frequency+1)
	eq(t, "last access after a GET", got.LastAccess.Equal(before.LastAccess), false)
}

// infoFields returns the fields of an INFO reply as a map.
func infoFields(reply string) map[string]string {
	reply, _ = strconv.Unquote(reply)
	out := map[string]string{}
	for _, line := range strings.Split(reply, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}

// TestInfo_CommandAndErrorStats: commandstats counts calls, rejected
// calls (refused before running) and failed calls (run, answered with an
// error); errorstats counts error replies by code; latencystats has the
// percentiles; keyspace hits and misses count MGET's keys; CONFIG
// RESETSTAT clears them all.
func TestInfo_CommandAndErrorStats(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET k v => +OK
		GET k => "v"
		GET missing => nil
		GET => -ERR wrong number of arguments for 'get' command
		INCR k => -ERR value is not an integer or out of range
		MGET k missing k => ["v" nil "v"]
		NOSUCH => -ERR unknown command 'NOSUCH', with args beginning with: 
		MULTI => +OK
		SUBSCRIBE ch => -ERR Command not allowed inside a transaction
		DISCARD => +OK
	`)
	cs := infoFields(rc.do("INFO", "commandstats"))
	check := func(name, calls, rejected, failed string) {
		t.Helper()
		v := cs["cmdstat_"+name]
		if !strings.HasPrefix(v, "calls="+calls+",usec=") || !strings.HasSuffix(v, ",rejected_calls="+rejected+",failed_calls="+failed) ||
			!strings.Contains(v, ",usec_per_call=") {
			t.Errorf("cmdstat_%s = %q, want calls=%s rejected=%s failed=%s", name, v, calls, rejected, failed)
		}
	}
	check("get", "2", "1", "0")
	check("set", "1", "0", "0")
	check("incr", "1", "0", "1")
	check("subscribe", "0", "1", "0")
	check("mget", "1", "0", "0")
	if _, ok := cs["cmdstat_ping"]; ok {
		t.Errorf("a command never called is listed: %v", cs)
	}
	es := infoFields(rc.do("INFO", "errorstats"))
	eq(t, "errorstat_ERR", es["errorstat_ERR"], "count=4")
	ls := infoFields(rc.do("INFO", "latencystats"))
	if !regexp.MustCompile(`^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$`).MatchString(ls["latency_percentiles_usec_get"]) {
		t.Errorf("latency_percentiles_usec_get = %q", ls["latency_percentiles_usec_get"])
	}
	st := infoFields(rc.do("INFO", "stats"))
	eq(t, "keyspace_hits", st["keyspace_hits"], "3")
	eq(t, "keyspace_misses", st["keyspace_misses"], "2")
	eq(t, "total_error_replies", st["total_error_replies"], "4")
	cpu := infoFields(rc.do("INFO", "cpu"))
	for _, f := range []string{"used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
		"used_cpu_sys_main_thread", "used_cpu_user_main_thread"} {
		if !regexp.MustCompile(`^\d+\.\d{6}$`).MatchString(cpu[f]) {
			t.Errorf("INFO cpu %s = %q", f, cpu[f])
		}
	}

	// Sections: default leaves commandstats and latencystats out.
	def := rc.do("INFO")
	for sec, want := range map[string]bool{"# Cpu": true, "# Errorstats": true, "# Commandstats": false, "# Latencystats": false, "# Keyspace": true} {
		eq(t, "INFO has "+sec, strings.Contains(def, sec), want)
	}
	all := rc.do("INFO", "all")
	for _, sec := range []string{"# Cpu", "# Commandstats", "# Errorstats", "# Latencystats"} {
		eq(t, "INFO all has "+sec, strings.Contains(all, sec), true)
	}
	eq(t, "INFO default commandstats", strings.Contains(rc.do("INFO", "default", "commandstats"), "# Commandstats"), true)

	// latency-tracking-info-percentiles and latency-tracking.
	runScript(t, ts, rc, `
		CONFIG SET latency-tracking-info-percentiles "50 99.99 100" => +OK
		CONFIG GET latency-tracking-info-percentiles => ["latency-tracking-info-percentiles" "50 99.99 100"]
		CONFIG SET latency-tracking-info-percentiles "50 101" => -ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - latency-tracking-info-percentiles must be numbers between 0 and 100
		CONFIG SET latency-tracking maybe => -ERR CONFIG SET failed (possibly related to argument 'latency-tracking') - argument must be 'yes' or 'no'
	`)
	ls = infoFields(rc.do("INFO", "latencystats"))
	if !strings.Contains(ls["latency_percentiles_usec_get"], ",p99.99=") {
		t.Errorf("percentiles not applied: %v", ls)
	}

	eq(t, "RESETSTAT", rc.do("CONFIG", "RESETSTAT"), "+OK")
	cs = infoFields(rc.do("INFO", "commandstats"))
	if _, ok := cs["cmdstat_get"]; ok {
		t.Errorf("RESETSTAT left commandstats: %v", cs)
	}
	eq(t, "errorstats after RESETSTAT", len(infoFields(rc.do("INFO", "errorstats"))), 0)
}

// TestInfo_GroupCommitCounts: pipelined SETs committed as a group count
// one call each.
func TestInfo_GroupCommitCounts(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	var p strings.Builder
	for i := range 10 {
		p.WriteString(encodeCommand("SET", fmt.Sprint("k", i), "v"))
	}
	rc.send(p.String())
	for range 10 {
		eq(t, "SET", rc.read(), "+OK")
	}
	v := infoFields(rc.do("INFO", "commandstats"))["cmdstat_set"]
	if !strings.HasPrefix(v, "calls=10,") {
		t.Errorf("cmdstat_set = %q", v)
	}
}

// TestLatency_Monitor: with latency-monitor-threshold set, a command that
// takes that long is an event "command" in LATENCY LATEST and HISTORY;
// RESET forgets it; LATENCY HISTOGRAM reports the commands' distributions.
func TestLatency_Monitor(t *testing.T) {
	mux := NewCommandMux()
	mux.HandleFunc(CommandSpec{Name: "test.slow", Arity: 1, Group: "server", Summary: "Takes 2ms."}, func(c *Conn, cmd Command) {
		time.Sleep(2 * time.Millisecond) // a slow command, to be recorded
		c.WriteOK()
	})
	ts := startServer(t, func(s *Server) { s.Handler = mux })
	rc := ts.dial(t)
	now := strconv.FormatInt(ts.clock.Now().Unix(), 10)
	runScript(t, ts, rc, `
		LATENCY LATEST => []
		LATENCY DOCTOR => "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this EpochDB instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it.\n"
		CONFIG GET latency-monitor-threshold => ["latency-monitor-threshold" "0"]
		TEST.SLOW => +OK
		LATENCY LATEST => []
		CONFIG SET latency-monitor-threshold -1 => -ERR CONFIG SET failed (possibly related to argument 'latency-monitor-threshold') - argument must be between 0 and 9007199254740992 inclusive
		CONFIG SET latency-monitor-threshold 1 => +OK
		TEST.SLOW => +OK
		PING => +PONG
	`)
	latest := rc.do("LATENCY", "LATEST")
	if !regexp.MustCompile(`^\[\["command" :` + now + ` :\d+ :\d+\]\]$`).MatchString(latest) {
		t.Errorf("LATENCY LATEST = %s", latest)
	}
	if h := rc.do("LATENCY", "HISTORY", "command"); !regexp.MustCompile(`^\[\[:` + now + ` :\d+\]\]$`).MatchString(h) {
		t.Errorf("LATENCY HISTORY = %s", h)
	}
	if g := rc.do("LATENCY", "GRAPH", "command"); !strings.HasPrefix(g, `"command - high `) {
		t.Errorf("LATENCY GRAPH = %s", g)
	}
	if d := rc.do("LATENCY", "DOCTOR"); !strings.Contains(d, "1. command: 1 latency spikes") {
		t.Errorf("LATENCY DOCTOR = %s", d)
	}
	hist := rc.do("LATENCY", "HISTOGRAM", "test.slow", "nosuch", "PING")
	if !regexp.MustCompile(`^\["test\.slow" \["calls" :2 "histogram_usec" \[(:\d+ :[12] ?)+\]\] "ping" \["calls" :1 "histogram_usec" \[:\d+ :1\]\]\]$`).MatchString(hist) {
		t.Errorf("LATENCY HISTOGRAM = %s", hist)
	}
	runScript(t, ts, rc, `
		LATENCY HISTORY nosuch => []
		LATENCY GRAPH nosuch => -ERR No samples available for event 'nosuch'
		LATENCY RESET nosuch => :0
		LATENCY RESET => :1
		LATENCY LATEST => []
		LATENCY HISTORY => -ERR wrong number of arguments for 'latency|history' command
		LATENCY FOO => -ERR unknown subcommand 'FOO'. Try LATENCY HELP.
	`)
}

// TestLatencyMonitor_History: samples of the same second merge (the
// worst kept); the history keeps the latest latencyHistoryLen.
func TestLatencyMonitor_History(t *testing.T) {
	var m latencyMonitor
	m.record("e", 10, 5)
	m.record("e", 10, 3)
	m.record("e", 11, 7)
	eq(t, "history", fmt.Sprint(m.history("e")), "[{10 5} {11 7}]")
	for i := range latencyHistoryLen + 5 {
		m.record("e", int64(100+i), 1)
	}
	h := m.history("e")
	eq(t, "history length", len(h), latencyHistoryLen)
	eq(t, "oldest kept", h[0].at, int64(105))
	eq(t, "latest", fmt.Sprint(m.latest()), fmt.Sprintf("[{e %d 1 7}]", 100+latencyHistoryLen+4))
}

// TestHistogram_Buckets: every value falls in a bucket whose bounds hold
// it, buckets are at most 12.5% wide, and percentiles come out in order.
func TestHistogram_Buckets(t *testing.T) {
	for _, v := range []uint64{0, 1, 7, 8, 9, 15, 16, 1000, 1023, 1024, 123456789, 1 << 40, 1<<40 - 1, 1 << 62} {
		i := histIndex(v)
		lo := uint64(0)
		if i > 0 {
			lo = histUpper(i - 1)
		}
		if i < histBuckets-1 && (v < lo || v >= histUpper(i)) {
			t.Errorf("%d in bucket %d = [%d, %d)", v, i, lo, histUpper(i))
		}
		if i >= histSub && i < histBuckets-1 && float64(histUpper(i)-lo) > float64(lo)/histSub+1 {
			t.Errorf("bucket %d [%d, %d) too wide", i, lo, histUpper(i))
		}
	}
	var h latencyHist
	for i := range 1000 {
		h.add(uint64(i+1) * 1000) // 1µs .. 1ms
	}
	var counts [histBuckets]uint64
	total := h.snapshot(&counts)
	p50, p99 := percentileUsec(&counts, total, 50), percentileUsec(&counts, total, 99)
	if p50 < 500 || p50 > 500*1.13 || p99 < 990 || p99 > 990*1.13 {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
	bounds, cum := histogramUsec(&counts)
	if cum[len(cum)-1] != 1000 || bounds[0] != 1 || bounds[len(bounds)-1] > 2048 {
		t.Errorf("histogram_usec %v %v", bounds, cum)
	}
	for i := 1; i < len(bounds); i++ {
		if bounds[i] != 2*bounds[i-1] && bounds[i] <= bounds[i-1] || cum[i] <= cum[i-1] {
			t.Errorf("histogram_usec not increasing: %v %v", bounds, cum)
		}
	}
}

// TestMemory_Commands: MEMORY USAGE is the key's stored size plus its
// cached size (nil for a missing key); STATS, DOCTOR, HELP and errors.
func TestMemory_Commands(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		MEMORY DOCTOR => "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
		MEMORY USAGE missing => nil
		SET k 0123456789 => +OK
		MEMORY USAGE k SAMPLES x => -ERR value is not an integer or out of range
		MEMORY USAGE k SAMPLES -1 => -ERR syntax error
		MEMORY USAGE k FOO => -ERR syntax error
		MEMORY USAGE k SAMPLES => -ERR syntax error
		MEMORY USAGE => -ERR wrong number of arguments for 'memory|usage' command
		MEMORY MALLOC-STATS => "Stats not supported for the current allocator"
		MEMORY PURGE => +OK
		MEMORY FOO => -ERR unknown subcommand 'FOO'. Try MEMORY HELP.
		MEMORY DOCTOR => "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
	`)
	ks, err := ts.db.KeySize(append([]byte{0}, "k"...))
	must(t, err)
	eq(t, "MEMORY USAGE", rc.do("MEMORY", "USAGE", "k", "SAMPLES", "0"), ":"+strconv.FormatInt(ks.Stored+ks.Cached, 10))
	stats := rc.do("MEMORY", "STATS")
	for _, f := range []string{`"keys.count" :1`, `"total.allocated" :`, `"dataset.bytes" :`, `"epochdb.disk.bytes" :`, `"fragmentation" "`} {
		if !strings.Contains(stats, f) {
			t.Errorf("MEMORY STATS lacks %s: %s", f, stats)
		}
	}
	if help := rc.do("MEMORY", "HELP"); !strings.HasPrefix(help, "[+MEMORY <subcommand>") {
		t.Errorf("MEMORY HELP = %s", help)
	}
	// go-redis's MemoryUsage.
	c := ts.client(t)
	n, err := c.MemoryUsage(context.Background(), "k").Result()
	must(t, err)
	eq(t, "go-redis MemoryUsage", n, ks.Stored+ks.Cached)
}

// TestCommand_EveryCommandListed: COMMAND, COUNT, LIST, INFO and DOCS
// cover every registered command, each with its group and summary; a
// command registered on the mux is covered without more work.
func TestCommand_EveryCommandListed(t *testing.T) {
	mux := NewCommandMux()
	mux.HandleFunc(CommandSpec{Name: "test.new", Arity: 2, Flags: FlagReadOnly | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1,
		Group: "epochdb", Summary: "A command added by an embedder."}, func(c *Conn, cmd Command) { c.WriteOK() })
	ts := startServer(t, func(s *Server) { s.Handler = mux })
	c := ts.client(t)
	ctx := context.Background()
	specs := mux.Specs()
	n, err := c.Do(ctx, "COMMAND", "COUNT").Int()
	must(t, err)
	eq(t, "COMMAND COUNT", n, len(specs))
	list, err := c.Do(ctx, "COMMAND", "LIST").StringSlice()
	must(t, err)
	eq(t, "COMMAND LIST", len(list), len(specs))
	infos, err := c.Command(ctx).Result()
	must(t, err)
	docs, err := c.Do(ctx, "COMMAND", "DOCS").Result()
	must(t, err)
	dm, _ := docs.(map[any]any)
	for i, s := range specs {
		eq(t, "LIST["+s.Name+"]", list[i], s.Name)
		info := infos[s.Name]
		if info == nil || info.Arity != int8(s.Arity) {
			t.Errorf("COMMAND lacks %s or has the wrong arity: %+v", s.Name, info)
		}
		d, _ := dm[s.Name].(map[any]any)
		if d == nil || d["summary"] != s.Summary || d["group"] != s.Group || s.Summary == "" || s.Group == "" {
			t.Errorf("COMMAND DOCS %s = %v (spec %q %q)", s.Name, d, s.Summary, s.Group)
		}
	}
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		COMMAND LIST FILTERBY PATTERN test.* => ["test.new"]
		COMMAND LIST FILTERBY MODULE x => []
		COMMAND LIST FILTERBY ACLCAT nosuch => []
		COMMAND LIST FILTERBY => -ERR syntax error
		COMMAND LIST FILTERBY FOO bar => -ERR syntax error
		COMMAND LIST extra => -ERR syntax error
		COMMAND COUNT x => -ERR wrong number of arguments for 'command|count' command
		COMMAND DOCS nosuch => []
		COMMAND GETKEYS set a b => ["a"]
		COMMAND GETKEYS mset a 1 b 2 => ["a" "b"]
		COMMAND GETKEYS ping => -ERR The command has no key arguments
		COMMAND GETKEYS nosuch a => -ERR Invalid command specified
		COMMAND GETKEYS get => -ERR Invalid number of arguments specified for command
		COMMAND GETKEYS get a b => -ERR Invalid number of arguments specified for command
		COMMAND GETKEYS => -ERR wrong number of arguments for 'command|getkeys' command
		COMMAND GETKEYSANDFLAGS get a => [["a" [+RO +access]]]
		COMMAND INFO test.new => [["test.new" :2 [+readonly] :1 :1 :1 [+@read +@epochdb] [] [] []]]
	`)
	reads := rc.do("COMMAND", "LIST", "FILTERBY", "ACLCAT", "read")
	if !strings.Contains(reads, `"get"`) || strings.Contains(reads, `"set"`) || !strings.Contains(reads, `"test.new"`) {
		t.Errorf("FILTERBY ACLCAT read = %s", reads)
	}
	if adm := rc.do("COMMAND", "LIST", "FILTERBY", "ACLCAT", "ADMIN"); !strings.Contains(adm, `"config"`) || strings.Contains(adm, `"get"`) {
		t.Errorf("FILTERBY ACLCAT admin = %s", adm)
	}
	out, err := redisCLI(t, ts, "COMMAND", "DOCS", "monitor")
	if err != nil || !strings.Contains(out, "Listens for all requests") {
		t.Errorf("redis-cli COMMAND DOCS monitor: %v\n%s", err, out)
	}
}

// TestWait_AnswersNoReplicas: WAIT answers 0 at once, WAITAOF [1 0]
// after a sync; Redis's errors for bad arguments.
func TestWait_AnswersNoReplicas(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		SET k v => +OK
		WAIT 0 0 => :0
		WAIT 1 100 => :0
		WAIT a 0 => -ERR value is not an integer or out of range
		WAIT 0 a => -ERR timeout is not an integer or out of range
		WAIT 0 -1 => -ERR timeout is negative
		WAIT 0 => -ERR wrong number of arguments for 'wait' command
		WAITAOF 1 0 0 => [:1 :0]
		WAITAOF 0 0 0 => [:1 :0]
		WAITAOF x 0 0 => -ERR value is not an integer or out of range
		WAITAOF 1 0 -5 => -ERR timeout is negative
		MULTI => +OK
		WAIT 0 0 => +QUEUED
		EXEC => [:0]
	`)
}

// TestBudget_OOMNamesTheLimit: a write refused for the budget says
// which limit is full, not maxmemory.
func TestBudget_OOMNamesTheLimit(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) { o.MaxDiskBytes = 20 })
	runScript(t, ts, ts.dial(t), `
		SET a 0123456789 => +OK
		SET b 0123456789 => -OOM command not allowed when used disk > 'maxdisk'.
		CONFIG GET maxmemory => ["maxmemory" "0"]
	`)
	ts = startServerDB(t, func(o *epochdb.Options) { o.MaxKeys = 1; o.MaxDiskBytes = 5 })
	runScript(t, ts, ts.dial(t), `
		SET a 1 => +OK
		SET b 0123456789 => -OOM command not allowed when keys > 'maxkeys' and used disk > 'maxdisk'.
	`)
}
