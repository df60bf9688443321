package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// Blocking list commands. A client blocks by sending its command without
// reading; the tests wait until the registry lists it (waitFor), so that
// the order clients blocked in is known, and assert outcomes only: no
// test depends on how long anything takes (the timeouts that expire are
// a few milliseconds, and nothing is asserted about when).

// waitFor waits until n clients are blocked on the client key of database
// db.
func waitFor(t *testing.T, ts *testServer, db int, key string, n int) {
	t.Helper()
	testutil.Eventually(t, fmt.Sprintf("%d clients blocked on %q", n, key), func() bool {
		return len(ts.srv.waits.waiters(db, []byte(key))) == n
	})
}

// block sends a blocking command on a new connection and waits until the
// client is blocked (on key, the n-th).
func block(t *testing.T, ts *testServer, key string, n int, args ...string) *rawConn {
	t.Helper()
	rc := ts.dial(t)
	rc.send(encodeCommand(args...))
	waitFor(t, ts, 0, key, n)
	return rc
}

func TestBlocking_ServedByAPushInBlockingOrder(t *testing.T) {
	ts := startServer(t)
	a := block(t, ts, "q", 1, "BLPOP", "q", "0")
	b := block(t, ts, "q", 2, "BRPOP", "q", "0")
	c := block(t, ts, "q", 3, "BLPOP", "other", "q", "0")
	p := ts.dial(t)
	// One push of two items serves the two clients that blocked first,
	// before the pusher's next command runs: the list is empty again.
	runScript(t, ts, p, `
		RPUSH q 1 2 => :2
		LLEN q => :0
	`)
	eq(t, "first blocked", a.read(), `["q" "1"]`)
	eq(t, "second blocked", b.read(), `["q" "2"]`)
	waitFor(t, ts, 0, "q", 1)
	eq(t, "lpush", p.do("LPUSH", "q", "3"), ":1")
	eq(t, "third blocked", c.read(), `["q" "3"]`)
	waitFor(t, ts, 0, "q", 0)
	waitFor(t, ts, 0, "other", 0)
	eq(t, "blocked clients", ts.srv.st.blocked.Load(), int64(0))
}

func TestBlocking_ServedByExec(t *testing.T) {
	ts := startServer(t)
	a := block(t, ts, "q", 1, "BLPOP", "q", "0")
	p := ts.dial(t)
	// An EXEC that pushes and pops leaves nothing: the client stays
	// blocked.
	runScript(t, ts, p, `
		MULTI => +OK
		RPUSH q x => +QUEUED
		LPOP q => +QUEUED
		EXEC => [:1 "x"]
	`)
	waitFor(t, ts, 0, "q", 1)
	runScript(t, ts, p, `
		MULTI => +OK
		RPUSH q y z => +QUEUED
		LLEN q => +QUEUED
		EXEC => [:2 :2]
		LRANGE q 0 -1 => ["z"]
	`)
	eq(t, "served by EXEC", a.read(), `["q" "y"]`)
}

func TestBlocking_InsideMultiDoesNotBlock(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		MULTI => +OK
		BLPOP q 0 => +QUEUED
		BRPOPLPUSH q d 0 => +QUEUED
		BLMOVE q d LEFT LEFT 0 => +QUEUED
		BLMPOP 0 1 q LEFT => +QUEUED
		RPUSH q x => +QUEUED
		BLPOP q 0 => +QUEUED
		EXEC => [nil nil nil nil :1 ["q" "x"]]
	`)
}

func TestBlocking_DisconnectLosesNoItem(t *testing.T) {
	ts := startServer(t)
	a := block(t, ts, "q", 1, "BLPOP", "q", "0")
	b := block(t, ts, "q", 2, "BLMOVE", "q", "d", "LEFT", "LEFT", "0")
	must(t, a.nc.Close())
	must(t, b.nc.Close())
	// Once the server has seen them go, a push is for nobody.
	waitFor(t, ts, 0, "q", 0)
	testutil.Eventually(t, "no client blocked", func() bool { return ts.srv.st.blocked.Load() == 0 })
	runScript(t, ts, ts.dial(t), `
		RPUSH q 1 2 => :2
		LRANGE q 0 -1 => ["1" "2"]
		EXISTS d => :0
	`)
}

func TestBlocking_Timeouts(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		BLPOP q 0.001 => nil
		BRPOP q r 0.001 => nil
		BLMOVE q d LEFT RIGHT 0.001 => nil
		BRPOPLPUSH q d 0.001 => nil
		BLMPOP 0.001 2 q r LEFT COUNT 2 => nil
		EXISTS d => :0
	`)
	waitFor(t, ts, 0, "q", 0)
	// go-redis: a timeout is redis.Nil.
	c := ts.client(t)
	ctx := context.Background()
	if _, err := c.BLPop(ctx, 5*time.Millisecond, "q").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("BLPOP timeout through go-redis: %v", err)
	}
}

