package epochdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb/internal/backupfmt"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// Store images. A replica that falls behind the replicated log's
// compaction catches up from an image of another node's store: every
// key-value pair of every keyspace (data, meta, ttl index, collection
// members, field index, event log, system records, the applied index
// among them) exactly as stored, in the backup file's container (a
// header, zstd blocks each with a CRC-32C, a trailer with the whole
// file's hash) with the header's image flag. A logical backup would not
// do: it leaves out expired keys a sweep has not removed yet, renumbers
// collections and holds no event log, and a replica must hold exactly what
// the others hold for the next replicated batch to apply the same way.

// ErrInstallingImage is returned by calls made while InstallImage swaps
// the store's contents (for a moment, once the image is verified).
var ErrInstallingImage = errors.New("epochdb: the store's contents are being replaced by an image")

// ImageInfo describes a store image written or installed.
type ImageInfo struct {
	Entries      int64         // key-value pairs of the store
	Bytes        int64         // size of the image
	AppliedIndex uint64        // the replicated log's index the image is at (0: none applied)
	Duration     time.Duration // time taken to write or install it
}

// Image is a consistent, read-only view of the whole store, taken at one
// instant, to be written out as a store image (WriteTo) and installed on
// another node (InstallImage). It holds a Pebble snapshot: Close it. Close
// of the DB waits for open images. An Image is not safe for concurrent
// use.
type Image struct {
	db      *DB
	snap    *pebble.Snapshot
	applied uint64
	once    sync.Once
}

// Image takes a view of the store as it is now. It takes no lock: every
// write reaches the engine as one atomic batch, and on a replicated DB
// each batch carries its log index, so the view is always at exactly one
// applied index (AppliedIndex). Reads tracked and not yet written are not
// in it; on a replicated DB they are not part of the replicated state.
func (db *DB) Image() (*Image, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	snap := db.pdb.NewSnapshot()
	applied, err := readApplied(snap)
	if err != nil {
		_ = snap.Close()
		db.leave()
		return nil, err
	}
	return &Image{db: db, snap: snap, applied: applied}, nil
}

// AppliedIndex returns the index of the last replicated log entry the
// image holds (0 if none).
func (im *Image) AppliedIndex() uint64 { return im.applied }

