package server

import (
	"bufio"
	"fmt"
	"github.com/epochdb/epochdb/internal/testutil"
	"net"
	"sync"
	"testing"
	"time"
)

// TestLoad_ThousandConnections holds 1,000 client connections open at once,
// each writing and reading its own key and a shared counter.
func TestLoad_ThousandConnections(t *testing.T) {
	ts := startServer(t)
	const n = 1000
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", ts.addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = nc
			_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
			br := bufio.NewReader(nc)
			key := fmt.Sprint("conn:", i)
			if _, err := nc.Write([]byte(encodeCommand("SET", key, key) + encodeCommand("INCR", "counter") + encodeCommand("GET", key))); err != nil {
				errs <- err
				return
			}
			for _, want := range []string{"+OK", "", `"` + key + `"`} {
				got, err := readRendered(br)
				if err != nil {
					errs <- err
					return
				}
				if want != "" && got != want {
					errs <- fmt.Errorf("%s: got %s, want %s", key, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rc := ts.dial(t)
	eq(t, "counter", rc.do("GET", "counter"), fmt.Sprintf(`"%d"`, n))
	info := rc.do("INFO", "clients")
	if want := fmt.Sprintf("connected_clients:%d", n+1); !contains(info, want) {
		t.Errorf("INFO clients = %s, want %s", info, want)
	}
	for _, nc := range conns {
		_ = nc.Close()
	}
	testutil.Eventually(t, "the server notices the closes", func() bool { return ts.srv.st.connections.Load() <= 1 })
}

func contains(s, sub string) bool { return len(sub) == 0 || indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestRestart_KeepsDataAndMetadata closes the server and the database and
// opens both again on the same directory.
func TestRestart_KeepsDataAndMetadata(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET plain v => +OK
		SET ttl v EX 100 => +OK
		SELECT 7 => +OK
		SET indb7 x => +OK
		SELECT 0 => +OK
		EPOCH.INCRFREQ plain => :1
		EPOCH.INCRFREQ plain => :2
		!advance 5s
		SET plain v2 => +OK
	`)
	meta := rc.do("EPOCH.META", "plain")
	ts.restart(t)
	eq(t, "EPOCH.META after restart", ts.dial(t).do("EPOCH.META", "plain"), meta)
	runScript(t, ts, ts.dial(t), `
		GET plain => "v2"
		TTL ttl => :95
		GET indb7 => nil
		SELECT 7 => +OK
		GET indb7 => "x"
		SELECT 0 => +OK
		DBSIZE => :2
		# the GET above counted as an access
		OBJECT FREQ plain => :3
		!advance 100s
		GET ttl => nil
	`)
}
