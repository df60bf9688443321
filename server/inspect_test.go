package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/epochdb/epochdb/internal/inspect"
)

// TestEpochInspect: EPOCH.INSPECT answers the JSON of the shared inspection
// code for the selected database (the server's manual clock decides ages
// and TTLs); errors and a missing key are Redis replies.
func TestEpochInspect(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	eq(t, "set", rc.do("SET", "a", "1"), "+OK")
	eq(t, "set", rc.do("SET", "b", "22", "EX", "100"), "+OK")
	eq(t, "select", rc.do("SELECT", "1"), "+OK")
	eq(t, "set", rc.do("SET", "c", "333"), "+OK")
	ts.clock.Advance(40_000_000_000) // 40s

	var st inspect.Stats
	must(t, json.Unmarshal([]byte(unquote(t, rc.do("EPOCH.INSPECT", `{"op":"stats"}`))), &st))
	if st.Keys != 3 || st.KeysWithTTL != 1 || len(st.Databases) != 2 || len(st.Histograms) != 4 {
		t.Errorf("stats: %+v", st)
	}
	var ks inspect.Keys // without "db": the selected database
	must(t, json.Unmarshal([]byte(unquote(t, rc.do("EPOCH.INSPECT", `{"op":"keys"}`))), &ks))
	if len(ks.Keys) != 1 || ks.Keys[0].Key != "c" || ks.Keys[0].DB != 1 || ks.Keys[0].AgeMs != 40_000 {
		t.Errorf("keys of db 1: %+v", ks)
	}
	var ki inspect.KeyInfo
	must(t, json.Unmarshal([]byte(unquote(t, rc.do("EPOCH.INSPECT", `{"op":"meta","db":0,"key":"b"}`))), &ki))
	if ki.TTLMs != 60_000 || ki.ValueBytes != 2 {
		t.Errorf("meta b: %+v", ki)
	}
	eq(t, "missing", rc.do("EPOCH.INSPECT", `{"op":"meta","key":"zz"}`), "nil")
	if got := rc.do("EPOCH.INSPECT", `{"op":"nope"}`); !strings.HasPrefix(got, "-ERR unknown inspection") {
		t.Errorf("bad op: %s", got)
	}
	if got := rc.do("EPOCH.INSPECT", `not json`); !strings.HasPrefix(got, "-ERR invalid inspection request") {
		t.Errorf("bad json: %s", got)
	}
	if got := rc.do("EPOCH.COMPACT"); !strings.Contains(got, "tables_after") {
		t.Errorf("EPOCH.COMPACT: %s", got)
	}
}

// unquote returns the bulk string a rendered reply shows.
func unquote(t *testing.T, rendered string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal([]byte(rendered), &s); err != nil {
		t.Fatalf("not a bulk string: %s", rendered)
	}
	return s
}
