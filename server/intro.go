package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Introspection: the server's state behind INFO cpu, commandstats,
// errorstats and latencystats, LATENCY, MONITOR and CLIENT PAUSE, and the
// per-connection modes of CLIENT (NO-TOUCH, NO-EVICT).

// introState is the Server's introspection state.
type introState struct {
	cmds     []atomic.Pointer[cmdStat] // by entry.idx
	setEntry *entry                    // SET, for group commits
	errors   errorStats
	latency  latencyMonitor
	monitors monitorSet
	pause    pauseState

	tracking         atomic.Bool  // latency-tracking: per-command latency histograms
	latencyThreshold atomic.Int64 // latency-monitor-threshold, ms; 0 = off
	pctMu            sync.RWMutex // guards pcts
	pcts             []float64    // latency-tracking-info-percentiles
}

// connIntro is a connection's introspection state.
type connIntro struct {
	errReplies uint64 // error replies written (noteError)
	cur        *entry // the command being executed, until it is (countRejected)
	noTouch    bool   // CLIENT NO-TOUCH on: reads are not accesses
	// For CLIENT LIST, read by other goroutines.
	flags atomic.Uint32 // connMonitor, connNoTouch, connNoEvict
	fd    atomic.Int64  // the socket's descriptor + 1; 0 = not read yet
}

// Bits of connIntro.flags.
const (
	connMonitor uint32 = 1 << iota
	connNoTouch
	connNoEvict
)

func (ci *connIntro) setFlag(f uint32, on bool) {
	for {
		old := ci.flags.Load()
		nf := old &^ f
		if on {
			nf |= f
		}
		if ci.flags.CompareAndSwap(old, nf) {
			return
		}
	}
}

func (ci *connIntro) has(f uint32) bool { return ci.flags.Load()&f != 0 }

func (in *introState) init(s *Server) {
	if s.mux != nil {
		in.cmds = make([]atomic.Pointer[cmdStat], len(s.mux.m))
		in.setEntry = s.mux.m["set"]
	}
	in.tracking.Store(true)
	in.pcts = []float64{50, 99, 99.9}
}

func (in *introState) percentiles() []float64 {
	in.pctMu.RLock()
	defer in.pctMu.RUnlock()
	return in.pcts
}

// resetIntro is RESET's part: monitor mode, NO-TOUCH and NO-EVICT end.
func (c *Conn) resetIntro() {
	c.stopMonitor()
	c.in.noTouch = false
	c.in.setFlag(connNoTouch|connNoEvict, false)
}

// Configuration parameters: CONFIG GET and SET.
func init() {
	params = append(params,
		param{name: "latency-monitor-threshold",
			get: func(s *Server) string { return strconv.FormatInt(s.intro.latencyThreshold.Load(), 10) },
			set: func(tx *configTx, v string) error {
				return stageInt(tx, &tx.s.intro.latencyThreshold, v, 0, 1<<53, 1)
			}},
		param{name: "latency-tracking",
			get: func(s *Server) string { return yesNo(s.intro.tracking.Load()) },
			set: func(tx *configTx, v string) error {
				on, err := parseYesNo(v)
				if err != nil {
					return err
				}
				return tx.then(func() { tx.s.intro.tracking.Store(on) })
			}},
		param{name: "latency-tracking-info-percentiles",
			get: func(s *Server) string {
				var b []string
				for _, p := range s.intro.percentiles() {
					b = append(b, formatPercentile(p))
				}
				return strings.Join(b, " ")
			},
			set: func(tx *configTx, v string) error {
				ps, err := parsePercentiles(v)
				if err != nil {
					return err
				}
				return tx.then(func() {
					tx.s.intro.pctMu.Lock()
					tx.s.intro.pcts = ps
					tx.s.intro.pctMu.Unlock()
				})
			}},
	)
}

// parsePercentiles parses latency-tracking-info-percentiles: numbers
// between 0 and 100 separated by spaces (none is allowed).
func parsePercentiles(v string) ([]float64, error) {
	var ps []float64
	for _, f := range strings.Fields(v) {
		p, err := strconv.ParseFloat(f, 64)
		if err != nil || p < 0 || p > 100 || p != p {
			return nil, fmt.Errorf("latency-tracking-info-percentiles must be numbers between 0 and 100")
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// INFO sections.

// introInfo returns the fields of INFO's cpu, commandstats, errorstats
// and latencystats sections.
func (s *Server) introInfo(section string) [][2]string {
	switch section {
	case "cpu":
		return cpuInfo()
	case "commandstats":
		return s.commandStatsInfo()
	case "errorstats":
		return s.intro.errors.info()
	case "latencystats":
		return s.latencyStatsInfo()
	}
	return nil
}

func sortPairs(kv [][2]string) {
	slices.SortFunc(kv, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
}
