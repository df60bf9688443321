package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// Hash and set commands: Redis's replies and errors, over RESP2 on a raw
// socket. The manual clock starts at Unix 1767323045 (ms 1767323045000).

func TestCommands_Hash(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		HSET h f1 v1 f2 v2 => :2
		HSET h f1 x f3 v3 => :1
		HSET h f1 => -ERR wrong number of arguments for 'hset' command
		HSET h f1 v f2 => -ERR wrong number of arguments for 'hset' command
		HMSET h f4 v4 => +OK
		HGET h f1 => "x"
		HGET h nope => nil
		HGET nokey f => nil
		HMGET h f1 nope f2 => ["x" nil "v2"]
		HMGET nokey a => [nil]
		HSETNX h f1 y => :0
		HSETNX h f5 y => :1
		HEXISTS h f5 => :1
		HEXISTS h nope => :0
		HLEN h => :5
		HLEN nokey => :0
		HSTRLEN h f2 => :2
		HSTRLEN h nope => :0
		HDEL h f5 nope => :1
		HKEYS h => ["f1" "f2" "f3" "f4"]
		HVALS h => ["x" "v2" "v3" "v4"]
		HGETALL h => ["f1" "x" "f2" "v2" "f3" "v3" "f4" "v4"]
		HGETALL nokey => []
		HINCRBY h n 5 => :5
		HINCRBY h n -7 => :-2
		HINCRBY h f1 1 => -ERR hash value is not an integer
		HINCRBY h n x => -ERR value is not an integer or out of range
		HSET h big 9223372036854775807 => :1
		HINCRBY h big 1 => -ERR increment or decrement would overflow
		HINCRBYFLOAT h fl 1.5 => "1.5"
		HINCRBYFLOAT h fl 0.25 => "1.75"
		HINCRBYFLOAT h f1 1 => -ERR hash value is not a float
		HINCRBYFLOAT h fl x => -ERR value is not a valid float
		TYPE h => +hash
		OBJECT ENCODING h => "listpack"
		SET s v => +OK
		HSET s f v => -WRONGTYPE Operation against a key holding the wrong kind of value
		HGET s f => -WRONGTYPE Operation against a key holding the wrong kind of value
		GET h => -WRONGTYPE Operation against a key holding the wrong kind of value
		INCR h => -WRONGTYPE Operation against a key holding the wrong kind of value
		APPEND h x => -WRONGTYPE Operation against a key holding the wrong kind of value
		HDEL h f1 f2 f3 f4 n big fl => :7
		EXISTS h => :0
		TYPE h => +none
		HSET h a 1 => :1
		SET h str => +OK
		TYPE h => +string
		DEL h => :1
		HRANDFIELD nokey => nil
		HRANDFIELD nokey 3 => []
		HSET r a 1 => :1
		HRANDFIELD r => "a"
		HRANDFIELD r 5 WITHVALUES => ["a" "1"]
		HRANDFIELD r -2 => ["a" "a"]
		HRANDFIELD r 0 => []
		HRANDFIELD r 1 FOO => -ERR syntax error
	`)
}

func TestCommands_HashFieldTTL(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		HSET h a 1 b 2 c 3 => :3
		HEXPIRE h 100 FIELDS 2 a nope => [:1 :-2]
		HEXPIRE nokey 100 FIELDS 1 a => [:-2]
		HTTL h FIELDS 3 a b nope => [:100 :-1 :-2]
		HPTTL h FIELDS 1 a => [:100000]
		HEXPIRETIME h FIELDS 1 a => [:1767323145]
		HPEXPIRETIME h FIELDS 1 a => [:1767323145000]
		HEXPIRE h 50 NX FIELDS 2 a b => [:0 :1]
		HEXPIRE h 200 GT FIELDS 1 a => [:1]
		HEXPIRE h 10 LT FIELDS 1 c => [:1]
		HPEXPIRE h 5000 XX FIELDS 1 c => [:1]
		HEXPIRE h 1 GT FIELDS 1 c => [:0]
		HPERSIST h FIELDS 2 c nope => [:1 :-2]
		HPERSIST h FIELDS 1 c => [:-1]
		HEXPIREAT h 1767323145 FIELDS 1 c => [:1]
		HPEXPIREAT h 1767323146000 FIELDS 1 c => [:1]
		HEXPIRE h 100 FIELDS 0 a => -ERR Parameter `+"`numFields`"+` should be greater than 0
		HEXPIRE h 100 FIELDS 2 a => -ERR Parameter `+"`numFields`"+` is more than number of arguments
		HEXPIRE h 100 FIELDS 1 a b => -ERR The `+"`numfields`"+` parameter must match the number of arguments
		HEXPIRE h 100 FOO 1 a => -ERR Mandatory keyword FIELDS is missing or not at the right position
		HEXPIRE h -1 FIELDS 1 a => -ERR invalid expire time, must be >= 0
		HEXPIRE h x FIELDS 1 a => -ERR value is not an integer or out of range
		# Fields are invisible from their deadline on, before any sweep.
		!advance 50s
		HGET h b => nil
		HEXISTS h b => :0
		HTTL h FIELDS 1 b => [:-2]
		HKEYS h => ["a" "c"]
		# A time in the past deletes the field.
		HEXPIRE h 0 FIELDS 1 c => [:2]
		HEXPIREAT h 1000 FIELDS 1 a => [:2]
		# b's deadline passed: invisible, but stored until the sweeper
		# removes it (and the hash with it), as in Redis.
		EXISTS h => :1
		HLEN h => :1
		HGETALL h => []
		# HSET removes a field's deadline; HINCRBY keeps it.
		HSET g f 1 n 1 => :2
		HEXPIRE g 100 FIELDS 2 f n => [:1 :1]
		HSET g f 2 => :0
		HTTL g FIELDS 1 f => [:-1]
		HINCRBY g n 1 => :2
		HTTL g FIELDS 1 n => [:100]
		# HGETDEL, HGETEX, HSETEX.
		HGETDEL g FIELDS 2 f nope => ["2" nil]
		HGETDEL g FOO 1 f => -ERR Mandatory keyword FIELDS is missing or not at the right position
		HSET g a 1 b 2 => :2
		HGETEX g EX 30 FIELDS 2 a nope => ["1" nil]
		HTTL g FIELDS 1 a => [:30]
		HGETEX g PERSIST FIELDS 1 a => ["1"]
		HTTL g FIELDS 1 a => [:-1]
		HGETEX g FIELDS 1 b => ["2"]
		HGETEX g EX 0 FIELDS 1 a => -ERR invalid expire time in 'hgetex' command
		HGETEX g PXAT 1000 FIELDS 1 a => ["1"]
		HEXISTS g a => :0
		HSETEX g FNX EX 10 FIELDS 2 x 1 y 2 => :1
		HTTL g FIELDS 2 x y => [:10 :10]
		HSETEX g FNX FIELDS 1 x 9 => :0
		HSETEX g FXX KEEPTTL FIELDS 1 x 9 => :1
		HGET g x => "9"
		HTTL g FIELDS 1 x => [:10]
		HSETEX g FXX FIELDS 2 x 8 nope 1 => :0
		HSETEX g FIELDS 1 x 7 => :1
		HTTL g FIELDS 1 x => [:-1]
		HSETEX g FIELDS 2 x 1 => -ERR Parameter `+"`numFields`"+` is more than number of arguments
		HSETEX g EX 10 KEEPTTL FIELDS 1 x 1 => -ERR syntax error
		# The key's own TTL is separate from its fields'.
		EXPIRE g 100 => :1
		TTL g => :100
		HTTL g FIELDS 1 b => [:-1]
		!advance 100s
		EXISTS g => :0
	`)
}

