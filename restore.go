package epochdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb/internal/backupfmt"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// RestoreOptions configure Restore. A nil *RestoreOptions means the zero
// value: refuse a non-empty target, build with default options.
type RestoreOptions struct {
	// Replace allows restoring over a target directory that exists and is
	// not empty: it is replaced as a whole once the restore is complete (the
	// old contents are removed only then). The default refuses with
	// ErrTargetNotEmpty. The target must not be open.
	Replace bool

	// Options open the database while it is built. Its Clock decides which
	// keys have expired (and are left out); its Logger receives progress.
	// InMemory and the durability settings are ignored, and nothing that
	// retires keys (sweeper, pruning, budgets, event log) runs during the
	// build: those apply when the restored store is opened. nil means the
	// defaults.
	Options *Options
}

// RestoreInfo describes a completed restore.
type RestoreInfo struct {
	Backup   BackupInfo    // what the backup file holds
	Keys     int64         // keys restored
	Expired  int64         // keys left out because their deadline had passed when the restore began
	Duration time.Duration // total time, including moving the result into place
}

// Restore builds a database in dir from a backup file read from r (written
// by Backup). Every key gets back its value, deadline, CreatedAt, UpdatedAt,
// frequency, heat and last access exactly. Keys whose deadline has passed by the
// time the restore begins (by RestoreOptions.Options.Clock) are left out and
// counted in RestoreInfo.Expired.
//
// Restore verifies the file as it reads it. It builds the database in a
// temporary directory beside dir (in the same parent, so that the final
// rename is atomic) and moves it into place only once the whole file has
// been read and verified and the database is closed and durable: a failed
// restore — a damaged file, an I/O error — leaves dir exactly as it was.
//
// dir must not exist or be empty, unless opts.Replace is set; otherwise
// Restore returns ErrTargetNotEmpty before reading anything.
func Restore(r io.Reader, dir string, opts *RestoreOptions) (info RestoreInfo, err error) {
	start := time.Now()
	var ro RestoreOptions
	if opts != nil {
		ro = *opts
	}
	var o Options
	if ro.Options != nil {
		o = *ro.Options
	}
	o.InMemory, o.SyncWrites, o.SyncInterval = false, false, -1
	// Nothing retires keys while the store is built: the sweeper would take
	// the ttl-index entries of keys not yet ingested for stale ones, and
	// pruning, budgets and the event log apply to the store once opened.
	o.ExpiryInterval, o.PruneInterval = never, never
	o.PruneMinFrequency, o.PruneIdle, o.MaxKeys, o.MaxDiskBytes = 0, 0, 0, 0
	o.EventLog = false
	o.ensureDefaults()
	log := o.Logger

	dir = filepath.Clean(dir)
	if err := checkRestoreTarget(dir, ro.Replace); err != nil {
		return RestoreInfo{}, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return RestoreInfo{}, fmt.Errorf("epochdb: restore: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".restore-*")
	if err != nil {
		return RestoreInfo{}, fmt.Errorf("epochdb: restore: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
			log.Error("epochdb: restore failed; the target is unchanged", "dir", dir, "err", err)
		}
	}()
	log.Info("epochdb: restore started", "dir", dir, "building_in", tmp)

	db, err := Open(tmp, &o)
	if err != nil {
		return RestoreInfo{}, err
	}
	info, err = db.restoreFrom(r, tmp)
	if err == nil {
		// Flush the memtable so that the restored store opens without
		// replaying a large WAL.
		if ferr := db.pdb.Flush(); ferr != nil {
			err = fmt.Errorf("epochdb: restore: flush: %w", ferr)
		}
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return RestoreInfo{}, err
	}
	if err := moveIntoPlace(tmp, dir, ro.Replace, log); err != nil {
		return RestoreInfo{}, err
	}
	info.Duration = time.Since(start)
	log.Info("epochdb: restore done", "dir", dir, "keys", info.Keys, "expired_skipped", info.Expired,
		"bytes", info.Backup.Bytes, "duration", info.Duration)
	return info, nil
}

// never is an interval long enough that a background loop never fires
// while a restore runs.
const never = time.Duration(1 << 62)

// restoreBatchBytes is the size at which Restore commits a batch of
// index entries.
const restoreBatchBytes = 4 << 20

// restoreFrom writes the records of a backup file into db, which nothing
// else uses. The records arrive sorted by key, so the data and meta
// keyspaces are written as two sstables and ingested (no memtable, no WAL,
// no flush: the fast path for a bulk load of sorted keys); the ttl and
// field indexes, sorted by deadline instead, and the score index of sorted
// sets (by score) go through ordinary batches, and the key counters
// through the same merge operands as every other write.
func (db *DB) restoreFrom(r io.Reader, dir string) (RestoreInfo, error) {
	start := time.Now()
	br, err := backupfmt.NewReader(r)
	if err != nil {
		return RestoreInfo{}, err
	}
	defer br.Close()
	if br.Header().Image {
		return RestoreInfo{}, fmt.Errorf("%w: a store image (a cluster's snapshot), not a logical backup", ErrBackupVersion)
	}

	dataSST, err := newSSTSink(vfs.Default, filepath.Join(dir, "restore-data.sst"), db.sstWriterOptions())
	if err != nil {
		return RestoreInfo{}, err
	}
	defer dataSST.abort()
	metaSST, err := newSSTSink(vfs.Default, filepath.Join(dir, "restore-meta.sst"), db.sstWriterOptions())
	if err != nil {
		return RestoreInfo{}, err
	}
	defer metaSST.abort()
	memberSST, err := newSSTSink(vfs.Default, filepath.Join(dir, "restore-members.sst"), db.sstWriterOptions())
	if err != nil {
		return RestoreInfo{}, err
	}
	defer memberSST.abort()

	now := db.nowMs()
	var info RestoreInfo
	var c tally
	b := db.pdb.NewBatch()
	defer func() { _ = b.Close() }()
	commit := func() error {
		err := db.pdb.Apply(b, pebble.NoSync)
		_ = b.Close()
		b = db.pdb.NewBatch()
		if err != nil {
			return fmt.Errorf("epochdb: restore: write: %w", err)
		}
		return nil
	}
	var kbuf, vbuf []byte
	// A collection's data record is written once its members are read
	// (its header counts them): coll holds it meanwhile.
	var coll struct {
		on, skip bool
		rec      backupfmt.Record
		hdr      keyspace.Header
		c        keyspace.Coll
	}
	// writeKey writes the data record, meta and deadline of a key.
	writeKey := func(rec *backupfmt.Record, hdr keyspace.Header, value []byte, size int64) error {
		kbuf = keyspace.DataKey(kbuf[:0], rec.Key)
		vbuf = keyspace.AppendRecord(vbuf[:0], hdr, value)
		if err := dataSST.set(kbuf, vbuf); err != nil {
			return err
		}
		kbuf = keyspace.MetaKey(kbuf[:0], rec.Key)
		vbuf = keyspace.AppendMeta(vbuf[:0], keyspace.Meta{Frequency: rec.Frequency, LastAccess: rec.LastAccess, Heat: rec.Heat})
		if err := metaSST.set(kbuf, vbuf); err != nil {
			return err
		}
		if cap(vbuf) > 1<<20 {
			vbuf = nil // do not keep a huge value's buffer
		}
		c.add(rec.Key, counts{keys: 1, bytes: int64(len(rec.Key)) + size})
		if hdr.ExpiresAt != 0 {
			_ = b.Set(keyspace.TTLKey(nil, hdr.ExpiresAt, rec.Key), nil, nil)
			c.add(rec.Key, counts{ttlKeys: 1})
		}
		if b.Len() >= restoreBatchBytes {
			if err := commit(); err != nil {
				return err
			}
		}
		info.Keys++
		return nil
	}
	endColl := func() error {
		if !coll.on || coll.skip || coll.c.Count == 0 {
			coll.on = false
			return nil
		}
		coll.on = false
		header := keyspace.AppendColl(nil, coll.c)
		return writeKey(&coll.rec, coll.hdr, header, int64(len(header))+coll.c.Bytes)
	}
	for {
		rec, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return RestoreInfo{}, err
		}
		if rec.Member {
			if coll.skip || (rec.ExpiresAt != 0 && rec.ExpiresAt <= now) {
				continue
			}
			member, value := rec.Key, rec.Value
			switch {
			case coll.c.List:
				// An item's member is its position: the items are
				// numbered again from 0, in the file's order.
				if len(member) != keyspace.PositionLen {
					return RestoreInfo{}, fmt.Errorf("%w: list %q has an item at a position of %d bytes", ErrBackupCorrupt, coll.rec.Key, len(member))
				}
				member = keyspace.AppendPosition(nil, coll.c.Count)
			case coll.hdr.Type == keyspace.TypeZSet:
				// The score in the stored encoding, and its entry in the
				// score index (sorted by score: through the batches).
				if value, err = restoredScore(rec.Value); err != nil {
					return RestoreInfo{}, err
				}
				zk := keyspace.ScorePrefix(nil, coll.rec.Key, coll.c.Version)
				_ = b.Set(append(append(zk, value...), rec.Key...), nil, nil)
				if b.Len() >= restoreBatchBytes {
					if err := commit(); err != nil {
						return RestoreInfo{}, err
					}
				}
			}
			kbuf = keyspace.MemberKey(kbuf[:0], coll.rec.Key, coll.c.Version, member)
			vbuf = keyspace.AppendMember(vbuf[:0], keyspace.Member{ExpiresAt: rec.ExpiresAt, Value: value})
			if err := memberSST.set(kbuf, vbuf); err != nil {
				return RestoreInfo{}, err
			}
			coll.c.Count++
			coll.c.Bytes += int64(len(rec.Key) + len(value))
			if rec.ExpiresAt != 0 {
				_ = b.Set(keyspace.FieldIndexKey(nil, rec.ExpiresAt, coll.rec.Key, coll.c.Version, member), nil, nil)
			}
			continue
		}
		if err := endColl(); err != nil {
			return RestoreInfo{}, err
		}
		hdr := keyspace.Header{CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, ExpiresAt: rec.ExpiresAt, Type: keyspace.Type(rec.Type)}
		expired := hdr.Expired(now)
		if expired {
			info.Expired++
		}
		if hdr.Type.IsCollection() {
			coll.on, coll.skip, coll.hdr = true, expired, hdr
			coll.rec = *rec
			coll.rec.Key = bytes.Clone(rec.Key)
			coll.c = keyspace.Coll{Version: db.collVer.Add(1), List: hdr.Type == keyspace.TypeList}
			continue
		}
		if expired {
			continue
		}
		if err := writeKey(rec, hdr, rec.Value, int64(len(rec.Value))); err != nil {
			return RestoreInfo{}, err
		}
	}
	if err := endColl(); err != nil {
		return RestoreInfo{}, err
	}
	var paths []string
	for _, s := range []*sstSink{dataSST, metaSST, memberSST} {
		p, err := s.finish()
		if err != nil {
			return RestoreInfo{}, err
		}
		if p != "" {
			paths = append(paths, p)
		}
	}
	if len(paths) > 0 {
		if err := db.pdb.Ingest(context.Background(), paths); err != nil {
			return RestoreInfo{}, fmt.Errorf("epochdb: restore: ingest: %w", err)
		}
		for _, p := range paths {
			_ = os.Remove(p) // Ingest linked or copied it into the store
		}
	}
	addCounters(b, &c)
	if err := commit(); err != nil {
		return RestoreInfo{}, err
	}
	db.applyCounters(&c)
	info.Backup = backupInfo(br)
	info.Backup.Duration = time.Since(start)
	return info, nil
}

// sstWriterOptions are the options of the sstables Restore ingests: the
// DB's table format, merger and bloom filters, written for the lowest level.
func (db *DB) sstWriterOptions() sstable.WriterOptions {
	o := &pebble.Options{Merger: &pebble.Merger{Name: mergerName, Merge: db.merge}}
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	o.EnsureDefaults()
	return o.MakeWriterOptions(len(o.Levels)-1, db.pdb.TableFormat())
}

// sstSink writes one sstable for ingestion.
type sstSink struct {
	fs   vfs.FS
	path string
	w    *sstable.Writer
	n    int64
	done bool
}

func newSSTSink(fs vfs.FS, path string, wo sstable.WriterOptions) (*sstSink, error) {
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("epochdb: restore: %w", err)
	}
	return &sstSink{fs: fs, path: path, w: sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)}, nil
}

