package epochdb

import (
	"archive/tar"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Backup and restore throughput on a store of backupBenchKeys keys (env
// EPOCHDB_BACKUP_BENCH_KEYS, default 1M) with 100-byte values, a third of
// them with a TTL, against Pebble's Checkpoint + tar of the checkpoint
// directory (the physical alternative):
//
//	go test -run '^$' -bench BackupRestore -benchtime 3x
//
// Each reports MB/s of user data (keys + values) and keys/s.

// backupFixture is the store the sub-benchmarks share, with a backup file
// and a tar of a checkpoint of it.
type backupFixture struct {
	dir, file, tarFile string
	keys, liveBytes    int64
}

func backupBenchKeys() int {
	if s := os.Getenv("EPOCHDB_BACKUP_BENCH_KEYS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1_000_000
}

func newBackupFixture(b *testing.B) *backupFixture {
	b.Helper()
	tmp := b.TempDir()
	fx := &backupFixture{dir: filepath.Join(tmp, "src")}
	db, err := Open(fx.dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := backupBenchKeys()
	// Values of 100 bytes: 50 pseudo-random, 50 repeated, so that they
	// compress about as well as typical JSON-ish payloads do.
	val := make([]byte, 100)
	copy(val[50:], benchValue())
	x := uint64(0x9e3779b97f4a7c15)
	for start := 0; start < n; start += 10_000 {
		batch := db.NewBatch()
		for i := start; i < min(start+10_000, n); i++ {
			ttl := time.Duration(0)
			if i%3 == 0 {
				ttl = 24 * time.Hour
			}
			for j := 0; j < 50; j += 8 {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				binary.LittleEndian.PutUint64(val[j:], x) // bytes 0..55
			}
			if err := batch.Set([]byte(fmt.Sprintf("user:%010d", i)), val, ttl); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	st := db.Stats()
	fx.keys, fx.liveBytes = st.Keys, st.LiveBytes
	fx.file = filepath.Join(tmp, "src.backup")
	if _, err := db.BackupToFile(fx.file); err != nil {
		b.Fatal(err)
	}
	ck := filepath.Join(tmp, "ckpt")
	if err := db.Checkpoint(ck); err != nil {
		b.Fatal(err)
	}
	fx.tarFile = filepath.Join(tmp, "ckpt.tar")
	if err := tarDir(ck, fx.tarFile); err != nil {
		b.Fatal(err)
	}
	return fx
}

// BenchmarkBackupRestore measures, on one store, Backup (to a file),
// VerifyBackup, Restore, and the physical alternative: Checkpoint + tar,
// and untar + Open.
func BenchmarkBackupRestore(b *testing.B) {
	fx := newBackupFixture(b)
	b.Run("backup", func(b *testing.B) { benchBackup(b, fx) })
	b.Run("verify", func(b *testing.B) { benchVerify(b, fx) })
	b.Run("restore", func(b *testing.B) { benchRestore(b, fx) })
	b.Run("checkpoint+tar", func(b *testing.B) { benchCheckpointTar(b, fx) })
	b.Run("untar+open", func(b *testing.B) { benchUntarOpen(b, fx) })
	b.Run("foreground", func(b *testing.B) { benchForegroundDuringBackup(b, fx) })
}

// benchForegroundDuringBackup measures the foreground throughput of 4
// goroutines doing a 90/10 Get/Set mix on random keys, first alone and then
// while backups run back to back, for the same time each.
func benchForegroundDuringBackup(b *testing.B, fx *backupFixture) {
	db, err := Open(fx.dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const phase = 3 * time.Second
	val := benchValue()
	run := func(during func(stop <-chan struct{})) float64 {
		stop := make(chan struct{})
		var ops atomic.Int64
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				x := uint64(g+1) * 0x9e3779b97f4a7c15
				for {
					select {
					case <-stop:
						return
					default:
					}
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
					key := []byte(fmt.Sprintf("user:%010d", x%uint64(fx.keys)))
					if x%10 == 0 {
						if err := db.Set(key, val, 0); err != nil {
							b.Error(err)
							return
						}
					} else if _, err := db.Get(key); err != nil && !errors.Is(err, ErrNotFound) {
						b.Error(err)
						return
					}
					ops.Add(1)
				}
			})
		}
		bg := make(chan struct{})
		go func() { defer close(bg); during(stop) }()
		start := time.Now()
		time.Sleep(phase)
		close(stop)
		wg.Wait()
		<-bg
		return float64(ops.Load()) / time.Since(start).Seconds()
	}
	backups := 0
	out := filepath.Join(b.TempDir(), "out.backup")
	for b.Loop() {
		alone := run(func(<-chan struct{}) {})
		during := run(func(stop <-chan struct{}) {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.BackupToFile(out); err != nil {
					b.Error(err)
					return
				}
				backups++
			}
		})
		b.ReportMetric(alone, "ops/s-alone")
		b.ReportMetric(during, "ops/s-during-backup")
		b.ReportMetric(during/alone, "ratio")
	}
	b.ReportMetric(float64(backups)/float64(b.N), "backups/op")
}

func reportThroughput(b *testing.B, fx *backupFixture, elapsed time.Duration) {
	per := elapsed.Seconds() / float64(b.N)
	b.ReportMetric(float64(fx.liveBytes)/per/1e6, "MB/s")
	b.ReportMetric(float64(fx.keys)/per, "keys/s")
}

func benchBackup(b *testing.B, fx *backupFixture) {
	db, err := Open(fx.dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	out := filepath.Join(b.TempDir(), "out.backup")
	var info BackupInfo
	start := time.Now()
	for b.Loop() {
		if info, err = db.BackupToFile(out); err != nil {
			b.Fatal(err)
		}
	}
	reportThroughput(b, fx, time.Since(start))
	b.ReportMetric(float64(info.Bytes)/1e6, "file-MB")
}

func benchVerify(b *testing.B, fx *backupFixture) {
	start := time.Now()
	for b.Loop() {
		f, err := os.Open(fx.file)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := VerifyBackup(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	reportThroughput(b, fx, time.Since(start))
}

func benchRestore(b *testing.B, fx *backupFixture) {
	parent := b.TempDir()
	var elapsed time.Duration
	i := 0
	for b.Loop() {
		dst := filepath.Join(parent, strconv.Itoa(i))
		i++
		f, err := os.Open(fx.file)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := Restore(f, dst, nil); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		f.Close()
		b.StopTimer()
		_ = os.RemoveAll(dst)
		b.StartTimer()
	}
	reportThroughput(b, fx, elapsed)
}

// benchCheckpointTar is the physical alternative to Backup: a Pebble
// checkpoint (hard links) archived with archive/tar into one file.
func benchCheckpointTar(b *testing.B, fx *backupFixture) {
	db, err := Open(fx.dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	parent := b.TempDir()
	var elapsed time.Duration
	var size int64
	i := 0
	for b.Loop() {
		ck := filepath.Join(parent, strconv.Itoa(i))
		i++
		start := time.Now()
		if err := db.Checkpoint(ck); err != nil {
			b.Fatal(err)
		}
		if err := tarDir(ck, ck+".tar"); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		fi, _ := os.Stat(ck + ".tar")
		size = fi.Size()
		b.StopTimer()
		_ = os.RemoveAll(ck)
		_ = os.Remove(ck + ".tar")
		b.StartTimer()
	}
	reportThroughput(b, fx, elapsed)
	b.ReportMetric(float64(size)/1e6, "file-MB")
}

// benchUntarOpen restores the checkpoint tar and opens the store.
func benchUntarOpen(b *testing.B, fx *backupFixture) {
	parent := b.TempDir()
	var elapsed time.Duration
	i := 0
	for b.Loop() {
		dst := filepath.Join(parent, strconv.Itoa(i))
		i++
		start := time.Now()
		if err := untar(fx.tarFile, dst); err != nil {
			b.Fatal(err)
		}
		db, err := Open(dst, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		_ = os.RemoveAll(dst)
		b.StartTimer()
	}
	reportThroughput(b, fx, elapsed)
}

// tarDir archives the regular files of dir into the file out, fsynced.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// untar extracts the tar file in into the new directory dir, fsyncing each
// file.
func untar(in, dir string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return syncDir(dir)
		}
		if err != nil {
			return err
		}
		dst, err := os.Create(filepath.Join(dir, filepath.Clean("/"+h.Name)))
		if err != nil {
			return err
		}
		_, err = io.Copy(dst, tr)
		if err == nil {
			err = dst.Sync()
		}
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
