package server

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// extremeInts are the integer and float arguments every command is fed:
// the edges of int64, 2^32, values just past int64 and the floats Redis
// refuses or overflows on.
var extremeInts = []string{
	"0", "-1", "1",
	strconv.FormatInt(math.MaxInt64, 10),
	strconv.FormatInt(math.MinInt64, 10),
	"4294967296", "4294967295",
	"9223372036854775808", "-9223372036854775809",
	"nan", "inf", "-inf", "1e308", "-0",
}

// extremeShapes returns the argument lists sent after a command name with
// x in every integer position: bare, after a key, after a key and a value,
// after each option keyword that takes a number, and as the value of each
// settable numeric CONFIG parameter.
func extremeShapes(x string) [][]string {
	shapes := [][]string{
		{x}, {x, x}, {x, x, x},
		{"k", x}, {"k", x, x}, {"k", x, "v"}, {"k", "v", x},
		{"k", "v", x, x}, {"k", "k2", x},
		{"0", "COUNT", x}, {"PREVIEW", "COUNT", x},
		{"GET", x}, {"KILL", "ID", x}, {"LIST", "ID", x},
		{"FREQ", x}, {"NUMSUB", x},
	}
	for _, kw := range []string{"EX", "PX", "EXAT", "PXAT", "COUNT", "DB", "BLOCK", "FROM", "ID", "MATCH", "TYPE"} {
		shapes = append(shapes, []string{kw, x}, []string{"k", kw, x}, []string{"k", "v", kw, x},
			[]string{"k", "k2", kw, x}, []string{"FROM", "0", kw, x})
	}
	for _, p := range []string{"maxclients", "timeout", "proto-max-bulk-len", "slowlog-log-slower-than", "slowlog-max-len"} {
		shapes = append(shapes, []string{"SET", p, x})
	}
	return shapes
}

// TestArgs_EveryCommandWithExtremeIntegers sends every command with every
// extreme integer in every numeric position (about 100 argument lists per
// value per command), pipelined on one connection per command. No command
// may panic or fail inside the library (both are logged at Error level);
// afterwards every key range is still writable, and INFO, DBSIZE,
// FLUSHALL and the shutdown finish (a wedged lock would hang them).
func TestArgs_EveryCommandWithExtremeIntegers(t *testing.T) {
	var logs syncBuffer
	ts := startWithSentinel(t, logTo(&logs), func(s *Server) {
		s.BackupDir = t.TempDir()
		s.authWait = func(context.Context, time.Duration) {} // AUTH k x fails: no delays here
	})
	// No shape makes FLUSHALL/FLUSHDB flush (that needs no argument or
	// ASYNC/SYNC), so the sentinel key survives the sweep, and none is a
	// SHUTDOWN option (SAVE, NOSAVE, NOW, FORCE, ABORT): SHUTDOWN with an
	// integer is a syntax error, and the server must still be up after.
	for _, spec := range NewCommandMux().Specs() {
		if spec.Name == "quit" { // ends the connection: it closes each pipeline
			continue
		}
		var req strings.Builder
		sent := 0
		// A blocking command runs inside MULTI, where it does not block
		// (a timeout of 0 would wait for ever).
		blocking := spec.Flags&FlagBlocking != 0
		for _, x := range extremeInts {
			for _, shape := range extremeShapes(x) {
				if blocking {
					req.WriteString(encodeCommand("MULTI"))
				}
				req.WriteString(encodeCommand(append([]string{spec.Name}, shape...)...))
				sent++
				if blocking {
					req.WriteString(encodeCommand("EXEC"))
				}
			}
		}
		if spec.Name == "config" { // CONFIG SET maxclients 1 would refuse the next connections
			req.WriteString(encodeCommand("CONFIG", "SET", "maxclients", "10000", "timeout", "0", "proto-max-bulk-len", "512mb"))
		}
		req.WriteString(encodeCommand("QUIT"))
		rc := ts.dial(t)
		// Written concurrently with reading the replies: the server stops
		// reading a client that does not read its replies.
		go func() { _, _ = rc.nc.Write([]byte(req.String())) }()
		replies := rc.expectClosed()
		if len(replies) < sent/2 {
			t.Errorf("%s: %d replies to %d commands", spec.Name, len(replies), sent)
		}
		for _, r := range replies {
			if strings.HasPrefix(r, "-ERR Protocol error") {
				t.Fatalf("%s: %s", spec.Name, r)
			}
		}
		if l := logs.String(); l != "" {
			t.Fatalf("%s: the server logged an error (a panic or a failed library call):\n%s", spec.Name, l)
		}
	}
	assertServerResponsive(t, ts)
	ts.healthy(t)
}