func (s *sstSink) set(k, v []byte) error {
	s.n++
	if err := s.w.Set(k, v); err != nil {
		return fmt.Errorf("epochdb: restore: write %s: %w", filepath.Base(s.path), err)
	}
	return nil
}

// finish closes the sstable and returns its path, or "" (and removes it) if
// it is empty.
func (s *sstSink) finish() (string, error) {
	s.done = true
	if err := s.w.Close(); err != nil {
		_ = s.fs.Remove(s.path)
		return "", fmt.Errorf("epochdb: restore: close %s: %w", filepath.Base(s.path), err)
	}
	if s.n == 0 {
		_ = s.fs.Remove(s.path)
		return "", nil
	}
	return s.path, nil
}

// abort discards an unfinished sstable.
func (s *sstSink) abort() {
	if !s.done {
		s.done = true
		_ = s.w.Close()
		_ = s.fs.Remove(s.path)
	}
}

// checkRestoreTarget refuses a target that is not a directory, or is a
// non-empty one without replace.
func checkRestoreTarget(dir string, replace bool) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("epochdb: restore: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("epochdb: restore: target %s exists and is not a directory", dir)
	}
	if replace {
		return nil
	}
	empty, err := dirEmpty(dir)
	if err != nil {
		return err
	}
	if !empty {
		return fmt.Errorf("%w: %s (restore into a new or empty directory, or replace it explicitly)", ErrTargetNotEmpty, dir)
	}
	return nil
}

func dirEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, fmt.Errorf("epochdb: restore: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("epochdb: restore: read %s: %w", dir, err)
	}
	return len(names) == 0, nil
}

// moveIntoPlace renames the finished database tmp to dir. An empty dir is
// removed first; a non-empty one (with replace) is renamed aside, and
// removed only after tmp took its place (or put back if that failed).
func moveIntoPlace(tmp, dir string, replace bool, log *slog.Logger) error {
	parent := filepath.Dir(dir)
	if err := checkRestoreTarget(dir, replace); err != nil {
		return err // the target changed while the restore ran
	}
	var aside string
	if _, err := os.Stat(dir); err == nil {
		empty, err := dirEmpty(dir)
		if err != nil {
			return err
		}
		if empty {
			if err := os.Remove(dir); err != nil {
				return fmt.Errorf("epochdb: restore: %w", err)
			}
		} else {
			aside = tmp + ".old"
			if err := os.Rename(dir, aside); err != nil {
				return fmt.Errorf("epochdb: restore: move the old %s aside: %w", dir, err)
			}
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if aside != "" {
			_ = os.Rename(aside, dir)
		}
		return fmt.Errorf("epochdb: restore: move the restored database into place: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	if aside != "" {
		if err := os.RemoveAll(aside); err != nil {
			log.Warn("epochdb: restore: could not remove the replaced database", "dir", aside, "err", err)
		}
	}
	return nil
}
