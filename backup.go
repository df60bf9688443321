package epochdb

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/backupfmt"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// Errors returned for backup files and restore targets. A damaged or foreign
// file is reported by an error that wraps one of the first three and says
// what is wrong and where (byte offset, block, record).
var (
	// ErrNotBackup is returned when the input is not an EpochDB backup file.
	ErrNotBackup = backupfmt.ErrNotBackup
	// ErrBackupVersion is returned when a backup file is of a format version
	// (or compression) this build does not read.
	ErrBackupVersion = backupfmt.ErrVersion
	// ErrBackupCorrupt is returned when a backup file is damaged: truncated,
	// a checksum mismatch, a malformed record, trailing bytes.
	ErrBackupCorrupt = backupfmt.ErrCorrupt
	// ErrTargetNotEmpty is returned by Restore when the target directory
	// exists and is not empty, unless RestoreOptions.Replace is set.
	ErrTargetNotEmpty = errors.New("epochdb: restore target is not empty")
)

// BackupInfo describes a backup file.
type BackupInfo struct {
	Keys     int64 // keys (records) in the file
	Bytes    int64 // size of the file
	RawBytes int64 // size of the records before compression
	Blocks   int64 // compressed blocks
	// SnapshotAt is the DB clock's time at the snapshot the backup was taken
	// from. Keys whose deadline had passed at it are not in the file.
	SnapshotAt time.Time
	Version    int           // file format version
	Duration   time.Duration // time taken to write (Backup) or read the file (VerifyBackup, Restore)
}

// Backup writes a logical backup of the database to w: every live key with
// its value, deadline, CreatedAt, UpdatedAt, frequency (including reads
// tracked but not yet flushed), heat and last access, as of one consistent
// snapshot. Keys expired at the snapshot are left out; deadlines are stored
// as absolute times.
//
// The backup is online: writers are held only for the instant the snapshot
// is taken, and memory use does not grow with the size of the database. The
// file is compressed (zstd) and checksummed per block, with a versioned
// header and a trailer; Restore and VerifyBackup check it. Backup does not
// close w. Close waits for a backup in progress.
func (db *DB) Backup(w io.Writer) (info BackupInfo, err error) {
	if err := db.enter(); err != nil {
		return BackupInfo{}, err
	}
	defer db.leave()
	start := time.Now()
	startAt := db.clock.Now()
	defer func() { db.backupEnd(startAt, time.Since(start), info, err) }()

	snap, pending, now, err := db.backupSnapshot()
	if err != nil {
		return BackupInfo{}, err
	}
	defer snap.Close()
	db.log.Info("epochdb: backup started", "snapshot_at", time.UnixMilli(now).UTC(), "keys_estimate", db.keys.Load())

	bw, err := backupfmt.NewWriter(w, backupfmt.Header{CreatedAt: now, SourceFormat: formatVersion})
	if err != nil {
		return BackupInfo{}, err
	}
	n, err := db.writeRecords(snap, pending, now, bw)
	if err != nil {
		_, _ = bw.Close()
		return BackupInfo{}, err
	}
	tr, err := bw.Close()
	if err != nil {
		return BackupInfo{}, err
	}
	info = BackupInfo{
		Keys:       n,
		Bytes:      bw.Written(),
		RawBytes:   int64(tr.RawBytes),
		Blocks:     int64(tr.Blocks),
		SnapshotAt: time.UnixMilli(now),
		Version:    backupfmt.Version,
		Duration:   time.Since(start),
	}
	return info, nil
}

// backupSnapshot flushes tracked reads, then takes a Pebble snapshot and a
// copy of the reads tracked since, while holding every shard lock: every
// write (including flushes of tracked reads and expiry) happens under a
// shard lock, so nothing is half-visible and no read is counted twice or
// lost. now is the time the snapshot is judged at.
func (db *DB) backupSnapshot() (*pebble.Snapshot, map[string]access, int64, error) {
	if !db.opts.DisableReadTracking {
		if err := db.flushTracked(); err != nil {
			return nil, nil, 0, err
		}
	}
	unlock := db.lockAllShards()
	defer unlock()
	snap := db.pdb.NewSnapshot()
	now := db.nowMs()
	pending := make(map[string]access)
	for i := range db.shards {
		db.shards[i].copyTracked(pending)
	}
	return snap, pending, now, nil
}