// assertServerResponsive writes distinct keys across the whole key space
// (plain SETs and read-modify-writes, which take the library's per-key
// locks), then runs INFO, DBSIZE and FLUSHALL, each under a deadline: a
// lock left held by an earlier command would make one of them hang.
func assertServerResponsive(t *testing.T, ts *testServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := ts.client(t)
	pipe := rdb.Pipeline()
	const n = 1024
	for i := range n {
		pipe.Set(ctx, fmt.Sprintf("responsive:%d", i), i, 0)
		pipe.Incr(ctx, fmt.Sprintf("responsive:incr:%d", i))
		pipe.SetRange(ctx, fmt.Sprintf("responsive:range:%d", i), 3, "x")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("writes after the extreme arguments: %v", err)
	}
	must(t, rdb.Info(ctx).Err())
	size, err := rdb.DBSize(ctx).Result()
	must(t, err)
	if size < 3*n {
		t.Errorf("DBSIZE = %d, want at least %d", size, 3*n)
	}
	must(t, rdb.Set(ctx, "sentinel", "intact", 0).Err())
	must(t, rdb.FlushAll(ctx).Err())
	must(t, rdb.Set(ctx, "sentinel", "intact", 0).Err())
}

// TestArgs_RedisErrors: the replies Redis 7 gives to out-of-range
// integers, word for word, and the key is unchanged after each refusal.
func TestArgs_RedisErrors(t *testing.T) {
	ts := startWithSentinel(t, func(s *Server) { s.BackupDir = t.TempDir() })
	rc := ts.dial(t)
	const max, min = "9223372036854775807", "-9223372036854775808"
	runScript(t, ts, rc, `
SET k hello => +OK
SETRANGE k `+max+` x => -ERR string exceeds maximum allowed size (proto-max-bulk-len)
SETRANGE k 9223372036854775806 xy => -ERR string exceeds maximum allowed size (proto-max-bulk-len)
SETRANGE k 536870912 x => -ERR string exceeds maximum allowed size (proto-max-bulk-len)
SETRANGE k 536870911 xy => -ERR string exceeds maximum allowed size (proto-max-bulk-len)
SETRANGE k -1 x => -ERR offset is out of range
SETRANGE k `+min+` x => -ERR offset is out of range
SETRANGE k 9223372036854775808 x => -ERR value is not an integer or out of range
SETRANGE k `+max+` "" => :5
SETRANGE missing `+max+` "" => :0
EXISTS missing => :0
SETRANGE missing2 `+max+` x => -ERR string exceeds maximum allowed size (proto-max-bulk-len)
EXISTS missing2 => :0
GET k => "hello"
GETRANGE k `+min+` `+max+` => "hello"
GETRANGE k `+max+` `+min+` => ""
GETRANGE k -1 `+max+` => "o"
GETRANGE k `+min+` `+min+` => "h"
GETRANGE k 0 9223372036854775808 => -ERR value is not an integer or out of range
INCRBY n `+max+` => :`+max+`
INCRBY n 1 => -ERR increment or decrement would overflow
DECRBY n `+min+` => -ERR decrement would overflow
SET n `+min+` => +OK
DECR n => -ERR increment or decrement would overflow
INCRBY n 9223372036854775808 => -ERR value is not an integer or out of range
INCRBYFLOAT f nan => -ERR value is not a valid float
INCRBYFLOAT f inf => -ERR increment would produce NaN or Infinity
INCRBYFLOAT f -inf => -ERR increment would produce NaN or Infinity
EXISTS k => :1
SETEX k `+max+` v => -ERR invalid expire time in 'setex' command
SETEX k 0 v => -ERR invalid expire time in 'setex' command
SETEX k -1 v => -ERR invalid expire time in 'setex' command
PSETEX k `+max+` v => -ERR invalid expire time in 'psetex' command
SET k v EX `+max+` => -ERR invalid expire time in 'set' command
SET k v PX `+max+` => -ERR invalid expire time in 'set' command
SET k v EXAT `+max+` => -ERR invalid expire time in 'set' command
SET k v PXAT `+min+` => -ERR invalid expire time in 'set' command
SET k v `+max+` => -ERR invalid expire time in 'set' command
SET k v -1 => -ERR invalid expire time in 'set' command
GETEX k EX 4294967296000000000 => -ERR invalid expire time in 'getex' command
EXPIRE k `+max+` => -ERR invalid expire time in 'expire' command
EXPIRE k `+min+` => -ERR invalid expire time in 'expire' command
PEXPIRE k `+max+` => -ERR invalid expire time in 'pexpire' command
EXPIREAT k `+max+` => -ERR invalid expire time in 'expireat' command
GET k => "hello"
TTL k => :-1
SELECT 4294967296 => -ERR DB index is out of range
SELECT -1 => -ERR DB index is out of range
COPY k k2 DB `+max+` => -ERR DB index is out of range
SCAN 0 COUNT 0 => -ERR syntax error
SCAN 0 COUNT -1 => -ERR syntax error
SCAN -1 => -ERR invalid cursor
SLOWLOG GET `+min+` => -ERR count should be greater than or equal to -1
EPOCH.PRUNE PREVIEW COUNT 0 => -ERR value is out of range, must be positive
EPOCH.PRUNE PREVIEW COUNT `+min+` => -ERR value is out of range, must be positive
EPOCH.EVENTS COUNT -1 => -ERR value is out of range, must be positive
EPOCH.EVENTS BLOCK `+max+` => -ERR timeout is out of range
EPOCH.EVENTS BLOCK -1 => -ERR timeout is negative
EPOCH.EVENTS FROM -1 => -ERR FROM must be a sequence number (an integer >= 0) or $
HELLO `+max+` => -NOPROTO unsupported protocol version
HELLO 4294967298 => -NOPROTO unsupported protocol version
CLIENT KILL ID -1 => -ERR client-id should be greater than 0
CLIENT KILL ID 4294967296 => :0
CONFIG SET maxclients 4294967296 => -ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 1073741824 inclusive
CONFIG SET proto-max-bulk-len `+max+` => -ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - invalid memory size "9223372036854775807"
`)
	// Long double arithmetic, as Redis: 1e308 is the long double nearest
	// to it, and twice that is still finite; past about 1.19e4932 is not.
	eq(t, "INCRBYFLOAT f 1e308", rc.do("INCRBYFLOAT", "f", "1e308"), `"99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048"`)
	eq(t, "INCRBYFLOAT f 1e308 again", rc.do("INCRBYFLOAT", "f", "1e308"), `"199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096"`)
	if got := rc.do("INCRBYFLOAT", "g", "1e4932"); !strings.HasPrefix(got, `"100000000000000000000601894938796389132`) {
		t.Errorf("INCRBYFLOAT g 1e4932 = %.40s...", got)
	}
	eq(t, "INCRBYFLOAT g 1e4932 again", rc.do("INCRBYFLOAT", "g", "1e4932"), "-"+errNaNInf)
}