func TestCommands_Set(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		SADD s a b c a => :3
		SADD s c d => :1
		SREM s d nope => :1
		SISMEMBER s a => :1
		SISMEMBER s z => :0
		SISMEMBER nokey a => :0
		SMISMEMBER s a z c => [:1 :0 :1]
		SCARD s => :3
		SCARD nokey => :0
		SMEMBERS s => ["a" "b" "c"]
		SMEMBERS nokey => []
		TYPE s => +set
		OBJECT ENCODING s => "listpack"
		SADD t b c d => :3
		SINTER s t => ["b" "c"]
		SUNION s t => ["a" "b" "c" "d"]
		SDIFF s t => ["a"]
		SDIFF s nokey => ["a" "b" "c"]
		SINTER s nokey => []
		SINTERCARD 2 s t => :2
		SINTERCARD 2 s t LIMIT 1 => :1
		SINTERCARD 0 s => -ERR numkeys should be greater than 0
		SINTERCARD 3 s t => -ERR Number of keys can't be greater than number of args
		SINTERCARD 1 s LIMIT -1 => -ERR LIMIT can't be negative
		SINTERSTORE dst s t => :2
		SMEMBERS dst => ["b" "c"]
		SUNIONSTORE dst s t => :4
		SDIFFSTORE dst s t => :1
		SMEMBERS dst => ["a"]
		SET str v => +OK
		SINTERSTORE str s t => :2
		TYPE str => +set
		SINTERSTORE dst s nokey => :0
		EXISTS dst => :0
		SADD str2 x => :1
		SET str2 v => +OK
		SADD str2 x => -WRONGTYPE Operation against a key holding the wrong kind of value
		SINTER s str2 => -WRONGTYPE Operation against a key holding the wrong kind of value
		SMOVE s t a => :1
		SMOVE s t a => :0
		SISMEMBER t a => :1
		SMOVE s str2 b => -WRONGTYPE Operation against a key holding the wrong kind of value
		SMOVE t t a => :1
		SMOVE t new d => :1
		SMEMBERS new => ["d"]
		SPOP nokey => nil
		SPOP nokey 2 => []
		SPOP new => "d"
		EXISTS new => :0
		SPOP t -1 => -ERR value is out of range, must be positive
		SRANDMEMBER nokey => nil
		SRANDMEMBER nokey 2 => []
		SADD one x => :1
		SRANDMEMBER one => "x"
		SRANDMEMBER one -3 => ["x" "x" "x"]
		SRANDMEMBER one 5 => ["x"]
		SPOP one 5 => ["x"]
		EXISTS one => :0
		SADD sc a b c d e => :5
		SSCAN sc 0 COUNT 10 MATCH * => ["0" ["a" "b" "c" "d" "e"]]
		SSCAN sc 0 MATCH [ab] => ["0" ["a" "b"]]
		HSET hs f1 1 f2 2 => :2
		HSCAN hs 0 => ["0" ["f1" "1" "f2" "2"]]
		HSCAN hs 0 NOVALUES => ["0" ["f1" "f2"]]
		HSCAN hs x => -ERR invalid cursor
		SCAN 0 TYPE hash => ["0" ["hs"]]
		SCAN 0 TYPE set COUNT 100 => ["0" ["s" "sc" "str" "t"]]
		SCAN 0 TYPE string => ["0" ["str2"]]
	`)
}

// TestCommands_CollectionsPaging: HSCAN and SSCAN page with cursors.
func TestCommands_CollectionsPaging(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	args := []string{"SADD", "s"}
	for i := range 25 {
		args = append(args, string(rune('a'+i)))
	}
	eq(t, "sadd", rc.do(args...), ":25")
	seen := 0
	cur := "0"
	for range 10 {
		reply := rc.do("SSCAN", "s", cur, "COUNT", "10")
		// ["cursor" [members...]]
		head, rest, _ := strings.Cut(strings.TrimPrefix(reply, "["), " ")
		cur = strings.Trim(head, `"`)
		seen += strings.Count(rest, `"`) / 2
		if cur == "0" {
			break
		}
	}
	eq(t, "members seen", seen, 25)
}

