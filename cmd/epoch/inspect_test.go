package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/clock"
	"github.com/epochdb/epochdb/internal/inspect"
	"github.com/epochdb/epochdb/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// t0 is the time the inspection store's keys are written from; inspectNow
// is the time the offline commands assume (--now).
var (
	t0         = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inspectNow = t0.Add(2 * time.Hour)
)

// makeInspectStore writes, from start on, a store as the server would (keys of database 0
// and 1, prefixed by their number) with a manual clock: keys of different
// ages, deadlines and access counts.
func makeInspectStore(t *testing.T, dir string, start time.Time) {
	t.Helper()
	clk := clock.NewManual(start)
	db, err := epochdb.Open(dir, &epochdb.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	k := func(db byte, s string) []byte { return append([]byte{db}, s...) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Set(k(0, "user:1"), []byte("alice"), 0))
	must(db.Set(k(0, "user:2"), []byte("bob"), 0))
	clk.Advance(30 * time.Minute)
	must(db.Set(k(0, "session:a"), []byte("tok-a"), 4*time.Hour))
	must(db.Set(k(0, "session:b"), []byte("tok-b"), 3*24*time.Hour))
	clk.Advance(80 * time.Minute)
	must(db.Set(k(0, "page:/home"), []byte("<h1>home</h1>"), 15*time.Minute))
	must(db.Set(k(1, "other"), []byte("x"), 0))
	for range 5 {
		_, err := db.IncrementFrequency(k(0, "user:1"))
		must(err)
	}
	for range 2 {
		_, err := db.IncrementFrequency(k(0, "session:a"))
		must(err)
	}
	must(db.Close())
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// engineLines masks the figures that depend on Pebble's files, not on the
// keys: disk and block cache use.
var engineLines = regexp.MustCompile(`(?m)^(disk|block cache)( +).*$`)

// TestCLI_Inspect_Offline runs every inspection command on a data
// directory, tables against golden files and --json decoded, and checks
// that the directory is left as it was.
func TestCLI_Inspect_Offline(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	makeInspectStore(t, dir, t0)
	before := dirNames(t, dir)
	off := []string{"--dir", dir, "--now", inspectNow.Format(time.RFC3339)}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"stats", []string{"stats"}},
		{"keys", []string{"keys"}},
		{"keys_all_dbs", []string{"keys", "--db", "-1"}},
		{"keys_pattern_heat", []string{"keys", "user:*", "--sort", "heat"}},
		{"keys_ttl_limit", []string{"keys", "--sort", "ttl", "--limit", "2"}},
		{"keys_age", []string{"keys", "--sort", "age"}},
		{"keys_freq", []string{"keys", "--sort", "freq"}},
		{"meta", []string{"meta", "session:a"}},
		{"hot", []string{"hot", "2"}},
		{"cold", []string{"cold", "2"}},
		{"hot_sampled", []string{"hot", "1", "--sample-above", "2"}},
		{"prune_preview", []string{"prune", "--preview", "--prune-min-frequency", "1", "--maxkeys", "4", "--maxmemory-policy", "allkeys-lfu"}},
		{"check", []string{"check"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := mustEpoch(t, append(c.args, off...)...)
			if c.name == "hot_sampled" {
				// Which keys a sample reads is random; its report is not.
				if !strings.Contains(out, "sampled: read") {
					t.Fatalf("no word of sampling:\n%s", out)
				}
				return
			}
			golden(t, c.name, engineLines.ReplaceAllString(out, "$1$2…"))
			var v any
			if err := json.Unmarshal([]byte(mustEpoch(t, append(append(c.args, "--json"), off...)...)), &v); err != nil {
				t.Fatalf("--json: %v", err)
			}
		})
	}
	// The rule from an epoch serve config file previews the same; the
	// file's other settings (addr, requirepass) do not matter offline.
	conf := filepath.Join(tmp, "epoch.conf")
	if err := os.WriteFile(conf, []byte("addr 127.0.0.1:1\nrequirepass x\nprune-min-frequency 1\nmaxkeys 4\nmaxmemory-policy allkeys-lfu\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := mustEpoch(t, append([]string{"prune", "--preview", "--config", conf}, off...)...)
	golden(t, "prune_preview", fromFile)
	if got := mustEpoch(t, append([]string{"get", "page:/home"}, off...)...); got != "<h1>home</h1>\n" {
		t.Errorf("get = %q", got)
	}
	var st inspect.Stats
	if err := json.Unmarshal([]byte(mustEpoch(t, append([]string{"stats", "--json"}, off...)...)), &st); err != nil ||
		st.Keys != 6 || st.KeysWithTTL != 3 || len(st.Histograms) != 4 || len(st.Databases) != 2 {
		t.Errorf("stats --json: %+v, %v", st, err)
	}
	wantFail(t, "not found", append([]string{"meta", "nope"}, off...)...)
	wantFail(t, "needs --preview", append([]string{"prune"}, off...)...)
	wantFail(t, "is not an EpochDB store", "stats", "--dir", tmp)
	if after := dirNames(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("inspection changed %s: %v -> %v", dir, before, after)
	}
	if names := dirNames(t, tmp); len(names) != 2 { // data, epoch.conf
		t.Errorf("inspection left files beside the store: %v", names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestCLI_Inspect_Online runs the inspection commands against a running
// epoch serve with a password: the same results as offline, and the
// offline commands refuse the store the server holds.
func TestCLI_Inspect_Online(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	makeInspectStore(t, dir, time.Now().Add(-110*time.Minute)) // the server's clock is the real one
	srv := startServe(t, dir, nil, "--requirepass", "s3cret")
	on := []string{"--addr", srv.addr, "--password", "s3cret"}

	var ks inspect.Keys
	if err := json.Unmarshal([]byte(mustEpoch(t, append([]string{"keys", "--sort", "freq", "--json"}, on...)...)), &ks); err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys) != 5 || ks.Keys[0].Key != "user:1" || ks.Keys[0].Frequency != 5 || ks.Total != 6 {
		t.Errorf("online keys --sort freq: %+v", ks)
	}
	out := mustEpoch(t, append([]string{"stats"}, on...)...)
	for _, want := range []string{`(?m)^keys +6$`, `(?m)^keys with TTL +3$`, `(?m)^retired since start +expired 0`, "remaining TTL", "heat \\(accesses"} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("online stats lacks %s:\n%s", want, out)
		}
	}
	if got := mustEpoch(t, append([]string{"get", "user:2"}, on...)...); got != "bob\n" {
		t.Errorf("online get = %q", got)
	}
	if out := mustEpoch(t, append([]string{"meta", "other", "--db", "1"}, on...)...); !strings.Contains(out, "key          other") {
		t.Errorf("online meta:\n%s", out)
	}
	if out := mustEpoch(t, append([]string{"hot", "1"}, on...)...); !strings.Contains(out, "user:1") {
		t.Errorf("online hot:\n%s", out)
	}
	if out := mustEpoch(t, append([]string{"check"}, on...)...); !strings.Contains(out, "OK: no problems found") {
		t.Errorf("online check:\n%s", out)
	}
	if out := mustEpoch(t, append([]string{"prune", "--preview"}, on...)...); !strings.Contains(out, "would remove 0 keys") {
		t.Errorf("online prune --preview:\n%s", out)
	}
	wantFail(t, "not found", append([]string{"meta", "nope"}, on...)...)
	wantFail(t, "WRONGPASS", "stats", "--addr", srv.addr, "--password", "wrong")
	wantFail(t, "another epoch serve holds "+dir, "stats", "--dir", dir)
}

// TestCLI_Compact: offline, compacting a store whose keys were deleted
// returns their space; online, the server compacts and reports.
func TestCLI_Compact(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, err := epochdb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, 4096)
	for i := range 500 {
		for j := range val {
			val[j] = byte(rng.Uint32())
		}
		if err := db.Set([]byte(fmt.Sprint("k", i)), val, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Compact(t.Context()); err != nil { // the values now in table files
		t.Fatal(err)
	}
	for i := range 500 {
		if _, err := db.Delete([]byte(fmt.Sprint("k", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var r compactResult
	if err := json.Unmarshal([]byte(mustEpoch(t, "compact", "--dir", dir, "--json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.TablesBefore < 500*4096 || r.TablesAfter > 64<<10 || r.DiskAfter > r.DiskBefore-500*4096 {
		t.Errorf("compact: %+v", r)
	}
	srv := startServe(t, dir, nil)
	if out := mustEpoch(t, "compact", "--addr", srv.addr); !strings.HasPrefix(out, "compacted: table files ") {
		t.Errorf("online compact: %q", out)
	}
}

// TestCLI_Inspect_TLS: the online commands over TLS, trusting the server's
// certificate with --tls-ca; without it the certificate is refused.
func TestCLI_Inspect_TLS(t *testing.T) {
	tmp := t.TempDir()
	certFile, keyFile, _ := testutil.SelfSigned(t, tmp)
	dir := filepath.Join(tmp, "data")
	makeStore(t, dir, nil, "\x00k")
	srv := startServe(t, dir, nil, "--tls-cert", certFile, "--tls-key", keyFile)
	if got := mustEpoch(t, "get", "k", "--addr", srv.addr, "--tls", "--tls-ca", certFile); got != "v\x00k\n" {
		t.Errorf("get over TLS = %q", got)
	}
	wantFail(t, "certificate", "stats", "--addr", srv.addr, "--tls")
}

// TestCLI_PruneApply: prune --apply offline removes what the preview
// listed (the rule first, then the budget), logs it with --event-log yes,
// and refuses to run online or without a rule.
func TestCLI_PruneApply(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	makeInspectStore(t, dir, t0)
	off := []string{"--dir", dir, "--now", inspectNow.Format(time.RFC3339)}
	rule := []string{"--prune-min-frequency", "1", "--maxkeys", "1", "--maxmemory-policy", "allkeys-lfu"}
	var p inspect.Preview
	if err := json.Unmarshal([]byte(mustEpoch(t, append(append([]string{"prune", "--preview", "--json"}, rule...), off...)...)), &p); err != nil {
		t.Fatal(err)
	}
	if p.PruneTotal != 4 || p.EvictTotal != 1 || p.Evict[0].Key != "session:a" {
		t.Fatalf("preview: %+v", p)
	}
	out := mustEpoch(t, append(append([]string{"prune", "--apply", "--event-log", "yes"}, rule...), off...)...)
	if out != "pruned 4 keys, evicted 1, expired 0; 1 keys left\n" {
		t.Errorf("apply: %q", out)
	}
	var ks inspect.Keys
	if err := json.Unmarshal([]byte(mustEpoch(t, append([]string{"keys", "--db", "-1", "--json"}, off...)...)), &ks); err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys) != 1 || ks.Keys[0].Key != "user:1" {
		t.Errorf("left after apply: %+v", ks.Keys)
	}
	var r epochdb.CheckReport
	if err := json.Unmarshal([]byte(mustEpoch(t, append([]string{"check", "--json"}, off...)...)), &r); err != nil || r.Events != 5 {
		t.Errorf("event log after apply: %+v, %v", r, err)
	}
	wantFail(t, "no rule to apply", append([]string{"prune", "--apply"}, off...)...)
}

// TestCLI_PruneApplyOnline: online, prune --apply makes the server run a
// pass of its own rule now.
func TestCLI_PruneApplyOnline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	makeStore(t, dir, nil)
	srv := startServe(t, dir, nil, "--prune-min-frequency", "1", "--prune-interval", "1h")
	c := newClient(t, srv.addr)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		must(t, c.Set(ctx, k, "v", 0).Err())
	}
	must(t, c.Do(ctx, "EPOCH.INCRFREQ", "b").Err()) // frequency 1: the rule keeps it
	out := mustEpoch(t, "prune", "--apply", "--addr", srv.addr)
	if out != "pruned 2 keys, evicted 0, expired 0; 1 keys left\n" {
		t.Fatalf("online prune --apply: %q", out)
	}
	if n, err := c.Exists(ctx, "a", "b", "c").Result(); err != nil || n != 1 {
		t.Fatalf("keys left: %d, %v; want b alone", n, err)
	}
}

// TestCLI_CheckRepair: check --repair repairs the store itself offline and
// then checks it; online it is refused (a server's store is in use).
func TestCLI_CheckRepair(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	makeStore(t, dir, nil, "a", "b")
	out, errOut, err := epoch(t, nil, "check", "--repair", "--dir", dir)
	if err != nil || !strings.Contains(out, "OK: no problems found") || !strings.Contains(errOut, "repaired: 0 deadline index entries added") {
		t.Fatalf("check --repair: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	wantFail(t, "works offline", "check", "--repair", "--addr", "127.0.0.1:1")
}
