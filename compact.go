package epochdb

import (
	"context"
	"fmt"
	"time"
)

// Compact compacts the whole store now: Pebble rewrites its files into the
// bottom level, dropping deleted, overwritten and expired-and-swept data, so
// that the disk space they held is returned without waiting for background
// compactions. It returns the disk space in use (Stats.DiskBytes) before and
// after. The store keeps serving meanwhile; the compaction costs I/O in
// proportion to the data stored. ctx cancels it.
func (db *DB) Compact(ctx context.Context) (before, after uint64, err error) {
	if err := db.enter(); err != nil {
		return 0, 0, err
	}
	defer db.leave()
	before = db.pdb.Metrics().DiskSpaceUsage()
	if err := db.pdb.Flush(); err != nil {
		return before, before, fmt.Errorf("epochdb: compact: flush: %w", err)
	}
	// Every keyspace prefix is a byte below 0xff.
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return before, db.pdb.Metrics().DiskSpaceUsage(), fmt.Errorf("epochdb: compact: %w", err)
	}
	// Pebble deletes the replaced files in the background: give it a moment
	// so that "after" shows the space returned.
	for i := 0; i < 200 && db.pdb.Metrics().Table.Local.ObsoleteSize > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return before, db.pdb.Metrics().DiskSpaceUsage(), nil
}