func TestCommands_CollectionsInExec(t *testing.T) {
	ts := startServer(t)
	rc, other := ts.dial(t), ts.dial(t)
	runScript(t, ts, rc, `
		MULTI => +OK
		HSET h a 1 => +QUEUED
		HINCRBY h a 5 => +QUEUED
		SADD s x y => +QUEUED
		SMOVE s t x => +QUEUED
		HGETALL h => +QUEUED
		SMEMBERS t => +QUEUED
		GET h => +QUEUED
		EXEC => [:1 :6 :2 :1 ["a" "6"] ["x"] -WRONGTYPE Operation against a key holding the wrong kind of value]
		WATCH h => +OK
	`)
	eq(t, "other writes a field", other.do("HSET", "h", "b", "2"), ":1")
	runScript(t, ts, rc, `
		MULTI => +OK
		HGET h a => +QUEUED
		EXEC => nil
		WATCH s => +OK
	`)
	eq(t, "other pops", other.do("SPOP", "s"), `"y"`)
	runScript(t, ts, rc, `
		MULTI => +OK
		SCARD s => +QUEUED
		EXEC => nil
		MULTI => +OK
		DEL h => +QUEUED
		HSET h only 1 => +QUEUED
		HEXPIRE h 10 FIELDS 1 only => +QUEUED
		RENAME h h2 => +QUEUED
		EXEC => [:1 :1 [:1] +OK]
		HGETALL h2 => ["only" "1"]
		HTTL h2 FIELDS 1 only => [:10]
		COPY h2 h3 => :1
		HGETALL h3 => ["only" "1"]
		DBSIZE => :3
	`)
}

