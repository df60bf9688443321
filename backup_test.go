package epochdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/backupfmt"
	"github.com/epochdb/epochdb/internal/clock"
)

// entry is a key's state as Scan shows it.
type entry struct {
	Value string
	MD    Metadata
}

// dump returns every live key of db with its value and metadata.
func dump(t testing.TB, db *DB) map[string]entry {
	t.Helper()
	m := make(map[string]entry)
	if err := db.Scan(ScanOptions{}, func(k, v []byte, md Metadata) error {
		m[string(k)] = entry{string(v), md}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// backupBytes takes a backup of db into memory.
func backupBytes(t testing.TB, db *DB) ([]byte, BackupInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := db.Backup(&buf)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if info.Bytes != int64(buf.Len()) {
		t.Fatalf("BackupInfo.Bytes = %d, wrote %d", info.Bytes, buf.Len())
	}
	return buf.Bytes(), info
}

// restoreOpen restores file into a new directory and opens the result with
// clk.
func restoreOpen(t testing.TB, file []byte, clk Clock) (*DB, RestoreInfo) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	info, err := Restore(bytes.NewReader(file), dir, &RestoreOptions{Options: &Options{Clock: clk}})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	db, err := Open(dir, &Options{Clock: clk})
	if err != nil {
		t.Fatalf("open restored: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, info
}

func TestDB_Backup_RoundTripKeepsMetadata(t *testing.T) {
	db, clk := mustOpen(t, nil)
	mustSet(t, db, "plain", "v1", 0)
	clk.Advance(1500 * time.Millisecond)
	mustSet(t, db, "ttl", "v2", time.Hour)
	mustSet(t, db, "gone", "v3", time.Second) // expires before the backup
	mustSet(t, db, "empty", "", 0)
	mustSet(t, db, "big", strings.Repeat("x", 3<<20), 0) // a block of its own
	if _, err := db.IncrementFrequency([]byte("big")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	// Its last access is now this overwrite (the record's UpdatedAt), later
	// than its meta's; the heat must travel decayed to it.
	mustSet(t, db, "big", strings.Repeat("y", 3<<20), 0)
	mustSet(t, db, "plain", "v1b", 0) // UpdatedAt moves, CreatedAt stays
	for range 3 {
		if _, err := db.IncrementFrequency([]byte("ttl")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.flushTracked(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	for range 2 {
		mustGet(t, db, "plain") // tracked, not yet flushed
	}
	clk.Advance(time.Second)

	want := dump(t, db)
	if _, ok := want["gone"]; ok || len(want) != 4 {
		t.Fatalf("source state: %d keys, gone present=%v", len(want), ok)
	}
	if want["plain"].MD.Frequency != 2 || want["ttl"].MD.Frequency != 3 {
		t.Fatalf("source frequencies: plain %d ttl %d", want["plain"].MD.Frequency, want["ttl"].MD.Frequency)
	}
	file, info := backupBytes(t, db)
	if info.Keys != 4 || !info.SnapshotAt.Equal(clk.Now()) || info.Version != backupfmt.Version {
		t.Fatalf("BackupInfo = %+v", info)
	}

	rdb, rinfo := restoreOpen(t, file, clk)
	if rinfo.Keys != 4 || rinfo.Expired != 0 || rinfo.Backup.Keys != 4 || rinfo.Backup.Bytes != int64(len(file)) {
		t.Fatalf("RestoreInfo = %+v", rinfo)
	}
	got := dump(t, rdb)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored state differs:\n got %v\nwant %v", summarize(got), summarize(want))
	}
	var live int64
	for k, e := range want {
		live += int64(len(k) + len(e.Value))
	}
	if rs := rdb.Stats(); rs.Keys != 4 || rs.KeysWithTTL != 1 || rs.LiveBytes != live {
		t.Fatalf("restored counters: keys %d, with ttl %d, live bytes %d (want 4, 1, %d)", rs.Keys, rs.KeysWithTTL, rs.LiveBytes, live)
	}
	// The deadline is absolute: the restored key expires when the original
	// would have.
	clk.Advance(time.Hour)
	if _, err := rdb.Get([]byte("ttl")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ttl key after its deadline: %v", err)
	}
	if vi, err := VerifyBackup(bytes.NewReader(file)); err != nil || vi.Keys != 4 || vi.Bytes != int64(len(file)) {
		t.Fatalf("VerifyBackup = %+v, %v", vi, err)
	}
	if st := db.Stats(); st.Backups != 1 || !st.LastBackup.OK || st.LastBackup.Bytes != int64(len(file)) || st.LastBackup.Keys != 4 {
		t.Fatalf("backup stats: %d backups, last %+v", st.Backups, st.LastBackup)
	}
}

func summarize(m map[string]entry) string {
	var b strings.Builder
	for k, e := range m {
		v := e.Value
		if len(v) > 16 {
			v = v[:16] + "…"
		}
		fmt.Fprintf(&b, "\n  %q=%q %+v", k, v, e.MD)
	}
	return b.String()
}

func TestRestore_SkipsKeysExpiredSinceBackup(t *testing.T) {
	db, clk := mustOpen(t, nil)
	mustSet(t, db, "short", "a", 2*time.Second)
	mustSet(t, db, "long", "b", time.Hour)
	file, _ := backupBytes(t, db)
	clk.Advance(3 * time.Second)
	rdb, info := restoreOpen(t, file, clk)
	if info.Keys != 1 || info.Expired != 1 {
		t.Fatalf("RestoreInfo = %+v, want 1 restored and 1 expired", info)
	}
	if got := dump(t, rdb); len(got) != 1 || got["long"].Value != "b" {
		t.Fatalf("restored %v", summarize(got))
	}
	if rdb.Len() != 1 {
		t.Fatalf("restored Len = %d", rdb.Len())
	}
}

// TestDB_Backup_ConsistentWhileWriting takes a backup while 4 goroutines
// write, then checks that the restored state is exactly one the database was
// in: each writer sets its keys k0..kN-1 in order, round after round, to the
// round number, so a consistent snapshot shows, per writer, a prefix of keys
// at some round r and the rest at r-1 (absent for 0), with r between the
// round completed before the backup started and the one begun when it ended.
func TestDB_Backup_ConsistentWhileWriting(t *testing.T) {
	const writers, keysPer = 4, 40
	db, _ := mustOpen(t, nil)
	// Filler keys make the backup take long enough to overlap the writes.
	fill := db.NewBatch()
	for i := range 5000 {
		if err := fill.Set([]byte(fmt.Sprintf("z/%05d", i)), bytes.Repeat([]byte{'f'}, 200), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := fill.Commit(); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var done [writers]atomic.Int64  // rounds completed
	var begun [writers]atomic.Int64 // rounds begun
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := int64(1); !stop.Load() || r <= 3; r++ {
				begun[w].Store(r)
				for k := range keysPer {
					key := fmt.Sprintf("w%d/k%02d", w, k)
					if err := db.Set([]byte(key), []byte(strconv.FormatInt(r, 10)), 0); err != nil {
						errc <- err
						return
					}
					if k%7 == 0 {
						if _, err := db.Get([]byte(key)); err != nil {
							errc <- err
							return
						}
					}
				}
				done[w].Store(r)
			}
		}()
	}
	for done[0].Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	var lo [writers]int64
	for w := range lo {
		lo[w] = done[w].Load()
	}
	file, info := backupBytes(t, db)
	var hi [writers]int64
	for w := range hi {
		hi[w] = begun[w].Load()
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}

	rdb, _ := restoreOpen(t, file, db.clock)
	got := dump(t, rdb)
	if int64(len(got)) != info.Keys {
		t.Fatalf("restored %d keys, the backup holds %d", len(got), info.Keys)
	}
	for w := range writers {
		vers := make([]int64, keysPer)
		for k := range keysPer {
			if e, ok := got[fmt.Sprintf("w%d/k%02d", w, k)]; ok {
				vers[k], _ = strconv.ParseInt(e.Value, 10, 64)
				if vers[k] == 0 {
					t.Fatalf("writer %d key %d: value %q", w, k, e.Value)
				}
			}
		}
		r := vers[0]
		cut := 0
		for cut < keysPer && vers[cut] == r {
			cut++
		}
		for k := cut; k < keysPer; k++ {
			if vers[k] != r-1 {
				t.Fatalf("writer %d: versions %v are not a consistent cut (a prefix at %d, the rest at %d)", w, vers, r, r-1)
			}
		}
		// The snapshot lies between the backup's start and end.
		if r < lo[w] || r > hi[w] || (r == lo[w] && cut < keysPer && r-1 < lo[w]) {
			t.Fatalf("writer %d: snapshot at round %d (cut %d), but rounds %d..%d bracket the backup", w, r, cut, lo[w], hi[w])
		}
	}
	for k := range got {
		if !strings.HasPrefix(k, "w") && !strings.HasPrefix(k, "z/") {
			t.Fatalf("unexpected key %q", k)
		}
	}
}

func TestDB_BackupTo_WritesTimestampedFilesAtomically(t *testing.T) {
	db, _ := mustOpen(t, nil)
	mustSet(t, db, "a", "1", 0)
	dir := filepath.Join(t.TempDir(), "backups")
	p1, err := db.BackupTo(dir)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := db.BackupTo(dir) // same clock time: a second name
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 || filepath.Base(p1) != "epochdb-20260102T030405.000Z.backup" ||
		filepath.Base(p2) != "epochdb-20260102T030405.000Z-2.backup" {
		t.Fatalf("paths %s, %s", p1, p2)
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 2 {
		t.Fatalf("backup dir holds %d entries, want the 2 backups only", len(names))
	}
	f, err := os.Open(p2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if info, err := VerifyBackup(f); err != nil || info.Keys != 1 {
		t.Fatalf("VerifyBackup(%s) = %+v, %v", p2, info, err)
	}

	// A failed backup leaves nothing behind.
	out := filepath.Join(t.TempDir(), "x.backup")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BackupToFile(out); !errors.Is(err, ErrClosed) {
		t.Fatalf("BackupToFile after Close: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
		t.Fatalf("a failed backup left %v", ents)
	}
	if st := db.Stats(); st.BackupFailures != 0 || st.Backups != 2 {
		t.Fatalf("backup counts: %d ok, %d failed", st.Backups, st.BackupFailures)
	}
}

func TestDB_Checkpoint_OpensWithSameState(t *testing.T) {
	db, clk := mustOpen(t, nil)
	for i := range 100 {
		mustSet(t, db, fmt.Sprintf("k%03d", i), strconv.Itoa(i), time.Duration(i+1)*time.Minute)
	}
	mustGet(t, db, "k007") // tracked, not flushed
	want := dump(t, db)
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := db.Checkpoint(dir); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(dir); err == nil {
		t.Fatal("Checkpoint into an existing directory succeeded")
	}
	cdb, err := Open(dir, &Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	if got := dump(t, cdb); !reflect.DeepEqual(got, want) {
		t.Fatalf("checkpoint state differs:\n got %v\nwant %v", summarize(got), summarize(want))
	}
	if got := dump(t, cdb)["k007"].MD.Frequency; got != 1 {
		t.Fatalf("frequency in checkpoint = %d, want 1", got)
	}
	if cdb.Len() != 100 {
		t.Fatalf("checkpoint Len = %d", cdb.Len())
	}
}

func TestRestore_RefusesNonEmptyTarget(t *testing.T) {
	db, clk := mustOpen(t, nil)
	mustSet(t, db, "new", "1", 0)
	file, _ := backupBytes(t, db)

	target := filepath.Join(t.TempDir(), "db")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(target, "precious")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Restore(bytes.NewReader(file), target, nil)
	if !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("Restore into a non-empty dir: %v", err)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "x" {
		t.Fatalf("target changed: %q, %v", b, err)
	}
	assertNoLeftovers(t, filepath.Dir(target), "db")

	// An empty directory is fine, and so is a non-empty one with Replace.
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(bytes.NewReader(file), empty, nil); err != nil {
		t.Fatalf("Restore into an empty dir: %v", err)
	}
	if _, err := Restore(bytes.NewReader(file), target, &RestoreOptions{Replace: true}); err != nil {
		t.Fatalf("Restore with Replace: %v", err)
	}
	if _, err := os.Stat(keep); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the replaced target's old file: %v", err)
	}
	assertNoLeftovers(t, filepath.Dir(target), "db")
	rdb, err := Open(target, &Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if v := mustGet(t, rdb, "new"); v != "1" {
		t.Fatalf("restored value %q", v)
	}
}

// assertNoLeftovers fails if parent holds anything but the entries named.
func assertNoLeftovers(t *testing.T, parent string, allowed ...string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		found := false
		for _, a := range allowed {
			found = found || e.Name() == a
		}
		if !found {
			t.Fatalf("%s holds %q after the restore", parent, e.Name())
		}
	}
}

// sampleBackup returns a backup of a few thousand keys in several blocks.
func sampleBackup(t testing.TB) []byte {
	t.Helper()
	db, _ := mustOpen(t, nil)
	b := db.NewBatch()
	val := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB, compressible
	for i := range 3000 {
		v := append(binary.BigEndian.AppendUint32(nil, uint32(i*2654435761)), val...)
		if err := b.Set([]byte(fmt.Sprintf("key-%05d", i)), v, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	file, info := backupBytes(t, db)
	if info.Blocks < 3 {
		t.Fatalf("sample backup has %d blocks, want several", info.Blocks)
	}
	return file
}

// rehashHeader recomputes the header checksum after an edit.
func rehashHeader(f []byte) {
	n := backupfmt.HeaderLen - 4
	binary.BigEndian.PutUint32(f[n:], crc32.Checksum(f[:n], crc32.MakeTable(crc32.Castagnoli)))
}

func TestRestore_RejectsBadFiles(t *testing.T) {
	good := sampleBackup(t)
	n := len(good)
	firstBlock := backupfmt.HeaderLen
	payload := firstBlock + backupfmt.BlockHeaderLen
	trailer := n - backupfmt.TrailerLen
	flip := func(off int) []byte {
		f := bytes.Clone(good)
		f[off] ^= 0x20
		return f
	}
	cases := []struct {
		name string
		file []byte
		want error
		msg  string // in the error
	}{
		{"empty", nil, ErrNotBackup, "empty"},
		{"not a backup", []byte("this is a text file, not a backup at all\n"), ErrNotBackup, "magic"},
		{"truncated header", good[:backupfmt.HeaderLen-3], ErrBackupCorrupt, "header"},
		{"truncated block header", good[:firstBlock+5], ErrBackupCorrupt, "block header"},
		{"truncated payload", good[:payload+100], ErrBackupCorrupt, "truncated"},
		{"truncated before trailer", good[:trailer], ErrBackupCorrupt, "without a trailer"},
		{"truncated trailer", good[:n-7], ErrBackupCorrupt, "trailer"},
		{"flipped header byte", flip(14), ErrBackupCorrupt, "header checksum"},
		{"flipped block length", flip(firstBlock + 3), ErrBackupCorrupt, ""},
		{"flipped payload byte", flip(payload + 50), ErrBackupCorrupt, "block checksum"},
		{"flipped byte in a later block", flip(n / 2), ErrBackupCorrupt, ""},
		{"flipped trailer count", flip(trailer + 8), ErrBackupCorrupt, "trailer checksum"},
		{"trailing garbage", append(bytes.Clone(good), 0), ErrBackupCorrupt, "after the trailer"},
		{"future version", func() []byte {
			f := bytes.Clone(good)
			binary.BigEndian.PutUint16(f[8:], backupfmt.Version+1)
			rehashHeader(f)
			return f
		}(), ErrBackupVersion, fmt.Sprint("format version ", backupfmt.Version+1)},
		{"unknown compression", func() []byte {
			f := bytes.Clone(good)
			f[10] = 9
			rehashHeader(f)
			return f
		}(), ErrBackupVersion, "compression 9"},
		{"blocks dropped", func() []byte {
			// The header and the trailer, without the blocks between.
			return append(bytes.Clone(good[:firstBlock]), good[trailer:]...)
		}(), ErrBackupCorrupt, "records"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyBackup(bytes.NewReader(tc.file))
			checkBadFileErr(t, "VerifyBackup", err, tc.want, tc.msg)

			parent := t.TempDir()
			target := filepath.Join(parent, "db")
			_, err = Restore(bytes.NewReader(tc.file), target, nil)
			checkBadFileErr(t, "Restore", err, tc.want, tc.msg)
			if _, serr := os.Stat(target); !errors.Is(serr, os.ErrNotExist) {
				t.Fatalf("a failed restore created the target: %v", serr)
			}
			assertNoLeftovers(t, parent)
		})
	}
}

func checkBadFileErr(t *testing.T, op string, err, want error, msg string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", op, err, want)
	}
	var fe *backupfmt.Error
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "byte offset") {
		t.Fatalf("%s: error %q does not say where", op, err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("%s: error %q does not mention %q", op, err, msg)
	}
}

// A failed restore over an existing database (Replace) leaves it as it was.
func TestRestore_FailedReplaceKeepsTarget(t *testing.T) {
	good := sampleBackup(t)
	src, _ := mustOpen(t, nil)
	mustSet(t, src, "mine", "keep me", 0)
	file, _ := backupBytes(t, src)
	target := filepath.Join(t.TempDir(), "db")
	if _, err := Restore(bytes.NewReader(file), target, nil); err != nil {
		t.Fatal(err)
	}
	bad := good[:len(good)-backupfmt.TrailerLen-1]
	if _, err := Restore(bytes.NewReader(bad), target, &RestoreOptions{Replace: true}); !errors.Is(err, ErrBackupCorrupt) {
		t.Fatalf("Restore of a truncated file: %v", err)
	}
	assertNoLeftovers(t, filepath.Dir(target), "db")
	db, err := Open(target, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v := mustGet(t, db, "mine"); v != "keep me" || db.Len() != 1 {
		t.Fatalf("target after a failed replace: %q, %d keys", v, db.Len())
	}
}

// FuzzVerifyBackup feeds arbitrary bytes to the backup decoder: it must never
// panic, and must reject anything that is not a complete, intact backup with
// one of the three backup errors.
func FuzzVerifyBackup(f *testing.F) {
	db, err := Open("", &Options{InMemory: true, Clock: clock.NewManual(time.UnixMilli(1_700_000_000_000))})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 20 {
		ttl := time.Duration(0)
		if i%3 == 0 {
			ttl = time.Duration(i+1) * time.Hour
		}
		if err := db.Set([]byte(fmt.Sprintf("key%02d", i)), bytes.Repeat([]byte{byte('a' + i)}, i*3), ttl); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := db.List([]byte("list")).PushBack([]byte("a"), []byte("b")); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := db.Backup(&buf); err != nil {
		f.Fatal(err)
	}
	img, _ := imageOf(f, db) // a store image: entry records in the same container
	f.Add(img)
	_ = db.Close()
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:backupfmt.HeaderLen])
	f.Add([]byte(backupfmt.Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := VerifyBackup(bytes.NewReader(data))
		if err == nil {
			if info.Bytes != int64(len(data)) {
				t.Fatalf("verified %d of %d bytes", info.Bytes, len(data))
			}
			return
		}
		if !errors.Is(err, ErrBackupCorrupt) && !errors.Is(err, ErrNotBackup) && !errors.Is(err, ErrBackupVersion) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		var fe *backupfmt.Error
		if !errors.As(err, &fe) {
			t.Fatalf("error without a location: %v", err)
		}
	})
}

var _ io.Reader = (*bytes.Reader)(nil)
