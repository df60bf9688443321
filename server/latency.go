package server

import (
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The latency monitor (LATENCY LATEST, HISTORY, RESET, GRAPH, DOCTOR): with
// latency-monitor-threshold set to N milliseconds, every command that took
// N ms or more is a sample of the event "command". Each event keeps its
// latest latencyHistoryLen samples, one per second (the worst of the
// second), and its all-time maximum.

const latencyHistoryLen = 160

type latencySample struct {
	at int64 // Unix seconds
	ms int64
}

type latencyEvent struct {
	samples []latencySample // oldest first, at most latencyHistoryLen
	max     int64
}

type latencyMonitor struct {
	mu     sync.Mutex // guards events
	events map[string]*latencyEvent
}

// record adds a sample of event at Unix second at.
func (m *latencyMonitor) record(event string, at, ms int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events = make(map[string]*latencyEvent)
	}
	ev := m.events[event]
	if ev == nil {
		ev = &latencyEvent{}
		m.events[event] = ev
	}
	ev.max = max(ev.max, ms)
	if n := len(ev.samples); n > 0 && ev.samples[n-1].at == at {
		ev.samples[n-1].ms = max(ev.samples[n-1].ms, ms)
		return
	}
	if len(ev.samples) == latencyHistoryLen {
		ev.samples = append(ev.samples[:0], ev.samples[1:]...)
	}
	ev.samples = append(ev.samples, latencySample{at, ms})
}

// latestEntry is one line of LATENCY LATEST.
type latestEntry struct {
	event           string
	at, latest, max int64
}

func (m *latencyMonitor) latest() []latestEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []latestEntry
	for name, ev := range m.events {
		if n := len(ev.samples); n > 0 {
			s := ev.samples[n-1]
			out = append(out, latestEntry{name, s.at, s.ms, ev.max})
		}
	}
	slices.SortFunc(out, func(a, b latestEntry) int { return strings.Compare(a.event, b.event) })
	return out
}

func (m *latencyMonitor) history(event string) []latencySample {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev := m.events[event]; ev != nil {
		return slices.Clone(ev.samples)
	}
	return nil
}

// reset forgets the named events (all when none is named) and returns how
// many it forgot.
func (m *latencyMonitor) reset(events []string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(events) == 0 {
		n := len(m.events)
		m.events = nil
		return n
	}
	n := 0
	for _, e := range events {
		if _, ok := m.events[e]; ok {
			delete(m.events, e)
			n++
		}
	}
	return n
}

