package epochdb

import "github.com/cockroachdb/pebble/v2/vfs"

// WithoutWALPreallocation makes the store opened with o allocate its
// write-ahead log as it grows, instead of reserving Pebble's default of 110%
// of MemTableSize (about 70 MiB) on disk for every log file up front. A new
// store then takes kilobytes instead of ~70 MiB.
//
// The cost: a log file that grows changes its size on every sync, so an
// fsync also commits the file's metadata (on ext4 and XFS, a journal write).
// With SyncWrites, where every write waits for an fsync, that makes each
// group commit slower; with the periodic sync (the default) it is one extra
// metadata commit per SyncInterval. It has no effect on an InMemory store.
// It returns o.
func (o *Options) WithoutWALPreallocation() *Options {
	if !o.InMemory && o.fs == nil {
		o.fs = noPreallocFS{vfs.Default}
	}
	return o
}

// noPreallocFS is a filesystem whose files ignore Pebble's preallocation
// requests (which Pebble makes for its log files only).
type noPreallocFS struct{ vfs.FS }

func (fs noPreallocFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return wrapNoPrealloc(f, err)
}

func (fs noPreallocFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return wrapNoPrealloc(f, err)
}

func (fs noPreallocFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return wrapNoPrealloc(f, err)
}

func wrapNoPrealloc(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return noPreallocFile{f}, nil
}

type noPreallocFile struct{ vfs.File }

func (noPreallocFile) Preallocate(offset, length int64) error { return nil }
