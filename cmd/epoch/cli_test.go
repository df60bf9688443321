package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
)

// The tests in this file run epoch as a user does: the binary built with
// go build into a temporary directory, once per test binary, when a test
// first needs it (so that go test -list and runs of other tests build
// nothing).

var (
	binDir   string // made by runTests, removed after the tests
	binOnce  sync.Once
	binPath  string
	binError error
)

// runTests runs the tests and removes the binary they built.
func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "epoch-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	return m.Run()
}

// epochBin returns the path of the built epoch binary.
func epochBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "epoch")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// epoch runs the binary with args and returns its stdout, stderr and error.
func epoch(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(epochBin(t), args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mustEpoch runs the binary and fails the test if it fails.
func mustEpoch(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := epoch(t, nil, args...)
	if err != nil {
		t.Fatalf("epoch %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// wantFail runs the binary, expects exit status 1 and want in its stderr.
func wantFail(t *testing.T, want string, args ...string) {
	t.Helper()
	_, errOut, err := epoch(t, nil, args...)
	if err == nil || !strings.Contains(errOut, want) {
		t.Fatalf("epoch %s: err %v, stderr %q; want a failure saying %q", strings.Join(args, " "), err, errOut, want)
	}
}

// makeStore creates a store in dir holding the given keys (value "v"+key).
func makeStore(t *testing.T, dir string, opts *epochdb.Options, keys ...string) {
	t.Helper()
	db, err := epochdb.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := db.Set([]byte(k), []byte("v"+k), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// liveServer is an epoch serve process.
type liveServer struct {
	addr string
	stop func() // SIGTERM, then wait for the exit
	mu   sync.Mutex
	log  bytes.Buffer
}

func (s *liveServer) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// startServe runs epoch serve on dir (RESP on a free port, no HTTP) with
// extra arguments and environment, and stops it with SIGTERM at cleanup.
func startServe(t *testing.T, dir string, env []string, args ...string) *liveServer {
	t.Helper()
	cmd := exec.Command(epochBin(t), append([]string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--http-addr", ""}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &liveServer{}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-done
			_ = cmd.Wait()
		})
	}
	t.Cleanup(s.stop)
	select {
	case s.addr = <-addr:
	case <-done:
		t.Fatalf("epoch serve exited:\n%s", s.logText())
	case <-time.After(20 * time.Second):
		t.Fatalf("epoch serve did not start:\n%s", s.logText())
	}
	return s
}

// TestCLI_Safety_NonStore: backup refuses a directory that is not a store
// and creates nothing in it; serve refuses it without --init; restore
// --replace deletes it only with --yes.
func TestCLI_Safety_NonStore(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "photos")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cat.jpg"), []byte("meow"), 0o644); err != nil {
		t.Fatal(err)
	}
	onlyCat := func() {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 || ents[0].Name() != "cat.jpg" {
			t.Fatalf("%s now holds %v", dir, ents)
		}
	}
	wantFail(t, "is not an EpochDB store", "backup", "--dir", dir, "--out", filepath.Join(tmp, "b.backup"))
	onlyCat()
	wantFail(t, "no EpochDB store", "backup", "--dir", filepath.Join(tmp, "missing"), "--out", filepath.Join(tmp, "b.backup"))
	wantFail(t, "pass --init", "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--http-addr", "")
	onlyCat()
	initDir := filepath.Join(tmp, "init")
	if err := os.MkdirAll(initDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(initDir, "README"), []byte("store below"), 0o644); err != nil {
		t.Fatal(err)
	}
	startServe(t, initDir, nil, "--init").stop() // told to: it creates a store there
	if err := requireStore(initDir); err != nil {
		t.Fatalf("serve --init: %v", err)
	}

	src := filepath.Join(tmp, "src")
	makeStore(t, src, nil, "a", "b")
	file := filepath.Join(tmp, "b.backup")
	mustEpoch(t, "backup", "--dir", src, "--out", file)
	wantFail(t, "add --yes", "restore", "--in", file, "--dir", dir, "--replace")
	onlyCat()
	_, errOut, err := epoch(t, nil, "restore", "--in", file, "--dir", dir, "--replace", "--yes")
	if err != nil || !strings.Contains(errOut, "deleting "+dir+", which is not an EpochDB store (1 entries: cat.jpg)") {
		t.Fatalf("restore --replace --yes: %v %q", err, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "cat.jpg")); !os.IsNotExist(err) {
		t.Fatalf("cat.jpg survived the replace: %v", err)
	}
}

// TestCLI_Safety_LiveServer: with a server running on a store, restore,
// backup and a second server refuse it, saying who holds it; the server's
// log warns of an unknown EPOCH_* variable and shows its settings.
func TestCLI_Safety_LiveServer(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	makeStore(t, dir, nil, "a")
	file := filepath.Join(tmp, "b.backup")
	mustEpoch(t, "backup", "--dir", dir, "--out", file)

	srv := startServe(t, dir, []string{"EPOCH_MAXKEY=5"}, "--maxkeys", "10", "--maxmemory-policy", "allkeys-lru")
	held := "another epoch serve holds " + dir
	wantFail(t, held, "restore", "--in", file, "--dir", dir, "--replace")
	wantFail(t, held, "backup", "--dir", dir, "--out", filepath.Join(tmp, "c.backup"))
	wantFail(t, held, "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--http-addr", "")
	// A taken port fails before any store is created.
	fresh := filepath.Join(tmp, "fresh")
	wantFail(t, "address already in use", "serve", "--dir", fresh, "--addr", srv.addr, "--http-addr", "")
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a failed bind left %s: %v", fresh, err)
	}
	log := srv.logText()
	for _, want := range []string{
		`msg="epoch: unknown environment variable ignored (no such setting)" name=EPOCH_MAXKEY`,
		`msg="epoch: settings"`, "maxkeys=10", "maxmemory_policy=allkeys-lru", "appendfsync=everysec", "prune=off", "event_log=off",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("server log lacks %q:\n%s", want, log)
		}
	}
}

// TestCLI_BackupPipeRestore: epoch backup --out - | epoch restore --in -.
func TestCLI_BackupPipeRestore(t *testing.T) {
	tmp := t.TempDir()
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	makeStore(t, src, nil, "a", "b", "c")
	backup := exec.Command(epochBin(t), "backup", "--dir", src, "--out", "-")
	restore := exec.Command(epochBin(t), "restore", "--in", "-", "--dir", dst)
	pipe, err := backup.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	restore.Stdin = pipe
	var bErr, rOut, rErr bytes.Buffer
	backup.Stderr, restore.Stdout, restore.Stderr = &bErr, &rOut, &rErr
	if err := backup.Start(); err != nil {
		t.Fatal(err)
	}
	if err := restore.Start(); err != nil {
		t.Fatal(err)
	}
	if err := backup.Wait(); err != nil {
		t.Fatalf("backup: %v %s", err, bErr.String())
	}
	if err := restore.Wait(); err != nil {
		t.Fatalf("restore: %v %s", err, rErr.String())
	}
	if !strings.Contains(bErr.String(), "backed up 3 keys") || !strings.Contains(rOut.String(), "restored 3 keys") {
		t.Fatalf("backup said %q, restore said %q", bErr.String(), rOut.String())
	}
	wantValue(t, dst, "c", "vc")
}

// wantValue checks that the store in dir holds key with value want.
func wantValue(t *testing.T, dir, key, want string) {
	t.Helper()
	db, err := epochdb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Get([]byte(key)); err != nil || string(v) != want {
		t.Fatalf("%s in %s = %q, %v; want %q", key, dir, v, err, want)
	}
}

// TestCLI_Version: epoch version (table and JSON) and --version.
func TestCLI_Version(t *testing.T) {
	out := mustEpoch(t, "version")
	if !strings.HasPrefix(out, "epoch ") || !strings.Contains(out, "pebble v2.") || !strings.Contains(out, "go1.") {
		t.Fatalf("epoch version: %q", out)
	}
	if got := mustEpoch(t, "--version"); got != out {
		t.Fatalf("--version %q, version %q", got, out)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(mustEpoch(t, "version", "--json")), &v); err != nil || v.Pebble == "" || v.Go == "" || v.Version == "" {
		t.Fatalf("version --json: %+v, %v", v, err)
	}
}

// diskUsage is what du counts for the files of dir: allocated blocks.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Sys().(*syscall.Stat_t).Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// TestCLI_Disk_EmptyStore: a store that epoch serve created and a restored
// empty store each take at most 5 MB (the write-ahead log is not
// preallocated unless asked for or with appendfsync always).
func TestCLI_Disk_EmptyStore(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	srv := startServe(t, dir, nil)
	c := newClient(t, srv.addr)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	if n := diskUsage(t, dir); n > 5<<20 {
		t.Errorf("a store with one key takes %d bytes on disk", n)
	}
	file := filepath.Join(tmp, "b.backup")
	mustEpoch(t, "backup", "--dir", dir, "--out", file)
	restored := filepath.Join(tmp, "restored")
	mustEpoch(t, "restore", "--in", file, "--dir", restored)
	if n := diskUsage(t, restored); n > 5<<20 {
		t.Errorf("a restored store with one key takes %d bytes on disk", n)
	}
}
