package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// Tests of EPOCH.META's heat, EPOCH.BACKUP, BGSAVE, EPOCH.EVENTS,
// EPOCH.PRUNE PREVIEW and epoch-db 0.3's SET key value ttl_ms, through raw
// RESP, go-redis (RESP3 and RESP2) and redis-cli.

// resp2 makes a go-redis client speak RESP2.
func resp2(o *redis.Options) { o.Protocol = 2 }

func TestEpochMeta_Heat(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET k v => +OK
		EPOCH.INCRFREQ k => :1
		EPOCH.META k => ["frequency" :1 "heat" "2" "created_at" :1767323045000 "updated_at" :1767323045000 "last_access" :1767323045000 "expires_at" :-1]
	`)
	ts.clock.Advance(time.Hour) // the default half-life
	eq(t, "RESP2 heat after a half-life", rc.do("EPOCH.META", "k"),
		`["frequency" :1 "heat" "1" "created_at" :1767323045000 "updated_at" :1767323045000 "last_access" :1767323045000 "expires_at" :-1]`)

	// RESP3: a map with a double.
	m, err := ts.client(t).Do(ctx, "EPOCH.META", "k").Result()
	must(t, err)
	mm, ok := m.(map[any]any)
	if !ok {
		t.Fatalf("RESP3 EPOCH.META is %T, want a map", m)
	}
	eq(t, "RESP3 heat", mm["heat"], any(1.0))
	eq(t, "RESP3 frequency", mm["frequency"], any(int64(1)))
	eq(t, "RESP3 fields", len(mm), 6)

	// RESP2: flat pairs, the heat a bulk string as Redis writes doubles.
	s, err := ts.client(t, resp2).Do(ctx, "EPOCH.META", "k").Slice()
	must(t, err)
	eq(t, "RESP2 pairs", len(s), 12)
	eq(t, "RESP2 heat name", s[2], any("heat"))
	eq(t, "RESP2 heat", s[3], any("1"))

	out, err := redisCLI(t, ts, "EPOCH.META", "k")
	must(t, err)
	if !strings.HasPrefix(out, "frequency\n1\nheat\n1\ncreated_at\n1767323045000\n") {
		t.Errorf("redis-cli EPOCH.META:\n%s", out)
	}
}

func TestEpochBackup(t *testing.T) {
	backups := filepath.Join(t.TempDir(), "backups")
	ts := startServer(t, func(s *Server) { s.BackupDir = backups })
	ctx := context.Background()
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET a 1 => +OK
		SET b 2 EX 100 => +OK
		SELECT 3 => +OK
		SET c 3 => +OK
	`)
	verify := func(path string, keys int64) {
		t.Helper()
		if filepath.Dir(path) == "" || !filepath.IsAbs(path) || !strings.HasSuffix(path, ".backup") {
			t.Errorf("backup path %q", path)
		}
		f, err := os.Open(path)
		must(t, err)
		defer f.Close()
		info, err := epochdb.VerifyBackup(f)
		must(t, err)
		eq(t, "keys in "+path, info.Keys, keys)
	}

	// Default directory (Server.BackupDir), raw RESP2.
	reply := rc.do("EPOCH.BACKUP")
	path, err := strconv.Unquote(reply)
	if err != nil {
		t.Fatalf("EPOCH.BACKUP = %s", reply)
	}
	eq(t, "in the backup dir", filepath.Dir(path), backups)
	verify(path, 3)

	// A sub-folder, created if missing; go-redis RESP3 and RESP2.
	dir := filepath.Join(backups, "x", "y")
	p3, err := ts.client(t).Do(ctx, "EPOCH.BACKUP", "x/y").Text()
	must(t, err)
	eq(t, "RESP3 path dir", filepath.Dir(p3), dir)
	verify(p3, 3)
	p2, err := ts.client(t, resp2).Do(ctx, "EPOCH.BACKUP", "x/y").Text()
	must(t, err)
	if p2 == p3 || filepath.Dir(p2) != dir {
		t.Errorf("second backup in the same millisecond: %s after %s (want a new file)", p2, p3)
	}
	verify(p2, 3)

	// redis-cli, naming the file.
	out, err := redisCLI(t, ts, "EPOCH.BACKUP", "x/nightly.backup")
	must(t, err)
	eq(t, "named file", strings.TrimSpace(out), filepath.Join(backups, "x", "nightly.backup"))
	verify(strings.TrimSpace(out), 3)

	// Errors.
	must(t, os.WriteFile(filepath.Join(backups, "file"), nil, 0o600))
	if got := rc.do("EPOCH.BACKUP", "file/sub"); !strings.HasPrefix(got, "-ERR backup failed: ") ||
		!strings.Contains(got, "not a directory") {
		t.Errorf("EPOCH.BACKUP under a file = %s", got)
	}
	runScript(t, ts, rc, `
		EPOCH.BACKUP x/nightly.backup => -ERR backup failed: x/nightly.backup exists (a backup never replaces a file)
		EPOCH.BACKUP "" => -ERR the backup name is an empty string
		EPOCH.BACKUP a b => -ERR syntax error
		MULTI => +OK
		EPOCH.BACKUP => -ERR Command not allowed inside a transaction
		EXEC => -EXECABORT Transaction discarded because of previous errors.
	`)
	noDir := startServer(t)
	eq(t, "without a backup dir", noDir.dial(t).do("EPOCH.BACKUP"),
		"-ERR no backup directory: start epoch serve with --backup-dir (Server.BackupDir)")
	eq(t, "CONFIG GET backup-dir", rc.do("CONFIG", "GET", "backup-dir"), fmt.Sprintf(`["backup-dir" %q]`, backups))
	eq(t, "CONFIG SET backup-dir", rc.do("CONFIG", "SET", "backup-dir", "/tmp"),
		"-ERR CONFIG SET failed (possibly related to argument 'backup-dir') - can't set immutable config: a client must not choose where the server writes files; restart with --backup-dir")
}

