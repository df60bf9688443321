package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tests through go-redis v9 speaking RESP3: the replies must decode into
// the types Redis's would.

func TestGoRedis_Strings(t *testing.T) {
	ts := startServer(t)
	c := ts.client(t)
	ctx := context.Background()

	must(t, c.Set(ctx, "k", "v", 0).Err())
	v, err := c.Get(ctx, "k").Result()
	must(t, err)
	eq(t, "GET k", v, "v")
	if _, err := c.Get(ctx, "missing").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET missing: err = %v, want redis.Nil", err)
	}
	ok, err := c.SetNX(ctx, "k", "x", 0).Result()
	must(t, err)
	eq(t, "SETNX existing", ok, false)
	must(t, c.Set(ctx, "ttl", "v", 10*time.Second).Err())
	d, err := c.TTL(ctx, "ttl").Result()
	must(t, err)
	eq(t, "TTL", d, 10*time.Second)
	ts.clock.Advance(10 * time.Second)
	if err := c.Get(ctx, "ttl").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET after expiry: %v", err)
	}
	d, err = c.PTTL(ctx, "ttl").Result()
	must(t, err)
	eq(t, "PTTL of expired key", d, time.Duration(-2))

	old, err := c.SetArgs(ctx, "k", "v2", redis.SetArgs{Get: true, KeepTTL: true}).Result()
	must(t, err)
	eq(t, "SET GET", old, "v")
	n, err := c.Incr(ctx, "n").Result()
	must(t, err)
	eq(t, "INCR", n, int64(1))
	f, err := c.IncrByFloat(ctx, "n", 1.5).Result()
	must(t, err)
	eq(t, "INCRBYFLOAT", f, 2.5)
	if err := c.Incr(ctx, "k").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
		t.Errorf("INCR of a string: %v", err)
	}
	must(t, c.MSet(ctx, "a", "1", "b", "2").Err())
	vals, err := c.MGet(ctx, "a", "nope", "b").Result()
	must(t, err)
	eq(t, "MGET", fmt.Sprint(vals), "[1 <nil> 2]")
	s, err := c.GetRange(ctx, "k", 0, 0).Result()
	must(t, err)
	eq(t, "GETRANGE", s, "v")
	l, err := c.Append(ctx, "k", "xyz").Result()
	must(t, err)
	eq(t, "APPEND", l, int64(5))
	gd, err := c.GetDel(ctx, "k").Result()
	must(t, err)
	eq(t, "GETDEL", gd, "v2xyz")
	ge, err := c.GetEx(ctx, "a", 5*time.Second).Result()
	must(t, err)
	eq(t, "GETEX", ge, "1")
	d, err = c.TTL(ctx, "a").Result()
	must(t, err)
	eq(t, "TTL after GETEX", d, 5*time.Second)

	// Binary-safe keys and values: every byte value, CR LF, NUL.
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	must(t, c.Set(ctx, string(bin), bin, 0).Err())
	got, err := c.Get(ctx, string(bin)).Bytes()
	must(t, err)
	eq(t, "binary value", string(got), string(bin))
	must(t, c.Set(ctx, "", "empty key", 0).Err())
	ek, err := c.Get(ctx, "").Result()
	must(t, err)
	eq(t, "empty key", ek, "empty key")
	must(t, c.Set(ctx, "emptyval", "", 0).Err())
	ev, err := c.Get(ctx, "emptyval").Result()
	must(t, err)
	eq(t, "empty value", ev, "")

	// A large value.
	big := strings.Repeat("0123456789", 200_000)
	must(t, c.Set(ctx, "big", big, 0).Err())
	bv, err := c.Get(ctx, "big").Result()
	must(t, err)
	eq(t, "2 MB value", bv == big, true)
	sl, err := c.StrLen(ctx, "big").Result()
	must(t, err)
	eq(t, "STRLEN", sl, int64(len(big)))
}

