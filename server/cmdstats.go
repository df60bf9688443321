package server

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Command statistics for INFO commandstats, errorstats and latencystats and
// LATENCY HISTOGRAM. The hot path (every command) adds to a few atomic
// counters of the command's own record and one histogram bucket: no lock,
// no allocation (a command's record is allocated once, at its first call).

// cmdStat are one command's counters.
type cmdStat struct {
	calls    atomic.Uint64 // executed
	ns       atomic.Uint64 // their execution time
	rejected atomic.Uint64 // refused before execution (arity, auth, MULTI, pub/sub context)
	failed   atomic.Uint64 // executed and answered with an error
	hist     latencyHist
}

// The latency histogram is log-linear over nanoseconds: values below
// histSub have a bucket each, then every power of two is split into histSub
// buckets, so a bucket is at most 1/histSub (12.5%) wide relative to its
// values. Values of 2^histMaxExp ns (about 18 minutes) and more share the
// last bucket.
const (
	histSubBits = 3
	histSub     = 1 << histSubBits
	histMaxExp  = 40
	histBuckets = histSub + (histMaxExp-histSubBits+1)*histSub
)

type latencyHist struct {
	b [histBuckets]atomic.Uint64
}

// histIndex is the bucket of a duration of ns nanoseconds.
func histIndex(ns uint64) int {
	if ns < histSub {
		return int(ns)
	}
	e := bits.Len64(ns) - 1 // ns is in [2^e, 2^(e+1))
	if e > histMaxExp {
		return histBuckets - 1
	}
	sub := int(ns>>(e-histSubBits)) & (histSub - 1)
	return histSub + (e-histSubBits)*histSub + sub
}

// histUpper is the exclusive upper bound of bucket i, in nanoseconds.
func histUpper(i int) uint64 {
	if i < histSub {
		return uint64(i) + 1
	}
	e := (i-histSub)/histSub + histSubBits
	sub := uint64((i - histSub) % histSub)
	return (histSub + sub + 1) << (e - histSubBits)
}

func (h *latencyHist) add(ns uint64) { h.b[histIndex(ns)].Add(1) }

// snapshot copies the counts into dst and returns their total.
func (h *latencyHist) snapshot(dst *[histBuckets]uint64) uint64 {
	var total uint64
	for i := range h.b {
		dst[i] = h.b[i].Load()
		total += dst[i]
	}
	return total
}

func (h *latencyHist) reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
}

// percentileUsec is the latency at percentile p (0-100) of the counts, in
// microseconds: the upper bound of the bucket holding it (the histogram's
// highest equivalent value, as Redis's HDR histogram reports).
func percentileUsec(counts *[histBuckets]uint64, total uint64, p float64) float64 {
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(total)))
	rank = max(rank, 1)
	var cum uint64
	for i, n := range counts {
		cum += n
		if cum >= rank {
			return float64(histUpper(i)-1) / 1e3
		}
	}
	return float64(histUpper(histBuckets-1)-1) / 1e3
}

// stat returns e's record, allocating it at its first use; nil for a
// command registered after the server started.
func (in *introState) stat(e *entry) *cmdStat {
	if e.idx >= len(in.cmds) {
		return nil
	}
	p := &in.cmds[e.idx]
	if st := p.Load(); st != nil {
		return st
	}
	st := new(cmdStat)
	if p.CompareAndSwap(nil, st) {
		return st
	}
	return p.Load()
}

// observe records an executed command: its statistics, the latency
// monitor, and MONITOR's feed.
func (c *Conn) observe(e *entry, args [][]byte, took time.Duration, failed bool) {
	c.in.cur = nil // executed: not a rejection
	in := &c.srv.intro
	ns := uint64(max(took, 0))
	if st := in.stat(e); st != nil {
		st.calls.Add(1)
		st.ns.Add(ns)
		if failed {
			st.failed.Add(1)
		}
		if in.tracking.Load() {
			st.hist.add(ns)
		}
	}
	if th := in.latencyThreshold.Load(); th > 0 && took.Milliseconds() >= th {
		in.latency.record("command", c.srv.now().Unix(), took.Milliseconds())
	}
	if in.monitors.n.Load() > 0 && e.spec.Flags&FlagAdmin == 0 {
		c.feedMonitors(args)
	}
}

// grouped1 records a SET that joined a group commit (group.go): MONITOR
// sees it now; its call is counted when the group commits.
func (c *Conn) grouped1(e *entry, args [][]byte) {
	c.in.cur = nil
	if c.srv.intro.monitors.n.Load() > 0 {
		c.feedMonitors(args)
	}
}

// observeGroup counts the n SETs of a group commit that took took, each
// with an equal share of the time.
func (c *Conn) observeGroup(n int, took time.Duration, failed bool) {
	in := &c.srv.intro
	e := in.setEntry
	if n == 0 || e == nil {
		return
	}
	st := in.stat(e)
	if st == nil {
		return
	}
	each := uint64(max(took, 0)) / uint64(n)
	st.calls.Add(uint64(n))
	st.ns.Add(each * uint64(n))
	if failed {
		st.failed.Add(uint64(n))
	}
	if in.tracking.Load() {
		for range n {
			st.hist.add(each)
		}
	}
}