// writeRecords adds every key live at now in snap to bw, in key order, with
// its meta plus pending reads, and returns how many it wrote.
func (db *DB) writeRecords(snap *pebble.Snapshot, pending map[string]access, now int64, bw *backupfmt.Writer) (int64, error) {
	it, err := newRecordIter(snap, nil, nil)
	if err != nil {
		return 0, fmt.Errorf("epochdb: backup: %w", err)
	}
	defer it.Close()
	var n int64
	var rec backupfmt.Record
	for ok := it.First(); ok; ok = it.Next() {
		if it.hdr.Expired(now) {
			continue
		}
		m := it.m
		if a, ok := pending[string(it.key)]; ok {
			m = db.mergeMeta(m, a.meta())
		}
		// The heat is stored as of the last access, which may be a write
		// (the record's UpdatedAt) later than the meta's time.
		last := lastAccess(it.hdr, m)
		rec = backupfmt.Record{
			Type: uint8(it.hdr.Type),
			Key:  it.key, Value: it.value,
			CreatedAt: it.hdr.CreatedAt, UpdatedAt: it.hdr.UpdatedAt, ExpiresAt: it.hdr.ExpiresAt,
			Frequency: m.Frequency, LastAccess: last, Heat: m.HeatAt(last, db.halfLifeMs()),
		}
		if it.hdr.Type.IsCollection() {
			rec.Value = nil
			wrote, err := writeMembers(snap, it.key, it.value, now, &rec, bw)
			if err != nil {
				return n, err
			}
			if wrote {
				n++
			}
			continue
		}
		if err := bw.Add(&rec); err != nil {
			return n, err
		}
		n++
	}
	if err := it.Err(); err != nil {
		return n, err
	}
	return n, nil
}

// backupEnd records the outcome of a backup in the stats and the log.
func (db *DB) backupEnd(startAt time.Time, took time.Duration, info BackupInfo, err error) {
	db.met.noteBackup(startAt, took, info, err)
	if err != nil {
		db.log.Error("epochdb: backup failed", "err", err)
		return
	}
	db.log.Info("epochdb: backup done", "keys", info.Keys, "bytes", info.Bytes, "raw_bytes", info.RawBytes,
		"duration", info.Duration)
}

// BackupToFile writes a backup (see Backup) to the file path atomically: to
// a temporary file in the same directory, fsynced, then renamed over path.
// A failed backup leaves no file behind and an existing path untouched.
func (db *DB) BackupToFile(path string) (BackupInfo, error) {
	var info BackupInfo
	_, err := writeFileAtomic(path, false, func(w io.Writer) error {
		var err error
		info, err = db.Backup(w)
		return err
	})
	return info, err
}

// BackupTo writes a backup (see Backup) into directory dir, creating it if
// needed, as a new file named after the time of the backup
// (epochdb-20060102T150405.000Z.backup), atomically as BackupToFile does. It
// returns the file's path; Stats().LastBackup describes it.
func (db *DB) BackupTo(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("epochdb: backup: %w", err)
	}
	name := "epochdb-" + db.clock.Now().UTC().Format("20060102T150405.000Z")
	path := filepath.Join(dir, name+".backup")
	return writeFileAtomic(path, true, func(w io.Writer) error {
		_, err := db.Backup(w)
		return err
	})
}

// writeFileAtomic writes path through fn: into a temporary file beside it,
// fsynced and closed, then moved into place and the directory fsynced. With
// noClobber an existing file is never replaced: a suffix -2, -3, … is added
// to the name instead. It returns the final path.
func writeFileAtomic(path string, noClobber bool, fn func(io.Writer) error) (final string, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("epochdb: backup: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := fn(f); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("epochdb: backup: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("epochdb: backup: close %s: %w", tmp, err)
	}
	final = path
	if noClobber {
		ext := filepath.Ext(path)
		stem := path[:len(path)-len(ext)]
		for i := 2; ; i++ {
			err := os.Link(tmp, final)
			if err == nil {
				_ = os.Remove(tmp)
				break
			}
			if !errors.Is(err, os.ErrExist) || i > 1000 {
				return "", fmt.Errorf("epochdb: backup: %w", err)
			}
			final = fmt.Sprintf("%s-%d%s", stem, i, ext)
		}
	} else if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("epochdb: backup: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

// syncDir fsyncs a directory so that renames and creations in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("epochdb: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("epochdb: sync directory %s: %w", dir, err)
	}
	return nil
}

