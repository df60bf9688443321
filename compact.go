package epochdb

import (
	"context"
	"fmt"
	"time"
)

// CompactInfo describes a manual compaction: the disk space in use
// (Stats.DiskBytes: table files, write-ahead logs, manifest) and that of the
// table files alone, before and after.
type CompactInfo struct {
	DiskBefore, DiskAfter     uint64
	TablesBefore, TablesAfter uint64
}

// Compact compacts the whole store now: Pebble rewrites its table files
// into the bottom level, dropping deleted, overwritten and swept data, so
// that the space they held is returned without waiting for background
// compactions. The write-ahead log files Pebble keeps for reuse (up to
// three, each up to MemTableSize) are not returned. The store keeps serving
// meanwhile; the compaction costs I/O in proportion to the data stored. ctx
// cancels it.
func (db *DB) Compact(ctx context.Context) (CompactInfo, error) {
	if err := db.enter(); err != nil {
		return CompactInfo{}, err
	}
	defer db.leave()
	var info CompactInfo
	info.DiskBefore, info.TablesBefore = db.diskUsage()
	err := db.pdb.Flush()
	if err == nil {
		// Every keyspace prefix is a byte below 0xff.
		err = db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, true)
	}
	// Pebble deletes the replaced files in the background: give it a moment
	// so that "after" shows the space returned.
	for i := 0; err == nil && i < 200 && db.pdb.Metrics().Table.Local.ObsoleteSize > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	info.DiskAfter, info.TablesAfter = db.diskUsage()
	if err != nil {
		return info, fmt.Errorf("epochdb: compact: %w", err)
	}
	return info, nil
}

// diskUsage returns the disk space of the whole store and of its live table
// files.
func (db *DB) diskUsage() (disk, tables uint64) {
	m := db.pdb.Metrics()
	return m.DiskSpaceUsage(), m.Table.Local.LiveSize
}
