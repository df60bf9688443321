package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// Sorted set commands beyond what the differential test compares with
// redis-server: ZRANK WITHSCORE (Redis 7.2), large sorted sets (skiplist
// encoding, ZSCAN paging), keyspace events, transactions and WATCH, the
// key's lifecycle, and real clients.

func TestCommands_ZSet(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		ZADD z 1 a 2 b 2.5 c => :3
		ZRANK z c WITHSCORE => [:2 "2.5"]
		ZREVRANK z c withscore => [:0 "2.5"]
		ZRANK z nope WITHSCORE => nil
		ZRANK nokey a WITHSCORE => nil
		ZRANK z a FOO => -ERR syntax error
		ZRANK z a WITHSCORE x => -ERR wrong number of arguments for 'zrank' command
		MOVE z 1 => :1
		SELECT 1 => +OK
		ZRANGE z 0 -1 WITHSCORES => ["a" "1" "b" "2" "c" "2.5"]
		MOVE z 0 => :1
		SELECT 0 => +OK
	`)
	rc.do("HELLO", "3")
	runScript(t, ts, rc, `
		ZRANK z b WITHSCORE => [:1 ,2]
		ZRANK z nope WITHSCORE => nil
		ZSCORE z c => ,2.5
		ZRANGE z 0 0 WITHSCORES => [["a" ,1]]
		ZPOPMIN z => ["a" ,1]
		ZPOPMIN z 1 => [["b" ,2]]
	`)
}

// A sorted set over Redis's listpack size is a skiplist for OBJECT
// ENCODING, and ZSCAN pages through it with a cursor, every member once.
func TestCommands_ZSetLarge(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	args := []string{"ZADD", "z"}
	for i := range 300 {
		args = append(args, fmt.Sprint(i%10), fmt.Sprintf("m%03d", i))
	}
	eq(t, "zadd", rc.do(args...), ":300")
	eq(t, "encoding", rc.do("OBJECT", "ENCODING", "z"), `"skiplist"`)
	eq(t, "small", rc.do("ZADD", "s", "1", "a"), ":1")
	eq(t, "small encoding", rc.do("OBJECT", "ENCODING", "s"), `"listpack"`)
	eq(t, "long member", rc.do("ZADD", "s", "1", strings.Repeat("x", 65)), ":1")
	eq(t, "long member encoding", rc.do("OBJECT", "ENCODING", "s"), `"skiplist"`)
	seen := map[string]bool{}
	cur := "0"
	for range 100 {
		reply := rc.do("ZSCAN", "z", cur, "COUNT", "25")
		// ["cursor" ["m000" "0" ...]]
		head, rest, _ := strings.Cut(strings.TrimPrefix(reply, "["), " ")
		cur = strings.Trim(head, `"`)
		fields := strings.Fields(strings.Trim(rest, "[]"))
		for i := 0; i+1 < len(fields); i += 2 {
			m := strings.Trim(fields[i], `"`)
			if seen[m] {
				t.Fatalf("ZSCAN returned %s twice", m)
			}
			seen[m] = true
			eq(t, "score of "+m, fields[i+1], fmt.Sprintf(`"%d"`, (int(m[1]-'0')*100+int(m[2]-'0')*10+int(m[3]-'0'))%10))
		}
		if cur == "0" {
			break
		}
	}
	eq(t, "members scanned", len(seen), 300)
	eq(t, "zscan match", rc.do("ZSCAN", "z", "0", "MATCH", "m29?", "COUNT", "1000"),
		`["0" ["m290" "0" "m291" "1" "m292" "2" "m293" "3" "m294" "4" "m295" "5" "m296" "6" "m297" "7" "m298" "8" "m299" "9"]]`)
	eq(t, "rank", rc.do("ZRANK", "z", "m155"), ":165")
	eq(t, "revrank", rc.do("ZREVRANK", "z", "m155"), ":134")
	eq(t, "range by score", rc.do("ZRANGEBYSCORE", "z", "(8", "+inf", "LIMIT", "28", "5"), `["m289" "m299"]`)
	eq(t, "remrange", rc.do("ZREMRANGEBYRANK", "z", "0", "-1"), ":300")
	eq(t, "gone", rc.do("EXISTS", "z"), ":0")
}