// TestBgsave: BGSAVE answers at once and does SAVE's work in the
// background; a second one meanwhile is refused, LASTSAVE stays at the
// BGSAVE's start until it is done, INFO shows it.
func TestBgsave(t *testing.T) {
	ts := startServer(t)
	gate := make(chan struct{}) // the first BGSAVE lasts until it closes
	ts.srv.bg.mu.Lock()
	ts.srv.bg.gate = gate
	ts.srv.bg.mu.Unlock()
	rc := ts.dial(t)
	eq(t, "LASTSAVE", rc.do("LASTSAVE"), ":1767323045")
	eq(t, "SET", rc.do("SET", "k", "v"), "+OK")
	eq(t, "BGSAVE", rc.do("BGSAVE"), "+Background saving started")
	ts.clock.Advance(10 * time.Second)
	runScript(t, ts, rc, `
		BGSAVE => -ERR Background save already in progress
		BGSAVE SCHEDULE => -ERR Background save already in progress
		SAVE => -ERR Background save already in progress
		LASTSAVE => :1767323045
	`)
	if info := rc.do("INFO", "persistence"); !strings.Contains(info, `rdb_bgsave_in_progress:1\r\n`) {
		t.Errorf("INFO during BGSAVE: %s", info)
	}
	ts.srv.bg.mu.Lock()
	ts.srv.bg.gate = nil
	ts.srv.bg.mu.Unlock()
	close(gate)
	testutil.Eventually(t, "BGSAVE done", func() bool { return rc.do("LASTSAVE") == ":1767323055" })
	info := rc.do("INFO", "persistence")
	for _, want := range []string{`rdb_bgsave_in_progress:0\r\n`, `rdb_last_bgsave_status:ok\r\n`, `rdb_last_save_time:1767323055\r\n`} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO after BGSAVE lacks %s: %s", want, info)
		}
	}
	runScript(t, ts, rc, `
		BGSAVE NOW => -ERR syntax error
		BGSAVE SCHEDULE => +Background saving started
	`)
	// go-redis, RESP3 and RESP2; Shutdown (test cleanup) waits for the
	// BGSAVE still running.
	testutil.Eventually(t, "BGSAVE done", func() bool { return !ts.srv.bg.inProgress() })
	got, err := ts.client(t, resp2).BgSave(context.Background()).Result()
	must(t, err)
	eq(t, "go-redis RESP2 BGSAVE", got, "Background saving started")
	testutil.Eventually(t, "BGSAVE done", func() bool { return !ts.srv.bg.inProgress() })
	got, err = ts.client(t).BgSave(context.Background()).Result()
	must(t, err)
	eq(t, "go-redis RESP3 BGSAVE", got, "Background saving started")

	// appendfsync no: nothing to wait for, refused at once.
	no := startServerDB(t, func(o *epochdb.Options) { o.SyncInterval = -1 })
	eq(t, "BGSAVE with appendfsync no", no.dial(t).do("BGSAVE"),
		"-ERR appendfsync is 'no': durability is left to the OS and cannot be forced")
}

