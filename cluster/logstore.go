package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// logStore is raft's log and stable store on Pebble, in a store of its own
// beside the node's data. With appendfsync always (syncEach reports true)
// every append is fsynced before raft counts it, so an entry a quorum
// acknowledged is on the disks of a quorum; otherwise appends are written
// without waiting for the disk and the node syncs the log every sync
// interval (syncLoop), so an acknowledged entry is in the memory of a
// quorum and on their disks within the interval. The stable store (term,
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
	db       *pebble.DB
	syncEach func() bool // fsync every append; nil: always
	unsynced atomic.Bool // appends since the last sync
}

const (
	prefixLog    = 'l'
	prefixStable = 's'
)

func openLogStore(dir string) (*logStore, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("cluster: open the raft log in %s: %w", dir, err)
	}
	return &logStore{db: db}, nil
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
	if s.syncEach == nil || s.syncEach() {
		return b.Commit(pebble.Sync)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	s.unsynced.Store(true)
	return nil
}

// sync makes every append durable, if some are not.
func (s *logStore) sync() error {
	if !s.unsynced.Swap(false) {
		return nil
	}
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		s.unsynced.Store(true)
		return err
	}
	return nil
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
	return s.db.Set(append([]byte{prefixStable}, key...), val, pebble.Sync)
}

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
