package live

import (
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/inspect"
)

func TestParseInfo(t *testing.T) {
	m := ParseInfo("# Server\r\nredis_version:7.2.0\r\nexecutable:/a:b\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\nnot a field\r\n:empty\r\n")
	for k, want := range map[string]string{"redis_version": "7.2.0", "executable": "/a:b", "db0": "keys=3,expires=1,avg_ttl=0"} {
		if m[k] != want {
			t.Errorf("%s = %q, want %q", k, m[k], want)
		}
	}
	if len(m) != 3 {
		t.Errorf("fields %v", m)
	}
	ks, ok := ParseKeyspace(m["db0"])
	if !ok || ks["keys"] != 3 || ks["expires"] != 1 {
		t.Errorf("keyspace %v %v", ks, ok)
	}
	for _, bad := range []string{"", "keys", "keys=x", "=1", "keys=1,,"} {
		if _, ok := ParseKeyspace(bad); ok {
			t.Errorf("ParseKeyspace(%q) accepted", bad)
		}
	}
}

// TestCompute: rates over the interval, the latency quantiles of the
// buckets added in it, the hit ratio, and no rates from a first reading
// or across a restart.
func TestCompute(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := Reading{At: t0, Info: map[string]string{"total_commands_processed": "100"},
		Lib: inspect.Live{Gets: 10, Misses: 2, Sets: 5, Expired: 1, Latency: map[string][]uint64{"get": {5, 0, 0}}}}
	cur := Reading{At: t0.Add(2 * time.Second), Info: map[string]string{"total_commands_processed": "300", "connected_clients": "4"},
		Lib: inspect.Live{Gets: 30, Misses: 7, Sets: 9, Expired: 11, Keys: 7, Latency: map[string][]uint64{"get": {5, 98, 2}}}, MaxKeys: 10}
	f := Compute(prev, cur)
	if f.Ops["commands"] != 100 || f.Ops["get"] != 10 || f.Ops["set"] != 2 || f.ExpiredPerSec != 5 {
		t.Errorf("rates %v expired/s %v", f.Ops, f.ExpiredPerSec)
	}
	if f.HitRatio == nil || *f.HitRatio != 0.75 {
		t.Errorf("hit ratio %v", f.HitRatio)
	}
	if f.LatencyP50Us == nil || *f.LatencyP50Us != 2 || *f.LatencyP99Us != 4 {
		t.Errorf("latency p50 %v p99 %v", f.LatencyP50Us, f.LatencyP99Us)
	}
	if f.Clients != 4 || f.Keys != 7 || f.MaxKeys != 10 {
		t.Errorf("gauges %+v", f)
	}
	if f := Compute(Reading{}, cur); len(f.Ops) != 0 || f.HitRatio != nil || f.LatencyP50Us != nil || f.Keys != 7 {
		t.Errorf("first reading: %+v", f)
	}
	if f := Compute(cur, prev); len(f.Ops) != 0 {
		t.Errorf("counters that went back: %+v", f.Ops)
	}
}

func TestParseEvents(t *testing.T) {
	now := time.UnixMilli(5000)
	resp2 := []any{"7", []any{[]any{"seq", int64(7), "kind", "expired", "key", "k", "time", int64(4000), "frequency", int64(2),
		"created_at", int64(1000), "expires_at", int64(4000), "value", "abc"}}}
	resp3 := []any{int64(7), []any{map[any]any{"seq": int64(7), "kind": "expired", "key": "k", "time": int64(4000), "frequency": int64(2),
		"created_at": int64(1000), "expires_at": int64(-1)}}}
	for i, v := range [][]any{resp2, resp3} {
		cur, evs, err := parseEvents(v, now)
		if err != nil || cur != "7" || len(evs) != 1 {
			t.Fatalf("%d: %v %q %v", i, err, cur, evs)
		}
		e := evs[0]
		if e.Key != "k" || e.Kind != "expired" || e.Frequency != 2 || e.AgeMs != 4000 || e.RetiredAt.UnixMilli() != 4000 {
			t.Errorf("%d: %+v", i, e)
		}
		if (i == 0) != (e.ExpiresAt != nil) || (i == 0) != (e.ValueBytes == 3) {
			t.Errorf("%d: expires %v value %d", i, e.ExpiresAt, e.ValueBytes)
		}
	}
	for _, bad := range [][]any{{}, {"1", "x"}, {"1", []any{"x"}}} {
		if _, _, err := parseEvents(bad, now); err == nil {
			t.Errorf("parseEvents(%v) accepted", bad)
		}
	}
}

// FuzzParseInfo: any reply parses without panicking into fields whose
// names hold no colon or line break, and each field's line is in the input.
func FuzzParseInfo(f *testing.F) {
	for _, s := range []string{"", "# Server\r\nredis_version:7.2.0\r\n", "a:b:c\nd\n\r\n:x", "db0:keys=1,expires=0,avg_ttl=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k, v := range ParseInfo(s) {
			if k == "" || strings.ContainsAny(k, ":\n") || strings.Contains(v, "\n") {
				t.Fatalf("field %q = %q", k, v)
			}
			if !strings.Contains(s, k+":"+v) {
				t.Fatalf("field %q = %q is not in the input", k, v)
			}
			if m, ok := ParseKeyspace(v); ok && len(m) == 0 {
				t.Fatalf("ParseKeyspace(%q) accepted no field", v)
			}
		}
	})
}

func TestFamilyRates(t *testing.T) {
	at := time.Unix(1000, 0)
	prev := Reading{At: at, Info: map[string]string{
		"cmdstat_get":    "calls=10,usec=20,usec_per_call=2.00,rejected_calls=0,failed_calls=0",
		"cmdstat_expire": "calls=4,usec=8,usec_per_call=2.00,rejected_calls=0,failed_calls=0",
	}}
	cur := Reading{At: at.Add(2 * time.Second), Info: map[string]string{
		"cmdstat_get":              "calls=30,usec=60,usec_per_call=2.00,rejected_calls=0,failed_calls=0",
		"cmdstat_set":              "calls=10,usec=60,usec_per_call=6.00,rejected_calls=0,failed_calls=0",
		"cmdstat_expire":           "calls=8,usec=16,usec_per_call=2.00,rejected_calls=0,failed_calls=0",
		"cmdstat_nosuch":           "calls=2,usec=1,usec_per_call=0.50,rejected_calls=0,failed_calls=0",
		"cmdstat_ping":             "calls=0,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0",
		"total_commands_processed": "50",
	}}
	got := Compute(prev, cur).Families
	want := map[string]float64{"string": 15, "generic": 2, "other": 1}
	if len(got) != len(want) {
		t.Fatalf("families %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("families %v, want %v", got, want)
		}
	}
	if f := Compute(Reading{}, cur).Families; f != nil {
		t.Fatalf("families without a previous reading: %v", f)
	}
}
