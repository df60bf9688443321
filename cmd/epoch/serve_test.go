package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// TestMain lets a test run this binary as the epoch command: with
// EPOCH_TEST_MAIN=1 it runs main with the arguments after "--".
func TestMain(m *testing.M) {
	if os.Getenv("EPOCH_TEST_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"epoch"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestConfig_ParseFile(t *testing.T) {
	in := `# comment
addr 127.0.0.1:7000
requirepass "with space"
REQUIREPASS 'last wins'
timeout	30
http-addr ""

protected-mode no
`
	m, err := parseConfigFile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"addr": "127.0.0.1:7000", "requirepass": "last wins", "timeout": "30", "http-addr": "", "protected-mode": "no",
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, want)
		}
	}
}

// TestConfig_Precedence: flags win over EPOCH_* variables, which win over
// the config file, which wins over the defaults.
func TestConfig_Precedence(t *testing.T) {
	cmd := newServeCmd()
	fs := cmd.Flags()
	if err := fs.Parse([]string{"--addr", "127.0.0.1:1111"}); err != nil {
		t.Fatal(err)
	}
	file := map[string]string{"addr": "127.0.0.1:3333", "requirepass": "fromfile", "timeout": "7", "maxclients": "5", "protected-mode": "no"}
	env := map[string]string{"EPOCH_ADDR": "127.0.0.1:2222", "EPOCH_REQUIREPASS": "fromenv"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := applySources(fs, file, lookup, "config"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"addr": "127.0.0.1:1111", "requirepass": "fromenv", "timeout": "7", "maxclients": "5",
		"protected-mode": "false", "dir": "./epoch-data", "appendfsync": "everysec",
	} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if err := applySources(newServeCmd().Flags(), map[string]string{"nosuch": "1"}, lookup); err == nil {
		t.Error("an unknown config file parameter was accepted")
	}
	if err := applySources(newServeCmd().Flags(), map[string]string{"timeout": "abc"}, lookup); err == nil ||
		!strings.Contains(err.Error(), "timeout") {
		t.Errorf("bad value: %v", err)
	}
	if got := envName("http-addr"); got != "EPOCH_HTTP_ADDR" {
		t.Errorf("envName = %s", got)
	}
}

func TestDBOptions(t *testing.T) {
	base := serveOptions{syncInterval: 100 * time.Millisecond, maxDisk: "0", maxmemoryPolicy: "noeviction", lfuHalfLife: time.Hour, pruneInterval: time.Minute}
	for _, tc := range []struct {
		fsync    string
		sync     bool
		interval time.Duration
	}{{"always", true, 0}, {"everysec", false, 100 * time.Millisecond}, {"no", false, -1}} {
		o := base
		o.appendfsync = tc.fsync
		opts, err := dbOptions(o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if opts.SyncWrites != tc.sync || opts.SyncInterval != tc.interval {
			t.Errorf("appendfsync %s: SyncWrites %v SyncInterval %v", tc.fsync, opts.SyncWrites, opts.SyncInterval)
		}
	}
	o := base
	o.appendfsync, o.maxmemoryPolicy, o.maxDisk, o.maxKeys = "everysec", "allkeys-lfu", "1gb", 1000
	opts, err := dbOptions(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.EvictionPolicy != epochdb.EvictAllKeysLFU || opts.MaxDiskBytes != 1<<30 || opts.MaxKeys != 1000 {
		t.Errorf("lifecycle options: %+v", opts)
	}
	for _, bad := range []func(*serveOptions){
		func(o *serveOptions) { o.appendfsync = "sometimes" },
		func(o *serveOptions) { o.maxmemoryPolicy = "volatile-ttl" },
		func(o *serveOptions) { o.maxDisk = "lots" },
	} {
		o := base
		o.appendfsync = "everysec"
		bad(&o)
		if _, err := dbOptions(o, nil); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}

func testOptions(t *testing.T) serveOptions {
	cmd := newServeCmd()
	var o serveOptions
	// Start from the flag defaults.
	fs := cmd.Flags()
	get := func(n string) string { return fs.Lookup(n).DefValue }
	o = serveOptions{
		dir: t.TempDir(), addr: "127.0.0.1:0", httpAddr: "127.0.0.1:0", appendfsync: get("appendfsync"),
		syncInterval: 100 * time.Millisecond, maxclients: 100, protoMaxBulkLen: get("proto-max-bulk-len"),
		protectedMode: true, slowlogSlower: 10000, slowlogMaxLen: 128, logLevel: "error", logFormat: "text",
		shutdownTimeout: 10 * time.Second, maxDisk: "0", maxmemoryPolicy: "noeviction", lfuHalfLife: time.Hour,
		pruneInterval: time.Minute,
	}
	return o
}

func newClient(t *testing.T, addr string, conf ...func(*redis.Options)) *redis.Client {
	o := &redis.Options{
		Addr: addr, Protocol: 3, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	for _, f := range conf {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestServe_ShutdownCommand runs the server in-process: it serves RESP and
// /healthz, SHUTDOWN stops it cleanly, and the data is on disk.
func TestServe_ShutdownCommand(t *testing.T) {
	o := testOptions(t)
	o.requirepass = "pw"
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(context.Background(), o, io.Discard, func(r, h net.Addr) { addrs <- [2]net.Addr{r, h} })
	}()
	a := <-addrs
	c := newClient(t, a[0].String(), func(o *redis.Options) { o.Password = "pw" })
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ConfigGet(ctx, "maxmemory-policy").Result(); err != nil || got["maxmemory-policy"] != "noeviction" {
		t.Errorf("CONFIG GET maxmemory-policy = %v, %v", got, err)
	}
	resp, err := http.Get("http://" + a[1].String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("/healthz = %d %q", resp.StatusCode, body)
	}
	// SHUTDOWN closes the connection without a reply (go-redis reports
	// that as success).
	if err := c.Shutdown(ctx).Err(); err != nil {
		t.Errorf("SHUTDOWN: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runServe: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
	db, err := epochdb.Open(o.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := db.Get(append([]byte{0}, "k"...))
	if err != nil || string(v) != "v" {
		t.Errorf("after SHUTDOWN: %q, %v", v, err)
	}
}

func TestServe_Refusals(t *testing.T) {
	o := testOptions(t)
	o.addr = "0.0.0.0:0"
	if err := runServe(context.Background(), o, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "without a password") {
		t.Errorf("non-loopback without password: %v", err)
	}
	o = testOptions(t)
	o.tlsCert = "cert.pem"
	if err := runServe(context.Background(), o, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Errorf("TLS cert without key: %v", err)
	}
	o = testOptions(t)
	o.logLevel = "loud"
	if err := runServe(context.Background(), o, io.Discard, nil); err == nil {
		t.Error("bad log level accepted")
	}
}

var listenRE = regexp.MustCompile(`msg="server: listening" addr=(\S+)`)

// TestServe_SIGTERM runs the real binary (this test binary as epoch serve,
// configured by a file and the environment), sends SIGTERM and expects a
// clean exit with status 0.
func TestServe_SIGTERM(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "epoch.conf")
	if err := os.WriteFile(conf, []byte("addr 127.0.0.1:0\nhttp-addr \"\"\nrequirepass frompfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "serve", "--config", conf, "--dir", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "EPOCH_TEST_MAIN=1", "EPOCH_REQUIREPASS=fromenv")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}
	c := newClient(t, a, func(o *redis.Options) { o.Password = "fromenv" }) // the environment beats the file
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		var ee *exec.ExitError
		if errors.As(err, &ee) || err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
