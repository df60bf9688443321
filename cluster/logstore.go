package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// logStore is raft's log and stable store on Pebble, in a store of its own
// beside the node's data. Every append is committed with Pebble's Sync, so
// it is in the log file before raft counts it. With appendfsync always
// (syncEach reports true) that is an fsync, so an entry a quorum
// acknowledged is on the disks of a quorum. Otherwise the log file's fsync
// is relaxed (relaxedFS): an append waits for the write to the file — the
// operating system has it, so a crashed process loses nothing — and the
// file is fsynced at most every half sync interval (and by syncLoop when
// idle), so an acknowledged entry is on the disks of a quorum within the
// interval, as one node's appendfsync everysec. The stable store (term,
// vote) is fsynced on every change whatever the mode: a node must never
// vote twice in a term. Pebble
// rather than raft-boltdb: one storage engine to run, tune and
// fault-test, and raft-boltdb's current release does not build against
// the metrics library of raft's current one.
//
//	'l' ‖ index (BE u64) → term (u64) ‖ type (u8) ‖ appended at (i64 ns) ‖
//	                       uvarint len ‖ data ‖ extensions
//	's' ‖ key            → value
type logStore struct {
	db *pebble.DB
	fs *relaxedFS
}

const (
	prefixLog    = 'l'
	prefixStable = 's'
)

// openLogStore opens the log in dir; relax (nil: never) reports, for each
// fsync of the log file, whether it may be put off and for how long at
// most.
func openLogStore(dir string, relax func() (bool, time.Duration)) (*logStore, error) {
	fs := &relaxedFS{FS: vfs.Default, relax: relax}
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}, FS: fs})
	if err != nil {
		return nil, fmt.Errorf("cluster: open the raft log in %s: %w", dir, err)
	}
	return &logStore{db: db, fs: fs}, nil
}

func (s *logStore) Close() error { return s.db.Close() }

func logKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixLog}, index)
}

// edge returns the first (last false) or last log index, 0 if none.
func (s *logStore) edge(last bool) (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLog}, UpperBound: []byte{prefixLog + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	ok := it.First()
	if last {
		ok = it.Last()
	}
	if !ok {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != 9 {
		return 0, fmt.Errorf("cluster: raft log key of %d bytes", len(k))
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func (s *logStore) FirstIndex() (uint64, error) { return s.edge(false) }
func (s *logStore) LastIndex() (uint64, error)  { return s.edge(true) }

func (s *logStore) GetLog(index uint64, l *raft.Log) error {
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	return decodeLog(index, v, l)
}

func (s *logStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *logStore) StoreLogs(logs []*raft.Log) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, l := range logs {
		if err := b.Set(logKey(l.Index), encodeLog(l), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync) // an fsync, or a write relaxedFS syncs later
}

// sync fsyncs the log file if appends were written since its last fsync
// (put off by relaxedFS).
func (s *logStore) sync() error {
	if !s.fs.owed.Load() {
		return nil
	}
	s.fs.forced.Add(1)
	defer s.fs.forced.Add(-1)
	return s.db.LogData(nil, pebble.Sync)
}

func (s *logStore) DeleteRange(lo, hi uint64) error {
	if hi < lo {
		return nil
	}
	return s.db.DeleteRange(logKey(lo), logKey(hi+1), pebble.Sync)
}

func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, 8+1+8+binary.MaxVarintLen64+len(l.Data)+len(l.Extensions))
	b = binary.BigEndian.AppendUint64(b, l.Term)
	b = append(b, byte(l.Type))
	b = binary.BigEndian.AppendUint64(b, uint64(l.AppendedAt.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	return append(b, l.Extensions...)
}

func decodeLog(index uint64, v []byte, l *raft.Log) error {
	if len(v) < 17 {
		return fmt.Errorf("cluster: raft log entry %d of %d bytes", index, len(v))
	}
	n, w := binary.Uvarint(v[17:])
	if w <= 0 || n > uint64(len(v)-17-w) {
		return fmt.Errorf("cluster: raft log entry %d: bad data length", index)
	}
	rest := v[17+w:]
	*l = raft.Log{
		Index:      index,
		Term:       binary.BigEndian.Uint64(v),
		Type:       raft.LogType(v[8]),
		AppendedAt: time.Unix(0, int64(binary.BigEndian.Uint64(v[9:]))),
		Data:       append([]byte(nil), rest[:n]...),
	}
	if len(rest) > int(n) {
		l.Extensions = append([]byte(nil), rest[n:]...)
	}
	return nil
}

// errNotFound is the stable store's answer for a missing key: raft
// recognizes it by its text.
var errNotFound = errors.New("not found")

func (s *logStore) Set(key, val []byte) error {
	s.fs.forced.Add(1) // the term and the vote: a real fsync, whatever the mode
	defer s.fs.forced.Add(-1)
	return s.db.Set(append([]byte{prefixStable}, key...), val, pebble.Sync)
}

// relaxedFS is the raft log store's file system: the fsyncs of its
// write-ahead log files (*.log) may be put off, while relax says so, by up
// to the duration it returns since the last real one; Pebble's commits with
// Sync still wait for the write to the file. Every other file (tables,
// manifest, directories) is synced as Pebble asks. A commit that must be
// durable (the stable store, sync) holds forced above zero until it
// returns: any fsync meanwhile — the one covering its record among them —
// is real.
type relaxedFS struct {
	vfs.FS
	relax  func() (bool, time.Duration)
	forced atomic.Int32
	owed   atomic.Bool  // a log file fsync was put off
	last   atomic.Int64 // monotonic ns of the last real log fsync
}

func (fs *relaxedFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs *relaxedFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(newname, f, err)
}

func (fs *relaxedFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &relaxedFile{File: f, fs: fs}, nil
}

// relaxedFile is a write-ahead log file of relaxedFS.
type relaxedFile struct {
	vfs.File
	fs   *relaxedFS
	owed atomic.Bool // this file's fsync was put off
}

func (f *relaxedFile) Sync() error {
	fs := f.fs
	if fs.relax != nil && fs.forced.Load() == 0 {
		if ok, within := fs.relax(); ok && time.Duration(monoNow()-fs.last.Load()) < within {
			f.owed.Store(true)
			fs.owed.Store(true)
			return nil
		}
	}
	return f.sync()
}

// sync fsyncs the file.
func (f *relaxedFile) sync() error {
	f.owed.Store(false)
	f.fs.owed.Store(false)
	if err := f.File.Sync(); err != nil {
		f.owed.Store(true)
		f.fs.owed.Store(true)
		return err
	}
	f.fs.last.Store(monoNow())
	return nil
}

// Close fsyncs a file whose fsync was put off first: the log moves on to
// a new file, whose fsyncs would not cover this one's appends.
func (f *relaxedFile) Close() error {
	if f.owed.Load() {
		if err := f.sync(); err != nil {
			_ = f.File.Close()
			return err
		}
	}
	return f.File.Close()
}

func (f *relaxedFile) SyncData() error { return f.Sync() }

// monoNow is a monotonic clock in ns.
func monoNow() int64 { return int64(time.Since(monoStart)) }

var monoStart = time.Now()

func (s *logStore) Get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(append([]byte{prefixStable}, key...))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

func (s *logStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

func (s *logStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if errors.Is(err, errNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("cluster: stable value %q of %d bytes", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// quietLogger drops Pebble's informational messages about the raft log.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