func TestCommands_CollectionsLifecycle(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) { o.ExpiryInterval = 10 * time.Millisecond })
	rc, sub := ts.dial(t), ts.dial(t)
	eq(t, "notify", rc.do("CONFIG", "SET", "notify-keyspace-events", "KEA"), "+OK")
	eq(t, "psubscribe", sub.do("PSUBSCRIBE", "__keyevent@0__:*"), `["psubscribe" "__keyevent@0__:*" :1]`)
	runScript(t, ts, rc, `
		HSET h a 1 b 2 => :2
		HPEXPIRE h 100 FIELDS 1 a => [:1]
		SADD s m => :1
		SREM s m => :1
		EXPIRE h 1000 => :1
		FLUSHDB => +OK
		HSET h x 1 => :1
		DBSIZE => :1
		INFO keyspace => "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"
		HPEXPIRE h 100 FIELDS 1 x => [:1]
	`)
	for _, want := range []string{
		`["pmessage" "__keyevent@0__:*" "__keyevent@0__:hset" "h"]`,
		`["pmessage" "__keyevent@0__:*" "__keyevent@0__:hexpire" "h"]`,
		`["pmessage" "__keyevent@0__:*" "__keyevent@0__:sadd" "s"]`,
		`["pmessage" "__keyevent@0__:*" "__keyevent@0__:srem" "s"]`,
		`["pmessage" "__keyevent@0__:*" "__keyevent@0__:del" "s"]`,
		`["pmessage" "__keyevent@0__:*" "__keyevent@0__:expire" "h"]`,
		`["pmessage" "__keyevent@0__:*" "__keyevent@0__:hset" "h"]`,
		`["pmessage" "__keyevent@0__:*" "__keyevent@0__:hexpire" "h"]`,
	} {
		eq(t, "notification", sub.read(), want)
	}
	// The sweeper removes the field once its deadline passed on the clock,
	// with an hexpired notification; the hash goes with its last field.
	ts.clock.Advance(100 * time.Millisecond)
	eq(t, "hexpired", sub.read(), `["pmessage" "__keyevent@0__:*" "__keyevent@0__:hexpired" "h"]`)
	testutil.Eventually(t, "the empty hash goes", func() bool { return ts.db.Len() == 0 })
}

