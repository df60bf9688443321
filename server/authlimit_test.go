package server

import (
	"context"
	"github.com/epochdb/epochdb/internal/testutil"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// authWaits records the delays the server asks for instead of sleeping.
type authWaits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *authWaits) wait(_ context.Context, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
}

func (w *authWaits) take() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.d
	w.d = nil
	return d
}

// TestSecurity_AuthFailuresDelayed: each failed AUTH of a connection and of
// its source address is answered after a growing, bounded delay; the
// delays of one address queue one after another across its connections;
// past authQueueMax of queued delays the address is refused without a
// password check; after authForget without failures it starts over, and
// the right password is accepted again. Failures are logged at most once
// per interval, with their count. The delays are recorded, not slept, and
// the server's manual clock stands for the time passing.
func TestSecurity_AuthFailuresDelayed(t *testing.T) {
	var waits authWaits
	var logs syncBuffer
	ts := startServer(t, func(s *Server) {
		s.RequirePass = "s3cret"
		s.authWait = waits.wait
		s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	rc := ts.dial(t)
	for range 4 {
		eq(t, "AUTH wrong", rc.do("AUTH", "wrong"), "-"+errWrongPass)
	}
	// One connection: 10ms, 20ms, 40ms, 80ms, each slot after the previous
	// one (the clock does not move, so the waits add up).
	eq(t, "waits", fmtDurations(waits.take()), "[10ms 30ms 70ms 150ms]")

	// A second connection from the same address continues the address's
	// count and queue: more connections do not guess faster.
	rc2 := ts.dial(t)
	eq(t, "HELLO AUTH wrong", rc2.do("HELLO", "3", "AUTH", "default", "wrong"), "-"+errWrongPass)
	eq(t, "second connection", fmtDurations(waits.take()), "[310ms]")

	// The delay is capped at authDelayMax; once more than authQueueMax is
	// queued, attempts are refused unchecked, even with the right password.
	for {
		got := rc2.do("AUTH", "wrong")
		if got == "-"+errAuthThrottled {
			break
		}
		eq(t, "AUTH wrong", got, "-"+errWrongPass)
	}
	ws := waits.take()
	for i := 1; i < len(ws); i++ {
		if step := ws[i] - ws[i-1]; step > authDelayMax {
			t.Errorf("delay %d grew by %v, more than %v", i, step, authDelayMax)
		}
	}
	eq(t, "right password while throttled", rc.do("AUTH", "s3cret"), "-"+errAuthThrottled)
	eq(t, "no wait for a refusal", len(waits.take()), 0)

	// Only the first failure was logged so far, with its count.
	eq(t, "log lines", strings.Count(logs.String(), "authentication failed"), 1)
	eq(t, "first count", strings.Contains(logs.String(), "failures=1 "), true)

	// Time passes (the queue drains, then the address is forgotten): the
	// right password works, and the pending failures are logged once with
	// their count at the next failure.
	ts.clock.Advance(authQueueMax + authForget)
	eq(t, "AUTH after the queue drained", rc.do("AUTH", "s3cret"), "+OK")
	eq(t, "AUTH wrong again", rc2.do("AUTH", "wrong"), "-"+errWrongPass)
	if got := waits.take(); len(got) != 1 || got[0] > authDelayMax {
		t.Errorf("wait after forgetting the address: %v", got)
	}
	eq(t, "log lines", strings.Count(logs.String(), "authentication failed"), 2)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if last := lines[len(lines)-1]; strings.Contains(last, "failures=1 ") || !strings.Contains(last, "failures=") {
		t.Errorf("the second log line does not count the failures in between:\n%s", logs.String())
	}
	eq(t, "authenticated connection works", rc.do("SET", "k", "v"), "+OK")
}

// TestSecurity_AuthDelayEndsAtShutdown: a connection waiting out its AUTH
// delay does not hold up shutdown (the real wait is used here).
func TestSecurity_AuthDelayEndsAtShutdown(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.RequirePass = "s3cret" })
	ts.srv.auth.mu.Lock()
	h := ts.srv.auth.host("127.0.0.1", ts.clock.Now())
	h.failures, h.last = 100, ts.clock.Now() // the next failure waits authDelayMax
	ts.srv.auth.mu.Unlock()
	rc := ts.dial(t)
	rc.send(encodeCommand("AUTH", "wrong"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testutil.Eventually(t, "the AUTH is being delayed", func() bool {
		ts.srv.auth.mu.Lock()
		defer ts.srv.auth.mu.Unlock()
		return h.failures == 101
	})
	must(t, ts.srv.Shutdown(ctx))
	eq(t, "the delayed reply", rc.read(), "-"+errWrongPass)
}

func fmtDurations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestAuthDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{0: authDelayBase, 1: authDelayBase, 2: 2 * authDelayBase, 8: 1280 * time.Millisecond, 9: authDelayMax, 64: authDelayMax, 1 << 30: authDelayMax} {
		eq(t, "authDelay", authDelay(n), want)
	}
}