// countRejected counts the command being executed as rejected when an
// error was answered (the error count moved from errs) without executing it.
func (c *Conn) countRejected(errs uint64) {
	e := c.in.cur
	if e == nil || c.in.errReplies == errs {
		return
	}
	c.in.cur = nil
	if st := c.srv.intro.stat(e); st != nil {
		st.rejected.Add(1)
	}
}

// maxErrorCodes bounds the distinct error codes errorstats keeps, as
// Redis does: codes seen after the table is full are counted in
// total_error_replies only.
const maxErrorCodes = 128

// errorStats count the error replies by code (the first word).
type errorStats struct {
	mu    sync.Mutex // guards codes
	codes map[string]uint64
	total atomic.Uint64
}

// noteError counts an error reply for INFO errorstats and the command's
// failed calls.
func (c *Conn) noteError(msg string) {
	c.in.errReplies++
	c.srv.intro.errors.add(msg)
}

func (es *errorStats) add(msg string) {
	es.total.Add(1)
	code := "ERR" // Redis: the text before the first space, within 32 bytes
	if i := strings.IndexByte(msg[:min(len(msg), 32)], ' '); i > 0 {
		code = msg[:i]
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if _, ok := es.codes[code]; ok || len(es.codes) < maxErrorCodes {
		if es.codes == nil {
			es.codes = make(map[string]uint64)
		}
		es.codes[code]++
	}
}

// info returns errorstat lines, sorted by code.
func (es *errorStats) info() [][2]string {
	es.mu.Lock()
	defer es.mu.Unlock()
	out := make([][2]string, 0, len(es.codes))
	for code, n := range es.codes {
		out = append(out, [2]string{"errorstat_" + code, "count=" + strconv.FormatUint(n, 10)})
	}
	sortPairs(out)
	return out
}

func (es *errorStats) reset() {
	es.mu.Lock()
	defer es.mu.Unlock()
	es.codes = nil
	es.total.Store(0)
}

// commandStatsInfo is INFO commandstats: every command called, failed or
// rejected at least once, by name.
func (s *Server) commandStatsInfo() [][2]string {
	var out [][2]string
	s.eachStat(func(name string, st *cmdStat) {
		calls, ns := st.calls.Load(), st.ns.Load()
		rej, failed := st.rejected.Load(), st.failed.Load()
		if calls+rej+failed == 0 {
			return
		}
		usec := ns / 1e3
		per := 0.0
		if calls > 0 {
			per = float64(ns) / 1e3 / float64(calls)
		}
		out = append(out, [2]string{"cmdstat_" + name,
			"calls=" + strconv.FormatUint(calls, 10) +
				",usec=" + strconv.FormatUint(usec, 10) +
				",usec_per_call=" + strconv.FormatFloat(per, 'f', 2, 64) +
				",rejected_calls=" + strconv.FormatUint(rej, 10) +
				",failed_calls=" + strconv.FormatUint(failed, 10)})
	})
	return out
}

// latencyStatsInfo is INFO latencystats: the configured percentiles of
// every command with a recorded latency.
func (s *Server) latencyStatsInfo() [][2]string {
	ps := s.intro.percentiles()
	var out [][2]string
	var counts [histBuckets]uint64
	s.eachStat(func(name string, st *cmdStat) {
		total := st.hist.snapshot(&counts)
		if total == 0 {
			return
		}
		var b strings.Builder
		for i, p := range ps {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("p" + formatPercentile(p) + "=" + strconv.FormatFloat(percentileUsec(&counts, total, p), 'f', 3, 64))
		}
		out = append(out, [2]string{"latency_percentiles_usec_" + name, b.String()})
	})
	return out
}

// formatPercentile writes a percentile as Redis does: 50, 99, 99.9.
func formatPercentile(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// eachStat calls fn for every command with a record, by name.
func (s *Server) eachStat(fn func(name string, st *cmdStat)) {
	if s.mux == nil {
		return
	}
	for _, spec := range s.mux.Specs() {
		e := s.mux.m[spec.Name]
		if e.idx >= len(s.intro.cmds) {
			continue
		}
		if st := s.intro.cmds[e.idx].Load(); st != nil {
			fn(spec.Name, st)
		}
	}
}

// resetCommandStats is CONFIG RESETSTAT's part: command, error and latency
// statistics.
func (in *introState) resetCommandStats() {
	for i := range in.cmds {
		if st := in.cmds[i].Load(); st != nil {
			st.calls.Store(0)
			st.ns.Store(0)
			st.rejected.Store(0)
			st.failed.Store(0)
			st.hist.reset()
		}
	}
	in.errors.reset()
}

// histogramUsec is LATENCY HISTOGRAM's view of a histogram: cumulative
// counts at power-of-two microsecond bounds, where the count grows.
func histogramUsec(counts *[histBuckets]uint64) (bounds []uint64, cum []uint64) {
	var total uint64
	for i, n := range counts {
		if n == 0 {
			continue
		}
		total += n
		usec := (histUpper(i) - 1) / 1e3
		bound := uint64(1)
		if usec > 1 {
			bound = 1 << bits.Len64(usec-1) // the next power of two at or above
		}
		if k := len(bounds); k > 0 && bounds[k-1] == bound {
			cum[k-1] = total
			continue
		}
		bounds = append(bounds, bound)
		cum = append(cum, total)
	}
	return bounds, cum
}