// eventLog opens the store with the durable event log and a one-key budget
// under allkeys-lru, so that each SET of a new key evicts the previous one
// and logs an "evicted" event.
func eventLog(values bool) func(*epochdb.Options) {
	return func(o *epochdb.Options) {
		o.EventLog = true
		o.EventLogValues = values
		o.MaxKeys = 1
		o.EvictionPolicy = epochdb.EvictAllKeysLRU
	}
}

func TestEpochEvents_Read(t *testing.T) {
	off := startServer(t)
	eq(t, "event log off", off.dial(t).do("EPOCH.EVENTS"),
		"-ERR the event log is off (start epoch serve with --event-log yes)")

	ts := startServerDB(t, eventLog(false))
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		EPOCH.EVENTS => [:0 []]
		EPOCH.EVENTS FROM $ => [:0 []]
		SET a 1 => +OK
		EPOCH.INCRFREQ a => :1
		!advance 1s
		SET b 22 EX 100 => +OK
		!advance 1s
		SET c 333 => +OK
		EPOCH.EVENTS => [:2 [["seq" :1 "kind" "evicted" "key" "a" "time" :1767323046000 "frequency" :1 "created_at" :1767323045000 "expires_at" :-1] ["seq" :2 "kind" "evicted" "key" "b" "time" :1767323047000 "frequency" :0 "created_at" :1767323046000 "expires_at" :1767323146000]]]
		EPOCH.EVENTS COUNT 1 => [:1 [["seq" :1 "kind" "evicted" "key" "a" "time" :1767323046000 "frequency" :1 "created_at" :1767323045000 "expires_at" :-1]]]
		EPOCH.EVENTS FROM 1 COUNT 1 => [:2 [["seq" :2 "kind" "evicted" "key" "b" "time" :1767323047000 "frequency" :0 "created_at" :1767323046000 "expires_at" :1767323146000]]]
		EPOCH.EVENTS FROM 2 => [:2 []]
		EPOCH.EVENTS FROM 1000 => [:1000 []]
		EPOCH.EVENTS FROM $ => [:2 []]
		EPOCH.EVENTS FROM $ COUNT 5 BLOCK 1 => [:2 []]
		EPOCH.EVENTS FROM x => -ERR FROM must be a sequence number (an integer >= 0) or $
		EPOCH.EVENTS FROM -1 => -ERR FROM must be a sequence number (an integer >= 0) or $
		EPOCH.EVENTS COUNT 0 => -ERR value is out of range, must be positive
		EPOCH.EVENTS COUNT x => -ERR value is not an integer or out of range
		EPOCH.EVENTS BLOCK -1 => -ERR timeout is negative
		EPOCH.EVENTS BLOCK x => -ERR timeout is not an integer or out of range
		EPOCH.EVENTS FROM => -ERR syntax error
		EPOCH.EVENTS NOSUCH 1 => -ERR syntax error
		CONFIG GET event-log* => ["event-log" "yes" "event-log-values" "no" "event-log-max-entries" "1000000" "event-log-max-age" "0s"]
		CONFIG SET event-log no => -ERR CONFIG SET failed (possibly related to argument 'event-log') - can't set immutable config: the event log is set up when the store opens; restart with --event-log
		CONFIG SET event-log yes => +OK
	`)
	// Events of another logical database are not listed, but the cursor
	// moves past them.
	runScript(t, ts, rc, `
		SELECT 5 => +OK
		SET x 1 => +OK
		EPOCH.EVENTS FROM 2 => [:3 []]
		SELECT 0 => +OK
		EPOCH.EVENTS FROM 2 => [:3 [["seq" :3 "kind" "evicted" "key" "c" "time" :1767323047000 "frequency" :0 "created_at" :1767323047000 "expires_at" :-1]]]
	`)

	// go-redis RESP3: maps; RESP2: flat pairs.
	ctx := context.Background()
	r3, err := ts.client(t).Do(ctx, "EPOCH.EVENTS", "FROM", "0", "COUNT", "1").Slice()
	must(t, err)
	eq(t, "RESP3 cursor", r3[0], any(int64(1)))
	ev3 := r3[1].([]any)[0].(map[any]any)
	eq(t, "RESP3 kind", ev3["kind"], any("evicted"))
	eq(t, "RESP3 key", ev3["key"], any("a"))
	eq(t, "RESP3 seq", ev3["seq"], any(int64(1)))
	eq(t, "RESP3 expires_at", ev3["expires_at"], any(int64(-1)))
	r2, err := ts.client(t, resp2).Do(ctx, "EPOCH.EVENTS", "FROM", "1", "COUNT", "1").Slice()
	must(t, err)
	eq(t, "RESP2 cursor", r2[0], any(int64(2)))
	eq(t, "RESP2 event", fmt.Sprint(r2[1]), "[[seq 2 kind evicted key b time 1767323047000 frequency 0 created_at 1767323046000 expires_at 1767323146000]]")

	out, err := redisCLI(t, ts, "EPOCH.EVENTS", "FROM", "2", "COUNT", "1")
	must(t, err)
	eq(t, "redis-cli EPOCH.EVENTS", out, "3\nseq\n3\nkind\nevicted\nkey\nc\ntime\n1767323047000\nfrequency\n0\ncreated_at\n1767323047000\nexpires_at\n-1\n")
}

// TestEpochEvents_ExpiredAndValues: the sweeper's expiries are logged, and
// with event-log-values the event carries the value.
func TestEpochEvents_ExpiredAndValues(t *testing.T) {
	ts := startServerDB(t, eventLog(true))
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET t "v\x00al" PX 500 => +OK
		!advance 1s
	`)
	testutil.Eventually(t, "the sweeper expires t", func() bool { return rc.do("EPOCH.EVENTS", "COUNT", "1") != "[:0 []]" })
	eq(t, "expired event", rc.do("EPOCH.EVENTS"),
		`[:1 [["seq" :1 "kind" "expired" "key" "t" "time" :1767323046000 "frequency" :0 "created_at" :1767323045000 "expires_at" :1767323045500 "value" "v\x00al"]]]`)
	runScript(t, ts, rc, `
		SET e "" => +OK
		SET f 1 => +OK
		EPOCH.EVENTS FROM 1 => [:2 [["seq" :2 "kind" "evicted" "key" "e" "time" :1767323046000 "frequency" :0 "created_at" :1767323046000 "expires_at" :-1 "value" ""]]]
		CONFIG GET event-log-values => ["event-log-values" "yes"]
	`)
}

