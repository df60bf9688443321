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
	"strconv"
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
		if n, err := strconv.ParseUint(os.Getenv("EPOCH_TEST_NOFILE"), 10, 64); err == nil {
			// A lowered descriptor limit (see TestServe_LowDescriptorLimit).
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
				panic(err)
			}
		}
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"epoch"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(runTests(m))
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
	base := serveOptions{syncInterval: 100 * time.Millisecond, maxDisk: "0", maxmemoryPolicy: "noeviction", lfuHalfLife: time.Hour, pruneInterval: time.Minute, eventLogMaxEntries: 1000,
		cacheSize: "64mb", memtableSize: "64mb"}
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
	o.cacheSize, o.memtableSize = "256mb", "32mb"
	opts, err := dbOptions(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.EvictionPolicy != epochdb.EvictAllKeysLFU || opts.MaxDiskBytes != 1<<30 || opts.MaxKeys != 1000 {
		t.Errorf("lifecycle options: %+v", opts)
	}
	if opts.CacheSize != 256<<20 || opts.MemTableSize != 32<<20 {
		t.Errorf("engine sizes: cache %d memtable %d", opts.CacheSize, opts.MemTableSize)
	}
	for _, bad := range []func(*serveOptions){
		func(o *serveOptions) { o.appendfsync = "sometimes" },
		func(o *serveOptions) { o.maxmemoryPolicy = "volatile-ttl" },
		func(o *serveOptions) { o.maxDisk = "lots" },
		func(o *serveOptions) { o.cacheSize = "0" },
		func(o *serveOptions) { o.memtableSize = "100kb" },
		func(o *serveOptions) { o.memtableSize = "8gb" },
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
		pruneInterval: time.Minute, eventLogMaxEntries: 1_000_000,
		maxmemory: get("maxmemory"), queryBufLimit: get("client-query-buffer-limit"),
		cacheSize: get("cache-size"), memtableSize: get("memtable-size"),
		outputBufLimit: get("client-output-buffer-limit"),
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

// TestConfig_EventLogAndBackupFlags: event-log and event-log-values take
// yes/no (as flags, EPOCH_* variables and config file lines), the
// retention options and backup-dir map onto the library and the server.
func TestConfig_EventLogAndBackupFlags(t *testing.T) {
	cmd := newServeCmd()
	fs := cmd.Flags()
	must(t, fs.Parse([]string{"--event-log", "yes", "--event-log-max-age=1h"}))
	file := map[string]string{"event-log-max-entries": "500", "backup-dir": "/srv/backups", "event-log": "no"}
	env := map[string]string{"EPOCH_EVENT_LOG_VALUES": "yes"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	must(t, applySources(fs, file, lookup, "config"))
	for name, want := range map[string]string{
		"event-log": "yes", "event-log-values": "yes", "event-log-max-entries": "500",
		"event-log-max-age": "1h0m0s", "backup-dir": "/srv/backups",
	} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, bad := range [][]string{{"--event-log", "maybe"}, {"--event-log"}, {"--event-log-values=2"}} {
		if err := newServeCmd().Flags().Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, ok := range []string{"yes", "no", "true", "false", "YES", "on", "off", "1", "0"} {
		var v yesNoValue
		must(t, v.Set(ok))
	}

	o := testOptions(t)
	o.eventLog, o.eventLogValues, o.eventLogMaxEntries, o.eventLogMaxAge = true, true, 500, time.Hour
	opts, err := dbOptions(o, nil)
	must(t, err)
	if !opts.EventLog || !opts.EventLogValues || opts.EventLogMaxEntries != 500 || opts.EventLogMaxAge != time.Hour {
		t.Errorf("event log options: %+v", opts)
	}
	for _, bad := range []func(*serveOptions){
		func(o *serveOptions) { o.eventLog = false }, // values without the log
		func(o *serveOptions) { o.eventLogMaxEntries = 0 },
		func(o *serveOptions) { o.eventLogMaxAge = -time.Second },
	} {
		o := o
		bad(&o)
		if _, err := dbOptions(o, nil); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}

// TestServe_EventsBackupAndShutdown runs epoch serve in-process with the
// event log on: CONFIG GET shows the settings, EPOCH.BACKUP writes into the
// default directory beside the data directory, EPOCH.EVENTS reads the log,
// and SHUTDOWN stops the server although a client is blocked in
// EPOCH.EVENTS BLOCK 0.
func TestServe_EventsBackupAndShutdown(t *testing.T) {
	o := testOptions(t)
	o.eventLog, o.maxKeys, o.maxmemoryPolicy = true, 1, "allkeys-lru"
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(context.Background(), o, io.Discard, func(r, h net.Addr) { addrs <- [2]net.Addr{r, h} })
	}()
	a := <-addrs
	ctx := context.Background()
	c := newClient(t, a[0].String())
	cfg, err := c.ConfigGet(ctx, "*").Result()
	must(t, err)
	abs, err := filepath.Abs(o.dir)
	must(t, err)
	for name, want := range map[string]string{
		"event-log": "yes", "event-log-values": "no", "event-log-max-entries": "1000000",
		"event-log-max-age": "0s", "backup-dir": abs + "-backups",
	} {
		if cfg[name] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", name, cfg[name], want)
		}
	}
	path, err := c.Do(ctx, "EPOCH.BACKUP").Text()
	must(t, err)
	if filepath.Dir(path) != abs+"-backups" {
		t.Errorf("EPOCH.BACKUP wrote %s", path)
	}
	f, err := os.Open(path)
	must(t, err)
	_, err = epochdb.VerifyBackup(f)
	f.Close()
	must(t, err)

	must(t, c.Set(ctx, "a", "1", 0).Err())
	must(t, c.Set(ctx, "b", "2", 0).Err()) // evicts a
	r, err := c.Do(ctx, "EPOCH.EVENTS").Slice()
	must(t, err)
	if evs := r[1].([]any); len(evs) != 1 || evs[0].(map[any]any)["key"] != "a" {
		t.Errorf("EPOCH.EVENTS = %v", r)
	}

	blocked := newClient(t, a[0].String(), func(o *redis.Options) { o.ReadTimeout = -1 })
	berr := make(chan error, 1)
	go func() { berr <- blocked.Do(ctx, "EPOCH.EVENTS", "FROM", "$", "BLOCK", "0").Err() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.Info(ctx, "clients").Result()
		must(t, err)
		if strings.Contains(info, "blocked_clients:1\r\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client did not block: %s", info)
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := c.Shutdown(ctx).Err(); err != nil {
		t.Errorf("SHUTDOWN: %v", err)
	}
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("SHUTDOWN waited for the blocked client")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if err := <-berr; err == nil {
		t.Error("the blocked client got no error at shutdown")
	}
}

// TestServe_EventLogOff: without --event-log, EPOCH.EVENTS says how to
// turn it on.
func TestServe_EventLogOff(t *testing.T) {
	o := testOptions(t)
	addrs := make(chan [2]net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, o, io.Discard, func(r, h net.Addr) { addrs <- [2]net.Addr{r, h} })
	}()
	a := <-addrs
	err := newClient(t, a[0].String()).Do(context.Background(), "EPOCH.EVENTS").Err()
	if err == nil || err.Error() != "ERR the event log is off (start epoch serve with --event-log yes)" {
		t.Errorf("EPOCH.EVENTS with the log off: %v", err)
	}
	cancel()
	must(t, <-done)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// --debug-clock and --debug-trace, test hooks, exist but are not listed
// in the help, and are off by default.
func TestServe_DebugHooksAreHidden(t *testing.T) {
	for name, off := range map[string]string{"debug-clock": "false", "debug-trace": ""} {
		f := newServeCmd().Flags().Lookup(name)
		if f == nil || !f.Hidden || f.DefValue != off {
			t.Fatalf("%s flag: %+v, want a hidden flag, off by default", name, f)
		}
		if strings.Contains(newServeCmd().UsageString(), name) {
			t.Fatalf("serve's usage lists --%s", name)
		}
	}
}
