package server

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// List commands: Redis's replies and errors, over RESP2 on a raw socket.

func TestCommands_List(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		RPUSH l a b c => :3
		LPUSH l z y => :5
		LRANGE l 0 -1 => ["y" "z" "a" "b" "c"]
		LRANGE l -2 100 => ["b" "c"]
		LRANGE l 3 1 => []
		LRANGE nokey 0 -1 => []
		LRANGE l x 1 => -ERR value is not an integer or out of range
		LLEN l => :5
		LLEN nokey => :0
		LINDEX l 0 => "y"
		LINDEX l -1 => "c"
		LINDEX l 5 => nil
		LINDEX nokey x => nil
		LINDEX l x => -ERR value is not an integer or out of range
		LPUSHX nokey a => :0
		RPUSHX l d => :6
		LSET l 1 Z => +OK
		LSET l 6 x => -ERR index out of range
		LSET nokey 0 x => -ERR no such key
		LSET nokey x x => -ERR no such key
		LSET l x x => -ERR value is not an integer or out of range
		LINSERT l BEFORE a p => :7
		LINSERT l after c q => :8
		LINSERT l BEFORE nope x => :-1
		LINSERT nokey BEFORE a x => :0
		LINSERT l MIDDLE a x => -ERR syntax error
		LRANGE l 0 -1 => ["y" "Z" "p" "a" "b" "c" "q" "d"]
		LPOS l c => :5
		LPOS l nope => nil
		LPOS l c COUNT 0 => [:5]
		LPOS l c RANK 0 => -ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list
		LPOS l c COUNT -1 => -ERR COUNT can't be negative
		LPOS l c MAXLEN -1 => -ERR MAXLEN can't be negative
		LPOS l c FOO 1 => -ERR syntax error
		LPOS nokey c COUNT 1 => []
		LREM l 0 nope => :0
		LREM l x a => -ERR value is not an integer or out of range
		LPOP l => "y"
		RPOP l 2 => ["d" "q"]
		LPOP l 0 => []
		LPOP nokey => nil
		LPOP nokey 2 => nil
		LPOP l -1 => -ERR value is out of range, must be positive
		LPOP l 1 2 => -ERR wrong number of arguments for 'lpop' command
		LMOVE l l2 LEFT RIGHT => "Z"
		RPOPLPUSH l l2 => "c"
		LRANGE l2 0 -1 => ["c" "Z"]
		LMOVE l l2 UP LEFT => -ERR syntax error
		LMOVE nokey l2 LEFT LEFT => nil
		LMPOP 2 nokey l RIGHT COUNT 10 => ["l" ["b" "a" "p"]]
		EXISTS l => :0
		LMPOP 1 l LEFT => nil
		LMPOP 0 l LEFT => -ERR numkeys should be greater than 0
		LMPOP 1 l LEFT COUNT 0 => -ERR count should be greater than 0
		LMPOP 2 l LEFT => -ERR syntax error
		LTRIM l2 0 0 => +OK
		LRANGE l2 0 -1 => ["c"]
		LTRIM l2 1 0 => +OK
		EXISTS l2 => :0
		TYPE nokey => +none
		RPUSH big 1 2 3 => :3
		TYPE big => +list
		OBJECT ENCODING big => "listpack"
		SET s v => +OK
		LPUSH s x => -WRONGTYPE Operation against a key holding the wrong kind of value
		LRANGE s 0 -1 => -WRONGTYPE Operation against a key holding the wrong kind of value
		LMOVE big s LEFT LEFT => -WRONGTYPE Operation against a key holding the wrong kind of value
		LLEN big => :3
		LMOVE nokey s LEFT LEFT => nil
		GET big => -WRONGTYPE Operation against a key holding the wrong kind of value
		BLPOP s 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
		BLPOP nokey big 0 => ["big" "1"]
		BRPOP big 0 => ["big" "3"]
		BLMOVE big big RIGHT LEFT 0 => "2"
		BLPOP big x => -ERR timeout is not a float or out of range
		BLPOP big -1 => -ERR timeout is negative
		BLPOP big inf => -ERR timeout is negative
		BLMPOP 0 2 nokey big LEFT COUNT 5 => ["big" ["2"]]
		BRPOPLPUSH nokey x 0.01 => nil
		BLPOP nokey 0.001 => nil
		BLMPOP 0.01 1 nokey RIGHT => nil
		RPUSH r 1 => :1
		RENAME r r2 => +OK
		LRANGE r2 0 -1 => ["1"]
		COPY r2 r3 => :1
		MOVE r3 1 => :1
		SELECT 1 => +OK
		LRANGE r3 0 -1 => ["1"]
		SCAN 0 TYPE list => ["0" ["r3"]]
	`)
}

// FuzzListArgs feeds the list commands' argument parsers: no panic, and
// every refusal is one of Redis's errors.
func FuzzListArgs(f *testing.F) {
	for _, s := range []string{"0", "0.001", "-0.0001", "1e400", "inf", "nan", "0x10", "9223372036854775.807", "x", ""} {
		f.Add(s, "RANK", "-1")
	}
	f.Add("2", "COUNT", "0")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		d, msg := parseTimeout([]byte(a))
		switch msg {
		case "":
			if d < 0 {
				t.Fatalf("timeout %q: %v", a, d)
			}
		case "ERR timeout is not a float or out of range", "ERR timeout is negative":
		default:
			t.Fatalf("timeout %q: %s", a, msg)
		}
		o, _, msg := parsePos([][]byte{[]byte(b), []byte(c), []byte(a), []byte(c)})
		if msg == "" && (o.Rank == 0 || o.Count < 0 || o.MaxLen < 0) {
			t.Fatalf("LPOS options %q %q %q: %+v", b, c, a, o)
		}
		keys, _, count, msg := parseMPop([][]byte{[]byte(a), []byte(b), []byte(c), []byte("LEFT"), []byte("COUNT"), []byte(c)})
		if msg == "" && (len(keys) == 0 || count <= 0) {
			t.Fatalf("LMPOP %q %q %q: %d keys, count %d", a, b, c, len(keys), count)
		}
	})
}

func TestGoRedis_Lists(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := ts.client(t, func(o *redis.Options) { o.Protocol = proto })
		must(t, c.FlushDB(ctx).Err())
		if n, err := c.RPush(ctx, "l", "a", "b", "c").Result(); err != nil || n != 3 {
			t.Fatal(n, err)
		}
		if n, err := c.LPush(ctx, "l", "z").Result(); err != nil || n != 4 {
			t.Fatal(n, err)
		}
		if items, err := c.LRange(ctx, "l", 0, -1).Result(); err != nil || !slices.Equal(items, []string{"z", "a", "b", "c"}) {
			t.Fatalf("resp%d: lrange %v %v", proto, items, err)
		}
		if v, err := c.LIndex(ctx, "l", -1).Result(); err != nil || v != "c" {
			t.Fatal(v, err)
		}
		if _, err := c.LIndex(ctx, "l", 10).Result(); err != redis.Nil {
			t.Fatalf("lindex out of range: %v", err)
		}
		if err := c.LSet(ctx, "nokey", 0, "x").Err(); err == nil || err.Error() != "ERR no such key" {
			t.Fatalf("lset on a missing key: %v", err)
		}
		if n, err := c.LInsertAfter(ctx, "l", "a", "a2").Result(); err != nil || n != 5 {
			t.Fatal(n, err)
		}
		if pos, err := c.LPosCount(ctx, "l", "a2", 0, redis.LPosArgs{Rank: -1}).Result(); err != nil || !slices.Equal(pos, []int64{2}) {
			t.Fatalf("resp%d: lpos %v %v", proto, pos, err)
		}
		if v, err := c.LMove(ctx, "l", "m", "LEFT", "RIGHT").Result(); err != nil || v != "z" {
			t.Fatal(v, err)
		}
		if items, err := c.LPopCount(ctx, "l", 2).Result(); err != nil || !slices.Equal(items, []string{"a", "a2"}) {
			t.Fatalf("resp%d: lpop count %v %v", proto, items, err)
		}
		key, items, err := c.LMPop(ctx, "right", 5, "nokey", "l").Result()
		if err != nil || key != "l" || !slices.Equal(items, []string{"c", "b"}) {
			t.Fatalf("resp%d: lmpop %q %v %v", proto, key, items, err)
		}
		if r, err := c.BLPop(ctx, time.Second, "nokey", "m").Result(); err != nil || !slices.Equal(r, []string{"m", "z"}) {
			t.Fatalf("resp%d: blpop %v %v", proto, r, err)
		}
		if typ, err := c.Type(ctx, "m").Result(); err != nil || typ != "none" {
			t.Fatal(typ, err)
		}
		must(t, c.RPush(ctx, "t", "1").Err())
		pipe := c.TxPipeline()
		pipe.RPush(ctx, "t", "2")
		pipe.BRPop(ctx, 0, "t")
		pipe.LLen(ctx, "t")
		cmds, err := pipe.Exec(ctx)
		if err != nil || cmds[2].(*redis.IntCmd).Val() != 1 {
			t.Fatalf("resp%d: tx %v %v", proto, cmds, err)
		}
		keys, _, err := c.ScanType(ctx, 0, "*", 10, "list").Result()
		if err != nil || !slices.Equal(keys, []string{"t"}) {
			t.Fatalf("resp%d: scan type list %v %v", proto, keys, err)
		}
	}
}

func TestRedisCLI_Lists(t *testing.T) {
	ts := startServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"RPUSH", "l", "a", "two words", "c"}, "3"},
		{[]string{"LRANGE", "l", "0", "-1"}, "a\ntwo words\nc"},
		{[]string{"LPOS", "l", "c"}, "2"},
		{[]string{"BLMPOP", "0", "1", "l", "LEFT", "COUNT", "2"}, "l\na\ntwo words"},
		{[]string{"BRPOP", "nokey", "0.01"}, ""},
		{[]string{"TYPE", "l"}, "list"},
		{[]string{"LPUSH", "s", "x"}, "1"},
		{[]string{"OBJECT", "ENCODING", "s"}, "listpack"},
		{[]string{"SET", "str", "v"}, "OK"},
		{[]string{"LLEN", "str"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
	} {
		out, _ := redisCLI(t, ts, tc.args...)
		if strings.TrimRight(out, "\n") != tc.want {
			t.Errorf("redis-cli %s\n got: %q\nwant: %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
}

func TestCommands_ListLifecycleAndWatch(t *testing.T) {
	ts := startServer(t)
	rc, other := ts.dial(t), ts.dial(t)
	runScript(t, ts, rc, `
		RPUSH l a b => :2
		EXPIRE l 10 => :1
		TTL l => :10
		WATCH l => +OK
	`)
	eq(t, "other pops", other.do("LPOP", "l"), `"a"`)
	runScript(t, ts, rc, `
		MULTI => +OK
		LLEN l => +QUEUED
		EXEC => nil
		TTL l => :10
		!advance 10s
		LLEN l => :0
		EXISTS l => :0
		RPUSH l x => :1
		TTL l => :-1
		OBJECT FREQ l => :0
		LINDEX l 0 => "x"
		OBJECT FREQ l => :1
		DEL l => :1
		LPUSH l x => :1
		UNLINK l => :1
		RPUSH l x y => :2
		SWAPDB 0 1 => +OK
		EXISTS l => :0
		SELECT 1 => +OK
		LRANGE l 0 -1 => ["x" "y"]
		RPUSH n 3 1 2 => :3
		SORT n => ["1" "2" "3"]
		SORT n DESC STORE sorted => :3
		LRANGE sorted 0 -1 => ["3" "2" "1"]
		SORT l ALPHA LIMIT 0 1 => ["x"]
		SORT l BY nosort => ["x" "y"]
	`)
}
