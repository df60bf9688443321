package promexport_test

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	etu "github.com/epochdb/epochdb/internal/testutil"
	"github.com/epochdb/epochdb/promexport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func open(t *testing.T) *epochdb.DB {
	t.Helper()
	db, err := epochdb.Open(filepath.Join(t.TempDir(), "db"), &epochdb.Options{Clock: etu.NewClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// gather registers c alone and returns its metric families by name.
func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily)
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value returns the value of the sample of family name whose labels include
// all of want.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == want[i] && lp.GetValue() == want[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no sample of %s with labels %v", name, want)
	return 0
}

func TestCollector_MetricsMoveWithOperations(t *testing.T) {
	db := open(t)
	c := promexport.NewCollector(db, &promexport.Options{ConstLabels: prometheus.Labels{"db": "a"}})

	before := gather(t, c)
	if v := value(t, before, "epochdb_keys"); v != 0 {
		t.Fatalf("epochdb_keys = %v on an empty DB", v)
	}
	etu.Must(t, db.Set([]byte("k1"), []byte("v"), 0))
	etu.Must(t, db.Set([]byte("k2"), []byte("v"), time.Hour))
	if _, err := db.Get([]byte("k1")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get([]byte("nope")); !errors.Is(err, epochdb.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := db.IncrementFrequency([]byte("k1")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Delete([]byte("k2")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Delete([]byte("k2")); err != nil {
		t.Fatal(err)
	}
	etu.Must(t, db.Update(func(tx *epochdb.Tx) error { return tx.Set([]byte("k3"), []byte("v"), 0) }))
	if _, err := db.Backup(io.Discard); err != nil {
		t.Fatal(err)
	}

	after := gather(t, c)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"epochdb_keys", nil, 2},
		{"epochdb_keys_with_ttl", nil, 0},
		{"epochdb_operations_total", []string{"operation", "get", "outcome", "ok"}, 1},
		{"epochdb_operations_total", []string{"operation", "get", "outcome", "not_found"}, 1},
		{"epochdb_operations_total", []string{"operation", "set", "outcome", "ok"}, 2},
		{"epochdb_operations_total", []string{"operation", "increment", "outcome", "ok"}, 1},
		{"epochdb_operations_total", []string{"operation", "delete", "outcome", "ok"}, 1},
		{"epochdb_operations_total", []string{"operation", "delete", "outcome", "not_found"}, 1},
		{"epochdb_operations_total", []string{"operation", "transaction", "outcome", "ok"}, 1},
		{"epochdb_operation_duration_seconds", []string{"operation", "get"}, 2},
		{"epochdb_operation_duration_seconds", []string{"operation", "set"}, 2},
		{"epochdb_operation_duration_seconds", []string{"operation", "transaction"}, 1},
		{"epochdb_transaction_commits_total", nil, 1},
		{"epochdb_backups_total", []string{"outcome", "ok"}, 1},
		{"epochdb_backups_total", []string{"outcome", "error"}, 0},
		{"epochdb_backup_keys", nil, 2},
		{"epochdb_last_backup_success", nil, 1},
		{"epochdb_last_backup_timestamp_seconds", nil, float64(etu.Epoch.Unix())},
	} {
		if got := value(t, after, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if v := value(t, after, "epochdb_backup_size_bytes"); v <= 0 {
		t.Errorf("epochdb_backup_size_bytes = %v", v)
	}
	if v := value(t, after, "epochdb_disk_size_bytes"); v <= 0 {
		t.Errorf("epochdb_disk_size_bytes = %v", v)
	}
	if v := value(t, after, "epochdb_pebble_wal_bytes_written_total"); v <= 0 {
		t.Errorf("epochdb_pebble_wal_bytes_written_total = %v", v)
	}
	// Every get landed in a bucket at or below the histogram's sum bound.
	h := after["epochdb_operation_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleSum() <= 0 || len(h.GetBucket()) != epochdb.NumLatencyBuckets-1 {
		t.Errorf("histogram: sum %v, %d buckets", h.GetSampleSum(), len(h.GetBucket()))
	}
	if lbl := after["epochdb_keys"].GetMetric()[0].GetLabel(); len(lbl) != 1 || lbl[0].GetValue() != "a" {
		t.Errorf("constant labels: %v", lbl)
	}

	// Closed: the DB's own metrics keep their values, Pebble's are left out.
	etu.Must(t, db.Close())
	closed := gather(t, c)
	if _, ok := closed["epochdb_pebble_compactions_total"]; ok {
		t.Error("pebble metrics exported after Close")
	}
	if v := value(t, closed, "epochdb_operations_total", "operation", "set", "outcome", "ok"); v != 2 {
		t.Errorf("after Close: set ok = %v", v)
	}
}

func TestCollector_TwoDatabasesInOneRegistry(t *testing.T) {
	a, b := open(t), open(t)
	etu.Must(t, a.Set([]byte("x"), []byte("1"), 0))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promexport.NewCollector(a, &promexport.Options{ConstLabels: prometheus.Labels{"db": "a"}}))
	reg.MustRegister(promexport.NewCollector(b, &promexport.Options{ConstLabels: prometheus.Labels{"db": "b"}}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := make(map[string]*dto.MetricFamily)
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	if v := value(t, byName, "epochdb_keys", "db", "a"); v != 1 {
		t.Errorf("db a keys = %v", v)
	}
	if v := value(t, byName, "epochdb_keys", "db", "b"); v != 0 {
		t.Errorf("db b keys = %v", v)
	}
}

func TestCollector_Lint(t *testing.T) {
	db := open(t)
	c := promexport.NewCollector(db, nil)
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	// Metrics lists what Collect exports.
	mfs := gather(t, c)
	listed := make(map[string]bool)
	for _, m := range promexport.Metrics() {
		listed[m.Name] = true
		if _, ok := mfs[m.Name]; !ok {
			t.Errorf("Metrics lists %s, which is not collected", m.Name)
		}
		if !strings.HasPrefix(m.Name, "epochdb_") || m.Help == "" {
			t.Errorf("metric %q: bad name or no help", m.Name)
		}
	}
	for name := range mfs {
		if !listed[name] {
			t.Errorf("%s is collected but not listed by Metrics", name)
		}
	}
}