// Every sorted set command publishes Redis's keyspace event, and "del"
// when it empties or deletes a key.
func TestCommands_ZSetNotifications(t *testing.T) {
	ts := startServer(t)
	rc, sub := ts.dial(t), ts.dial(t)
	eq(t, "notify", rc.do("CONFIG", "SET", "notify-keyspace-events", "Kz"), "+OK")
	eq(t, "flags", rc.do("CONFIG", "GET", "notify-keyspace-events"), `["notify-keyspace-events" "zK"]`)
	eq(t, "notify", rc.do("CONFIG", "SET", "notify-keyspace-events", "Egz"), "+OK")
	eq(t, "psubscribe", sub.do("PSUBSCRIBE", "__keyevent@0__:*"), `["psubscribe" "__keyevent@0__:*" :1]`)
	runScript(t, ts, rc, `
		ZADD z 1 a 2 b 3 c 4 d 5 e 6 f => :6
		ZADD z 1 a => :0
		ZINCRBY z 1 a => "2"
		ZINCRBY z 0 a => "2"
		ZREM z nope => :0
		ZREM z a => :1
		ZREMRANGEBYSCORE z 2 2 => :1
		ZREMRANGEBYRANK z 0 0 => :1
		ZREMRANGEBYLEX z [d [d => :1
		ZPOPMIN z => ["e" "5"]
		ZPOPMAX z 5 => ["f" "6"]
		ZADD a 1 x => :1
		ZUNIONSTORE u 1 a => :1
		ZINTERSTORE i 1 a => :1
		ZDIFFSTORE d 1 a => :1
		ZRANGESTORE r a 0 -1 => :1
		ZRANGESTORE r a 5 10 => :0
		ZMPOP 1 a MAX => ["a" [["x" "1"]]]
	`)
	for _, want := range []string{
		"zadd z", "zincr z", "zrem z", "zremrangebyscore z", "zremrangebyrank z", "zremrangebylex z",
		"zpopmin z", "zpopmax z", "del z", "zadd a", "zunionstore u", "zinterstore i", "zdiffstore d",
		"zrangestore r", "del r", "zpopmax a", "del a",
	} {
		event, key, _ := strings.Cut(want, " ")
		eq(t, "notification", sub.read(), fmt.Sprintf(`["pmessage" "__keyevent@0__:*" "__keyevent@0__:%s" "%s"]`, event, key))
	}
}

// Sorted set commands inside MULTI/EXEC see each other's writes and commit
// together; WATCH sees another client's ZADD.
func TestCommands_ZSetInExec(t *testing.T) {
	ts := startServer(t)
	rc, other := ts.dial(t), ts.dial(t)
	runScript(t, ts, rc, `
		MULTI => +OK
		ZADD z 1 a 2 b => +QUEUED
		ZINCRBY z 5 a => +QUEUED
		ZUNIONSTORE u 1 z WEIGHTS 10 => +QUEUED
		ZRANGE u 0 -1 WITHSCORES => +QUEUED
		ZPOPMIN z => +QUEUED
		ZCARD z => +QUEUED
		EXEC => [:2 "6" :2 ["b" "20" "a" "60"] ["b" "2"] :1]
		WATCH z => +OK
	`)
	eq(t, "other adds", other.do("ZADD", "z", "9", "c"), ":1")
	runScript(t, ts, rc, `
		MULTI => +OK
		ZCARD z => +QUEUED
		EXEC => nil
		MULTI => +OK
		DEL z => +QUEUED
		ZADD z 3 only => +QUEUED
		RENAME z z2 => +QUEUED
		EXEC => [:1 :1 +OK]
		ZRANGE z2 0 -1 WITHSCORES => ["only" "3"]
		DBSIZE => :2
	`)
}