// TestEpochEvents_Block: BLOCK waits for the next event without holding
// the keyspace lock, times out with the cursor and no events, and does not
// block inside EXEC.
func TestEpochEvents_Block(t *testing.T) {
	ts := startServerDB(t, eventLog(false))
	ctx := context.Background()
	w := ts.dial(t)
	eq(t, "SET a", w.do("SET", "a", "1"), "+OK")

	for _, proto := range []int{3, 2} {
		c := ts.client(t, func(o *redis.Options) { o.Protocol = proto; o.ReadTimeout = -1 })
		cursor, err := c.Do(ctx, "EPOCH.EVENTS", "FROM", "$").Slice()
		must(t, err)
		got := make(chan []any, 1)
		go func() {
			r, err := c.Do(ctx, "EPOCH.EVENTS", "FROM", fmt.Sprint(cursor[0]), "BLOCK", "0").Slice()
			if err != nil {
				t.Errorf("RESP%d blocked EPOCH.EVENTS: %v", proto, err)
			}
			got <- r
		}()
		testutil.Eventually(t, "the client blocks", func() bool { return strings.Contains(w.do("INFO", "clients"), `blocked_clients:1\r\n`) })
		if list := w.do("CLIENT", "LIST"); !strings.Contains(list, "flags=b ") || !strings.Contains(list, "cmd=epoch.events") {
			t.Errorf("CLIENT LIST of a blocked client: %s", list)
		}
		// The keyspace lock is free: commands that take it exclusively
		// (PERSIST, EXEC) run while the client waits.
		runScript(t, ts, w, `
			PERSIST nosuch => :0
			MULTI => +OK
			GET nosuch => +QUEUED
			EXEC => [nil]
		`)
		select {
		case r := <-got:
			t.Fatalf("returned before any event: %v", r)
		case <-time.After(50 * time.Millisecond):
		}
		eq(t, "SET b", w.do("SET", "b"+strconv.Itoa(proto), "2"), "+OK") // evicts
		select {
		case r := <-got:
			evs := r[1].([]any)
			eq(t, fmt.Sprintf("RESP%d events", proto), len(evs), 1)
			eq(t, fmt.Sprintf("RESP%d cursor", proto), r[0], any(cursor[0].(int64)+1))
		case <-time.After(10 * time.Second):
			t.Fatal("the blocked client did not get the event")
		}
		testutil.Eventually(t, "unblocked", func() bool { return strings.Contains(w.do("INFO", "clients"), `blocked_clients:0\r\n`) })
	}

	// BLOCK ms times out with the cursor and no events; a pipelined
	// command after it is served once it returns.
	rc := ts.dial(t)
	start := time.Now()
	rc.send(encodeCommand("EPOCH.EVENTS", "FROM", "$", "BLOCK", "150") + encodeCommand("PING"))
	eq(t, "timeout", rc.read(), "[:2 []]")
	eq(t, "PING after", rc.read(), "+PONG")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("BLOCK 150 returned after %v", d)
	}
	// The time spent blocked is not execution time (slowlog-log-slower-than
	// is 10ms).
	if sl := rc.do("SLOWLOG", "GET", "-1"); strings.Contains(sl, "EPOCH.EVENTS") {
		t.Errorf("a blocked EPOCH.EVENTS is in the slow log: %s", sl)
	}

	// A command sent while the client is blocked is served after it.
	rc.send(encodeCommand("EPOCH.EVENTS", "FROM", "$", "BLOCK", "300"))
	testutil.Eventually(t, "blocked", func() bool { return strings.Contains(w.do("INFO", "clients"), `blocked_clients:1\r\n`) })
	rc.send(encodeCommand("ECHO", "later"))
	eq(t, "timeout", rc.read(), "[:2 []]")
	eq(t, "ECHO sent while blocked", rc.read(), `"later"`)

	// Inside EXEC it does not block.
	runScript(t, ts, rc, `
		MULTI => +OK
		EPOCH.EVENTS FROM $ BLOCK 0 => +QUEUED
		EXEC => [[:2 []]]
	`)

	// Blocked clients do not time out (timeout).
	eq(t, "CONFIG SET timeout", rc.do("CONFIG", "SET", "timeout", "1"), "+OK")
	eq(t, "BLOCK past the idle timeout", rc.do("EPOCH.EVENTS", "FROM", "$", "BLOCK", "1500"), "[:2 []]")
	eq(t, "PING", rc.do("PING"), "+PONG")
	eq(t, "CONFIG SET timeout", rc.do("CONFIG", "SET", "timeout", "0"), "+OK")
}