// VerifyBackup reads a whole backup file and checks it — header, every
// block's checksum, every record, the trailer's counts and checksum — without
// restoring anything. It returns what the file holds, or an error that says
// what is wrong and where.
func VerifyBackup(r io.Reader) (BackupInfo, error) {
	start := time.Now()
	br, err := backupfmt.NewReader(r)
	if err != nil {
		return BackupInfo{}, err
	}
	defer br.Close()
	for {
		if _, err := br.Next(); err != nil {
			if err == io.EOF {
				break
			}
			return BackupInfo{}, err
		}
	}
	info := backupInfo(br)
	info.Duration = time.Since(start)
	return info, nil
}

// backupInfo describes the file br has read to its end.
func backupInfo(br *backupfmt.Reader) BackupInfo {
	h, tr := br.Header(), br.Trailer()
	return BackupInfo{
		Keys:       br.Keys(),
		Bytes:      br.Offset(),
		RawBytes:   int64(tr.RawBytes),
		Blocks:     int64(tr.Blocks),
		SnapshotAt: time.UnixMilli(h.CreatedAt),
		Version:    int(h.Version),
	}
}

// Checkpoint writes a physical copy of the database into dir, which must not
// exist: Pebble's checkpoint, which hard-links the immutable sstables where
// the filesystem allows it and copies the rest, after writing tracked reads.
// The copy is consistent and opens with Open. It is the fastest way to copy a
// store on the same machine; for a portable, verifiable file use Backup.
func (db *DB) Checkpoint(dir string) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	if db.opts.InMemory {
		return errors.New("epochdb: checkpoint of an in-memory database: use Backup")
	}
	if !db.opts.DisableReadTracking {
		if err := db.flushTracked(); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := db.pdb.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		db.log.Error("epochdb: checkpoint failed", "dir", dir, "err", err)
		return fmt.Errorf("epochdb: checkpoint to %s: %w", dir, err)
	}
	db.log.Info("epochdb: checkpoint done", "dir", dir, "duration", time.Since(start))
	return nil
}

// writeMembers adds the collection key (its data record's value coll) to
// bw with rec, then its members live at now, and reports whether it did: a
// collection whose every field's deadline passed is left out, like an
// expired key.
func writeMembers(snap *pebble.Snapshot, key, coll []byte, now int64, rec *backupfmt.Record, bw *backupfmt.Writer) (bool, error) {
	c, err := keyspace.DecodeColl(coll)
	if err != nil {
		return false, corruptErr(key, err)
	}
	prefix := keyspace.MemberPrefix(nil, key, c.Version)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keyspace.PrefixEnd(prefix)})
	if err != nil {
		return false, fmt.Errorf("epochdb: backup: %w", err)
	}
	defer it.Close()
	wrote := false
	var mrec backupfmt.Record
	for ok := it.First(); ok; ok = it.Next() {
		mr, err := keyspace.DecodeMember(it.Value())
		if err != nil {
			return false, corruptErr(key, err)
		}
		if mr.Expired(now) {
			continue
		}
		if !wrote {
			if err := bw.Add(rec); err != nil {
				return false, err
			}
			wrote = true
		}
		mrec = backupfmt.Record{Member: true, Key: it.Key()[len(prefix):], Value: mr.Value, ExpiresAt: mr.ExpiresAt}
		if rec.Type == backupfmt.TypeZSet {
			if mrec.Value, err = backupScore(mr.Value); err != nil {
				return false, corruptErr(key, err)
			}
		}
		if err := bw.Add(&mrec); err != nil {
			return false, err
		}
	}
	if err := it.Error(); err != nil {
		return false, fmt.Errorf("epochdb: backup: %w", err)
	}
	return wrote, nil
}

// noteBackup records a backup's outcome for Stats.
func (m *metrics) noteBackup(startAt time.Time, took time.Duration, info BackupInfo, err error) {
	m.backupMu.Lock()
	defer m.backupMu.Unlock()
	m.lastBackup = BackupStats{At: startAt, Duration: took, OK: err == nil}
	if err == nil {
		m.backups++
		m.lastBackup.Bytes = info.Bytes
		m.lastBackup.Keys = info.Keys
	} else {
		m.backupFails++
	}
}