func TestGoRedis_Collections(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		c := ts.client(t, func(o *redis.Options) { o.Protocol = proto })
		must(t, c.FlushDB(ctx).Err())
		n, err := c.HSet(ctx, "h", map[string]any{"a": "1", "b": "2"}).Result()
		if err != nil || n != 2 {
			t.Fatal(n, err)
		}
		all, err := c.HGetAll(ctx, "h").Result()
		if err != nil || len(all) != 2 || all["a"] != "1" {
			t.Fatalf("resp%d: hgetall %v %v", proto, all, err)
		}
		if v, err := c.HIncrByFloat(ctx, "h", "f", 2.5).Result(); err != nil || v != 2.5 {
			t.Fatal(v, err)
		}
		res, err := c.HExpire(ctx, "h", 10*time.Second, "a", "nope").Result()
		if err != nil || len(res) != 2 || res[0] != 1 || res[1] != -2 {
			t.Fatalf("resp%d: hexpire %v %v", proto, res, err)
		}
		ttls, err := c.HTTL(ctx, "h", "a").Result()
		if err != nil || len(ttls) != 1 || ttls[0] != 10 {
			t.Fatalf("resp%d: httl %v %v", proto, ttls, err)
		}
		if _, err := c.Get(ctx, "h").Result(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
			t.Fatalf("get of a hash: %v", err)
		}
		if n, err := c.SAdd(ctx, "s", "x", "y", "z").Result(); err != nil || n != 3 {
			t.Fatal(n, err)
		}
		ms, err := c.SMembers(ctx, "s").Result()
		if err != nil || len(ms) != 3 {
			t.Fatalf("resp%d: smembers %v %v", proto, ms, err)
		}
		if ok, err := c.SIsMember(ctx, "s", "y").Result(); err != nil || !ok {
			t.Fatal(ok, err)
		}
		inter, err := c.SInter(ctx, "s", "nokey").Result()
		if err != nil || len(inter) != 0 {
			t.Fatal(inter, err)
		}
		popped, err := c.SPopN(ctx, "s", 2).Result()
		if err != nil || len(popped) != 2 {
			t.Fatalf("resp%d: spop %v %v", proto, popped, err)
		}
		if typ, err := c.Type(ctx, "s").Result(); err != nil || typ != "set" {
			t.Fatal(typ, err)
		}
		keys, cur, err := c.Scan(ctx, 0, "*", 100).Result()
		if err != nil || cur != 0 || len(keys) != 2 {
			t.Fatal(keys, cur, err)
		}
		vals, err := c.HRandFieldWithValues(ctx, "h", 5).Result()
		if err != nil || len(vals) != 3 {
			t.Fatalf("resp%d: hrandfield %v %v", proto, vals, err)
		}
		pipe := c.TxPipeline()
		pipe.HSet(ctx, "h2", "k", "v")
		pipe.SAdd(ctx, "s2", "m")
		pipe.HGet(ctx, "h2", "k")
		cmds, err := pipe.Exec(ctx)
		if err != nil || cmds[2].(*redis.StringCmd).Val() != "v" {
			t.Fatalf("resp%d: tx %v %v", proto, cmds, err)
		}
	}
}

func TestRedisCLI_Collections(t *testing.T) {
	ts := startServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"HSET", "h", "a", "1", "b", "two words"}, "2"},
		{[]string{"HGETALL", "h"}, "a\n1\nb\ntwo words"},
		{[]string{"-3", "HGETALL", "h"}, "a 1\nb two words"},
		{[]string{"HEXPIRE", "h", "60", "FIELDS", "1", "a"}, "1"},
		{[]string{"HTTL", "h", "FIELDS", "2", "a", "b"}, "60\n-1"},
		{[]string{"SADD", "s", "x", "y"}, "2"},
		{[]string{"SMEMBERS", "s"}, "x\ny"},
		{[]string{"SINTERCARD", "1", "s"}, "2"},
		{[]string{"TYPE", "s"}, "set"},
		{[]string{"GET", "s"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]string{"DBSIZE"}, "2"},
	} {
		out, _ := redisCLI(t, ts, tc.args...)
		if strings.TrimRight(out, "\n") != tc.want {
			t.Errorf("redis-cli %s\n got: %q\nwant: %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
}
