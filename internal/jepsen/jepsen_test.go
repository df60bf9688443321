package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The harness's runs. By default one run: three nodes, appendfsync
// everysec, every fault once in a random order (about a minute).
// EPOCH_JEPSEN=long runs the long configuration (make jepsen): three
// nodes in each appendfsync mode, every fault three times, and five nodes,
// every fault twice. EPOCH_JEPSEN_SEED=n replays the order of a run;
// EPOCH_JEPSEN_FAULTS=a,b,... runs only those faults.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// epochBinary builds the epoch binary once for the test binary (with the
// race detector when the test runs under it), into a directory removed by
// TestMain.
func epochBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "epoch-jepsen-bin")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "epoch")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool(), append(args, "github.com/epochdb/epochdb/cmd/epoch")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// goTool is the go command of the toolchain running the test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

func seed(t *testing.T) uint64 {
	if s := os.Getenv("EPOCH_JEPSEN_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("EPOCH_JEPSEN_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// faultPlan returns rounds rounds of every fault, each round in a random
// order; EPOCH_JEPSEN_FAULTS=a,b,... (names of Faults) makes the rounds of
// those faults only, to chase a failure one of them finds.
func faultPlan(t *testing.T, rng *rand.Rand, rounds int) []string {
	faults := Faults
	if s := os.Getenv("EPOCH_JEPSEN_FAULTS"); s != "" {
		faults = strings.Split(s, ",")
		for _, f := range faults {
			if !slices.Contains(Faults, f) {
				t.Fatalf("EPOCH_JEPSEN_FAULTS: no fault %q (the faults: %s)", f, strings.Join(Faults, ", "))
			}
		}
	}
	var out []string
	for range rounds {
		round := append([]string(nil), faults...)
		rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		out = append(out, round...)
	}
	return out
}

// TestJepsen runs the harness: by default one run of three nodes (about a
// minute, part of make test), EPOCH_JEPSEN=long the long configuration
// (make jepsen); -short skips it.
func TestJepsen(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault-injection harness takes a minute; run without -short")
	}
	mode := os.Getenv("EPOCH_JEPSEN")
	bin := epochBinary(t)
	type run struct {
		size   int
		fsync  string
		rounds int
	}
	runs := []run{{3, "everysec", 1}}
	if mode == "long" {
		runs = []run{{3, "always", 3}, {3, "everysec", 3}, {3, "no", 3}, {5, "everysec", 2}}
	}
	for _, r := range runs {
		t.Run(fmt.Sprintf("%dnodes-%s", r.size, r.fsync), func(t *testing.T) {
			s := seed(t)
			rng := rand.New(rand.NewPCG(s, 2))
			dir := t.TempDir()
			rc := RunConfig{
				Config:  Config{Bin: bin, Dir: dir, Size: r.size, Appendfsync: r.fsync, Logf: t.Logf},
				Clients: 6, Faults: faultPlan(t, rng, r.rounds),
				Hold: 2 * time.Second, Recover: time.Second, Seed: s,
			}
			start := time.Now()
			rep, err := Run(context.Background(), rc)
			if err != nil {
				t.Fatalf("seed %d: %v", s, err)
			}
			var fo []string
			for _, d := range rep.Failovers {
				fo = append(fo, d.Round(time.Millisecond).String())
			}
			t.Logf("seed %d, %v: %d operations (%d ok, %d failed, %d unknown), %d faults, %d keys at the end, %d expiries; failover (leader killed → write accepted): %v",
				s, time.Since(start).Round(time.Second), len(rep.Ops), rep.Counts[OK], rep.Counts[Fail], rep.Counts[Unknown],
				rep.Faults, rep.Keys, rep.Expiries, fo)
			if rep.Counts[OK] < 200 {
				t.Errorf("only %d operations succeeded: the cluster was not available enough to check much", rep.Counts[OK])
			}
			if len(rep.Problems) > 0 {
				t.Errorf("seed %d (EPOCH_JEPSEN_SEED=%d replays the fault order): %d problems; the nemesis did:\n%s",
					s, s, len(rep.Problems), strings.Join(rep.Nemesis, "\n"))
				for _, p := range rep.Problems {
					t.Error(p)
				}
				for i := range r.size {
					id := fmt.Sprint("n", i+1)
					t.Logf("the end of %s's log:\n%s", id, tail(filepath.Join(dir, id+".log"), 40))
				}
			}
		})
	}
}

// quietRedis drops go-redis's own log lines (a dial refused by a killed
// node is expected here, thousands of times).
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }
