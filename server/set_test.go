package server

import (
	"testing"
	"time"
)

// TestSet_RelativeExpiryIsOneDBSet: SET with EX or PX (or epoch-db 0.3's
// ttl_ms), SETEX and PSETEX are blind DB.Set writes, so that they count in
// the library's set statistics (epochdb_operations_total{operation="set"}
// on /metrics), with the deadline they ask for. Conditional forms and
// absolute deadlines read first (DB.Modify) and are not counted as sets.
func TestSet_RelativeExpiryIsOneDBSet(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	sets := func() uint64 { return ts.db.Stats().Ops.Set.OK }
	for _, tc := range []struct {
		args  []string
		pttl  string
		isSet bool
	}{
		{[]string{"SET", "k", "v"}, ":-1", true},
		{[]string{"SET", "k", "v", "EX", "10"}, ":10000", true},
		{[]string{"SET", "k", "v", "PX", "1500"}, ":1500", true},
		{[]string{"SET", "k", "v", "2500"}, ":2500", true}, // epoch-db 0.3: ttl in ms
		{[]string{"SET", "k", "v", "0"}, ":-1", true},
		{[]string{"SETEX", "k", "7", "v"}, ":7000", true},
		{[]string{"PSETEX", "k", "700", "v"}, ":700", true},
		// Beyond time.Duration (292 years): still exact, through Modify.
		{[]string{"SET", "k", "v", "EX", "100000000000"}, ":100000000000000", false},
		{[]string{"SET", "k", "v", "PXAT", "4102444800000"}, "", false},
		{[]string{"SET", "k", "v", "XX", "PX", "100"}, ":100", false},
		{[]string{"SET", "k", "v", "KEEPTTL"}, ":100", false},
	} {
		before := sets()
		eq(t, tc.args[0]+" reply", rc.do(tc.args...), "+OK")
		if tc.pttl != "" {
			eq(t, "PTTL after "+encodeCommand(tc.args...), rc.do("PTTL", "k"), tc.pttl)
		}
		eq(t, "counted as a DB.Set: "+encodeCommand(tc.args...), sets()-before == 1, tc.isSet)
	}
	ts.clock.Advance(time.Second)
	eq(t, "GET after the PX 100 deadline", rc.do("GET", "k"), "nil")
	runScript(t, ts, rc, `
		SET k v EX 0 => -ERR invalid expire time in 'set' command
		SET k v PX -5 => -ERR invalid expire time in 'set' command
		SET k v EX 9223372036854775807 => -ERR invalid expire time in 'set' command
		SETEX k 0 v => -ERR invalid expire time in 'setex' command
		SET k v -1 => -ERR invalid expire time in 'set' command
		GET k => nil
	`)
}