func TestBlocking_ClientUnblock(t *testing.T) {
	ts := startServer(t)
	a := ts.dial(t)
	id := strings.TrimPrefix(a.do("CLIENT", "ID"), ":")
	p := ts.dial(t)
	a.send(encodeCommand("BLPOP", "q", "0"))
	waitFor(t, ts, 0, "q", 1)
	eq(t, "unblock", p.do("CLIENT", "UNBLOCK", id), ":1")
	eq(t, "as a timeout", a.read(), "nil")
	a.send(encodeCommand("BLMOVE", "q", "d", "LEFT", "LEFT", "0"))
	waitFor(t, ts, 0, "q", 1)
	eq(t, "unblock error", p.do("CLIENT", "UNBLOCK", id, "error"), ":1")
	eq(t, "with an error", a.read(), "-UNBLOCKED client unblocked via CLIENT UNBLOCK")
	waitFor(t, ts, 0, "q", 0)
	runScript(t, ts, p, `
		CLIENT UNBLOCK `+id+` => :0
		CLIENT UNBLOCK 99999 => :0
		CLIENT UNBLOCK x => -ERR value is not an integer or out of range
		CLIENT UNBLOCK `+id+` FOO => -ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR
		RPUSH q x => :1
	`)
	// The unblocked client works on, and was not served the item.
	eq(t, "after", a.do("LRANGE", "q", "0", "-1"), `["x"]`)
}

func TestBlocking_ClientUnblockEvents(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) { o.EventLog = true })
	a, p := ts.dial(t), ts.dial(t)
	id := strings.TrimPrefix(a.do("CLIENT", "ID"), ":")
	a.send(encodeCommand("EPOCH.EVENTS", "BLOCK", "0"))
	testutil.Eventually(t, "blocked", func() bool { return ts.srv.st.blocked.Load() == 1 })
	eq(t, "unblock", p.do("CLIENT", "UNBLOCK", id, "ERROR"), ":1")
	eq(t, "events unblocked", a.read(), "-UNBLOCKED client unblocked via CLIENT UNBLOCK")
	a.send(encodeCommand("EPOCH.EVENTS", "BLOCK", "0"))
	testutil.Eventually(t, "blocked", func() bool { return ts.srv.st.blocked.Load() == 1 })
	eq(t, "unblock", p.do("CLIENT", "UNBLOCK", id), ":1")
	eq(t, "events timed out", a.read(), `[:0 []]`)
}

