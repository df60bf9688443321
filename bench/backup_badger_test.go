package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// BenchmarkBadgerBackupLoad measures Badger's own logical backup
// (DB.Backup, protobuf KV lists) and restore (DB.Load) on the same data set
// as EpochDB's BenchmarkBackupRestore in the root package: BENCH_BACKUP_KEYS
// keys (default 1M) of 100-byte values (50 pseudo-random bytes), a third
// with a 24h TTL.
//
//	cd bench && go test -run '^$' -bench BadgerBackupLoad -benchtime 1x
func BenchmarkBadgerBackupLoad(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("BENCH_BACKUP_KEYS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	tmp := b.TempDir()
	opts := func(dir string) badger.Options {
		return badger.DefaultOptions(dir).WithBlockCacheSize(64 << 20).WithLogger(nil)
	}
	src, err := badger.Open(opts(filepath.Join(tmp, "src")))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	val := make([]byte, 100)
	for i := 50; i < 100; i++ {
		val[i] = byte(i*31 + 7)
	}
	x := uint64(0x9e3779b97f4a7c15)
	var liveBytes int64
	wb := src.NewWriteBatch()
	for i := range n {
		for j := 0; j < 50; j += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint64(val[j:], x)
		}
		key := []byte(fmt.Sprintf("user:%010d", i))
		e := badger.NewEntry(key, append([]byte(nil), val...))
		if i%3 == 0 {
			e = e.WithTTL(24 * time.Hour)
		}
		if err := wb.SetEntry(e); err != nil {
			b.Fatal(err)
		}
		liveBytes += int64(len(key) + len(val))
	}
	if err := wb.Flush(); err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B, elapsed time.Duration) {
		per := elapsed.Seconds() / float64(b.N)
		b.ReportMetric(float64(liveBytes)/per/1e6, "MB/s")
		b.ReportMetric(float64(n)/per, "keys/s")
	}
	file := filepath.Join(tmp, "badger.backup")

	b.Run("backup", func(b *testing.B) {
		var elapsed time.Duration
		var size int64
		for b.Loop() {
			start := time.Now()
			f, err := os.Create(file)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := src.Backup(f, 0); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			fi, _ := f.Stat()
			size = fi.Size()
			f.Close()
			elapsed += time.Since(start)
		}
		report(b, elapsed)
		b.ReportMetric(float64(size)/1e6, "file-MB")
	})
	b.Run("load", func(b *testing.B) {
		var elapsed time.Duration
		i := 0
		for b.Loop() {
			dir := filepath.Join(tmp, "dst"+strconv.Itoa(i))
			i++
			start := time.Now()
			dst, err := badger.Open(opts(dir))
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Open(file)
			if err != nil {
				b.Fatal(err)
			}
			if err := dst.Load(f, 256); err != nil {
				b.Fatal(err)
			}
			f.Close()
			if err := dst.Close(); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			b.StopTimer()
			_ = os.RemoveAll(dir)
			b.StartTimer()
		}
		report(b, elapsed)
	})
}
