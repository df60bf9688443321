package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb/server"
	"github.com/redis/go-redis/v9"
)

// runServeInProcess runs runServe in-process with o until the test ends, and
// returns the RESP and HTTP addresses.
func runServeInProcess(t *testing.T, o serveOptions) (resp, httpAddr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, o, io.Discard, func(r, h net.Addr) { addrs <- [2]net.Addr{r, h} })
	}()
	var a [2]net.Addr
	select {
	case a = <-addrs:
	case err := <-done:
		cancel()
		t.Fatalf("runServe: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runServe: %v", err)
		}
	})
	if a[1] == nil {
		return a[0].String(), ""
	}
	return a[0].String(), a[1].String()
}

// httpGet sends a GET with the Authorization header auth (none if empty)
// and returns the status code and body.
func httpGet(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	must(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, string(body)
}

// TestHTTP_Auth: with --http-auth every path needs the password, as basic
// auth (any user) or a bearer token, and follows CONFIG SET requirepass.
func TestHTTP_Auth(t *testing.T) {
	o := testOptions(t)
	o.requirepass, o.httpAuth = "s3cret", true
	respAddr, httpAddr := runServeInProcess(t, o)
	base := "http://" + httpAddr
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", 401},
		{"/metrics", "", 401},
		{"/healthz", "Bearer wrong", 401},
		{"/healthz", "Basic d3Jvbmc6d3Jvbmc=", 401}, // wrong:wrong
		{"/healthz", "Bearer s3cret", 200},
		{"/metrics", "Bearer s3cret", 200},
		{"/healthz", "Basic YW55OnMzY3JldA==", 200}, // any:s3cret
	} {
		if code, _ := httpGet(t, base+c.path, c.auth); code != c.want {
			t.Errorf("GET %s with %q = %d, want %d", c.path, c.auth, code, c.want)
		}
	}
	rdb := newClient(t, respAddr, func(o *redis.Options) { o.Password = "s3cret" })
	must(t, rdb.ConfigSet(context.Background(), "requirepass", "new").Err())
	if code, _ := httpGet(t, base+"/healthz", "Bearer s3cret"); code != 401 {
		t.Errorf("old password after CONFIG SET: %d", code)
	}
	if code, _ := httpGet(t, base+"/healthz", "Bearer new"); code != 200 {
		t.Errorf("new password after CONFIG SET: %d", code)
	}
}

// TestHTTP_NonLoopbackNeedsPassword: a non-loopback --http-addr needs the
// password (HTTP auth is then on) or --http-insecure; the refusal comes
// before anything listens.
func TestHTTP_NonLoopbackNeedsPassword(t *testing.T) {
	o := testOptions(t)
	o.httpAddr = "0.0.0.0:0"
	err := runServe(context.Background(), o, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to serve HTTP on 0.0.0.0:0 without a password") {
		t.Errorf("non-loopback HTTP without a password: %v", err)
	}
	for _, c := range []struct {
		addr, pass     string
		auth, insecure bool
		want           bool
	}{
		{"127.0.0.1:9380", "", false, false, false},
		{"localhost:9380", "pw", false, false, false},
		{"127.0.0.1:9380", "pw", true, false, true},
		{"0.0.0.0:9380", "pw", false, false, true},
		{"[::]:9380", "pw", false, false, true},
		{"10.0.0.1:9380", "pw", false, true, false},
		{"0.0.0.0:9380", "", false, true, false},
		{"", "", true, false, false},
	} {
		o := testOptions(t)
		o.httpAddr, o.requirepass, o.httpAuth, o.httpInsecure = c.addr, c.pass, c.auth, c.insecure
		got, err := httpNeedsAuth(o)
		if err != nil || got != c.want {
			t.Errorf("httpNeedsAuth(%+v) = %v, %v; want %v", c, got, err, c.want)
		}
	}
}

