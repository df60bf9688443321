package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb"
)

// What the commands know about a data directory before they open it: is it
// an EpochDB store (Pebble's files), and does a running server hold it
// (Pebble's LOCK file, which the server keeps locked while it runs).

// dirState describes a directory a command is pointed at.
type dirState struct {
	exists bool
	store  bool     // holds Pebble's manifest: an EpochDB store
	names  []string // its entries, sorted
}

// inspectDir reads dir without changing it.
func inspectDir(dir string) (dirState, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return dirState{}, nil
	}
	if err != nil {
		return dirState{}, err
	}
	st := dirState{exists: true}
	for _, e := range ents {
		n := e.Name()
		st.names = append(st.names, n)
		if n == "CURRENT" || strings.HasPrefix(n, "MANIFEST-") || strings.HasPrefix(strings.ToLower(n), "marker.manifest.") {
			st.store = true
		}
	}
	sort.Strings(st.names)
	return st, nil
}

// requireStore refuses a directory that is not an EpochDB store, so that a
// mistyped path never gets a new store created in it.
func requireStore(dir string) error {
	st, err := inspectDir(dir)
	switch {
	case err != nil:
		return fmt.Errorf("no EpochDB store at %s: %w", dir, err)
	case !st.exists:
		return fmt.Errorf("no EpochDB store at %s: the directory does not exist", dir)
	case len(st.names) == 0:
		return fmt.Errorf("no EpochDB store at %s: the directory is empty", dir)
	case !st.store:
		return fmt.Errorf("%s is not an EpochDB store (it holds %s)", dir, describeEntries(st.names))
	}
	return nil
}

// describeEntries names a few of a directory's entries for a message.
func describeEntries(names []string) string {
	const show = 5
	s := strings.Join(names[:min(len(names), show)], ", ")
	if len(names) > show {
		s += fmt.Sprintf(" and %d more", len(names)-show)
	}
	return fmt.Sprintf("%d entries: %s", len(names), s)
}

// errHeld is the message for a store a running server holds.
func errHeld(dir string) error {
	return fmt.Errorf("another epoch serve holds %s (stop it first, or work online through the server)", dir)
}

// lockStore takes the store's LOCK file as Pebble does, so that no server
// can open dir meanwhile; it fails with errHeld when a running server holds
// it. dir must be a store (the LOCK file is created if missing). The
// caller closes the lock; Pebble refuses to open a store whose lock this
// process holds, so close it before opening dir.
func lockStore(dir string) (io.Closer, error) {
	l, err := vfs.Default.Lock(filepath.Join(dir, "LOCK"))
	if err != nil {
		if heldErr(err) {
			return nil, errHeld(dir)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return l, nil
}

// checkNotHeld fails with errHeld when a running server holds the store in
// dir; a directory that is not a store passes.
func checkNotHeld(dir string) error {
	st, err := inspectDir(dir)
	if err != nil || !st.store {
		return err
	}
	l, err := lockStore(dir)
	if err != nil {
		return err
	}
	return l.Close()
}

// heldErr reports whether err is Pebble's (or fcntl's) "locked by another
// process".
func heldErr(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "resource temporarily unavailable") ||
		strings.Contains(err.Error(), "lock held by current process")
}

// openOffline opens the store in dir for a command that writes (backup):
// dir must be a store that no server holds.
func openOffline(dir string, opts *epochdb.Options) (*epochdb.DB, error) {
	if err := requireStore(dir); err != nil {
		return nil, err
	}
	if err := checkNotHeld(dir); err != nil {
		return nil, err
	}
	db, err := epochdb.Open(dir, opts)
	if err != nil && heldErr(err) {
		return nil, errHeld(dir)
	}
	return db, err
}
