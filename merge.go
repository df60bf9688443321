package epochdb

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// mergerName is stored by Pebble; a store written with another merger will
// not open.
const mergerName = "epochdb.merge.v1"

// merge starts a merge for a Pebble key. Meta records merge by adding
// frequencies, keeping the latest access and adding decayed heats; system
// counters by addition.
func (db *DB) merge(key, value []byte) (pebble.ValueMerger, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("epochdb: merge of an empty key: %w", ErrCorrupt)
	}
	switch key[0] {
	case keyspace.PrefixMeta:
		m, err := keyspace.DecodeMeta(value)
		if err != nil {
			return nil, corruptErr(keyspace.UserKey(key), err)
		}
		return &metaMerger{key: append([]byte(nil), key...), m: m, halfLifeMs: db.halfLifeMs()}, nil
	case keyspace.PrefixSys:
		n, err := keyspace.DecodeCounters(nil, value)
		if err != nil {
			return nil, corruptErr(key, err)
		}
		return &counterMerger{n: n}, nil
	}
	return nil, fmt.Errorf("%w: merge on key %q outside the meta and system keyspaces", ErrCorrupt, key)
}

type metaMerger struct {
	key        []byte
	m          keyspace.Meta
	halfLifeMs int64
}

func (mm *metaMerger) add(value []byte) error {
	o, err := keyspace.DecodeMeta(value)
	if err != nil {
		return corruptErr(keyspace.UserKey(mm.key), err)
	}
	mm.m = mm.m.Merge(o, mm.halfLifeMs)
	return nil
}

func (mm *metaMerger) MergeNewer(value []byte) error { return mm.add(value) }
func (mm *metaMerger) MergeOlder(value []byte) error { return mm.add(value) }
func (mm *metaMerger) Finish(bool) ([]byte, io.Closer, error) {
	return keyspace.AppendMeta(nil, mm.m), nil, nil
}

// counterMerger adds vectors of counters element by element (a single
// counter is a vector of one).
type counterMerger struct{ n, d []int64 }

func (cm *counterMerger) add(value []byte) error {
	var err error
	if cm.d, err = keyspace.DecodeCounters(cm.d, value); err != nil {
		return fmt.Errorf("%w: counter operand: %v", ErrCorrupt, err)
	}
	if len(cm.d) != len(cm.n) {
		return fmt.Errorf("%w: counter operand of %d values for a vector of %d", ErrCorrupt, len(cm.d), len(cm.n))
	}
	for i, d := range cm.d {
		cm.n[i] += d
	}
	return nil
}

func (cm *counterMerger) MergeNewer(value []byte) error { return cm.add(value) }
func (cm *counterMerger) MergeOlder(value []byte) error { return cm.add(value) }
func (cm *counterMerger) Finish(bool) ([]byte, io.Closer, error) {
	return keyspace.AppendCounters(nil, cm.n...), nil, nil
}

// pebbleLogger routes Pebble's messages to slog: its routine chatter at
// Debug, its errors at Error.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble on an unrecoverable internal error.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}
