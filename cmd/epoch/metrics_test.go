package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/redis/go-redis/v9"
)

// scrape GETs url over HTTP and returns the body and the parsed families.
func scrape(t *testing.T, url string) ([]byte, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	var p expfmt.TextParser
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: not the Prometheus text format: %v\n%s", url, err, body)
	}
	return body, mfs
}

// sample returns the value of family name's sample whose labels are
// exactly labels (name, value pairs); ok is false if there is none.
func sample(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestServe_Metrics runs epoch serve in-process on 127.0.0.1:0, writes and
// reads keys with go-redis, and reads /metrics over HTTP: the operation
// counters moved by exactly what was done, the key gauge is the number of
// keys written, the Go and process collectors are there, and the EpochDB
// families pass promlint as served.
func TestServe_Metrics(t *testing.T) {
	respAddr, httpAddr := runServeInProcess(t, testOptions(t))
	url := "http://" + httpAddr + "/metrics"

	_, before := scrape(t, url)
	if v, ok := sample(before, "epochdb_keys"); !ok || v != 0 {
		t.Fatalf("epochdb_keys = %v (present %v) before any write", v, ok)
	}

	c := newClient(t, respAddr)
	rctx := context.Background()
	const n = 25
	withTTL := 0
	for i := range n {
		ttl := time.Duration(0)
		if i%2 == 0 { // SET key v EX 3600: a set too
			ttl, withTTL = time.Hour, withTTL+1
		}
		if err := c.Set(rctx, fmt.Sprintf("key:%d", i), "v", ttl).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if got, err := c.Get(rctx, fmt.Sprintf("key:%d", i)).Result(); err != nil || got != "v" {
			t.Fatalf("GET key:%d = %q, %v", i, got, err)
		}
	}
	if err := c.Get(rctx, "missing").Err(); err != redis.Nil {
		t.Fatalf("GET missing: %v", err)
	}

	body, after := scrape(t, url)
	for _, tc := range []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"epochdb_operations_total", []string{"operation", "set", "outcome", "ok"}, n},
		{"epochdb_operations_total", []string{"operation", "set", "outcome", "error"}, 0},
		{"epochdb_operations_total", []string{"operation", "get", "outcome", "ok"}, n},
		{"epochdb_operations_total", []string{"operation", "get", "outcome", "not_found"}, 1},
		{"epochdb_operation_duration_seconds", []string{"operation", "set"}, n},
		{"epochdb_operation_duration_seconds", []string{"operation", "get"}, n + 1},
	} {
		b, ok1 := sample(before, tc.name, tc.labels...)
		v, ok2 := sample(after, tc.name, tc.labels...)
		if !ok1 || !ok2 {
			t.Errorf("%s%v: missing from /metrics", tc.name, tc.labels)
			continue
		}
		if v-b != tc.delta {
			t.Errorf("%s%v went from %v to %v, want +%v", tc.name, tc.labels, b, v, tc.delta)
		}
	}
	// The key count is the gauge epochdb_keys: a gauge must not end in
	// _total (promlint), so there is no epochdb_keys_total.
	if v, ok := sample(after, "epochdb_keys"); !ok || v != n {
		t.Errorf("epochdb_keys = %v (present %v), want %d", v, ok, n)
	}
	if v, ok := sample(after, "epochdb_keys_with_ttl"); !ok || v != float64(withTTL) {
		t.Errorf("epochdb_keys_with_ttl = %v (present %v), want %d", v, ok, withTTL)
	}
	if _, ok := after["epochdb_keys_total"]; ok {
		t.Error("epochdb_keys_total is exported")
	}
	if _, ok := after["epochdb_pebble_wal_bytes_written_total"]; !ok {
		t.Error("the Pebble metrics are missing")
	}
	if _, ok := sample(after, "go_goroutines"); !ok {
		t.Error("the Go collector's go_goroutines is missing")
	}
	if runtime.GOOS == "linux" {
		if _, ok := sample(after, "process_start_time_seconds"); !ok {
			t.Error("the process collector's process_start_time_seconds is missing")
		}
	}
	if v, ok := sample(after, "promhttp_metric_handler_requests_total", "code", "200"); !ok || v < 1 {
		t.Errorf("promhttp_metric_handler_requests_total{code=200} = %v (present %v)", v, ok)
	}

	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "epochdb_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}

	// /healthz still answers beside /metrics; other methods are refused.
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d", resp.StatusCode)
	}
}

