// Package testutil holds helpers shared by EpochDB's tests. It is never
// imported by production code.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/clock"
)

// Epoch is the time manual clocks in tests start at.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// NewClock returns a manual clock at Epoch.
func NewClock() *clock.Manual { return clock.NewManual(Epoch) }

// Must fails the test on a non-nil error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers (a server's
// logger, a child process's output) and a reading test.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Eventually polls cond until it holds, failing the test after 10 seconds.
// For background work and real processes; the clock the lifecycle reads
// is advanced by the tests, never waited on.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