// TestArgs_SetRangeHugeOffsetMakesNoLibraryCall: SETRANGE's size check
// comes before any library call. The database is closed under the
// running server, so any library call would answer "shutting down".
func TestArgs_SetRangeHugeOffsetMakesNoLibraryCall(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	must(t, ts.db.Close())
	eq(t, "SETRANGE huge", rc.do("SETRANGE", "k", strconv.FormatInt(math.MaxInt64, 10), "x"), "-"+errTooBig)
	eq(t, "SETRANGE past the limit", rc.do("SETRANGE", "k", strconv.Itoa(DefaultProtoMaxBulkLen), "x"), "-"+errTooBig)
	eq(t, "SETRANGE in range (reaches the closed library)", rc.do("SETRANGE", "k", "1", "x"), "-ERR the server is shutting down")
}

// TestArgs_SetRangeFollowsProtoMaxBulkLen: the cap is the configured
// proto-max-bulk-len, changed at run time with CONFIG SET, and growth up
// to it succeeds.
func TestArgs_SetRangeFollowsProtoMaxBulkLen(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.ProtoMaxBulkLen = 1 << 20 })
	rc := ts.dial(t)
	eq(t, "SETRANGE at the limit", rc.do("SETRANGE", "k", strconv.Itoa(1<<20-1), "x"), ":1048576")
	eq(t, "SETRANGE past it", rc.do("SETRANGE", "k", strconv.Itoa(1<<20), "x"), "-"+errTooBig)
	eq(t, "APPEND past it", rc.do("APPEND", "k", "y"), "-"+errTooBig)
	eq(t, "STRLEN unchanged", rc.do("STRLEN", "k"), ":1048576")
	eq(t, "CONFIG SET", rc.do("CONFIG", "SET", "proto-max-bulk-len", "2mb"), "+OK")
	eq(t, "APPEND under the raised limit", rc.do("APPEND", "k", "y"), ":1048577")
}