// TestEpochEvents_BlockedClientGoesAway: a client that closes its
// connection, or is killed, while blocked is released at once.
func TestEpochEvents_BlockedClientGoesAway(t *testing.T) {
	ts := startServerDB(t, eventLog(false))
	w := ts.dial(t)
	for _, how := range []string{"close", "kill", "send then close"} {
		rc := ts.dial(t)
		eq(t, "CLIENT ID", strings.HasPrefix(rc.do("CLIENT", "ID"), ":"), true)
		rc.send(encodeCommand("EPOCH.EVENTS", "BLOCK", "0"))
		testutil.Eventually(t, "blocked", func() bool { return strings.Contains(w.do("INFO", "clients"), `blocked_clients:1\r\n`) })
		switch how {
		case "close":
			_ = rc.nc.Close()
		case "kill":
			eq(t, "CLIENT KILL", w.do("CLIENT", "KILL", "SKIPME", "yes"), ":1")
		default: // a command sent while blocked is kept; the close is still seen
			rc.send(encodeCommand("PING"))
			time.Sleep(20 * time.Millisecond)
			_ = rc.nc.Close()
		}
		testutil.Eventually(t, "released after "+how, func() bool {
			info := w.do("INFO", "clients")
			return strings.Contains(info, `blocked_clients:0\r\n`) && strings.Contains(info, `connected_clients:1\r\n`)
		})
	}
}

// TestEpochEvents_BlockedClientAndShutdown: SHUTDOWN (and Shutdown) do not
// wait for a client blocked with BLOCK 0.
func TestEpochEvents_BlockedClientAndShutdown(t *testing.T) {
	for _, how := range []string{"SHUTDOWN", "Shutdown"} {
		t.Run(how, func(t *testing.T) {
			ts := startServerDB(t, eventLog(false))
			blocked := ts.dial(t)
			// A second blocked client has filled the read-ahead buffer with
			// commands pipelined behind its EPOCH.EVENTS, so the watcher
			// has stopped: the server's context alone ends its wait.
			pipelined := ts.dial(t)
			blocked.send(encodeCommand("EPOCH.EVENTS", "BLOCK", "0"))
			pipelined.send(encodeCommand("EPOCH.EVENTS", "BLOCK", "0") + encodeCommand("PING", strings.Repeat("p", 20<<10)))
			w := ts.dial(t)
			testutil.Eventually(t, "blocked", func() bool { return strings.Contains(w.do("INFO", "clients"), `blocked_clients:2\r\n`) })
			start := time.Now()
			if how == "SHUTDOWN" {
				w.send(encodeCommand("SHUTDOWN"))
				w.expectClosed()
				select {
				case err := <-ts.done:
					ts.done <- err // for stop
				case <-time.After(10 * time.Second):
					t.Fatal("SHUTDOWN waited for the blocked clients")
				}
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				must(t, ts.srv.Shutdown(ctx))
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("shutdown took %v", d)
			}
			eq(t, "blocked client", fmt.Sprint(blocked.expectClosed()), "[-ERR the server is shutting down]")
			// Its PING, not received whole, is not served.
			eq(t, "pipelined client", fmt.Sprint(pipelined.expectClosed()), "[-ERR the server is shutting down]")
			ts.stop(t)
		})
	}
}

