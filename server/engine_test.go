package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
)

// TestServer_EngineFailure_RefusesWritesKeepsServing: once the store
// cannot write its log (an injected I/O error on every log write, as a
// full disk gives), a write gets a MISCONF error reply at once, reads and
// PING go on, INFO reports the failure, and the server shuts down.
func TestServer_EngineFailure_RefusesWritesKeepsServing(t *testing.T) {
	fs, tg := testutil.FaultFS(testutil.LogWrites)
	ts := startServerDB(t, func(o *epochdb.Options) {
		o.FS = fs
		o.SyncWrites = true
	})
	rc := ts.dial(t)
	eq(t, "SET before", rc.do("SET", "k", "v"), "+OK")
	tg.On()
	if got := rc.do("SET", "k2", "v"); !strings.HasPrefix(got, "-MISCONF ") {
		t.Fatalf("SET on a failing log = %s, want a MISCONF error", got)
	}
	if got := rc.do("INCR", "n"); !strings.HasPrefix(got, "-MISCONF ") {
		t.Fatalf("INCR after the failure = %s, want a MISCONF error", got)
	}
	eq(t, "GET", rc.do("GET", "k"), `"v"`)
	eq(t, "PING", rc.do("PING"), "+PONG")
	if info := rc.do("INFO", "persistence"); !strings.Contains(info, "aof_last_write_status:err") {
		t.Fatalf("INFO persistence does not report the failure:\n%s", info)
	}
	// Shutdown completes; Close reports what it could not write.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, ts.srv.Shutdown(ctx))
	<-ts.done
	if err := ts.db.Close(); !errors.Is(err, epochdb.ErrEngine) {
		t.Fatalf("Close after the failure: %v, want ErrEngine", err)
	}
	ts.db = nil
}

// TestServer_EngineFailure_RecoversByItself: once the fault is gone the
// store reopens its engine in place and the same connection's writes
// succeed again, with nothing acknowledged lost and INFO back to ok.
func TestServer_EngineFailure_RecoversByItself(t *testing.T) {
	fs, tg := testutil.FaultFS(testutil.LogWrites)
	ts := startServerDB(t, func(o *epochdb.Options) {
		o.FS = fs
		o.SyncWrites = true
		o.RecoverInterval = 5 * time.Millisecond
	})
	rc := ts.dial(t)
	eq(t, "SET before", rc.do("SET", "k", "v"), "+OK")
	tg.On()
	if got := rc.do("SET", "k2", "v"); !strings.HasPrefix(got, "-MISCONF ") {
		t.Fatalf("SET on a failing log = %s, want a MISCONF error", got)
	}
	tg.Off()
	testutil.Eventually(t, "writes are accepted again", func() bool { return rc.do("SET", "k3", "v") == "+OK" })
	eq(t, "GET acknowledged before the failure", rc.do("GET", "k"), `"v"`)
	eq(t, "DBSIZE", rc.do("DBSIZE"), ":2")
	if info := rc.do("INFO", "persistence"); !strings.Contains(info, "aof_last_write_status:ok") {
		t.Fatalf("INFO persistence after recovery:\n%s", info)
	}
	if info := rc.do("INFO", "epochdb"); !strings.Contains(info, "engine_reopens:1") {
		t.Fatalf("INFO epochdb does not count the reopen:\n%s", info)
	}
}
