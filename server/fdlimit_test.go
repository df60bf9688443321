package server

import (
	"log/slog"
	"strings"
	"testing"
)

// TestServer_MaxClientsLoweredToDescriptorLimit: with a descriptor limit
// below maxclients plus the reserve, maxclients is lowered to the limit
// minus the reserve and logged as Redis logs it; the client over it is
// refused. (TestServe_LowDescriptorLimit in cmd/epoch does the same with a
// real RLIMIT_NOFILE in a child process.)
func TestServer_MaxClientsLoweredToDescriptorLimit(t *testing.T) {
	old := fdLimit
	fdLimit = func() int64 { return 130 }
	t.Cleanup(func() { fdLimit = old })
	var logs syncBuffer
	ts := startServer(t, func(s *Server) {
		s.FDReserve = 128
		s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	a := ts.dial(t)
	eq(t, "CONFIG GET maxclients", a.do("CONFIG", "GET", "maxclients"), `["maxclients" "2"]`)
	if !strings.Contains(logs.String(), "You requested maxclients of 10000 requiring at least 10128 max file descriptors. Current maximum open files is 130. maxclients has been reduced to 2") {
		t.Errorf("log:\n%s", logs.String())
	}
	b := ts.dial(t)
	eq(t, "second client", b.do("PING"), "+PONG")
	eq(t, "third client", fmtReplies(ts.dial(t).expectClosed()), "[-ERR max number of clients reached]")

	// A limit large enough leaves maxclients alone.
	fdLimit = func() int64 { return 1 << 20 }
	ts2 := startServer(t)
	eq(t, "maxclients", ts2.dial(t).do("CONFIG", "GET", "maxclients"), `["maxclients" "10000"]`)
}

func fmtReplies(r []string) string { return "[" + strings.Join(r, " ") + "]" }
