package epochdb

import (
	"errors"
	"testing"
	"time"
)

func TestLatencyBucket_Bounds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Nanosecond, 0}, {time.Microsecond, 0}, {time.Microsecond + 1, 1},
		{2 * time.Microsecond, 1}, {2*time.Microsecond + 1, 2}, {4 * time.Microsecond, 2},
		{time.Millisecond, 10}, {LatencyBucketBound(NumLatencyBuckets - 2), NumLatencyBuckets - 2},
		{LatencyBucketBound(NumLatencyBuckets-2) + 1, NumLatencyBuckets - 1}, {time.Hour, NumLatencyBuckets - 1},
	} {
		i := latencyBucket(int64(tc.d))
		if i != tc.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", tc.d, i, tc.want)
		}
		if tc.d > LatencyBucketBound(i) || (i > 0 && tc.d <= LatencyBucketBound(i-1)) {
			t.Errorf("%v is not in bucket %d's range (%v, %v]", tc.d, i, LatencyBucketBound(i-1), LatencyBucketBound(i))
		}
	}
}

func TestHistogram_QuantileAndSub(t *testing.T) {
	var m opMetrics
	now := time.Now()
	for range 9 {
		m.record(now, nil)
	}
	m.record(now.Add(-50*time.Millisecond), errors.New("boom"))
	m.record(now, ErrNotFound)
	s := m.stats()
	if s.OK != 9 || s.Errors != 1 || s.NotFound != 1 || s.Latency.Count != 11 {
		t.Fatalf("stats %+v", s)
	}
	if q := s.Latency.Quantile(1); q < 50*time.Millisecond || q > 100*time.Millisecond {
		t.Fatalf("max quantile %v, want the bucket of 50ms", q)
	}
	if q := s.Latency.Quantile(0.5); q > 50*time.Millisecond {
		t.Fatalf("median %v", q)
	}
	d := s.Sub(OpStats{OK: 4, Latency: Histogram{Count: 4}})
	if d.OK != 5 || d.Latency.Count != 7 {
		t.Fatalf("Sub: %+v", d)
	}
}

func TestDB_Stats_OpsAndEngineMetrics(t *testing.T) {
	db, _ := mustOpen(t, nil)
	before := db.Stats()
	mustSet(t, db, "a", "1", 0)
	mustGet(t, db, "a")
	if _, err := db.Get([]byte("b")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := db.Get(nil); !errors.Is(err, ErrEmptyKey) {
		t.Fatal(err)
	}
	if _, err := db.IncrementFrequency([]byte("b")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	d := db.Stats().Sub(before).Ops
	if d.Set.OK != 1 || d.Get.OK != 1 || d.Get.NotFound != 1 || d.Get.Errors != 1 || d.Increment.NotFound != 1 {
		t.Fatalf("ops %+v", d)
	}
	if d.Get.Latency.Count != 3 || d.Set.Latency.Sum <= 0 {
		t.Fatalf("latency %+v", d.Get.Latency)
	}
	em, err := db.EngineMetrics()
	if err != nil || em.WALBytesWritten == 0 || em.MemTables < 1 {
		t.Fatalf("EngineMetrics = %+v, %v", em, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.EngineMetrics(); !errors.Is(err, ErrClosed) {
		t.Fatalf("EngineMetrics after Close: %v", err)
	}
}
