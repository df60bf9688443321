package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkServer_DelBigList measures DEL of a list of 1M items through
// the server (and through redis-server, for reference): the list is
// filled with RPUSHes of 1000 items each, then one DEL is timed per
// iteration, refilled outside the timer. It is slow to set up: run it
// alone, as
//
//	go test -run '^$' -bench BenchmarkServer_DelBigList -benchtime 3x ./server
func BenchmarkServer_DelBigList(b *testing.B) {
	const items, per = 1_000_000, 1000
	for _, peer := range []string{"epoch", "redis"} {
		b.Run(peer, func(b *testing.B) {
			addr := ""
			if peer == "epoch" {
				addr = startServer(b).addr
			} else {
				addr = startRedis(b).addr
			}
			c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, ReadTimeout: time.Minute})
			defer c.Close()
			ctx := context.Background()
			vals := make([]any, per)
			for i := range vals {
				vals[i] = fmt.Sprintf("item-%06d", i)
			}
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				pipe := c.Pipeline()
				for range items / per {
					pipe.RPush(ctx, "big", vals...)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
				if n, err := c.LLen(ctx, "big").Result(); err != nil || n != items {
					b.Fatalf("list of %d items: %v", n, err)
				}
				b.StartTimer()
				start := time.Now()
				if n, err := c.Del(ctx, "big").Result(); err != nil || n != 1 {
					b.Fatalf("DEL: %d %v", n, err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/DEL")
		})
	}
}
