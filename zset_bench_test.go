package epochdb

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"
)

// zsetBenchSizes are the sorted set sizes the benchmarks compare: a range
// or a point read of a sorted set of a million members should cost about
// what it costs on a thousand.
var zsetBenchSizes = []int{1_000, 1_000_000}

// benchZSet fills the sorted set key with n members m:<i> of score i, in
// adds of 10,000 members.
func benchZSet(b *testing.B, db *DB, key string, n int) {
	b.Helper()
	z := db.ZSet([]byte(key))
	ms := make([]ZMember, 0, 10_000)
	for i := range n {
		ms = append(ms, ZMember{Member: strconv.AppendInt([]byte("m:"), int64(i), 10), Score: float64(i)})
		if len(ms) == cap(ms) || i == n-1 {
			if _, _, err := z.Add(ZAddOptions{}, ms...); err != nil {
				b.Fatal(err)
			}
			ms = ms[:0]
		}
	}
}

// BenchmarkZSet_Sizes measures ZRANGEBYSCORE of 100 members from the
// middle, ZSCORE, and ZRANK in the middle and near the top (a rank is
// walked to from the nearer end: O(min(rank, count-rank))) on sorted sets
// of 1,000 and 1,000,000 members in one store, then logs how long the DEL
// of the large one takes (one range deletion: the same whatever the size).
//
//	go test -run '^$' -bench 'ZSet_Sizes' -benchmem -v
func BenchmarkZSet_Sizes(b *testing.B) {
	db := benchOpen(b, nil)
	for _, n := range zsetBenchSizes {
		start := time.Now()
		benchZSet(b, db, fmt.Sprint("z", n), n)
		b.Logf("%d members added in %v", n, time.Since(start).Round(time.Millisecond))
	}
	for _, n := range zsetBenchSizes {
		z := db.ZSet([]byte(fmt.Sprint("z", n)))
		mid := float64(n / 2)
		b.Run(fmt.Sprintf("RangeByScore100/members=%d", n), func(b *testing.B) {
			r := ZRange{By: ByScore, Min: ScoreBound{Score: mid}, Max: ScoreBound{Score: math.Inf(1)}, Count: 100}
			b.ReportAllocs()
			for b.Loop() {
				ms, err := z.Range(r)
				if err != nil || len(ms) != 100 {
					b.Fatal(len(ms), err)
				}
			}
		})
		member := []byte(fmt.Sprint("m:", n/2))
		b.Run(fmt.Sprintf("Score/members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s, err := z.Score(member); err != nil || s != mid {
					b.Fatal(s, err)
				}
			}
		})
		b.Run(fmt.Sprintf("RankMiddle/members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r, _, err := z.Rank(member, false); err != nil || r != int64(n/2) {
					b.Fatal(r, err)
				}
			}
		})
		top := []byte(fmt.Sprint("m:", n-10))
		b.Run(fmt.Sprintf("RankNearTop/members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r, _, err := z.Rank(top, false); err != nil || r != int64(n-10) {
					b.Fatal(r, err)
				}
			}
		})
	}
	start := time.Now()
	if ok, err := db.Delete([]byte(fmt.Sprint("z", zsetBenchSizes[len(zsetBenchSizes)-1]))); !ok || err != nil {
		b.Fatal(ok, err)
	}
	b.Logf("DEL of the %d-member sorted set: %v", zsetBenchSizes[len(zsetBenchSizes)-1], time.Since(start))
}