func TestGoRedis_Keys(t *testing.T) {
	ts := startServer(t)
	c := ts.client(t)
	ctx := context.Background()
	for i := range 25 {
		must(t, c.Set(ctx, fmt.Sprintf("key:%02d", i), i, 0).Err())
	}
	must(t, c.Set(ctx, "other", 1, time.Minute).Err())
	keys, err := c.Keys(ctx, "key:*").Result()
	must(t, err)
	eq(t, "KEYS key:*", len(keys), 25)
	// go-redis's iterator spreads SCAN over its pool.
	var scanned []string
	it := c.Scan(ctx, 0, "key:1*", 3).Iterator()
	for it.Next(ctx) {
		scanned = append(scanned, it.Val())
	}
	must(t, it.Err())
	eq(t, "SCAN MATCH key:1*", strings.Join(scanned, ","), "key:10,key:11,key:12,key:13,key:14,key:15,key:16,key:17,key:18,key:19")
	n, err := c.DBSize(ctx).Result()
	must(t, err)
	eq(t, "DBSIZE", n, int64(26))
	n, err = c.Exists(ctx, "key:01", "key:02", "nope").Result()
	must(t, err)
	eq(t, "EXISTS", n, int64(2))
	n, err = c.Del(ctx, "key:01", "key:02", "nope").Result()
	must(t, err)
	eq(t, "DEL", n, int64(2))
	must(t, c.Rename(ctx, "other", "renamed").Err())
	d, err := c.TTL(ctx, "renamed").Result()
	must(t, err)
	eq(t, "TTL after RENAME", d, time.Minute)
	if err := c.Rename(ctx, "nope", "x").Err(); err == nil || err.Error() != "ERR no such key" {
		t.Errorf("RENAME missing: %v", err)
	}
	ok, err := c.ExpireNX(ctx, "renamed", time.Hour).Result()
	must(t, err)
	eq(t, "EXPIRE NX on a key with TTL", ok, false)
	ok, err = c.ExpireGT(ctx, "renamed", time.Hour).Result()
	must(t, err)
	eq(t, "EXPIRE GT", ok, true)
	ok, err = c.Persist(ctx, "renamed").Result()
	must(t, err)
	eq(t, "PERSIST", ok, true)
	typ, err := c.Type(ctx, "renamed").Result()
	must(t, err)
	eq(t, "TYPE", typ, "string")
	rk, err := c.RandomKey(ctx).Result()
	must(t, err)
	if rk == "" {
		t.Error("RANDOMKEY returned nothing")
	}
	freq, err := c.ObjectFreq(ctx, "renamed").Result()
	must(t, err)
	eq(t, "OBJECT FREQ of a fresh key", freq, int64(0))
	must(t, c.FlushAll(ctx).Err())
	n, err = c.DBSize(ctx).Result()
	must(t, err)
	eq(t, "DBSIZE after FLUSHALL", n, int64(0))
}

func TestGoRedis_EpochMeta(t *testing.T) {
	ts := startServer(t)
	c := ts.client(t)
	ctx := context.Background()
	must(t, c.Set(ctx, "k", "v", time.Minute).Err())
	for range 3 {
		must(t, c.Do(ctx, "EPOCH.INCRFREQ", "k").Err())
	}
	m, err := c.Do(ctx, "EPOCH.META", "k").Result()
	must(t, err)
	md, ok := m.(map[any]any)
	if !ok {
		t.Fatalf("EPOCH.META = %T %v, want a RESP3 map", m, m)
	}
	eq(t, "frequency", md["frequency"], any(int64(3)))
	eq(t, "expires_at", md["expires_at"], any(ts.clock.Now().Add(time.Minute).UnixMilli()))
	eq(t, "created_at", md["created_at"], any(ts.clock.Now().UnixMilli()))
	if _, err := c.Do(ctx, "EPOCH.META", "missing").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("EPOCH.META missing: %v", err)
	}
	f, err := c.ObjectFreq(ctx, "k").Result()
	must(t, err)
	eq(t, "OBJECT FREQ", f, int64(3))
	// A GET counts as an access too.
	must(t, c.Get(ctx, "k").Err())
	f, err = c.ObjectFreq(ctx, "k").Result()
	must(t, err)
	eq(t, "OBJECT FREQ after GET", f, int64(4))
}

func TestGoRedis_Server(t *testing.T) {
	ts := startServer(t)
	c := ts.client(t)
	ctx := context.Background()
	info, err := c.Info(ctx, "server").Result()
	must(t, err)
	if !strings.Contains(info, "redis_version:7.2.0") {
		t.Errorf("INFO server: %q", info)
	}
	cfg, err := c.ConfigGet(ctx, "max*").Result()
	must(t, err)
	eq(t, "CONFIG GET maxclients", cfg["maxclients"], "10000")
	tm, err := c.Time(ctx).Result()
	must(t, err)
	eq(t, "TIME", tm.Equal(ts.clock.Now()), true)
	id, err := c.ClientID(ctx).Result()
	must(t, err)
	if id <= 0 {
		t.Errorf("CLIENT ID = %d", id)
	}
	list, err := c.ClientList(ctx).Result()
	must(t, err)
	if !strings.Contains(list, "resp=3") || !strings.Contains(list, "lib-name=go-redis") {
		t.Errorf("CLIENT LIST = %q", list)
	}
	n, err := c.CommandList(ctx, nil).Result()
	must(t, err)
	if len(n) < 70 {
		t.Errorf("COMMAND LIST has %d commands", len(n))
	}
	cmds, err := c.Command(ctx).Result()
	must(t, err)
	if cmds["get"] == nil || cmds["get"].Arity != 2 || !cmds["get"].ReadOnly {
		t.Errorf("COMMAND get = %+v", cmds["get"])
	}
	if err := c.Do(ctx, "NOSUCH", "x").Err(); err == nil ||
		err.Error() != "ERR unknown command 'NOSUCH', with args beginning with: 'x' " {
		t.Errorf("unknown command: %v", err)
	}
	// The connection stays usable after errors.
	must(t, c.Ping(ctx).Err())
}

