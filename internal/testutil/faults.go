package testutil

import (
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// FaultFS returns an in-memory filesystem (for Options.FS) whose operations
// that match fail with errorfs.ErrInjected while the toggle is on.
func FaultFS(match func(op errorfs.Op) bool) (*errorfs.FS, *errorfs.Toggle) {
	tg := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if match(op) {
			return errorfs.ErrInjected
		}
		return nil
	})}
	return errorfs.Wrap(vfs.NewMem(), tg), tg
}

// LogWrites matches every write to Pebble's write-ahead log: what a full
// disk or a failing device gives.
func LogWrites(op errorfs.Op) bool {
	return strings.HasSuffix(op.Path, ".log") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite
}
