package epochdb

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/keyspace"
	"github.com/epochdb/epochdb/internal/testutil"
)

func TestReopen_PreservesValuesMetadataAndDeadlines(t *testing.T) {
	dir := t.TempDir()
	clk := testutil.NewClock()
	opts := &Options{Clock: clk, ExpiryInterval: time.Hour}
	db, err := Open(dir, opts)
	testutil.Must(t, err)
	testutil.Must(t, db.Set([]byte("persistent"), []byte("p"), 0))
	testutil.Must(t, db.Set([]byte("short"), []byte("s"), time.Minute))
	testutil.Must(t, db.Set([]byte("long"), []byte("l"), time.Hour))
	for range 3 {
		_, err := db.IncrementFrequency([]byte("persistent"))
		testutil.Must(t, err)
	}
	clk.Advance(time.Second)
	_, _ = db.Get([]byte("long")) // tracked, not yet flushed: Close must flush it
	want, _ := db.Metadata([]byte("persistent"))
	wantLong, _ := db.Metadata([]byte("long"))
	testutil.Must(t, db.Close())

	// Two minutes pass while the store is closed: "short" expired meanwhile.
	clk.Advance(2 * time.Minute)
	db, err = Open(dir, opts)
	testutil.Must(t, err)
	defer db.Close()
	if _, err := db.Get([]byte("short")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a key whose deadline passed while closed must be invisible on the first call: %v", err)
	}
	got, err := db.Metadata([]byte("persistent"))
	testutil.Must(t, err)
	// Heat decays while time passes (1h half-life, 2 minutes): compare it
	// apart.
	if wantHeat := want.Heat * math.Exp2(-2.0/60); math.Abs(got.Heat-wantHeat) > 1e-9 {
		t.Fatalf("heat after reopen %v, want %v", got.Heat, wantHeat)
	}
	got.Heat, want.Heat = 0, 0
	if got != want {
		t.Fatalf("metadata after reopen\n got %+v\nwant %+v", got, want)
	}
	gotLong, _ := db.Metadata([]byte("long"))
	gotLong.Heat, wantLong.Heat = 0, 0
	if gotLong != wantLong || gotLong.Frequency != 1 {
		t.Fatalf("tracked read lost across reopen\n got %+v\nwant %+v", gotLong, wantLong)
	}
	if s := db.Stats(); s.Keys != 3 || s.KeysWithTTL != 2 {
		t.Fatalf("persistent counters after reopen: %+v", s)
	}
	n, err := db.expireDue(nil)
	if err != nil || n != 1 || db.Len() != 2 {
		t.Fatalf("sweep after reopen: %d %v Len %d", n, err, db.Len())
	}
}

func TestScan(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	for i := range 10 {
		mustSet(t, db, fmt.Sprintf("user:%02d", i), fmt.Sprint(i), 0)
	}
	mustSet(t, db, "session:a", "x", time.Second)
	mustSet(t, db, "session:b", "y", time.Hour)
	mustSet(t, db, "zzz", "z", 0)
	_, _ = db.IncrementFrequency([]byte("user:03"))
	mustGet(t, db, "user:03") // tracked, unflushed: Scan must include it
	clk.Advance(2 * time.Second)

	collect := func(o ScanOptions) (keys []string) {
		testutil.Must(t, db.Scan(o, func(k, v []byte, md Metadata) error {
			keys = append(keys, string(k))
			if string(k) == "user:03" && md.Frequency != 2 {
				t.Errorf("user:03 Frequency = %d, want 2", md.Frequency)
			}
			return nil
		}))
		return keys
	}
	for _, tc := range []struct {
		name string
		opts ScanOptions
		want string
	}{
		{"all live, in order", ScanOptions{}, "[session:b user:00 user:01 user:02 user:03 user:04 user:05 user:06 user:07 user:08 user:09 zzz]"},
		{"prefix", ScanOptions{Prefix: []byte("session:")}, "[session:b]"},
		{"prefix and limit", ScanOptions{Prefix: []byte("user:"), Limit: 3}, "[user:00 user:01 user:02]"},
		{"cursor", ScanOptions{Prefix: []byte("user:"), After: []byte("user:07")}, "[user:08 user:09]"},
		{"cursor before prefix", ScanOptions{Prefix: []byte("user:"), After: []byte("a"), Limit: 1}, "[user:00]"},
		{"no match", ScanOptions{Prefix: []byte("nope")}, "[]"},
	} {
		if got := fmt.Sprint(collect(tc.opts)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}

	// Paging with After visits every key exactly once.
	var all []string
	var after []byte
	for {
		var page []string
		testutil.Must(t, db.Scan(ScanOptions{After: after, Limit: 5}, func(k, _ []byte, _ Metadata) error {
			page = append(page, string(k))
			return nil
		}))
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = []byte(page[len(page)-1])
	}
	if len(all) != 12 {
		t.Fatalf("paging visited %d keys, want 12: %v", len(all), all)
	}

	// A callback error stops the scan and is returned; ErrStopScan stops it quietly.
	boom := errors.New("boom")
	calls := 0
	err := db.Scan(ScanOptions{}, func([]byte, []byte, Metadata) error { calls++; return boom })
	if err != boom || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	if err := db.Scan(ScanOptions{}, func([]byte, []byte, Metadata) error { return ErrStopScan }); err != nil {
		t.Fatal(err)
	}
	// Scanning is not an access.
	md, _ := db.Metadata([]byte("user:00"))
	if md.Frequency != 0 {
		t.Fatalf("Scan counted as an access: %d", md.Frequency)
	}
}

// A store written before the counters became one vector has the three
// single counters; they still count, and new writes add to the vector.
func TestReopen_ReadsSingleCountersOfOlderStores(t *testing.T) {
	dir := t.TempDir()
	clk := testutil.NewClock()
	db, err := Open(dir, &Options{Clock: clk})
	testutil.Must(t, err)
	mustSet(t, db, "a", "12345", time.Hour)
	mustSet(t, db, "b", "1", 0)
	// Rewrite the counters as an older build kept them.
	b := db.pdb.NewBatch()
	_ = b.Delete(keyspace.SysKey(sysCounts), nil)
	_ = b.Set(keyspace.SysKey(sysKeys), keyspace.AppendCounter(nil, 2), nil)
	_ = b.Set(keyspace.SysKey(sysTTLKeys), keyspace.AppendCounter(nil, 1), nil)
	_ = b.Set(keyspace.SysKey(sysBytes), keyspace.AppendCounter(nil, 8), nil)
	testutil.Must(t, db.pdb.Apply(b, nil))
	testutil.Must(t, db.Close())

	db, err = Open(dir, &Options{Clock: clk})
	testutil.Must(t, err)
	if s := db.Stats(); s.Keys != 2 || s.KeysWithTTL != 1 || s.LiveBytes != 8 {
		t.Fatalf("after reopen: %d keys, %d with ttl, %d bytes; want 2, 1, 8", s.Keys, s.KeysWithTTL, s.LiveBytes)
	}
	mustSet(t, db, "c", "xy", time.Hour)
	testutil.Must(t, db.Close())
	db, err = Open(dir, &Options{Clock: clk})
	testutil.Must(t, err)
	defer db.Close()
	if s := db.Stats(); s.Keys != 3 || s.KeysWithTTL != 2 || s.LiveBytes != 11 {
		t.Fatalf("after a write and reopen: %d keys, %d with ttl, %d bytes; want 3, 2, 11", s.Keys, s.KeysWithTTL, s.LiveBytes)
	}
}