// TestEpochEvents_Retention: events dropped by event-log-max-age before
// anyone read them are skipped: the cursor moves to the newest sequence
// number and BLOCK waits for the next event instead of spinning.
func TestEpochEvents_Retention(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) {
		eventLog(false)(o)
		o.EventLogMaxAge = time.Minute
		o.PruneInterval = time.Second // the trimming runs each second
	})
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET a 1 => +OK
		SET b 1 => +OK
		SET c 1 => +OK
		EPOCH.EVENTS => [:2 [["seq" :1 "kind" "evicted" "key" "a" "time" :1767323045000 "frequency" :0 "created_at" :1767323045000 "expires_at" :-1] ["seq" :2 "kind" "evicted" "key" "b" "time" :1767323045000 "frequency" :0 "created_at" :1767323045000 "expires_at" :-1]]]
		CONFIG GET event-log-max-age => ["event-log-max-age" "1m0s"]
		!advance 2m
	`)
	testutil.Eventually(t, "the log is trimmed", func() bool { return rc.do("EPOCH.EVENTS", "COUNT", "1") == "[:2 []]" })
	start := time.Now()
	eq(t, "BLOCK from before the trimmed events", rc.do("EPOCH.EVENTS", "FROM", "0", "BLOCK", "200"), "[:2 []]")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("BLOCK returned after %v", d)
	}
}

func TestEpochPrunePreview(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) {
		o.PruneMinFrequency = 2
		o.PruneInterval = time.Hour // no pruning pass during the test
	})
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET cold v => +OK
		SET warm v => +OK
		EPOCH.INCRFREQ warm => :1
		SET hot v EX 100000 => +OK
		EPOCH.INCRFREQ hot => :1
		EPOCH.INCRFREQ hot => :2
		SELECT 2 => +OK
		SET other v => +OK
		EPOCH.INCRFREQ other => :1
		EPOCH.INCRFREQ other => :2
		SELECT 0 => +OK
		!advance 1h
		EPOCH.PRUNE PREVIEW => ["prune_total" :2 "evict_total" :0 "prune" [["db" :0 "key" "cold" "frequency" :0 "heat" "0.5" "created_at" :1767323045000 "last_access" :1767323045000 "expires_at" :-1] ["db" :0 "key" "warm" "frequency" :1 "heat" "1" "created_at" :1767323045000 "last_access" :1767323045000 "expires_at" :-1]] "evict" []]
		EPOCH.PRUNE PREVIEW COUNT 1 => ["prune_total" :2 "evict_total" :0 "prune" [["db" :0 "key" "cold" "frequency" :0 "heat" "0.5" "created_at" :1767323045000 "last_access" :1767323045000 "expires_at" :-1]] "evict" []]
		EPOCH.PRUNE PREVIEW COUNT 0 => -ERR value is out of range, must be positive
		EPOCH.PRUNE PREVIEW COUNT x => -ERR value is not an integer or out of range
		EPOCH.PRUNE PREVIEW COUNT => -ERR syntax error
		EPOCH.PRUNE PREVIEW LIMIT 1 => -ERR syntax error
		EPOCH.PRUNE NOSUCH => -ERR unknown subcommand 'NOSUCH'. Try EPOCH.PRUNE HELP.
		EPOCH.PRUNE => -ERR wrong number of arguments for 'epoch.prune' command
		DBSIZE => :3
	`)
	if help := rc.do("EPOCH.PRUNE", "HELP"); !strings.Contains(help, "PREVIEW [COUNT <count>]") {
		t.Errorf("EPOCH.PRUNE HELP: %s", help)
	}

	// RESP3: maps and doubles.
	ctx := context.Background()
	r, err := ts.client(t).Do(ctx, "EPOCH.PRUNE", "PREVIEW").Result()
	must(t, err)
	m := r.(map[any]any)
	eq(t, "RESP3 prune_total", m["prune_total"], any(int64(2)))
	first := m["prune"].([]any)[0].(map[any]any)
	eq(t, "RESP3 heat", first["heat"], any(0.5))
	eq(t, "RESP3 key", first["key"], any("cold"))
	// RESP2: flat pairs.
	s, err := ts.client(t, resp2).Do(ctx, "EPOCH.PRUNE", "PREVIEW", "COUNT", "1").Slice()
	must(t, err)
	eq(t, "RESP2", fmt.Sprint(s), "[prune_total 2 evict_total 0 prune [[db 0 key cold frequency 0 heat 0.5 created_at 1767323045000 last_access 1767323045000 expires_at -1]] evict []]")
	out, err := redisCLI(t, ts, "EPOCH.PRUNE", "PREVIEW", "COUNT", "1")
	must(t, err)
	if !strings.HasPrefix(out, "prune_total\n2\nevict_total\n0\nprune\ndb\n0\nkey\ncold\n") {
		t.Errorf("redis-cli EPOCH.PRUNE PREVIEW:\n%s", out)
	}
	// NOW applies the rule: the two keys the preview listed go, with
	// pruned notifications.
	sub := ts.dial(t)
	eq(t, "notify", rc.do("CONFIG", "SET", "notify-keyspace-events", "Ee"), "+OK")
	sub.send(encodeCommand("SUBSCRIBE", "__keyevent@0__:pruned"))
	eq(t, "subscribe", sub.read(), `["subscribe" "__keyevent@0__:pruned" :1]`)
	runScript(t, ts, rc, `
		EPOCH.PRUNE NOW COUNT 1 => ["examined" :1 "removed" :1 "wrapped" :0]
		EPOCH.PRUNE NOW => ["examined" :3 "removed" :1 "wrapped" :1]
		EPOCH.PRUNE NOW COUNT 0 => -ERR value is out of range, must be positive
		EPOCH.PRUNE NOW LIMIT 1 => -ERR syntax error
		DBSIZE => :1
	`)
	eq(t, "pruned", sub.read(), `["message" "__keyevent@0__:pruned" "cold"]`)
	eq(t, "pruned", sub.read(), `["message" "__keyevent@0__:pruned" "warm"]`)
	off := startServer(t).dial(t)
	eq(t, "no rule", off.do("EPOCH.PRUNE", "NOW"), "-"+errNoPruneRule)
}

