package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// TestServe_ExecSurvivesKill9Whole kills epoch serve (this test binary run
// as it) with SIGKILL while clients run MULTI; SET a:i; SET b:i; EXEC in a
// loop, then opens the store: every EXEC is there whole or not at all, and
// with appendfsync always every acknowledged EXEC is there.
func TestServe_ExecSurvivesKill9Whole(t *testing.T) {
	for _, fsync := range []string{"always", "everysec"} {
		for round := range 3 {
			t.Run(fmt.Sprintf("%s/%d", fsync, round), func(t *testing.T) { execKillRound(t, fsync) })
		}
	}
}

// startChild runs epoch serve on dir (this test binary run as it) with the
// extra flags, and returns the process and its RESP address. The process
// is killed at the end of the test.
func startChild(t *testing.T, dir string, flags ...string) (*exec.Cmd, string) {
	t.Helper()
	args := append([]string{"-test.run=^$", "--", "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--http-addr="}, flags...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EPOCH_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addrc := make(chan string, 1)
	var logs testutil.SyncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write([]byte(sc.Text() + "\n"))
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	select {
	case addr := <-addrc:
		return cmd, addr
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not start:\n%s", logs.String())
	}
	return nil, ""
}

func execKillRound(t *testing.T, fsync string) {
	dir := filepath.Join(t.TempDir(), "data")
	cmd, addr := startChild(t, dir, "--appendfsync", fsync)

	const writers = 4
	var acked [writers]atomic.Int64 // per writer, the highest i whose EXEC was acknowledged
	var total atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 5 * time.Second})
			defer c.Close()
			for i := int64(1); i <= 100_000; i++ {
				v := fmt.Sprint(i)
				_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, fmt.Sprintf("a:%d:%d", w, i), v, 0)
					p.Set(ctx, fmt.Sprintf("b:%d:%d", w, i), v, 0)
					return nil
				})
				if err != nil {
					return // the server was killed
				}
				acked[w].Store(i)
				total.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for total.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	must(t, cmd.Process.Kill())
	_ = cmd.Wait()
	wg.Wait()
	if total.Load() == 0 {
		t.Fatal("no EXEC was acknowledged before the kill")
	}

	db, err := epochdb.Open(dir, nil)
	must(t, err)
	defer db.Close()
	for w := range writers {
		last := acked[w].Load()
		for i := int64(1); i <= last+64; i++ { // past the acknowledged ones too
			_, errA := db.Get([]byte(fmt.Sprintf("\x00a:%d:%d", w, i)))
			_, errB := db.Get([]byte(fmt.Sprintf("\x00b:%d:%d", w, i)))
			if (errA == nil) != (errB == nil) {
				t.Fatalf("writer %d, EXEC %d is torn: SET a -> %v, SET b -> %v", w, i, errA, errB)
			}
			if fsync == "always" && i <= last && errA != nil {
				t.Fatalf("writer %d: acknowledged EXEC %d (of %d) lost: %v", w, i, last, errA)
			}
		}
	}
	t.Logf("%d EXECs acknowledged before the kill", total.Load())
}

// TestServe_EventSeqNotReusedAfterKill9: a consumer reads the event log
// with a cursor; the server is killed with SIGKILL and restarted on the
// same store; events logged after the restart are still found from the
// consumer's cursor (a sequence number it saw is never handed out again).
func TestServe_EventSeqNotReusedAfterKill9(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	expireSome := func(c *redis.Client, prefix string, n int) {
		for i := range n {
			must(t, c.Set(ctx, fmt.Sprint(prefix, i), "v", time.Millisecond).Err())
		}
	}
	// read returns the keys of the events after cursor, waiting up to 10s
	// for want of them with the given prefix, and the new cursor.
	read := func(c *redis.Client, cursor int64, prefix string, want int) ([]string, int64) {
		var keys []string
		found := 0
		deadline := time.Now().Add(10 * time.Second)
		for found < want && time.Now().Before(deadline) {
			r, err := c.Do(ctx, "EPOCH.EVENTS", "FROM", cursor, "COUNT", 1000, "BLOCK", 200).Slice()
			must(t, err)
			cursor = r[0].(int64)
			for _, ev := range r[1].([]any) {
				k := ev.(map[any]any)["key"].(string)
				keys = append(keys, k)
				if strings.HasPrefix(k, prefix) {
					found++
				}
			}
		}
		return keys, cursor
	}

	cmd, addr := startChild(t, dir, "--event-log", "yes", "--appendfsync", "everysec")
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 3})
	expireSome(c, "before:", 50)
	seen, cursor := read(c, 0, "before:", 50)
	if len(seen) < 50 {
		t.Fatalf("read %d events of 50 before the kill", len(seen))
	}
	// Read the next events and kill at once: were the log readable before
	// its entries are durable, the kill could take back events the
	// consumer saw, and their numbers would be handed out again.
	expireSome(c, "last:", 50)
	_, cursor = read(c, cursor, "last:", 50)
	must(t, cmd.Process.Kill())
	_ = c.Close()
	_ = cmd.Wait()

	_, addr = startChild(t, dir, "--event-log", "yes", "--appendfsync", "everysec")
	c = redis.NewClient(&redis.Options{Addr: addr, Protocol: 3})
	defer c.Close()
	expireSome(c, "after:", 20)
	keys, _ := read(c, cursor, "after:", 20)
	after := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "after:") {
			after++
		}
	}
	if after != 20 {
		t.Fatalf("from the cursor %d the consumer saw %d of the 20 events logged after the restart (%d events in all)", cursor, after, len(keys))
	}
}
