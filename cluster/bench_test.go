package cluster

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
)

// BenchmarkWrites compares writes through a three-node cluster's leader
// with writes to a single store, from many concurrent writers (as a
// server's connections): go test -bench Writes -run ^$ ./cluster
func BenchmarkWrites(b *testing.B) {
	val := make([]byte, 100)
	run := func(b *testing.B, db *epochdb.DB) {
		var seq atomic.Int64
		b.SetParallelism(32)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := fmt.Appendf(nil, "\x00key:%d", seq.Add(1)%100000)
				if err := db.Set(k, val, 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("single", func(b *testing.B) {
		db, err := epochdb.Open(b.TempDir(), &epochdb.Options{})
		testutil.Must(b, err)
		defer db.Close()
		run(b, db)
	})
	b.Run("cluster", func(b *testing.B) {
		c := newCluster(b, 3)
		run(b, c.leader().DB())
	})
}
