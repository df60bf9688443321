package server

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEpochBackup_StaysInsideBackupDir: names that are absolute, climb out
// with "..", or lead out through a symbolic link are refused with a clear
// error, and nothing is written outside the backup directory.
func TestEpochBackup_StaysInsideBackupDir(t *testing.T) {
	root := t.TempDir()
	backups, outside := filepath.Join(root, "backups"), filepath.Join(root, "outside")
	must(t, os.MkdirAll(backups, 0o755))
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.Symlink(outside, filepath.Join(backups, "link")))
	must(t, os.Symlink(filepath.Join(outside, "f.backup"), filepath.Join(backups, "flink.backup")))
	ts := startServer(t, func(s *Server) { s.BackupDir = backups })
	rc := ts.dial(t)
	eq(t, "SET", rc.do("SET", "k", "* * * * * root evil"), "+OK")
	for _, name := range []string{
		"/tmp/x", outside, "../outside", "x/../../outside", "..", "a/../..",
		"link", "link/sub", "link/f.backup", `..\outside`, "a\x00b",
	} {
		eq(t, "EPOCH.BACKUP "+strconv.Quote(name), rc.do("EPOCH.BACKUP", name), "-"+errBackupOutside)
	}
	eq(t, "a link named as the file", rc.do("EPOCH.BACKUP", "flink.backup"),
		"-ERR backup failed: flink.backup exists (a backup never replaces a file)")
	entries, err := os.ReadDir(outside)
	must(t, err)
	if len(entries) != 0 {
		t.Errorf("files written outside the backup directory: %v", entries)
	}
	// Inside: a sub-folder with a harmless "..", and a named file.
	got := rc.do("EPOCH.BACKUP", "a/../b")
	if p, err := strconv.Unquote(got); err != nil || filepath.Dir(p) != filepath.Join(backups, "b") {
		t.Errorf("EPOCH.BACKUP a/../b = %s", got)
	}
	eq(t, "named file", rc.do("EPOCH.BACKUP", "c/d.backup"), strconv.Quote(filepath.Join(backups, "c", "d.backup")))
	eq(t, "empty file name", rc.do("EPOCH.BACKUP", "c/.backup"), "-ERR the backup file name is empty before .backup")
	ts.healthyKey(t, "k")
}

// TestEpochBackup_Retain: with BackupRetain n, only the newest n backup
// files under the backup directory (sub-folders included) remain; other
// files are left alone.
func TestEpochBackup_Retain(t *testing.T) {
	backups := t.TempDir()
	must(t, os.WriteFile(filepath.Join(backups, "notes.txt"), []byte("keep"), 0o600))
	ts := startServer(t, func(s *Server) { s.BackupDir = backups; s.BackupRetain = 3 })
	rc := ts.dial(t)
	var paths []string
	for i, name := range []string{"", "", "sub", "n1.backup", "", "sub/n2.backup"} {
		args := []string{"EPOCH.BACKUP"}
		if name != "" {
			args = append(args, name)
		}
		p, err := strconv.Unquote(rc.do(args...))
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		paths = append(paths, p)
		ts.clock.Advance(time.Second) // distinct names for the generated files
		// Distinct modification times (pruning orders by them), in order
		// of writing, whatever the file system's timestamp granularity.
		mt := time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
		must(t, os.Chtimes(p, mt, mt))
	}
	var left []string
	must(t, filepath.WalkDir(backups, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return err
	}))
	slices.Sort(left)
	want := append([]string{filepath.Join(backups, "notes.txt")}, paths[3:]...)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("files left:\n%s\nwant:\n%s", strings.Join(left, "\n"), strings.Join(want, "\n"))
	}
	eq(t, "CONFIG GET backup-retain", rc.do("CONFIG", "GET", "backup-retain"), `["backup-retain" "3"]`)
}

// healthyKey checks that the server answers and key is still there.
func (ts *testServer) healthyKey(t *testing.T, key string) {
	t.Helper()
	rc := ts.dial(t)
	eq(t, "PING", rc.do("PING"), "+PONG")
	eq(t, "EXISTS "+key, rc.do("EXISTS", key), ":1")
}

// FuzzBackupTarget: whatever name a client gives, backupTarget either
// refuses it or resolves it to a directory inside the backup directory.
func FuzzBackupTarget(f *testing.F) {
	for _, s := range []string{"", "a", "a/b", "a/../b", "../x", "/abs", "x/../../y", "a/b.backup",
		".backup", "a/.backup", "link/x", "..", ".", "a//b", "a\x00b", `a\..\b`, "link/../../x.backup"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		root := t.TempDir()
		base := filepath.Join(root, "backups")
		must(t, os.MkdirAll(base, 0o755))
		must(t, os.Symlink(root, filepath.Join(base, "link")))
		dir, file, err := backupTarget(base, name)
		if err != nil {
			return
		}
		realBase, err := filepath.EvalSymlinks(base)
		must(t, err)
		if !within(realBase, dir) {
			t.Fatalf("backupTarget(%q) = %q, outside %q", name, dir, realBase)
		}
		if strings.ContainsAny(file, `/\`) || file != "" && !strings.HasSuffix(file, backupSuffix) {
			t.Fatalf("backupTarget(%q) file %q", name, file)
		}
	})
}
