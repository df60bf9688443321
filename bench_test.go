package epochdb

import (
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Micro-benchmarks of the public operations, one store per benchmark in
// b.TempDir() with default options (real clock, periodic WAL sync, read
// tracking on) unless a sub-benchmark says otherwise. The comparison with
// other stores lives in the bench/ module; see docs/BENCHMARKS.md.
//
//	go test -run '^$' -bench . -benchmem

const (
	benchKeys      = 100_000 // keys preloaded for the read benchmarks
	benchValueSize = 100
)

// benchOpen opens a store in a fresh directory, closed when b ends.
func benchOpen(b *testing.B, opts *Options) *DB {
	b.Helper()
	db, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Errorf("close: %v", err)
		}
	})
	return db
}

// benchKeySet returns n distinct keys "<prefix>:<i>", formatted ahead of the
// timed loop.
func benchKeySet(prefix string, n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = strconv.AppendInt([]byte(prefix+":"), int64(i), 10)
	}
	return keys
}

func benchValue() []byte {
	v := make([]byte, benchValueSize)
	for i := range v {
		v[i] = byte(i*31 + 7)
	}
	return v
}

// benchLoad stores keys with a one-hour TTL.
func benchLoad(b *testing.B, db *DB, keys [][]byte) {
	b.Helper()
	v := benchValue()
	for _, k := range keys {
		if err := db.Set(k, v, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// benchParallelism makes RunParallel use about 8 goroutines whatever
// GOMAXPROCS is, as the comparison harness does.
func benchParallelism(b *testing.B) {
	b.SetParallelism(max(1, (8+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
}

func BenchmarkDB_Set(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
		keys int
	}{
		{"no_ttl", 0, benchKeys},
		{"ttl", time.Hour, benchKeys},
		{"hot_key", 0, 1}, // overwrites keep the frequency: a meta merge each
	} {
		b.Run(bc.name, func(b *testing.B) {
			db := benchOpen(b, nil)
			keys := benchKeySet("key", bc.keys)
			v := benchValue()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := db.Set(keys[i%len(keys)], v, bc.ttl); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkDB_Get(b *testing.B) {
	for _, bc := range []struct {
		name string
		miss bool
		opts *Options
	}{
		{"hit", false, nil},
		{"hit_no_tracking", false, &Options{DisableReadTracking: true}},
		{"miss", true, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db := benchOpen(b, bc.opts)
			keys := benchKeySet("key", benchKeys)
			benchLoad(b, db, keys)
			if bc.miss {
				keys = benchKeySet("absent", benchKeys)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, err := db.Get(keys[i%len(keys)])
				if bc.miss != errors.Is(err, ErrNotFound) {
					b.Fatalf("Get: %v", err)
				}
				i++
			}
		})
	}
}

// BenchmarkDB_IncrementFrequency runs increments from about 8 goroutines
// (RunParallel: b.Loop cannot drive parallel benchmarks), spread over many
// keys or all on one hot key.
func BenchmarkDB_IncrementFrequency(b *testing.B) {
	for _, bc := range []struct {
		name string
		keys int
	}{
		{"many_keys", benchKeys},
		{"hot_key", 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db := benchOpen(b, nil)
			keys := benchKeySet("key", bc.keys)
			benchLoad(b, db, keys)
			b.ReportAllocs()
			benchParallelism(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := db.IncrementFrequency(keys[i%len(keys)]); err != nil {
						b.Error(err)
						return
					}
					i += 7919 // a prime: goroutines walk the keys in different orders
				}
			})
		})
	}
}

func BenchmarkDB_Metadata(b *testing.B) {
	db := benchOpen(b, nil)
	keys := benchKeySet("key", benchKeys)
	benchLoad(b, db, keys)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.Metadata(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDB_Scan reads pages of 100 keys, starting after a different key
// each time; it reports the cost per key visited as well as per page.
func BenchmarkDB_Scan(b *testing.B) {
	const page = 100
	db := benchOpen(b, nil)
	keys := benchKeySet("key", benchKeys)
	benchLoad(b, db, keys)
	b.ReportAllocs()
	visited, i := 0, 0
	for b.Loop() {
		n := 0
		err := db.Scan(ScanOptions{After: keys[i%len(keys)], Limit: page}, func(key, value []byte, md Metadata) error {
			n++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		visited += n
		i += 7919
	}
	if visited == 0 {
		b.Fatal("scan visited no keys")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(visited), "ns/key")
}
