package epochdb

import "github.com/cockroachdb/pebble/v2/vfs"

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
