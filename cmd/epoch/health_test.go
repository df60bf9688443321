package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
)

// TestHealthz_ReportsEngineFailure: /healthz answers 200 while the store
// accepts writes and 503 with the reason once it cannot write its log;
// /metrics says so too.
func TestHealthz_ReportsEngineFailure(t *testing.T) {
	fs, tg := testutil.FaultFS(testutil.LogWrites)
	db, err := epochdb.Open("db", &epochdb.Options{FS: fs, SyncWrites: true})
	must(t, err)
	defer db.Close()
	var stopping atomic.Bool
	hs := httptest.NewServer(newHTTPHandler(db, nil, &stopping, nil, nil))
	defer hs.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(hs.URL + path)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthy: %d %q", code, body)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "epochdb_engine_failed 0") {
		t.Fatalf("/metrics lacks epochdb_engine_failed 0")
	}
	tg.On()
	if err := db.Set([]byte("k"), []byte("v"), 0); err == nil {
		t.Fatal("a write succeeded on a failing log")
	}
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, "storage engine failed") {
		t.Fatalf("after the failure: %d %q", code, body)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "epochdb_engine_failed 1") {
		t.Fatalf("/metrics does not report the failure")
	}
}
