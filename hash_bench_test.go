package epochdb

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkHash_Sizes measures HGET and a scan of 100 fields from the
// middle on hashes of 1,000 and 1,000,000 fields in one store, logs the
// Go heap in use once both are loaded (the fields live in the engine, not
// in memory), then how long the DEL of the large one takes.
//
//	go test -run '^$' -bench 'Hash_Sizes' -benchmem -v
func BenchmarkHash_Sizes(b *testing.B) {
	sizes := []int{1_000, 1_000_000}
	db := benchOpen(b, nil)
	for _, n := range sizes {
		start := time.Now()
		h := db.Hash([]byte(fmt.Sprint("h", n)))
		fs := make([]FieldValue, 0, 10_000)
		for i := range n {
			fs = append(fs, FieldValue{Field: strconv.AppendInt([]byte("f:"), int64(i), 10), Value: []byte("value-0123456789")})
			if len(fs) == cap(fs) || i == n-1 {
				if _, err := h.SetFields(fs...); err != nil {
					b.Fatal(err)
				}
				fs = fs[:0]
			}
		}
		b.Logf("%d fields set in %v", n, time.Since(start).Round(time.Millisecond))
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("Go heap in use with both hashes loaded: %d MiB", ms.HeapInuse>>20)
	for _, n := range sizes {
		h := db.Hash([]byte(fmt.Sprint("h", n)))
		field := []byte(fmt.Sprint("f:", n/2))
		b.Run(fmt.Sprintf("Get/fields=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v, err := h.Get(field); err != nil || len(v) == 0 {
					b.Fatal(v, err)
				}
			}
		})
		b.Run(fmt.Sprintf("Scan100/fields=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got := 0
				err := h.Scan(field, func(FieldValue) bool { got++; return got < 100 })
				if err != nil || got != 100 {
					b.Fatal(got, err)
				}
			}
		})
	}
	start := time.Now()
	if ok, err := db.Delete([]byte(fmt.Sprint("h", sizes[1]))); !ok || err != nil {
		b.Fatal(ok, err)
	}
	b.Logf("DEL of the %d-field hash: %v", sizes[1], time.Since(start))
}
