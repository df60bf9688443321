package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
)

// The lifecycle and durability parameters change at run time, take effect
// at once, and CONFIG GET and INFO show them.
func TestConfig_LifecycleAtRunTime(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	for i := range 40 {
		eq(t, "SET", rc.do("SET", fmt.Sprintf("k%02d", i), "v"), "+OK")
	}
	runScript(t, ts, rc, `
		CONFIG GET maxkeys => ["maxkeys" "0"]
		CONFIG SET maxkeys 30 => +OK
		CONFIG GET maxkeys => ["maxkeys" "30"]
		SET new v => -OOM command not allowed when keys > 'maxkeys'.
		DEL k00 => :1
		CONFIG SET maxmemory-policy allkeys-lfu maxkeys 20 => +OK
		CONFIG GET maxmemory-policy => ["maxmemory-policy" "allkeys-lfu"]
	`)
	testutil.Eventually(t, "eviction down to the new budget", func() bool { return rc.do("DBSIZE") == ":20" })
	eq(t, "INFO policy", strings.Contains(rc.do("INFO", "memory"), "maxmemory_policy:allkeys-lfu"), true)

	runScript(t, ts, rc, `
		CONFIG SET maxkeys 0 maxmemory-policy noeviction => +OK
		SET cold v => +OK
		EPOCH.PRUNE NOW => -ERR no pruning rule is set (CONFIG SET prune-min-frequency or prune-idle)
		CONFIG SET prune-min-frequency 1 prune-grace 1h => +OK
		CONFIG GET prune-* => ["prune-min-frequency" "1" "prune-idle" "0s" "prune-grace" "1h0m0s" "prune-interval" "1m0s" "prune-skip-ttl-keys" "no"]
	`)
	ts.clock.Advance(2 * time.Hour)
	eq(t, "EPOCH.PRUNE NOW", rc.do("EPOCH.PRUNE", "NOW"), `["examined" :21 "removed" :21 "wrapped" :1]`)
	status := rc.do("EPOCH.PRUNE", "STATUS")
	for _, want := range []string{`"rule" "frequency < 1, age >= 1h0m0s"`, `"interval" "1m0s"`, `"passes" :1`, `"pruned" :21`, `"pass_examined" :0`, `"last_pass_end" :1767330245000`} {
		if !strings.Contains(status, want) {
			t.Errorf("EPOCH.PRUNE STATUS = %s, lacks %s", status, want)
		}
	}
	eq(t, "DBSIZE after pruning", rc.do("DBSIZE"), ":0")

	runScript(t, ts, rc, `
		CONFIG SET appendfsync always => +OK
		CONFIG GET appendfsync => ["appendfsync" "always"]
		SET durable v => +OK
		CONFIG SET appendfsync no => +OK
		CONFIG SET sync-interval 250ms appendfsync everysec => +OK
		CONFIG GET appendfsync => ["appendfsync" "everysec"]
		CONFIG GET sync-interval => ["sync-interval" "250ms"]
		CONFIG SET lfu-half-life 10m event-log-max-entries 5 event-log-max-age 1h => +OK
		CONFIG GET lfu-half-life => ["lfu-half-life" "10m0s"]
	`)
	want := epochdb.Settings{
		SyncInterval: 250 * time.Millisecond, HeatHalfLife: 10 * time.Minute,
		PruneMinFrequency: 1, PruneGrace: time.Hour, PruneInterval: time.Minute, PruneBatchSize: 1000,
		EventLogMaxEntries: 5, EventLogMaxAge: time.Hour,
	}
	eq(t, "the library's settings", ts.db.Settings(), want)
	eq(t, "INFO appendfsync", strings.Contains(rc.do("INFO", "persistence"), "appendfsync:everysec"), true)
}

// CONFIG SET applies all its parameters or none, and a bad value names the
// parameter and what it accepts; an immutable one says why.
func TestConfig_SetErrors(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		CONFIG SET maxkeys 5 prune-interval soon => -ERR CONFIG SET failed (possibly related to argument 'prune-interval') - argument must be a duration such as 90s, 30m or 1h, at least 1ms
		CONFIG GET maxkeys => ["maxkeys" "0"]
		CONFIG SET timeout 5 maxkeys -1 => -ERR CONFIG SET failed (possibly related to argument 'maxkeys') - argument must be between 0 and 9223372036854775807 inclusive
		CONFIG GET timeout => ["timeout" "0"]
		CONFIG SET maxkeys 5 maxkeys 6 => -ERR CONFIG SET failed (possibly related to argument 'maxkeys') - duplicate parameter
		CONFIG SET maxmemory-policy volatile-ttl => -ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument must be one of noeviction, allkeys-lfu, volatile-lfu, allkeys-lru
		CONFIG SET appendfsync sometimes => -ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument must be one of always, everysec, no
		CONFIG SET lfu-half-life 0 => -ERR CONFIG SET failed (possibly related to argument 'lfu-half-life') - argument must be a duration such as 30m or 1h, or negative for no decay
		CONFIG SET prune-skip-ttl-keys maybe => -ERR CONFIG SET failed (possibly related to argument 'prune-skip-ttl-keys') - argument must be 'yes' or 'no'
		CONFIG SET maxdisk lots => -ERR CONFIG SET failed (possibly related to argument 'maxdisk') - argument must be a size such as 10gb, or 0 for none
		CONFIG SET event-log-max-entries 0 => -ERR CONFIG SET failed (possibly related to argument 'event-log-max-entries') - argument must be between 1 and 9223372036854775807 inclusive
		CONFIG SET save "900 1" => -ERR CONFIG SET failed (possibly related to argument 'save') - can't set immutable config: there are no snapshots to schedule: every write is in the write-ahead log (see appendfsync)
		CONFIG SET save "" => +OK
		CONFIG SET maxdisk 1gb => +OK
		CONFIG GET maxdisk => ["maxdisk" "1073741824"]
		CONFIG REWRITE => -ERR The server is running without a config file
	`)
	if ts.db.Settings().MaxKeys != 0 {
		t.Fatal("a failed CONFIG SET changed maxkeys")
	}
}

// CONFIG REWRITE hands every parameter's current value to the server's
// owner, which writes the file.
func TestConfig_RewriteCallsOwner(t *testing.T) {
	var got []ConfigParam
	ts := startServer(t, func(s *Server) {
		s.ConfigRewrite = func(p []ConfigParam) error { got = p; return nil }
	})
	rc := ts.dial(t)
	eq(t, "CONFIG SET", rc.do("CONFIG", "SET", "maxkeys", "7"), "+OK")
	eq(t, "CONFIG REWRITE", rc.do("CONFIG", "REWRITE"), "+OK")
	found := false
	for _, p := range got {
		if p.Name == "maxkeys" {
			found = p.Value == "7" && p.Mutable
		}
	}
	eq(t, "maxkeys handed over as 7, mutable", found, true)
}