// TestEpochPrunePreview_Evict: over the budget (a restart with a smaller
// one), the preview lists what eviction would remove after pruning.
func TestEpochPrunePreview_Evict(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET a v => +OK
		SET b v => +OK
		EPOCH.INCRFREQ b => :1
		SET c v => +OK
		EPOCH.INCRFREQ c => :1
		EPOCH.INCRFREQ c => :2
		SET d v => +OK
		EPOCH.INCRFREQ d => :1
		EPOCH.INCRFREQ d => :2
	`)
	ts.dbConf = func(o *epochdb.Options) {
		o.MaxKeys = 2
		o.EvictionPolicy = epochdb.EvictAllKeysLFU
		o.PruneMinFrequency = 1
		o.PruneInterval = time.Hour
	}
	ts.restart(t)
	rc = ts.dial(t)
	got := rc.do("EPOCH.PRUNE", "PREVIEW")
	// The library evicts down to the budget in the background within a
	// second; the preview is checked only if it saw the four keys.
	if rc.do("DBSIZE") != ":4" {
		t.Skip("the background eviction ran before the preview")
	}
	eq(t, "EPOCH.PRUNE PREVIEW", got, `["prune_total" :1 "evict_total" :1 "prune" [["db" :0 "key" "a" "frequency" :0 "heat" "1" "created_at" :1767323045000 "last_access" :1767323045000 "expires_at" :-1]] "evict" [["db" :0 "key" "b" "frequency" :1 "heat" "2" "created_at" :1767323045000 "last_access" :1767323045000 "expires_at" :-1]]]`)
}

// TestSet_EpochDBTTLArgument: epoch-db 0.3's SET key value ttl_ms is
// recognised only as exactly four arguments with an integer last; every
// other shape is Redis's SET.
func TestSet_EpochDBTTLArgument(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET k v 2500 => +OK
		PTTL k => :2500
		SET k v 0 => +OK
		PTTL k => :-1
		SET k v 10 NX => -ERR syntax error
		SET k v NX 10 => -ERR syntax error
		SET k v 10 PX 5 => -ERR syntax error
		SET k v 007 => -ERR syntax error
		SET k v +5 => -ERR syntax error
		SET k v 1.5 => -ERR syntax error
		SET k v "" => -ERR syntax error
		SET k v 9223372036854775807 => -ERR invalid expire time in 'set' command
		SET k v NX => nil
		SET k v XX => +OK
		SET k v2 GET => "v"
	`)
	ctx := context.Background()
	for _, c := range []*redis.Client{ts.client(t), ts.client(t, resp2)} {
		must(t, c.Do(ctx, "SET", "g", "v", "1500").Err())
		d, err := c.PTTL(ctx, "g").Result()
		must(t, err)
		eq(t, "PTTL after SET g v 1500", d, 1500*time.Millisecond)
		if err := c.Do(ctx, "SET", "g", "v", "1500", "NX").Err(); err == nil || err.Error() != "ERR syntax error" {
			t.Errorf("SET g v 1500 NX: %v", err)
		}
	}
	out, err := redisCLI(t, ts, "SET", "cli", "v", "3000")
	must(t, err)
	eq(t, "redis-cli SET ttl_ms", out, "OK\n")
	out, err = redisCLI(t, ts, "PTTL", "cli")
	must(t, err)
	eq(t, "redis-cli PTTL", out, "3000\n")
}

