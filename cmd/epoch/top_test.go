package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/redis/go-redis/v9"
)

// step runs the model's pending command (a reading) and feeds its
// message back, as the bubbletea runtime would.
func step(t *testing.T, m *topModel, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command to run")
	}
	msg := cmd()
	if d, ok := msg.(topData); ok && d.err != nil {
		t.Fatalf("reading: %v", d.err)
	}
	m.Update(msg)
}

// TestTop_Model drives epoch top's model against a real server: the
// overview shows the key count and rates, the hottest-keys view the key
// read most, the retirements view a key that expired, and q quits.
func TestTop_Model(t *testing.T) {
	o := testOptions(t)
	o.eventLog = true
	resp, _ := runServeInProcess(t, o)
	rc := newClient(t, resp)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		must(t, rc.Set(ctx, k, "v", 0).Err())
	}
	for range 4 {
		must(t, rc.Get(ctx, "b").Err())
	}
	c := redis.NewClient(&redis.Options{Addr: resp, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	m := newTopModel(c, resp, 0, time.Second)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	if v := m.View(); !strings.Contains(v, "reading") {
		t.Errorf("before the first reading:\n%s", v)
	}
	step(t, m, m.Init())
	must(t, rc.Set(ctx, "gone", "x", 50*time.Millisecond).Err())
	deadline := time.Now().Add(20 * time.Second)
	for len(m.retired) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no retirement read; view:\n%s", m.View())
		}
		time.Sleep(100 * time.Millisecond)
		step(t, m, m.fetch())
	}
	v := m.View()
	for _, want := range []string{"epoch top", "1 overview", "commands/s", "keys", "3", "db0: 3 keys"} {
		if !strings.Contains(v, want) {
			t.Errorf("overview lacks %q:\n%s", want, v)
		}
	}
	m.Update(tea.KeyMsg{Type: tea.KeyTab})
	v = m.View()
	if lines := strings.Split(v, "\n"); len(lines) < 6 || !strings.HasSuffix(strings.TrimSpace(lines[5]), " b") {
		t.Errorf("hottest keys: want b first:\n%s", v)
	}
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("3")})
	if v := m.View(); !strings.Contains(v, "expired") || !strings.Contains(v, "gone") {
		t.Errorf("retirements lack the expired key:\n%s", v)
	}
	if _, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")}); cmd == nil || cmd() != tea.Quit() {
		t.Error("q does not quit")
	}
}

// TestTop_EventLogOff: without the event log the retirements view says
// how to turn it on.
func TestTop_EventLogOff(t *testing.T) {
	resp, _ := runServeInProcess(t, testOptions(t))
	c := redis.NewClient(&redis.Options{Addr: resp, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	m := newTopModel(c, resp, 0, time.Second)
	step(t, m, m.Init())
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("3")})
	if v := m.View(); !strings.Contains(v, "--event-log yes") {
		t.Errorf("retirements view:\n%s", v)
	}
}

// syncBuffer is a bytes.Buffer safe for the program's writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTop_Run runs the epoch top command against a real server: it
// renders readings, updates, and quits cleanly on q.
func TestTop_Run(t *testing.T) {
	o := testOptions(t)
	o.requirepass = "top-secret"
	resp, _ := runServeInProcess(t, o)
	rc := newClient(t, resp, func(ro *redis.Options) { ro.Password = o.requirepass })
	must(t, rc.Set(context.Background(), "k", "v", 0).Err())

	in, inW := io.Pipe()
	out := &syncBuffer{}
	cmd := newRootCmd()
	cmd.SetArgs([]string{"top", "--addr", resp, "--password", o.requirepass, "--interval", "200ms"})
	cmd.SetIn(in)
	cmd.SetOut(out)
	cmd.SetErr(out)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(out.String(), "commands/s") < 2 { // the first reading, then an update
		if time.Now().After(deadline) {
			t.Fatalf("top did not render two readings:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := inW.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("top: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("top did not quit on q")
	}
	_ = inW.Close()

	// A wrong password is a clear error, before any screen.
	cmd = newRootCmd()
	cmd.SetArgs([]string{"top", "--addr", resp, "--password", "wrong"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("top with a wrong password: %v", err)
	}
}