func TestBlocking_MoveChainsAndWrongTypes(t *testing.T) {
	ts := startServer(t)
	a := block(t, ts, "src", 1, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
	b := block(t, ts, "dst", 1, "BLPOP", "dst", "0")
	p := ts.dial(t)
	eq(t, "push", p.do("RPUSH", "src", "x"), ":1")
	// The item moves to dst, where it serves the next blocked client.
	eq(t, "moved", a.read(), `"x"`)
	eq(t, "popped from dst", b.read(), `["dst" "x"]`)
	runScript(t, ts, p, `
		EXISTS src dst => :0
	`)
	// A key of another type does not serve a blocked client: it waits on.
	c := block(t, ts, "k", 1, "BLPOP", "k", "0")
	runScript(t, ts, p, `
		SET k str => +OK
	`)
	waitFor(t, ts, 0, "k", 1)
	runScript(t, ts, p, `
		DEL k => :1
		RPUSH k y => :1
	`)
	eq(t, "served after the string went", c.read(), `["k" "y"]`)
	// A destination of another type: the client gets WRONGTYPE and the
	// item stays.
	d := block(t, ts, "s2", 1, "BLMOVE", "s2", "d2", "LEFT", "LEFT", "0")
	runScript(t, ts, p, `
		SET d2 str => +OK
		RPUSH s2 z => :1
	`)
	eq(t, "wrong destination", d.read(), "-WRONGTYPE Operation against a key holding the wrong kind of value")
	eq(t, "item kept", p.do("LRANGE", "s2", "0", "-1"), `["z"]`)
}

func TestBlocking_DatabasesAndKeys(t *testing.T) {
	ts := startServer(t)
	a := ts.dial(t)
	eq(t, "select", a.do("SELECT", "1"), "+OK")
	a.send(encodeCommand("BLPOP", "q", "r", "0"))
	waitFor(t, ts, 1, "q", 1)
	p := ts.dial(t)
	// The same key in another database is another key.
	eq(t, "push in db 0", p.do("RPUSH", "q", "x"), ":1")
	waitFor(t, ts, 1, "q", 1)
	eq(t, "still there", p.do("LLEN", "q"), ":1")
	// A push on the second key serves it, and the client leaves both
	// keys' queues.
	runScript(t, ts, p, `
		SELECT 1 => +OK
		RPUSH r y => :1
	`)
	eq(t, "served from r", a.read(), `["r" "y"]`)
	waitFor(t, ts, 1, "q", 0)
	// Lists arriving by RENAME, COPY, MOVE, SORT … STORE and SWAPDB
	// serve too.
	for _, tc := range []struct{ setup, write string }{
		{"RPUSH tmp 1", "RENAME tmp w"},
		{"RPUSH tmp 2", "COPY tmp w"},
		{"SELECT 0\nRPUSH w 3", "MOVE w 1"},
		{"RPUSH tmp 4", "SORT tmp STORE w"},
		{"SELECT 0\nRPUSH w 5", "SWAPDB 0 1"},
	} {
		a.send(encodeCommand("BLPOP", "w", "0"))
		waitFor(t, ts, 1, "w", 1)
		for _, line := range strings.Split(tc.setup+"\n"+tc.write, "\n") {
			p.do(strings.Fields(line)...)
		}
		eq(t, tc.write, strings.HasPrefix(a.read(), `["w" "`), true)
		p.do("SELECT", "1")
		p.do("DEL", "tmp")
	}
}

func TestBlocking_Notifications(t *testing.T) {
	ts := startServer(t)
	p, sub := ts.dial(t), ts.dial(t)
	eq(t, "notify", p.do("CONFIG", "SET", "notify-keyspace-events", "Elg"), "+OK")
	eq(t, "psubscribe", sub.do("PSUBSCRIBE", "__keyevent@0__:*"), `["psubscribe" "__keyevent@0__:*" :1]`)
	a := block(t, ts, "src", 1, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
	runScript(t, ts, p, `
		LPUSH src x => :1
		LSET dst 0 y => +OK
		LINSERT dst BEFORE y z => :2
		LREM dst 1 z => :1
		LTRIM dst 0 0 => +OK
		RPOP dst => "y"
	`)
	eq(t, "moved", a.read(), `"x"`)
	for _, want := range []string{"lpush src", "rpush dst", "lpop src", "del src", "lset dst", "linsert dst", "lrem dst", "ltrim dst", "rpop dst", "del dst"} {
		ev, key, _ := strings.Cut(want, " ")
		eq(t, "event", sub.read(), `["pmessage" "__keyevent@0__:*" "__keyevent@0__:`+ev+`" "`+key+`"]`)
	}
}

func TestBlocking_Shutdown(t *testing.T) {
	ts := startServer(t)
	a := block(t, ts, "q", 1, "BLPOP", "q", "0")
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ts.stop(t)
	}()
	// The blocked client is answered (or its connection closed) and the
	// server stops: a wait that outlived the shutdown would fail stop.
	_ = a.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if reply, err := readRendered(a.br); err == nil && reply != "-ERR the server is shutting down" {
		t.Fatalf("blocked client at shutdown: %q", reply)
	}
	<-stopped
}

// TestBlocking_ManyClients: clients blocking and being served from
// several pushers at once; every item pushed is received exactly once.
func TestBlocking_ManyClients(t *testing.T) {
	ts := startServer(t)
	const consumers, items = 6, 60
	got := make(chan string, items)
	var wg sync.WaitGroup
	for range consumers {
		c := ts.client(t, func(o *redis.Options) { o.PoolSize = 1 })
		wg.Go(func() {
			for {
				r, err := c.BLPop(context.Background(), 0, "q1", "q2").Result()
				if err != nil {
					t.Error(err)
					return
				}
				if r[1] == "stop" {
					return
				}
				got <- r[1]
			}
		})
	}
	for w := range 3 {
		c := ts.client(t)
		wg.Go(func() {
			for i := range items / 3 {
				key := []string{"q1", "q2"}[i%2]
				if err := c.RPush(context.Background(), key, fmt.Sprintf("%d-%d", w, i)).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := map[string]bool{}
	for range items {
		select {
		case v := <-got:
			if seen[v] {
				t.Fatalf("%s received twice", v)
			}
			seen[v] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("received %d of %d items", len(seen), items)
		}
	}
	c := ts.client(t)
	for range consumers {
		must(t, c.RPush(context.Background(), "q1", "stop").Err())
	}
	wg.Wait()
	if n, err := c.LLen(context.Background(), "q1").Result(); err != nil || n != 0 {
		t.Fatalf("left in q1: %d %v", n, err)
	}
}

func TestBlocking_SortedSets(t *testing.T) {
	ts := startServer(t)
	a := block(t, ts, "z", 1, "BZPOPMIN", "other", "z", "0")
	b := block(t, ts, "z", 2, "BZMPOP", "0", "1", "z", "MAX", "COUNT", "2")
	p := ts.dial(t)
	eq(t, "zadd", p.do("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ":4")
	eq(t, "lowest", a.read(), `["z" "a" "1"]`)
	eq(t, "highest two", b.read(), `["z" [["d" "4"] ["c" "3"]]]`)
	eq(t, "left", p.do("ZRANGE", "z", "0", "-1"), `["b"]`)
	// A client blocked on the key for another type is passed over, and the
	// next one served.
	l := block(t, ts, "k", 1, "BLPOP", "k", "0")
	m := block(t, ts, "k", 2, "BZPOPMAX", "k", "0")
	eq(t, "zadd k", p.do("ZADD", "k", "5", "e"), ":1")
	eq(t, "sorted set client", m.read(), `["k" "e" "5"]`)
	waitFor(t, ts, 0, "k", 1)
	eq(t, "rpush k", p.do("RPUSH", "k", "x"), ":1")
	eq(t, "list client", l.read(), `["k" "x"]`)
	runScript(t, ts, p, `
		BZPOPMIN nokey 0.001 => nil
		BZMPOP 0.001 1 nokey MIN => nil
		ZADD y 1 m => :1
		BZPOPMAX y 0 => ["y" "m" "1"]
		EXISTS y => :0
		BZPOPMIN z x => -ERR timeout is not a float or out of range
		BZMPOP 0 0 z MIN => -ERR numkeys should be greater than 0
		BZMPOP 0 1 z MIDDLE => -ERR syntax error
		SET s v => +OK
		BZPOPMIN s 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
		MULTI => +OK
		BZPOPMIN nokey 0 => +QUEUED
		BZMPOP 0 1 nokey MIN => +QUEUED
		EXEC => [nil nil]
	`)
}