// TestCommand_ListsNewCommands: COMMAND COUNT, INFO and DOCS (redis-cli's
// hints) know the new commands.
func TestCommand_ListsNewCommands(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		COMMAND INFO epoch.events => [["epoch.events" :-1 [+readonly +blocking] :0 :0 :0 [+@read +@epochdb +@blocking] [] [] []]]
		COMMAND INFO EPOCH.BACKUP bgsave epoch.prune => [["epoch.backup" :-1 [+admin +no_multi] :0 :0 :0 [+@epochdb +@admin +@dangerous] [] [] []] ["bgsave" :-1 [+admin] :0 :0 :0 [+@admin +@dangerous] [] [] []] ["epoch.prune" :-2 [+readonly] :0 :0 :0 [+@read +@epochdb] [] [] []]]
	`)
	ctx := context.Background()
	c := ts.client(t)
	n, err := c.Do(ctx, "COMMAND", "COUNT").Int()
	must(t, err)
	eq(t, "COMMAND COUNT", n, len(NewCommandMux().Specs()))
	docs, err := c.Do(ctx, "COMMAND", "DOCS", "epoch.events", "epoch.backup", "epoch.prune", "bgsave", "epoch.meta").Result()
	must(t, err)
	m := docs.(map[any]any)
	eq(t, "COMMAND DOCS entries", len(m), 5)
	for name, d := range m {
		if s, _ := d.(map[any]any)["summary"].(string); s == "" {
			t.Errorf("COMMAND DOCS %s: no summary", name)
		}
	}
	list, err := c.Do(ctx, "COMMAND", "LIST").StringSlice()
	must(t, err)
	for _, name := range []string{"epoch.events", "epoch.backup", "epoch.prune", "bgsave"} {
		found := false
		for _, l := range list {
			found = found || l == name
		}
		if !found {
			t.Errorf("COMMAND LIST lacks %s", name)
		}
	}
	out, err := redisCLI(t, ts, "COMMAND", "DOCS", "epoch.events")
	must(t, err)
	if !strings.Contains(out, "durable event log") {
		t.Errorf("redis-cli COMMAND DOCS epoch.events:\n%s", out)
	}
}

// TestEpochEvents_BlockOverTLS: the end of a BLOCK (a timeout, an event)
// interrupts the read-ahead on a TLS connection without harming it.
func TestEpochEvents_BlockOverTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	must(t, err)
	ts := startServerDB(t, eventLog(false), func(s *Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	})
	c := ts.client(t, func(o *redis.Options) {
		o.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		o.PoolSize = 1
		o.ReadTimeout = -1
	})
	ctx := context.Background()
	for i := range 3 {
		r, err := c.Do(ctx, "EPOCH.EVENTS", "FROM", "$", "BLOCK", "50").Slice()
		must(t, err)
		eq(t, "timeout over TLS", len(r[1].([]any)), 0)
		big := strings.Repeat("v", 1<<20)
		must(t, c.Set(ctx, "k"+strconv.Itoa(i), big, 0).Err())
		v, err := c.Get(ctx, "k"+strconv.Itoa(i)).Result()
		must(t, err)
		eq(t, "GET after a BLOCK over TLS", len(v), len(big))
	}
	got := make(chan []any, 1)
	go func() {
		r, err := c.Do(ctx, "EPOCH.EVENTS", "FROM", "$", "BLOCK", "0").Slice()
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	testutil.Eventually(t, "blocked", func() bool { return ts.srv.st.blocked.Load() == 1 })
	w := ts.client(t, func(o *redis.Options) {
		o.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	})
	must(t, w.Set(ctx, "x", "1", 0).Err())
	select {
	case r := <-got:
		eq(t, "event over TLS", len(r[1].([]any)), 1)
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	must(t, c.Ping(ctx).Err())
}
