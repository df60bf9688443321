package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestMemory_BigRepliesOverMaxMemoryAnswerOOM: with a memory budget the
// process is already past (1 byte), a reply of 1 MiB or more (GET, MGET,
// GETRANGE) and a write of 1 MiB or more (SET, SETRANGE growth, APPEND,
// MSET) answer Redis's OOM error before the reply is built or the library
// called; small replies and writes are served, the refusals are counted
// in INFO memory, and the server keeps serving.
func TestMemory_BigRepliesOverMaxMemoryAnswerOOM(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxMemory = 1 })
	big := strings.Repeat("x", 2<<20)
	for i := range 3 { // written through the library: SET would be refused
		must(t, ts.db.Set(append([]byte{0}, fmt.Sprint("big:", i)...), []byte(big), 0))
	}
	rc := ts.dial(t)
	const oom = "-OOM command not allowed when used memory > 'maxmemory'."
	runScript(t, ts, rc, `
		SET small v => +OK
		GET big:0 => `+oom+`
		MGET big:0 big:1 big:2 => `+oom+`
		GETRANGE big:0 0 -1 => `+oom+`
		GETRANGE big:0 0 9 => "xxxxxxxxxx"
		GET small => "v"
		MGET small missing => ["v" nil]
		STRLEN big:0 => :2097152
		SETRANGE small 2000000 x => `+oom+`
		SETRANGE small 1 x => :2
		CONFIG GET maxmemory => ["maxmemory" "1"]
	`)
	for _, args := range [][]string{{"SET", "k", big}, {"APPEND", "small", big}, {"MSET", "a", big[:1<<19], "b", big[:1<<19]}} {
		eq(t, args[0]+" of 1 MiB", rc.do(args...), oom)
	}
	eq(t, "EXISTS k a b", rc.do("EXISTS", "k", "a", "b"), ":0")
	eq(t, "GET small", rc.do("GET", "small"), `"vx"`)
	info := rc.do("INFO", "memory")
	for _, want := range []string{`maxmemory:1\r\n`, `maxmemory_oom_rejected:7\r\n`, "used_memory_process:"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO memory lacks %q:\n%s", want, info)
		}
	}
	ts.healthyKey(t, "small")
}

// TestMemory_OutputBufferLimitDisconnects: a reply larger than the normal
// clients' output buffer limit closes that client (as Redis does), before
// an MGET's reply is built; other clients carry on.
func TestMemory_OutputBufferLimitDisconnects(t *testing.T) {
	var logs syncBuffer
	ts := startWithSentinel(t, func(s *Server) { s.OutputBufferLimit = 3 << 20 }, logTo(&logs))
	ctx := context.Background()
	val := strings.Repeat("y", 2<<20)
	rdb := ts.client(t)
	must(t, rdb.MSet(ctx, "a", val, "b", val).Err())
	rc := ts.dial(t)
	eq(t, "GET a under the limit", len(rc.do("GET", "a")), len(val)+2)
	rc.send(encodeCommand("MGET", "a", "b") + encodeCommand("PING"))
	eq(t, "MGET over the limit", fmt.Sprint(rc.expectClosed()), "[]")
	eq(t, "CONFIG GET", ts.dial(t).do("CONFIG", "GET", "client-output-buffer-limit"),
		`["client-output-buffer-limit" "normal 3145728 0 0 slave 0 0 0 pubsub 33554432 0 0"]`)
	// Any command's reply is held to the limit: KEYS of long keys.
	one := ts.client(t, func(o *redis.Options) { o.MaxRetries = -1 })
	pipe := one.Pipeline()
	for i := range 60 {
		pipe.Set(ctx, fmt.Sprintf("%s:%d", strings.Repeat("k", 60000), i), "v", 0)
	}
	_, err := pipe.Exec(ctx)
	must(t, err)
	rc = ts.dial(t)
	rc.send(encodeCommand("KEYS", "*"))
	rc.expectClosed()
	ts.healthy(t)
}

func TestParseMemInfoTotal(t *testing.T) {
	for in, want := range map[string]int64{
		"MemTotal:       24684092 kB\nMemFree: 1 kB\n": 24684092 << 10,
		"MemFree: 1 kB\nMemTotal: 1000\n":              1000,
		"":                                             0,
		"MemTotal: x kB":                               0,
		"MemTotal: -5 kB":                              0,
		"MemTotal:":                                    0,
	} {
		eq(t, fmt.Sprintf("parseMemInfoTotal(%q)", in), parseMemInfoTotal([]byte(in)), want)
	}
	if SystemMemory() <= 0 {
		t.Error("SystemMemory found nothing on this machine")
	}
}

// FuzzParseMemInfoTotal: any input parses without panicking to a
// non-negative size.
func FuzzParseMemInfoTotal(f *testing.F) {
	f.Add([]byte("MemTotal:       24684092 kB\nMemFree:        21437956 kB\n"))
	f.Add([]byte("MemTotal: 9223372036854775807 kB\n"))
	f.Add([]byte("MemTotal: 1\n"))
	f.Add([]byte("\x00MemTotal:\t12 KB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := parseMemInfoTotal(b); n < 0 {
			t.Fatalf("parseMemInfoTotal(%q) = %d", b, n)
		}
	})
}

// TestMemory_LargeValuesRepliedByReference: values of 64 KiB and more are
// queued by reference (not copied into the output buffer); pipelined
// replies around them, MGET, GETRANGE, and a RESP3 subscriber's replies
// (which go through the push queue) keep their bytes and their order.
func TestMemory_LargeValuesRepliedByReference(t *testing.T) {
	ts := startServer(t)
	big := strings.Repeat("b", 300<<10) + "end"
	rc := ts.dial(t)
	eq(t, "SET", rc.do("SET", "big", big), "+OK")
	eq(t, "SET", rc.do("SET", "small", "s"), "+OK")
	rc.send(encodeCommand("GET", "big") + encodeCommand("GET", "small") + encodeCommand("MGET", "big", "small", "big") +
		encodeCommand("GETRANGE", "big", "1", "-1") + encodeCommand("PING"))
	q := strconv.Quote
	eq(t, "GET big", rc.read(), q(big))
	eq(t, "GET small", rc.read(), `"s"`)
	eq(t, "MGET", rc.read(), "["+q(big)+` "s" `+q(big)+"]")
	eq(t, "GETRANGE", rc.read(), q(big[1:]))
	eq(t, "PING", rc.read(), "+PONG")

	eq(t, "HELLO 3", strings.HasPrefix(rc.do("HELLO", "3"), "{"), true)
	eq(t, "SUBSCRIBE", rc.do("SUBSCRIBE", "ch"), `>["subscribe" "ch" :1]`)
	rc.send(encodeCommand("GET", "big") + encodeCommand("GET", "small"))
	eq(t, "GET big while subscribed", rc.read(), q(big))
	eq(t, "GET small while subscribed", rc.read(), `"s"`)
}
