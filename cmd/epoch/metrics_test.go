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