// A sorted set is one key for the lifecycle: it expires whole on the
// clock, FLUSHDB drops it, and DBSIZE counts it once.
func TestCommands_ZSetLifecycle(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) { o.ExpiryInterval = 10 * time.Millisecond })
	rc := ts.dial(t)
	args := []string{"ZADD", "big"}
	for i := range 200 {
		args = append(args, fmt.Sprint(i), fmt.Sprint("m", i))
	}
	eq(t, "zadd", rc.do(args...), ":200")
	runScript(t, ts, rc, `
		ZADD z 1 a => :1
		DBSIZE => :2
		PEXPIRE z 100 => :1
		PTTL z => :100
		!advance 100ms
		ZCARD z => :0
		EXISTS z => :0
		FLUSHDB => +OK
		ZCARD big => :0
		ZADD big 1 x => :1
		ZRANGE big 0 -1 => ["x"]
	`)
	testutil.Eventually(t, "the expired key goes", func() bool { return ts.db.Len() == 1 })
	r, err := ts.db.Check()
	must(t, err)
	if len(r.Problems) > 0 || r.ScoreEntries != 1 {
		t.Fatalf("check: %v, %d score entries", r.Problems, r.ScoreEntries)
	}
}

func TestGoRedis_ZSet(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := ts.client(t, func(o *redis.Options) { o.Protocol = proto })
		must(t, c.FlushDB(ctx).Err())
		n, err := c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2.5, Member: "b"}, redis.Z{Score: 0.1, Member: "c"}).Result()
		if err != nil || n != 3 {
			t.Fatalf("resp%d: zadd %d %v", proto, n, err)
		}
		zs, err := c.ZRangeWithScores(ctx, "z", 0, -1).Result()
		if err != nil || fmt.Sprint(zs) != "[{0.1 c} {1 a} {2.5 b}]" {
			t.Fatalf("resp%d: zrange %v %v", proto, zs, err)
		}
		zs, err = c.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: "z", Start: "+inf", Stop: "(0.1", ByScore: true, Rev: true, Offset: 0, Count: 1}).Result()
		if err != nil || fmt.Sprint(zs) != "[{2.5 b}]" {
			t.Fatalf("resp%d: zrange byscore rev %v %v", proto, zs, err)
		}
		if s, err := c.ZScore(ctx, "z", "c").Result(); err != nil || s != 0.1 {
			t.Fatalf("resp%d: zscore %v %v", proto, s, err)
		}
		if ss, err := c.ZMScore(ctx, "z", "a", "nope").Result(); err != nil || fmt.Sprint(ss) != "[1 0]" {
			t.Fatalf("resp%d: zmscore %v %v", proto, ss, err)
		}
		if s, err := c.ZIncrBy(ctx, "z", 2, "a").Result(); err != nil || s != 3 {
			t.Fatalf("resp%d: zincrby %v %v", proto, s, err)
		}
		if r, err := c.ZRankWithScore(ctx, "z", "a").Result(); err != nil || r.Rank != 2 || r.Score != 3 {
			t.Fatalf("resp%d: zrank withscore %+v %v", proto, r, err)
		}
		if n, err := c.ZCount(ctx, "z", "1", "+inf").Result(); err != nil || n != 2 {
			t.Fatalf("resp%d: zcount %v %v", proto, n, err)
		}
		if zs, err := c.ZPopMin(ctx, "z").Result(); err != nil || fmt.Sprint(zs) != "[{0.1 c}]" {
			t.Fatalf("resp%d: zpopmin %v %v", proto, zs, err)
		}
		if zs, err := c.ZPopMax(ctx, "z", 5).Result(); err != nil || fmt.Sprint(zs) != "[{3 a} {2.5 b}]" {
			t.Fatalf("resp%d: zpopmax %v %v", proto, zs, err)
		}
		must(t, c.ZAdd(ctx, "x", redis.Z{Score: 1, Member: "m"}, redis.Z{Score: 2, Member: "n"}).Err())
		must(t, c.SAdd(ctx, "s", "n", "o").Err())
		if zs, err := c.ZUnionWithScores(ctx, redis.ZStore{Keys: []string{"x", "s"}, Aggregate: "MAX"}).Result(); err != nil || fmt.Sprint(zs) != "[{1 m} {1 o} {2 n}]" {
			t.Fatalf("resp%d: zunion %v %v", proto, zs, err)
		}
		if n, err := c.ZInterStore(ctx, "i", &redis.ZStore{Keys: []string{"x", "s"}, Weights: []float64{2, 3}}).Result(); err != nil || n != 1 {
			t.Fatalf("resp%d: zinterstore %v %v", proto, n, err)
		}
		if zs, err := c.ZRandMemberWithScores(ctx, "i", 5).Result(); err != nil || fmt.Sprint(zs) != "[{7 n}]" {
			t.Fatalf("resp%d: zrandmember %v %v", proto, zs, err)
		}
		if key, zs, err := c.ZMPop(ctx, "min", 2, "nokey", "x").Result(); err != nil || key != "x" || fmt.Sprint(zs) != "[{1 m} {2 n}]" {
			t.Fatalf("resp%d: zmpop %v %v %v", proto, key, zs, err)
		}
		keys, cur, err := c.ZScan(ctx, "i", 0, "", 10).Result()
		if err != nil || cur != 0 || fmt.Sprint(keys) != "[n 7]" {
			t.Fatalf("resp%d: zscan %v %v %v", proto, keys, cur, err)
		}
		if typ, err := c.Type(ctx, "i").Result(); err != nil || typ != "zset" {
			t.Fatal(typ, err)
		}
		if _, err := c.ZAdd(ctx, "s", redis.Z{Score: 1, Member: "a"}).Result(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
			t.Fatalf("zadd to a set: %v", err)
		}
		pipe := c.TxPipeline()
		pipe.ZAdd(ctx, "t", redis.Z{Score: 5, Member: "k"})
		pipe.ZAddArgsIncr(ctx, "t", redis.ZAddArgs{GT: true, Members: []redis.Z{{Score: -1, Member: "k"}}})
		pipe.ZRange(ctx, "t", 0, -1)
		cmds, err := pipe.Exec(ctx)
		if err != nil && err != redis.Nil {
			t.Fatalf("resp%d: tx %v", proto, err)
		}
		if got := cmds[2].(*redis.StringSliceCmd).Val(); fmt.Sprint(got) != "[k]" {
			t.Fatalf("resp%d: tx range %v", proto, got)
		}
		if err := cmds[1].Err(); err != redis.Nil {
			t.Fatalf("resp%d: ZADD INCR GT refused should be nil, got %v", proto, err)
		}
	}
}

func TestRedisCLI_ZSet(t *testing.T) {
	ts := startServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ZADD", "z", "1", "a", "0.1", "b", "inf", "c"}, "3"},
		{[]string{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, "b\n0.10000000000000001\na\n1\nc\ninf"},
		{[]string{"-3", "ZRANGE", "z", "0", "-1", "WITHSCORES"}, "b\n0.10000000000000001\na\n1\nc\ninf"},
		{[]string{"-3", "ZSCORE", "z", "a"}, "1"},
		{[]string{"ZINCRBY", "z", "-inf", "c"}, "ERR resulting score is not a number (NaN)"},
		{[]string{"ZRANGEBYSCORE", "z", "(0.1", "+inf"}, "a\nc"},
		{[]string{"ZCOUNT", "z", "x", "1"}, "ERR min or max is not a float"},
		{[]string{"TYPE", "z"}, "zset"},
		{[]string{"DBSIZE"}, "1"},
	} {
		out, _ := redisCLI(t, ts, tc.args...)
		if strings.TrimRight(out, "\n") != tc.want {
			t.Errorf("redis-cli %s\n got: %q\nwant: %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
}
