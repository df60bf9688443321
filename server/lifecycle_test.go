package server

import (
	"strings"
	"testing"

	"github.com/epochdb/epochdb"
)

// The library's budgets through the server: a full store refuses writes
// with Redis's OOM error, or evicts and publishes "evicted".

func TestLifecycle_NoEvictionIsOOM(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) { o.MaxKeys = 2 })
	runScript(t, ts, ts.dial(t), `
		SET a 1 => +OK
		SET b 2 => +OK
		SET c 3 => -OOM command not allowed when keys > 'maxkeys'.
		SET a 10 => +OK
		CONFIG GET maxkeys => ["maxkeys" "2"]
	`)
}

func TestLifecycle_EvictionNotifies(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) {
		o.MaxKeys = 2
		o.EvictionPolicy = epochdb.EvictAllKeysLFU
	}, func(s *Server) { s.NotifyKeyspaceEvents = "Ee" })
	sub := ts.dial(t)
	eq(t, "SUBSCRIBE", sub.do("SUBSCRIBE", "__keyevent@0__:evicted"), `["subscribe" "__keyevent@0__:evicted" :1]`)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET a 1 => +OK
		SET b 2 => +OK
		EPOCH.INCRFREQ a => :1
		SET c 3 => +OK
		CONFIG GET maxmemory-policy => ["maxmemory-policy" "allkeys-lfu"]
	`)
	// Which key goes is the library's choice (lowest heat among sampled
	// keys); the event names it.
	ev := sub.read()
	if !strings.HasPrefix(ev, `["message" "__keyevent@0__:evicted" `) {
		t.Fatalf("event = %s", ev)
	}
	eq(t, "DBSIZE", rc.do("DBSIZE"), ":2")
	if info := rc.do("INFO", "stats"); !strings.Contains(info, `evicted_keys:1\r`) {
		t.Errorf("INFO stats: %s", info)
	}
}