func TestGoRedis_Pipeline(t *testing.T) {
	ts := startServer(t)
	c := ts.client(t)
	ctx := context.Background()
	const n = 2000
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			p.Set(ctx, fmt.Sprint("p", i), i, 0)
			p.Incr(ctx, "counter")
			p.Get(ctx, fmt.Sprint("p", i))
		}
		p.Do(ctx, "NOSUCH")
		p.Get(ctx, "counter")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("pipeline error = %v", err)
	}
	eq(t, "replies", len(cmds), 3*n+2)
	for i := range n {
		if got := cmds[3*i+2].(*redis.StringCmd).Val(); got != fmt.Sprint(i) {
			t.Fatalf("GET p%d = %q", i, got)
		}
	}
	eq(t, "counter", cmds[3*n+1].(*redis.StringCmd).Val(), fmt.Sprint(n))
}

func TestGoRedis_PubSub(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.NotifyKeyspaceEvents = "KEA" })
	c := ts.client(t)
	ctx := context.Background()
	sub := c.Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	psub := c.PSubscribe(ctx, "ne*", "__keyevent@0__:*")
	defer psub.Close()
	if _, err := psub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := psub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := c.Publish(ctx, "news", "hello").Result()
	must(t, err)
	eq(t, "PUBLISH receivers", n, int64(2))
	msg, err := sub.ReceiveMessage(ctx)
	must(t, err)
	eq(t, "message", msg.Channel+"/"+msg.Payload, "news/hello")
	pm, err := psub.ReceiveMessage(ctx)
	must(t, err)
	eq(t, "pmessage", pm.Pattern+" "+pm.Channel+"/"+pm.Payload, "ne* news/hello")

	// Keyspace notifications, including expiry from the library's sweeper.
	must(t, c.Set(ctx, "k", "v", 0).Err())
	pm, err = psub.ReceiveMessage(ctx)
	must(t, err)
	eq(t, "keyevent set", pm.Channel+"/"+pm.Payload, "__keyevent@0__:set/k")
	must(t, c.Expire(ctx, "k", time.Second).Err())
	pm, err = psub.ReceiveMessage(ctx)
	must(t, err)
	eq(t, "keyevent expire", pm.Channel+"/"+pm.Payload, "__keyevent@0__:expire/k")
	ts.clock.Advance(2 * time.Second) // the sweeper (every 100ms) removes it
	pm, err = psub.ReceiveMessage(ctx)
	must(t, err)
	eq(t, "keyevent expired", pm.Channel+"/"+pm.Payload, "__keyevent@0__:expired/k")

	chans, err := c.PubSubChannels(ctx, "*").Result()
	must(t, err)
	eq(t, "PUBSUB CHANNELS", strings.Join(chans, ","), "news")
	np, err := c.PubSubNumPat(ctx).Result()
	must(t, err)
	eq(t, "PUBSUB NUMPAT", np, int64(2))
	must(t, sub.Unsubscribe(ctx, "news"))
	// A RESP3 subscriber can still run ordinary commands.
	must(t, c.Ping(ctx).Err())
}

func TestGoRedis_Transactions(t *testing.T) {
	ts := startServer(t)
	c := ts.client(t)
	ctx := context.Background()
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "a", "1", 0)
		p.Incr(ctx, "a")
		p.Get(ctx, "a")
		return nil
	})
	must(t, err)
	eq(t, "EXEC GET", cmds[2].(*redis.StringCmd).Val(), "2")

	// WATCH: a write by another client between WATCH and EXEC aborts.
	other := ts.client(t)
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		must(t, other.Set(ctx, "a", "changed", 0).Err())
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "a", "mine", 0)
			return nil
		})
		return err
	}, "a")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("EXEC after a watched write: %v, want TxFailedErr", err)
	}
	v, _ := c.Get(ctx, "a").Result()
	eq(t, "value after aborted EXEC", v, "changed")

	// Optimistic increment under contention: no lost updates.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				for {
					err := c.Watch(ctx, func(tx *redis.Tx) error {
						n, err := tx.Get(ctx, "cnt").Int()
						if err != nil && !errors.Is(err, redis.Nil) {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
							p.Set(ctx, "cnt", n+1, 0)
							return nil
						})
						return err
					}, "cnt")
					if err == nil {
						break
					}
					if !errors.Is(err, redis.TxFailedErr) {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	n, err := c.Get(ctx, "cnt").Int()
	must(t, err)
	eq(t, "optimistic counter", n, 100)
}
