package jepsen

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// The checks must be able to fail: each is given a history or a state
// with the violation it exists to find.

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestLinearizable_FindsViolations(t *testing.T) {
	for _, c := range []struct {
		name string
		ops  []Op
		want porcupine.CheckResult
	}{
		{"a read after an acknowledged write sees it", []Op{
			{Client: 1, Kind: Set, Key: "r", Value: 3, Call: ms(0), Return: ms(1), Status: OK},
			{Client: 2, Kind: Get, Key: "r", Call: ms(2), Return: ms(3), Status: OK, Found: true, Result: 3},
		}, porcupine.Ok},
		{"a lost write: a read after it sees nothing", []Op{
			{Client: 1, Kind: Set, Key: "r", Value: 3, Call: ms(0), Return: ms(1), Status: OK},
			{Client: 2, Kind: Get, Key: "r", Call: ms(2), Return: ms(3), Status: OK},
		}, porcupine.Illegal},
		{"a write of unknown outcome may land late", []Op{
			{Client: 1, Kind: Set, Key: "r", Value: 3, Call: ms(0), Return: ms(1), Status: Unknown},
			{Client: 2, Kind: Get, Key: "r", Call: ms(2), Return: ms(3), Status: OK},
			{Client: 2, Kind: Get, Key: "r", Call: ms(4), Return: ms(5), Status: OK, Found: true, Result: 3},
		}, porcupine.Ok},
		{"a refused write that took effect", []Op{
			{Client: 1, Kind: Set, Key: "r", Value: 3, Call: ms(0), Return: ms(1), Status: Fail},
			{Client: 2, Kind: Get, Key: "r", Call: ms(2), Return: ms(3), Status: OK, Found: true, Result: 3},
		}, porcupine.Illegal},
		{"increments counted twice", []Op{
			{Client: 1, Kind: Incr, Key: "c", Call: ms(0), Return: ms(1), Status: OK, Found: true, Result: 1},
			{Client: 2, Kind: Incr, Key: "c", Call: ms(2), Return: ms(3), Status: OK, Found: true, Result: 3},
		}, porcupine.Illegal},
		{"a CAS that applied on a value the key did not hold", []Op{
			{Client: 1, Kind: Set, Key: "r", Value: 1, Call: ms(0), Return: ms(1), Status: OK},
			{Client: 2, Kind: CAS, Key: "r", Old: 2, Value: 4, Call: ms(2), Return: ms(3), Status: OK, Applied: true},
		}, porcupine.Illegal},
		{"CAS applied, then read", []Op{
			{Client: 1, Kind: Set, Key: "r", Value: 1, Call: ms(0), Return: ms(1), Status: OK},
			{Client: 2, Kind: CAS, Key: "r", Old: 1, Value: 4, Call: ms(2), Return: ms(3), Status: OK, Applied: true},
			{Client: 3, Kind: CAS, Key: "r", Old: 1, Value: 2, Call: ms(4), Return: ms(5), Status: OK, Found: true, Result: 4},
		}, porcupine.Ok},
		{"a CAS that read a stale value", []Op{
			{Client: 1, Kind: Set, Key: "r", Value: 1, Call: ms(0), Return: ms(1), Status: OK},
			{Client: 1, Kind: Set, Key: "r", Value: 2, Call: ms(2), Return: ms(3), Status: OK},
			{Client: 3, Kind: CAS, Key: "r", Old: 4, Value: 2, Call: ms(4), Return: ms(5), Status: OK, Found: true, Result: 1},
		}, porcupine.Illegal},
	} {
		if got, _, _ := Linearizable(c.ops, 10*time.Second, ""); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCounters_FindsLostAndExtraIncrements(t *testing.T) {
	ops := []Op{
		{Kind: Incr, Key: "c1", Status: OK}, {Kind: Incr, Key: "c1", Status: OK}, {Kind: Incr, Key: "c1", Status: Unknown},
		{Kind: Get, Key: "c1", Client: -1, Status: OK, Found: true, Result: 1}, // one acknowledged lost
		{Kind: Incr, Key: "c2", Status: OK}, {Kind: Incr, Key: "c2", Status: Fail},
		{Kind: Get, Key: "c2", Client: -1, Status: OK, Found: true, Result: 2}, // a refused one applied
		{Kind: Incr, Key: "c3", Status: OK}, {Kind: Incr, Key: "c3", Status: Unknown},
		{Kind: Get, Key: "c3", Client: -1, Status: OK, Found: true, Result: 2}, // fine
	}
	bad := Counters(ops)
	if len(bad) != 2 || !strings.HasPrefix(bad[0]+bad[1], "c") || strings.Contains(strings.Join(bad, " "), "c3") {
		t.Fatalf("Counters = %q, want c1 and c2", bad)
	}
}

func TestState_Checks(t *testing.T) {
	ops := []Op{
		{Kind: Unique, Key: "u1", Value: 1, Status: OK},
		{Kind: Unique, Key: "u2", Value: 2, Status: Unknown},
		{Kind: Unique, Key: "u3", Value: 3, Status: Fail},
		{Kind: Unique, Key: "u4", Value: 4, Status: OK},
	}
	st := State{Node: "n1", Keys: map[string]string{"u2": "2 f=1", "u3": "3 f=1", "u4": "5 f=1"}}
	bad := strings.Join(Uniques(ops, st), "\n")
	for _, want := range []string{"acknowledged u1", "u3 exists", "u4 holds"} {
		if !strings.Contains(bad, want) {
			t.Errorf("Uniques misses %q:\n%s", want, bad)
		}
	}
	if strings.Contains(bad, "u2") {
		t.Errorf("Uniques flags a write of unknown outcome that landed:\n%s", bad)
	}

	st = State{Node: "n1", Keys: map[string]string{"t2": "1 expires_at=-1", "t3": "1 expires_at=5"},
		Retired: []string{"expired t1", "expired t1", "evicted t4", "expired t3"}}
	got, n := Expiries(st)
	all := strings.Join(got, "\n")
	for _, want := range []string{"expired twice: t1", "unexpected event: evicted t4", "expired but present: t3", "without a deadline: t2"} {
		if !strings.Contains(all, want) {
			t.Errorf("Expiries misses %q:\n%s", want, all)
		}
	}
	if n != 4 {
		t.Errorf("Expiries counted %d events, want 4", n)
	}

	a := State{Node: "n1", Keys: map[string]string{"k": "1", "x": "1"}, Events: []string{"e1"}}
	b := State{Node: "n2", Keys: map[string]string{"k": "2", "y": "1"}, Events: []string{"e1", "e2"}}
	d := Diff(a, b)
	for _, want := range []string{"k: n1 has", "x: n1 has", "y: n1 has none", "events: n1 has 1"} {
		if !strings.Contains(d, want) {
			t.Errorf("Diff misses %q:\n%s", want, d)
		}
	}
	if Diff(a, a) != "" {
		t.Errorf("Diff of a state with itself: %s", Diff(a, a))
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Status
	}{
		{nil, OK},
		{redisErr("READONLY You can't write against a read only replica."), Fail},
		{redisErr("TRYAGAIN no leader is elected yet"), Fail},
		{redisErr("ERR outcome unknown: the leader lost its leadership"), Unknown},
		{redis.TxFailedErr, Unknown}, // cas turns it into failErr itself
		{failErr{redis.TxFailedErr}, Fail},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, Fail},
		{&net.OpError{Op: "read", Err: errors.New("reset")}, Unknown},
		{io.EOF, Unknown},
	} {
		if got, _ := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// redisErr is an error reply as go-redis returns it.
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

// The proxy forwards, holds one direction while it is cut (the other
// still flows), delivers what it held on heal, and resets connections.
func TestNet_CutHealReset(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	got := make(chan string, 16)
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got <- string(buf[:n])
					_, _ = c.Write([]byte("ack:" + string(buf[:n])))
				}
			}()
		}
	}()
	nw := NewNet()
	defer nw.Close()
	addr, err := nw.AddLink("a", "b", echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func() string {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read through the proxy: %v", err)
		}
		return string(buf[:n])
	}
	_, _ = c.Write([]byte("1"))
	if r := read(); r != "ack:1" {
		t.Fatalf("through the proxy: %q", r)
	}
	// b's replies to a held: b still receives.
	nw.Cut("b", "a")
	_, _ = c.Write([]byte("2"))
	if r := <-got; r != "1" {
		t.Fatalf("echo got %q", r)
	}
	if r := <-got; r != "2" {
		t.Fatalf("with b->a cut, b got %q, want the bytes a sent", r)
	}
	// The reply is held (a cut that leaked would deliver it at once; a
	// slow machine can only make this pass, never fail wrongly).
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatalf("with b->a cut, a read %d bytes", n)
	}
	if cuts := nw.Cuts(); len(cuts) != 1 || cuts[0] != "b->a" {
		t.Fatalf("Cuts = %v", cuts)
	}
	nw.Heal()
	if r := read(); r != "ack:2" {
		t.Fatalf("after heal, a got %q, want the held reply", r)
	}
	nw.Reset("a", "b")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatal("a connection survived Reset")
	}
}