// TestServe_ClusterMetrics runs a one-node epoch serve --cluster in-process
// with a low snapshot threshold, writes through go-redis and reads
// /metrics: raft's state, term and indexes are there and agree, the node
// counted its own election, took snapshots and compacted its log, and the
// raft families pass promlint; INFO replication says the same.
func TestServe_ClusterMetrics(t *testing.T) {
	o := testOptions(t)
	o.cluster, o.nodeID, o.raftAddr = true, "n1", freeTCPAddr(t)
	o.peers = "n1=" + o.raftAddr
	o.raftSnapThresh, o.raftSnapEvery, o.raftTrailing = 20, 20*time.Millisecond, 5
	respAddr, httpAddr := runServeInProcess(t, o)
	url := "http://" + httpAddr + "/metrics"
	c := newClient(t, respAddr)
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for c.Do(ctx, "SET", "k", "v").Err() != nil { // TRYAGAIN until elected
		if time.Now().After(deadline) {
			t.Fatal("the node did not become leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 100 {
		if err := c.Set(ctx, fmt.Sprint("key:", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var body []byte
	var mfs map[string]*dto.MetricFamily
	for {
		body, mfs = scrape(t, url)
		ok, _ := sample(mfs, "epochdb_raft_snapshots_total", "outcome", "ok")
		first, _ := sample(mfs, "epochdb_raft_first_log_index")
		if ok >= 1 && first > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot and compaction within 30s: snapshots %v, first log index %v", ok, first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := map[string]float64{}
	for _, name := range []string{"term", "commit_index", "applied_index", "apply_lag_entries", "last_log_index",
		"leader_changes_total", "last_snapshot_index", "last_snapshot_size_bytes", "last_contact_seconds"} {
		v, ok := sample(mfs, "epochdb_raft_"+name)
		if !ok {
			t.Fatalf("epochdb_raft_%s is missing from /metrics", name)
		}
		want[name] = v
	}
	for state, v := range map[string]float64{"leader": 1, "follower": 0, "candidate": 0, "shutdown": 0} {
		if got, ok := sample(mfs, "epochdb_raft_state", "state", state); !ok || got != v {
			t.Errorf("epochdb_raft_state{state=%q} = %v (present %v), want %v", state, got, ok, v)
		}
	}
	switch {
	case want["term"] < 1 || want["leader_changes_total"] < 1:
		t.Errorf("term %v, leader changes %v: the node's own election is not counted", want["term"], want["leader_changes_total"])
	case want["commit_index"] < 101 || want["applied_index"] > want["commit_index"]:
		t.Errorf("commit index %v, applied index %v after 101 writes", want["commit_index"], want["applied_index"])
	case want["apply_lag_entries"] != want["commit_index"]-want["applied_index"]:
		t.Errorf("apply lag %v, commit %v - applied %v", want["apply_lag_entries"], want["commit_index"], want["applied_index"])
	case want["last_snapshot_index"] < 20 || want["last_snapshot_size_bytes"] <= 0:
		t.Errorf("last snapshot at %v, %v bytes", want["last_snapshot_index"], want["last_snapshot_size_bytes"])
	case want["last_contact_seconds"] != 0:
		t.Errorf("last contact %v on the leader, want 0", want["last_contact_seconds"])
	}
	if v, ok := sample(mfs, "epochdb_raft_snapshot_installs_total", "outcome", "ok"); !ok || v != 0 {
		t.Errorf("snapshot installs on the only node = %v (present %v)", v, ok)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "epochdb_raft_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}

	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"role:master", "cluster_state:leader", "cluster_apply_lag:", "cluster_leader_changes:",
		"cluster_first_log_index:", "cluster_last_snapshot_index:", "cluster_snapshot_installs:0"} {
		if !strings.Contains(info, field) {
			t.Errorf("INFO replication lacks %q:\n%s", field, info)
		}
	}
	if strings.Contains(info, "cluster_snapshots:0\r") || !strings.Contains(info, "cluster_snapshots:") {
		t.Errorf("INFO replication does not count the snapshots:\n%s", info)
	}
}
