package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/epochdb/epochdb"
	"github.com/spf13/cobra"
)

// runBackupCmd runs one of the backup subcommands with args and returns its
// output and error.
func runBackupCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "epoch", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newBackupCommands()...)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestBackupCommands_RoundTrip(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	db, err := epochdb.Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if err := db.Set([]byte(k), []byte("v"+k), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "x.backup")

	out, err := runBackupCmd(t, "backup", "--dir", src, "--out", file)
	if err != nil || !strings.Contains(out, "backed up 3 keys") {
		t.Fatalf("backup: %q, %v", out, err)
	}
	out, err = runBackupCmd(t, "verify", file)
	if err != nil || !strings.Contains(out, "OK: 3 keys") {
		t.Fatalf("verify: %q, %v", out, err)
	}
	dst := filepath.Join(tmp, "dst")
	out, err = runBackupCmd(t, "restore", "--in", file, "--dir", dst)
	if err != nil || !strings.Contains(out, "restored 3 keys") {
		t.Fatalf("restore: %q, %v", out, err)
	}
	// Again into the same directory: refused without --replace.
	if _, err := runBackupCmd(t, "restore", "--in", file, "--dir", dst); err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("restore into a non-empty dir: %v", err)
	}
	if _, err := runBackupCmd(t, "restore", "--in", file, "--dir", dst, "--replace"); err != nil {
		t.Fatalf("restore --replace: %v", err)
	}
	wantValue(t, dst, "b", "vb")
}

func TestBackupCommands_Failures(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.backup")
	if err := os.WriteFile(bad, []byte("not a backup"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runBackupCmd(t, "verify", bad); err == nil || !strings.Contains(err.Error(), "not an epochdb backup") {
		t.Fatalf("verify of a bad file: %v", err)
	}
	dst := filepath.Join(tmp, "dst")
	if _, err := runBackupCmd(t, "restore", "--in", bad, "--dir", dst); err == nil || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("restore of a bad file: %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a failed restore created %s: %v", dst, err)
	}
	if _, err := runBackupCmd(t, "backup", "--dir", filepath.Join(tmp, "nope"), "--out", filepath.Join(tmp, "o")); err == nil ||
		!strings.Contains(err.Error(), "no EpochDB store") {
		t.Fatalf("backup of a missing dir: %v", err)
	}
	if _, err := runBackupCmd(t, "backup", "--dir", tmp); err == nil {
		t.Fatal("backup without --out succeeded")
	}
}