func cmdLatency(c *Conn, cmd Command) {
	args := cmd.Args
	s := c.srv
	sub := bstr(lower(nil, args[1]))
	n := len(args)
	switch {
	case sub == "latest" && n == 2:
		l := s.intro.latency.latest()
		c.WriteArray(len(l))
		for _, e := range l {
			c.WriteArray(4)
			c.WriteBulkString(e.event)
			c.WriteInt(e.at)
			c.WriteInt(e.latest)
			c.WriteInt(e.max)
		}
	case sub == "history" && n == 3:
		h := s.intro.latency.history(string(args[2]))
		c.WriteArray(len(h))
		for _, smp := range h {
			c.WriteArray(2)
			c.WriteInt(smp.at)
			c.WriteInt(smp.ms)
		}
	case sub == "reset":
		var evs []string
		for _, a := range args[2:] {
			evs = append(evs, string(a))
		}
		c.WriteInt(int64(s.intro.latency.reset(evs)))
	case sub == "graph" && n == 3:
		h := s.intro.latency.history(string(args[2]))
		if len(h) == 0 {
			c.WriteError("ERR No samples available for event '" + sanitize(string(args[2])) + "'")
			return
		}
		c.WriteVerbatim(latencyGraph(string(args[2]), h, s.now().Unix()))
	case sub == "doctor" && n == 2:
		c.WriteVerbatim(latencyDoctor(s))
	case sub == "histogram":
		latencyHistogram(c, args[2:])
	case sub == "help" && n == 2:
		writeHelp(c, "LATENCY", []string{
			"DOCTOR", "    Return a human readable latency analysis report.",
			"GRAPH <event>", "    Return an ASCII latency graph for the <event> class.",
			"HISTORY <event>", "    Return time-latency samples for the <event> class.",
			"LATEST", "    Return the latest latency samples for all events.",
			"RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
			"    (default: reset all data for all event classes)",
			"HISTOGRAM [COMMAND ...]",
			"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
			"    If no commands are specified then all histograms are replied.",
		})
	case sub == "latest" || sub == "history" || sub == "graph" || sub == "doctor" || sub == "help":
		c.WriteError(wrongArgs("latency|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "LATENCY"))
	}
}

// latencyHistogram answers LATENCY HISTOGRAM [command ...]: for each
// command with calls, its call count and cumulative counts at
// power-of-two microsecond bounds. Unknown commands are left out.
func latencyHistogram(c *Conn, names [][]byte) {
	s := c.srv
	type entryHist struct {
		name   string
		calls  uint64
		bounds []uint64
		cum    []uint64
	}
	var out []entryHist
	var counts [histBuckets]uint64
	add := func(name string, st *cmdStat) {
		if st == nil || st.calls.Load() == 0 {
			return
		}
		st.hist.snapshot(&counts)
		b, cum := histogramUsec(&counts)
		out = append(out, entryHist{name, st.calls.Load(), b, cum})
	}
	if len(names) == 0 {
		s.eachStat(add)
	} else {
		seen := map[string]bool{}
		for _, n := range names {
			e := s.mux.lookup(lower(nil, n))
			if e == nil || seen[e.spec.Name] || e.idx >= len(s.intro.cmds) {
				continue
			}
			seen[e.spec.Name] = true
			add(e.spec.Name, s.intro.cmds[e.idx].Load())
		}
	}
	c.WriteMap(len(out))
	for _, h := range out {
		c.WriteBulkString(h.name)
		c.WriteMap(2)
		c.WriteBulkString("calls")
		c.WriteInt(int64(h.calls))
		c.WriteBulkString("histogram_usec")
		c.WriteMap(len(h.bounds))
		for i, b := range h.bounds {
			c.WriteInt(int64(b))
			c.WriteInt(int64(h.cum[i]))
		}
	}
}

// latencyGraph draws an event's samples as Redis's LATENCY GRAPH does in
// spirit: one column per sample, the height scaled between the lowest and
// highest, the age below.
func latencyGraph(event string, h []latencySample, now int64) string {
	lo, hi := h[0].ms, h[0].ms
	for _, s := range h {
		lo, hi = min(lo, s.ms), max(hi, s.ms)
	}
	var b strings.Builder
	b.WriteString(event + " - high " + strconv.FormatInt(hi, 10) + " ms, low " + strconv.FormatInt(lo, 10) + " ms\n\n")
	const rows = 4
	for r := rows; r >= 1; r-- {
		for _, s := range h {
			level := int64(rows)
			if hi > lo {
				level = 1 + (s.ms-lo)*(rows-1)/(hi-lo)
			}
			switch {
			case level >= int64(r):
				b.WriteByte('#')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	for range h {
		b.WriteByte('-')
	}
	b.WriteByte('\n')
	for _, s := range h {
		age := now - s.at
		switch {
		case age < 60:
			b.WriteByte('s')
		case age < 3600:
			b.WriteByte('m')
		default:
			b.WriteByte('h')
		}
	}
	b.WriteString("\n(s: seconds ago, m: minutes, h: hours)\n")
	return b.String()
}

// latencyDoctor is LATENCY DOCTOR's report.
func latencyDoctor(s *Server) string {
	th := &s.intro.latency
	l := th.latest()
	if s.intro.latencyThreshold.Load() == 0 {
		return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this EpochDB instance. " +
			"You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it.\n"
	}
	if len(l) == 0 {
		return "Dave, no latency spike was observed during the lifetime of this EpochDB instance, not in the slightest bit. " +
			"I honestly think you ought to sleep a little bit more.\n"
	}
	var b strings.Builder
	b.WriteString("Dave, I have observed latency spikes in this EpochDB instance. You don't mind talking about it, do you Dave?\n\n")
	for i, e := range l {
		h := th.history(e.event)
		var sum int64
		for _, smp := range h {
			sum += smp.ms
		}
		b.WriteString(strconv.Itoa(i+1) + ". " + e.event + ": " + strconv.Itoa(len(h)) +
			" latency spikes (average " + strconv.FormatInt(sum/int64(len(h)), 10) + "ms, worst " +
			strconv.FormatInt(e.max, 10) + "ms).\n")
	}
	b.WriteString("\nI have a few advices for you:\n\n- Check your slow log (SLOWLOG GET) for the commands that took long; " +
		"INFO latencystats and LATENCY HISTOGRAM show their latency distribution.\n")
	return b.String()
}
