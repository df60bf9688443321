package epochdb

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// The crash tests run a child process (this test binary, re-executed with
// crashChildEnv set; see TestMain) that writes under load and prints a line
// for every write the DB acknowledged. The parent SIGKILLs it mid-run,
// reopens the directory and checks what survived.

const (
	crashChildEnv = "EPOCHDB_CRASH_CHILD_DIR"
	crashModeEnv  = "EPOCHDB_CRASH_MODE"
	// SyncInterval of the default-mode child. Its WAL is synced every half
	// interval, so the bound holds while an fsync takes under 100ms. (Pebble
	// keeps writes made during an fsync in its buffer until the fsync ends,
	// so a kill then loses them; at 50ms, fsyncs slowed past 25ms by other
	// jobs on a shared disk broke the bound.)
	crashInterval  = 200 * time.Millisecond
	crashWriters   = 4
	crashCounter   = "counter"
	crashLongTTL   = 24 * time.Hour
	crashRunBefore = 800 * time.Millisecond // how long the child writes before the kill, at least
	crashMinAcks   = 200                    // acknowledged writes wanted before the kill
	crashMaxRun    = 20 * time.Second       // unless this long has passed
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		if os.Getenv(crashModeEnv) == "batch" {
			batchCrashChild(dir)
		}
		crashChild(dir, os.Getenv(crashModeEnv) == "sync")
		return // not reached: the children run until killed
	}
	os.Exit(m.Run())
}

// crashChild writes forever: each writer sets keys w<g>-<i> (every other one
// with a TTL) and increments the frequency of a shared counter key, printing
// "set <key> <unix ns>" and "inc <count> <unix ns>" after each acknowledgement.
func crashChild(dir string, syncWrites bool) {
	db, err := Open(dir, &Options{SyncWrites: syncWrites, SyncInterval: crashInterval})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	if err := db.Set([]byte(crashCounter), []byte("c"), 0); err != nil {
		fmt.Println("set counter:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriterSize(os.Stdout, 0)
	report := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format, args...)
		_ = out.Flush()
		mu.Unlock()
	}
	report("ready\n")
	var wg sync.WaitGroup
	for g := range crashWriters {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%d", g, i)
				ttl := time.Duration(0)
				if i%2 == 1 {
					ttl = crashLongTTL
				}
				if err := db.Set([]byte(key), []byte(key), ttl); err != nil {
					report("error %v\n", err)
					return
				}
				report("set %s %d\n", key, time.Now().UnixNano())
				if i%4 == 0 {
					n, err := db.IncrementFrequency([]byte(crashCounter))
					if err != nil {
						report("error %v\n", err)
						return
					}
					report("inc %d %d\n", n, time.Now().UnixNano())
				}
			}
		})
	}
	wg.Wait()
	os.Exit(3)
}

type ack struct {
	key   string // for sets
	count uint64 // for increments
	at    time.Time
}

func TestCrash_SyncWrites_LosesNothingAcknowledged(t *testing.T) {
	for run := range 3 {
		t.Run(fmt.Sprint(run), func(t *testing.T) { crashRun(t, true) })
	}
}

func TestCrash_DefaultMode_LosesAtMostOneInterval(t *testing.T) {
	for run := range 3 {
		t.Run(fmt.Sprint(run), func(t *testing.T) { crashRun(t, false) })
	}
}

