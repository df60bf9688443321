package server

import (
	"testing"
	"time"

	"github.com/epochdb/epochdb"
)

// TestKeys_RenameCopyMoveSwapKeepHistory: RENAME, COPY (also to another
// database), MOVE and SWAPDB carry a key's lifecycle metadata (frequency,
// heat, created, updated, last access) and deadline to where it goes, in
// and out of EXEC, and across a restart.
func TestKeys_RenameCopyMoveSwapKeepHistory(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	eq(t, "SET", rc.do("SET", "k", "v", "EX", "1000"), "+OK")
	ts.clock.Advance(time.Minute)
	eq(t, "TOUCH", rc.do("TOUCH", "k", "k", "k"), ":3")
	ts.clock.Advance(time.Minute)
	want := rc.do("EPOCH.META", "k")
	if want == "nil" {
		t.Fatal("no metadata")
	}
	eq(t, "SET other", rc.do("SET", "other", "x"), "+OK") // replaced with its history

	steps := []struct {
		cmd  []string
		key  string // where the key is afterwards (in the selected db)
		db   string
		want string
	}{
		{[]string{"RENAME", "k", "other"}, "other", "0", "+OK"},
		{[]string{"RENAMENX", "other", "k2"}, "k2", "0", ":1"},
		{[]string{"COPY", "k2", "k3"}, "k3", "0", ":1"},
		{[]string{"COPY", "k3", "k3", "DB", "4"}, "k3", "4", ":1"},
		{[]string{"MOVE", "k3", "5"}, "k3", "5", ":1"},
		{[]string{"SWAPDB", "5", "6"}, "k3", "6", "+OK"},
	}
	for _, s := range steps {
		eq(t, s.cmd[0], rc.do(s.cmd...), s.want)
		eq(t, "SELECT", rc.do("SELECT", s.db), "+OK")
		eq(t, "EPOCH.META after "+s.cmd[0], rc.do("EPOCH.META", s.key), want)
		eq(t, "SELECT 0", rc.do("SELECT", "0"), "+OK")
	}
	// Inside EXEC too.
	for _, c := range [][]string{{"MULTI"}, {"RENAME", "k2", "k4"}, {"MOVE", "k4", "7"}, {"SWAPDB", "7", "8"}} {
		rc.do(c...)
	}
	eq(t, "EXEC", rc.do("EXEC"), "[+OK :1 +OK]")
	ts.restart(t)
	rc = ts.dial(t)
	eq(t, "SELECT 8", rc.do("SELECT", "8"), "+OK")
	eq(t, "EPOCH.META after EXEC and restart", rc.do("EPOCH.META", "k4"), want)
	eq(t, "GET", rc.do("GET", "k4"), `"v"`)
	eq(t, "TTL", rc.do("TTL", "k4"), ":880")
	eq(t, "DBSIZE 8", rc.do("DBSIZE"), ":1")
	eq(t, "SELECT 0", rc.do("SELECT", "0"), "+OK")
	eq(t, "DBSIZE 0", rc.do("DBSIZE"), ":0")
}

// TestKeys_SwapDBDirtiesWatchesOfBothDatabases: a client WATCHing a key in
// either database of a SWAPDB sees it changed when the swap changes it,
// and not when the key is absent from both.
func TestKeys_SwapDBDirtiesWatchesOfBothDatabases(t *testing.T) {
	ts := startServer(t)
	other := ts.dial(t)
	eq(t, "SET", other.do("SET", "only0", "x"), "+OK")
	eq(t, "SELECT", other.do("SELECT", "1"), "+OK")
	eq(t, "SET", other.do("SET", "only1", "y"), "+OK")

	for _, c := range []struct {
		db, key, want string
	}{
		{"0", "only0", "nil"},     // leaves db 0
		{"0", "only1", "nil"},     // arrives in db 0
		{"1", "only0", "nil"},     // arrives in db 1
		{"0", "neither", "[+OK]"}, // untouched
	} {
		rc := ts.dial(t)
		eq(t, "SELECT", rc.do("SELECT", c.db), "+OK")
		eq(t, "WATCH", rc.do("WATCH", c.key), "+OK")
		eq(t, "SWAPDB", other.do("SWAPDB", "0", "1"), "+OK")
		eq(t, "MULTI", rc.do("MULTI"), "+OK")
		eq(t, "SET", rc.do("SET", "w", "1"), "+QUEUED")
		eq(t, "EXEC watching "+c.db+"/"+c.key, rc.do("EXEC"), c.want)
	}
}

// TestKeys_PastDeadlineIsGoneEverywhere: once a key's deadline passes, and
// before the sweeper removes it, every command agrees it is gone.
func TestKeys_PastDeadlineIsGoneEverywhere(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) { o.ExpiryInterval = time.Hour })
	rc := ts.dial(t)
	eq(t, "SET", rc.do("SET", "k", "v", "PX", "1500"), "+OK")
	eq(t, "SET b", rc.do("SET", "b", "\xff", "PX", "1500"), "+OK")
	ts.clock.Advance(1500 * time.Millisecond)
	runScript(t, ts, rc, `
		TYPE k => +none
		EXISTS k => :0
		TTL k => :-2
		PTTL k => :-2
		EXPIRETIME k => :-2
		GET k => nil
		STRLEN k => :0
		GETBIT b 0 => :0
		BITCOUNT b => :0
		BITPOS b 0 => :0
		LCS k b => ""
		OBJECT ENCODING k => nil
		EPOCH.META k => nil
		KEYS * => []
		SCAN 0 => ["0" []]
		RENAME k x => -ERR no such key
		COPY k x => :0
		MOVE k 1 => :0
		PERSIST k => :0
		EXPIRE k 100 => :0
		SETNX k new => :1
		TTL k => :-1
		SETBIT b 7 1 => :0
		GET b => "\x01"
	`)
}