// TestServe_RequirepassFile: the password may come from a file (its first
// line) instead of argv; with both, or with an empty file, epoch serve
// refuses to start.
func TestServe_RequirepassFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pass")
	must(t, os.WriteFile(file, []byte("from-file\r\nignored\n"), 0o600))
	o := testOptions(t)
	o.requirepassFile = file
	respAddr, _ := runServeInProcess(t, o)
	ctx := context.Background()
	if err := newClient(t, respAddr, func(o *redis.Options) { o.Password = "from-file" }).Ping(ctx).Err(); err != nil {
		t.Errorf("AUTH with the file's password: %v", err)
	}
	if err := newClient(t, respAddr).Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("without a password: %v", err)
	}

	o = testOptions(t)
	o.requirepassFile, o.requirepass = file, "argv"
	if err := runServe(ctx, o, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "exclusive") {
		t.Errorf("both a password and a file: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	must(t, os.WriteFile(empty, []byte("\n"), 0o600))
	o = testOptions(t)
	o.requirepassFile = empty
	if err := runServe(ctx, o, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty password file: %v", err)
	}
	o = testOptions(t)
	o.requirepassFile = filepath.Join(t.TempDir(), "missing")
	if err := runServe(ctx, o, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "requirepass-file") {
		t.Errorf("a missing password file: %v", err)
	}
}

// TestHTTP_ConnectionCap: httpMaxConns idle keep-alive connections fill the
// HTTP listener; one more is answered 503 and closed, RESP keeps serving,
// and once a connection closes HTTP answers again.
func TestHTTP_ConnectionCap(t *testing.T) {
	o := testOptions(t)
	respAddr, httpAddr := runServeInProcess(t, o)
	request := "GET /healthz HTTP/1.1\r\nHost: epoch\r\n\r\n"
	var idle []net.Conn
	for i := range httpMaxConns {
		nc, err := net.DialTimeout("tcp", httpAddr, 5*time.Second)
		must(t, err)
		t.Cleanup(func() { _ = nc.Close() })
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.WriteString(nc, request)
		must(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		eq(t, "status", resp.StatusCode, 200)
		idle = append(idle, nc) // kept alive, idle
	}
	// The next connection is refused with 503 (HTTP keep-alive disabled so
	// the client does not reuse a pooled connection).
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + httpAddr + "/healthz")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	eq(t, "over the cap", resp.StatusCode, 503)
	eq(t, "body", string(body), "too many connections to HTTP\n")
	must(t, newClient(t, respAddr).Set(context.Background(), "k", "v", 0).Err())

	_ = idle[0].Close()
	waitHealthy(t, client, httpAddr)
}

// waitHealthy polls /healthz until it answers 200 (a connection slot or
// descriptor freed asynchronously), failing after 30 seconds.
func waitHealthy(t *testing.T, client *http.Client, httpAddr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz did not answer 200 again: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eq fails the test unless got == want.
func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestServe_MaxMemory: --maxmemory is the Go runtime's soft limit while
// epoch serve runs (restored after), shown by CONFIG GET and INFO memory;
// "auto" is a share of the machine's memory; bad sizes are refused.
func TestServe_MaxMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { // runs after startServe's cleanup stopped the server
		if after := debug.SetMemoryLimit(-1); after != before {
			t.Errorf("memory limit after epoch serve stopped: %d, want %d", after, before)
		}
	})
	o := testOptions(t)
	o.maxmemory = "3gb"
	respAddr, _ := runServeInProcess(t, o)
	eq(t, "runtime memory limit while serving", debug.SetMemoryLimit(-1), int64(3<<30))
	rdb := newClient(t, respAddr)
	ctx := context.Background()
	got, err := rdb.ConfigGet(ctx, "maxmemory").Result()
	must(t, err)
	eq(t, "CONFIG GET maxmemory", got["maxmemory"], strconv.Itoa(3<<30))
	info, err := rdb.Info(ctx, "memory").Result()
	must(t, err)
	if !strings.Contains(info, "maxmemory:3221225472\r\n") || !strings.Contains(info, "maxmemory_human:3.00G") {
		t.Errorf("INFO memory:\n%s", info)
	}

	o = testOptions(t)
	o.maxmemory = "auto"
	m, err := parseMemoryLimits(o)
	must(t, err)
	if sys := server.SystemMemory(); m.max != sys/100*server.DefaultMaxMemoryShare || m.max <= 0 {
		t.Errorf("auto maxmemory = %d of %d", m.max, sys)
	}
	for _, bad := range []func(*serveOptions){
		func(o *serveOptions) { o.maxmemory = "lots" },
		func(o *serveOptions) { o.queryBufLimit = "1kb" },
		func(o *serveOptions) { o.outputBufLimit = "-1" },
	} {
		o := testOptions(t)
		bad(&o)
		if _, err := parseMemoryLimits(o); err == nil {
			t.Errorf("accepted: %+v", o)
		}
	}
}