func crashRun(t *testing.T, syncWrites bool) {
	dir := t.TempDir()
	mode := "default"
	if syncWrites {
		mode = "sync"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashModeEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	testutil.Must(t, err)
	testutil.Must(t, cmd.Start())

	lines := make(chan string, 1<<16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if first := <-lines; first != "ready" {
		_ = cmd.Process.Kill()
		t.Fatalf("child did not start: %q", first)
	}

	var sets, incs []ack
	parse := func(line string) {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Errorf("child: %s", line)
			return
		}
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		a := ack{at: time.Unix(0, ns)}
		switch f[0] {
		case "set":
			a.key = f[1]
			sets = append(sets, a)
		case "inc":
			a.count, _ = strconv.ParseUint(f[1], 10, 64)
			incs = append(incs, a)
		default:
			t.Errorf("child: %s", line)
		}
	}
	// Kill after crashRunBefore, once the child has acknowledged enough
	// writes to make the check meaningful (a loaded machine fsyncs slowly).
	start := time.Now()
	for time.Since(start) < crashRunBefore || (len(sets) < crashMinAcks && time.Since(start) < crashMaxRun) {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("child exited before the kill")
			}
			parse(line)
		case <-time.After(10 * time.Millisecond):
		}
	}
	killedAt := time.Now()
	testutil.Must(t, cmd.Process.Signal(syscall.SIGKILL))
	for line := range lines { // acknowledgements already in the pipe
		parse(line)
	}
	_ = cmd.Wait()
	if len(sets) < 50 {
		t.Fatalf("child acknowledged only %d writes before the kill", len(sets))
	}

	// Writes that must have survived: all acknowledged ones with SyncWrites,
	// those acknowledged more than one sync interval before the kill otherwise.
	mustSurvive := func(a ack) bool { return syncWrites || a.at.Before(killedAt.Add(-crashInterval)) }

	db, err := Open(dir, &Options{ExpiryInterval: time.Hour})
	testutil.Must(t, err)
	defer db.Close()
	checked, lost := 0, 0
	for _, a := range sets {
		if !mustSurvive(a) {
			continue
		}
		checked++
		v, err := db.Get([]byte(a.key))
		if err != nil || string(v) != a.key {
			lost++
			if lost <= 5 {
				t.Errorf("write of %s acknowledged %v before the kill is lost: %q, %v", a.key, killedAt.Sub(a.at), v, err)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d writes that had to survive were lost", lost, checked)
	}
	var maxCount uint64
	for _, a := range incs {
		if mustSurvive(a) && a.count > maxCount {
			maxCount = a.count
		}
	}
	md, err := db.Metadata([]byte(crashCounter))
	testutil.Must(t, err)
	if md.Frequency < maxCount {
		t.Fatalf("counter frequency %d after recovery, but %d was acknowledged in time", md.Frequency, maxCount)
	}

	// Metadata is consistent with the data: the persistent counters match a
	// full scan, and every key with a deadline is in the ttl index.
	var keys, withTTL int64
	testutil.Must(t, db.Scan(ScanOptions{}, func(k, _ []byte, md Metadata) error {
		keys++
		if !md.ExpiresAt.IsZero() {
			withTTL++
		}
		return nil
	}))
	if s := db.Stats(); s.Keys != keys || s.KeysWithTTL != withTTL {
		t.Fatalf("after recovery the counters say %d keys (%d with ttl), a scan finds %d (%d)", s.Keys, s.KeysWithTTL, keys, withTTL)
	}
	indexed := 0
	it, err := db.pdb.NewIter(nil)
	testutil.Must(t, err)
	for it.First(); it.Valid(); it.Next() {
		if it.Key()[0] == 't' {
			indexed++
		}
	}
	testutil.Must(t, it.Close())
	if int64(indexed) != withTTL {
		t.Fatalf("ttl index holds %d entries for %d keys with a deadline", indexed, withTTL)
	}
	t.Logf("%s mode: %d writes acknowledged, %d checked, %d present after recovery (%d keys)", mode, len(sets), checked, checked-lost, keys)
}

// batchKeys is the size of the batch the batch crash test commits: 1M keys,
// scaled down under the race detector (which makes it ~15× slower).
func batchKeys() int {
	if raceEnabled {
		return 100_000
	}
	return 1_000_000
}

// batchCrashChild commits one large batch and then waits to be killed,
// printing "committing" before Commit and "committed" after it returns.
func batchCrashChild(dir string) {
	db, err := Open(dir, &Options{SyncWrites: true})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	b := db.NewBatch()
	for i := range batchKeys() {
		k := []byte(fmt.Sprintf("b-%07d", i))
		if err := b.Set(k, k, time.Duration(i%2)*crashLongTTL); err != nil {
			fmt.Println("batch:", err)
			os.Exit(2)
		}
	}
	fmt.Println("committing")
	if err := b.Commit(); err != nil {
		fmt.Println("commit:", err)
		os.Exit(2)
	}
	fmt.Println("committed")
	select {}
}

// TestCrash_Batch_AllOrNothing kills a process while (or just after) it
// commits a batch of batchKeys() keys: after recovery either every key of the
// batch is there or none is, and the counters agree.
func TestCrash_Batch_AllOrNothing(t *testing.T) {
	for _, delay := range []time.Duration{100 * time.Millisecond, 700 * time.Millisecond, -1} {
		name := fmt.Sprint("kill ", delay, " into the commit")
		if delay < 0 {
			name = "kill after the commit returned"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashModeEnv+"=batch")
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			testutil.Must(t, err)
			testutil.Must(t, cmd.Start())
			sc := bufio.NewScanner(stdout)
			if !sc.Scan() || sc.Text() != "committing" {
				_ = cmd.Process.Kill()
				t.Fatalf("child: %q", sc.Text())
			}
			committed := make(chan bool, 1)
			go func() { committed <- sc.Scan() && sc.Text() == "committed" }()
			acked := false
			if delay < 0 {
				acked = <-committed
				if !acked {
					t.Fatal("child did not commit")
				}
			} else {
				time.Sleep(delay)
			}
			testutil.Must(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
			if !acked {
				acked = <-committed
			}

			db, err := Open(dir, &Options{ExpiryInterval: time.Hour})
			testutil.Must(t, err)
			defer db.Close()
			present := 0
			testutil.Must(t, db.Scan(ScanOptions{Prefix: []byte("b-")}, func(k, v []byte, _ Metadata) error {
				if string(k) != string(v) {
					t.Fatalf("key %q holds %q", k, v)
				}
				present++
				return nil
			}))
			n := batchKeys()
			if present != 0 && present != n {
				t.Fatalf("%d of the batch's %d keys survived: a batch must be all or nothing", present, n)
			}
			if acked && present != n {
				t.Fatalf("the commit was acknowledged but %d of %d keys survived", present, n)
			}
			if s := db.Stats(); s.Keys != int64(present) || s.KeysWithTTL != int64(present/2) {
				t.Fatalf("counters after recovery: %+v with %d keys present", s, present)
			}
			t.Logf("batch of %d keys: acknowledged %t, %d present after recovery", n, acked, present)
		})
	}
}
