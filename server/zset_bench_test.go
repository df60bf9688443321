package server

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// BenchmarkServer_ZSetSizes measures, over the network with one client,
// ZRANGEBYSCORE of 100 members from the middle and ZSCORE on sorted sets
// of 1,000 and 1,000,000 members, and logs the round trip of the DEL of
// the large one.
//
//	go test -run '^$' -bench 'ZSetSizes' -v ./server
func BenchmarkServer_ZSetSizes(b *testing.B) {
	ts := startServer(b)
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReaderSize(nc, 64<<10)
	roundTrip := func(args ...string) string {
		if _, err := nc.Write([]byte(encodeCommand(args...))); err != nil {
			b.Fatal(err)
		}
		s, err := readRendered(br)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	sizes := []int{1_000, 1_000_000}
	for _, n := range sizes {
		key := fmt.Sprint("z", n)
		for from := 0; from < n; from += 1000 {
			args := []string{"ZADD", key}
			for i := from; i < min(from+1000, n); i++ {
				args = append(args, strconv.Itoa(i), "m:"+strconv.Itoa(i))
			}
			if got := roundTrip(args...); got != ":"+strconv.Itoa(min(1000, n-from)) {
				b.Fatalf("ZADD: %s", got)
			}
		}
	}
	for _, n := range sizes {
		key := fmt.Sprint("z", n)
		b.Run(fmt.Sprintf("ZRANGEBYSCORE100/members=%d", n), func(b *testing.B) {
			for b.Loop() {
				roundTrip("ZRANGEBYSCORE", key, strconv.Itoa(n/2), "+inf", "LIMIT", "0", "100")
			}
		})
		b.Run(fmt.Sprintf("ZSCORE/members=%d", n), func(b *testing.B) {
			want := `"` + strconv.Itoa(n/2) + `"`
			for b.Loop() {
				if got := roundTrip("ZSCORE", key, "m:"+strconv.Itoa(n/2)); got != want {
					b.Fatal(got)
				}
			}
		})
	}
	start := time.Now()
	if got := roundTrip("DEL", "z1000000"); got != ":1" {
		b.Fatal(got)
	}
	b.Logf("DEL of the 1000000-member sorted set acknowledged in %v", time.Since(start))
}
