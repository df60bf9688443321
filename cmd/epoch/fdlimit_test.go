package main

import (
	"bufio"
	"fmt"
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

	"github.com/epochdb/epochdb/internal/testutil"
)

var httpListenRE = regexp.MustCompile(`msg="http: listening" addr=(\S+)`)

// respLine sends one command on nc and reads the first line of its reply.
func respLine(nc net.Conn, br *bufio.Reader, args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(nc, b.String()); err != nil {
		return "", err
	}
	line, err := br.ReadString('\n')
	if err == nil && strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		var n int
		fmt.Sscanf(line, "$%d", &n)
		_, err = io.CopyN(io.Discard, br, int64(n+2))
	}
	return strings.TrimRight(line, "\r\n"), err
}

// TestServe_LowDescriptorLimit runs epoch serve (this test binary) with
// RLIMIT_NOFILE 256: maxclients is lowered to 256 minus the reserve (128,
// plus 64 for HTTP) and logged; 400 idle RESP connections and 100 idle
// HTTP connections cannot exhaust the descriptors: the clients over the
// limits are refused, a writer connected before them writes ~100 MiB
// (enough for the storage engine to rotate its log and flush tables,
// which need new descriptors), the process stays up, answers again once
// the idle clients leave, and SIGTERM ends it with status 0.
func TestServe_LowDescriptorLimit(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "serve", "--dir", filepath.Join(dir, "data"),
		"--addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "EPOCH_TEST_MAIN=1", "EPOCH_TEST_NOFILE=256")
	var logs testutil.SyncBuffer // the child's output while it runs
	cmd.Stderr = &logs
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	var respAddr, httpAddr string
	deadline := time.Now().Add(60 * time.Second)
	for respAddr == "" || httpAddr == "" {
		if m := listenRE.FindStringSubmatch(logs.String()); m != nil {
			respAddr = m[1]
		}
		if m := httpListenRE.FindStringSubmatch(logs.String()); m != nil {
			httpAddr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "maxclients has been reduced to 64 to compensate for low ulimit") {
		t.Errorf("no log line about maxclients:\n%s", logs.String())
	}

	writer, err := net.Dial("tcp", respAddr)
	must(t, err)
	defer writer.Close()
	wr := bufio.NewReader(writer)
	line, err := respLine(writer, wr, "CONFIG", "GET", "maxclients")
	must(t, err)
	eq(t, "CONFIG GET maxclients", line, "*2")
	_, _ = wr.ReadString('\n') // "$10"
	_, _ = wr.ReadString('\n') // "maxclients"
	_, _ = wr.ReadString('\n') // "$2"
	v, _ := wr.ReadString('\n')
	eq(t, "maxclients", strings.TrimSpace(v), "64")

	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			_ = c.Close()
		}
	}()
	for range 400 {
		c, err := net.DialTimeout("tcp", respAddr, 10*time.Second)
		must(t, err)
		idle = append(idle, c)
	}
	for range 100 {
		c, err := net.DialTimeout("tcp", httpAddr, 10*time.Second)
		must(t, err)
		idle = append(idle, c)
	}
	value := strings.Repeat("v", 1<<20)
	for i := range 100 {
		line, err := respLine(writer, wr, "SET", fmt.Sprint("big:", i), value)
		if err != nil || line != "+OK" {
			t.Fatalf("SET %d with the descriptors crowded: %q, %v\n%s", i, line, err, logs.String())
		}
	}
	line, err = respLine(writer, wr, "PING")
	must(t, err)
	eq(t, "PING", line, "+PONG")

	// A client over maxclients is refused with Redis's error.
	extra, err := net.Dial("tcp", respAddr)
	must(t, err)
	_ = extra.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, _ := bufio.NewReader(extra).ReadString('\n')
	_ = extra.Close()
	eq(t, "over maxclients", strings.TrimSpace(got), "-ERR max number of clients reached")

	for _, c := range idle {
		_ = c.Close()
	}
	idle = nil
	waitHealthy(t, http.DefaultClient, httpAddr)
	line, err = respLine(writer, wr, "DBSIZE")
	must(t, err)
	eq(t, "DBSIZE", line, ":100")

	must(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if l := logs.String(); strings.Contains(l, "panic") || strings.Contains(l, "fatal error") {
		t.Errorf("the server panicked:\n%s", l)
	}
}