// WriteTo writes the image to w, streaming (memory does not grow with the
// store's size), and returns the number of bytes written.
func (im *Image) WriteTo(w io.Writer) (int64, error) {
	bw, err := backupfmt.NewWriter(w, backupfmt.Header{CreatedAt: im.db.nowMs(), SourceFormat: formatVersion, Image: true})
	if err != nil {
		return 0, err
	}
	it, err := im.snap.NewIter(nil)
	if err != nil {
		_, _ = bw.Close()
		return 0, fmt.Errorf("epochdb: image: %w", err)
	}
	rec := backupfmt.Record{Type: backupfmt.TypeEntry}
	for it.First(); it.Valid(); it.Next() {
		rec.Key = it.Key()
		if rec.Value, err = it.ValueAndErr(); err == nil {
			err = bw.Add(&rec)
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		err = it.Error()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if _, cerr := bw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return bw.Written(), fmt.Errorf("epochdb: image: %w", err)
	}
	return bw.Written(), nil
}

// Close releases the image. Later calls do nothing.
func (im *Image) Close() error {
	var err error
	im.once.Do(func() {
		err = im.snap.Close()
		im.db.leave()
	})
	return err
}

// imageSSTBytes is the size at which InstallImage starts a new sstable.
const imageSSTBytes = 64 << 20

// installDrainTimeout bounds how long InstallImage waits for calls in
// progress (an open image being written out among them) before it gives
// up, leaving the store as it was.
const installDrainTimeout = 60 * time.Second

// InstallImage replaces the whole contents of the store with the image
// read from r (written by Image.WriteTo on another node's store): the
// store then holds exactly what that one held, applied index, event log
// and counters included, and what the DB keeps in memory is reloaded from
// it (key counters, event sequence, applied index; the record cache starts
// empty and every Watch reports a change).
//
// The image is read and verified to its end — every block's checksum, the
// order of the keys, the trailer's counts and whole-file hash, the store's
// format version — into sstables beside the store while the DB serves as
// usual; only then are calls held off (they fail with ErrInstallingImage
// while those in progress end), and the sstables replace the contents in
// one atomic step of the engine (an ingestion that excises every existing
// key). A damaged or truncated image, or any failure before that step,
// leaves the store exactly as it was.
func (db *DB) InstallImage(r io.Reader) (ImageInfo, error) {
	start := time.Now()
	if err := db.enter(); err != nil {
		return ImageInfo{}, err
	}
	paths, info, err := db.buildImage(r)
	db.leave()
	fs := db.fs()
	defer func() {
		for _, p := range paths {
			_ = fs.Remove(p) // ingested (linked) or abandoned
		}
	}()
	if err == nil {
		err = db.swapContents(paths)
	}
	if err != nil {
		db.log.Error("epochdb: installing an image failed; the store is unchanged", "err", err)
		return ImageInfo{}, err
	}
	info.Duration = time.Since(start)
	db.log.Info("epochdb: image installed", "entries", info.Entries, "bytes", info.Bytes,
		"applied_index", info.AppliedIndex, "keys", db.keys.Load(), "duration", info.Duration)
	return info, nil
}

// fs returns the file system the store lives on.
func (db *DB) fs() vfs.FS {
	if db.opts.FS != nil {
		return db.opts.FS
	}
	return vfs.Default
}

// buildImage reads and verifies a whole image from r into sstables in the
// store's directory and returns their paths (every one written, also on
// error, for the caller to remove).
func (db *DB) buildImage(r io.Reader) (paths []string, info ImageInfo, err error) {
	br, err := backupfmt.NewReader(r)
	if err != nil {
		return nil, ImageInfo{}, err
	}
	defer br.Close()
	if !br.Header().Image {
		return nil, ImageInfo{}, fmt.Errorf("%w: a logical backup, not a store image (use Restore)", ErrBackupVersion)
	}
	fs, wo := db.fs(), db.sstWriterOptions()
	var sink *sstSink
	defer func() {
		if sink != nil {
			sink.abort()
		}
	}()
	formatKey, appliedKey := keyspace.SysKey(sysFormat), keyspace.SysKey(sysApplied)
	sawFormat := false
	for {
		rec, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return paths, ImageInfo{}, err
		}
		k, v := rec.Key, rec.Value
		switch {
		case k[0] == 0 || k[0] == 0xff:
			return paths, ImageInfo{}, fmt.Errorf("%w: image entry %q is outside the store's keyspaces", ErrBackupCorrupt, k)
		case bytes.Equal(k, formatKey):
			if n, err := keyspace.DecodeCounter(v); err != nil || n != formatVersion {
				return paths, ImageInfo{}, fmt.Errorf("%w: the image's store is of on-disk format %d (%v), this build reads %d",
					ErrBackupVersion, n, err, formatVersion)
			}
			sawFormat = true
		case bytes.Equal(k, appliedKey):
			if len(v) != 8 {
				return paths, ImageInfo{}, fmt.Errorf("%w: the image's applied index is %d bytes", ErrBackupCorrupt, len(v))
			}
			info.AppliedIndex = binary.BigEndian.Uint64(v)
		}
		if sink == nil {
			p := fs.PathJoin(db.dir, fmt.Sprintf("epochdb-image-%d.sst", len(paths)))
			_ = fs.Remove(p) // left by an install that crashed
			if sink, err = newSSTSink(fs, p, wo); err != nil {
				return paths, ImageInfo{}, err
			}
			paths = append(paths, p)
		}
		if err := sink.set(k, v); err != nil {
			return paths, ImageInfo{}, err
		}
		info.Entries++
		if sink.w.Raw().EstimatedSize() >= imageSSTBytes {
			_, err := sink.finish()
			sink = nil
			if err != nil {
				return paths, ImageInfo{}, err
			}
		}
	}
	if sink != nil {
		_, err := sink.finish()
		sink = nil
		if err != nil {
			return paths, ImageInfo{}, err
		}
	}
	if !sawFormat {
		return paths, ImageInfo{}, fmt.Errorf("%w: the image holds no store format record", ErrBackupCorrupt)
	}
	info.Bytes = br.Offset()
	return paths, info, nil
}

// swapContents replaces everything in the store with the sstables at
// paths, holding calls off meanwhile, and reloads the DB's memory.
func (db *DB) swapContents(paths []string) error {
	db.closeMu.Lock()
	defer db.closeMu.Unlock()
	if db.closed.Load() {
		return ErrClosed
	}
	if err := db.engineErr(); err != nil || db.pdb == nil {
		return fmt.Errorf("epochdb: install an image: the storage engine failed: %w", err)
	}
	db.installing.Store(true)
	defer db.installing.Store(false)
	deadline := time.Now().Add(installDrainTimeout)
	for db.inflight.Load() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("epochdb: install an image: calls in progress did not end within %v", installDrainTimeout)
		}
		time.Sleep(100 * time.Microsecond)
	}
	db.stopBackground()
	defer db.startBackground()
	// Every key of the store starts with its keyspace's letter: the span
	// covers them all.
	span := pebble.KeyRange{Start: []byte{0}, End: []byte{0xff}}
	if _, err := db.pdb.IngestAndExcise(context.Background(), paths, nil, nil, span); err != nil {
		return fmt.Errorf("epochdb: install an image: ingest: %w", err)
	}
	if err := db.reload(); err != nil {
		return fmt.Errorf("epochdb: install an image: reload: %w", err)
	}
	return nil
}

// readApplied reads the applied index stored in r (0 if none).
func readApplied(r pebble.Reader) (uint64, error) {
	v, closer, err := r.Get(keyspace.SysKey(sysApplied))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: applied index of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
