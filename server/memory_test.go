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
// GETRANGE) answers Redis's OOM error instead of being built, small
// replies are served, the refusals are counted in INFO memory, and the
// server keeps serving.
func TestMemory_BigRepliesOverMaxMemoryAnswerOOM(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxMemory = 1 })
	ctx := context.Background()
	rdb := ts.client(t)
	big := strings.Repeat("x", 2<<20)
	pipe := rdb.Pipeline()
	for i := range 8 {
		pipe.Set(ctx, fmt.Sprint("big:", i), big, 0)
	}
	pipe.Set(ctx, "small", "v", 0)
	_, err := pipe.Exec(ctx)
	must(t, err)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		GET big:0 => -OOM command not allowed when used memory > 'maxmemory'.
		MGET big:0 big:1 big:2 => -OOM command not allowed when used memory > 'maxmemory'.
		GETRANGE big:0 0 -1 => -OOM command not allowed when used memory > 'maxmemory'.
		GETRANGE big:0 0 9 => "xxxxxxxxxx"
		GET small => "v"
		MGET small missing => ["v" nil]
		STRLEN big:0 => :2097152
		CONFIG GET maxmemory => ["maxmemory" "1"]
	`)
	info := rc.do("INFO", "memory")
	for _, want := range []string{`maxmemory:1\r\n`, `maxmemory_oom_rejected_replies:3\r\n`, "used_memory_process:"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO memory lacks %q:\n%s", want, info)
		}
	}
	assertServerResponsive(t, ts)
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
