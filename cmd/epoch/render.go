package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/inspect"
)

// Tables of the inspection commands, for people: aligned columns, sizes
// and durations in units, histograms as text bars.

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

const barWidth = 40

// printStats draws stats; the keys retired are counted by a running store,
// so offline (online false) they are not known.
func printStats(w io.Writer, st inspect.Stats, online bool) {
	t := newTable(w)
	fmt.Fprintf(t, "keys\t%d\n", st.Keys)
	fmt.Fprintf(t, "keys with TTL\t%d\n", st.KeysWithTTL)
	fmt.Fprintf(t, "live bytes\t%s\n", humanBytes(st.LiveBytes))
	fmt.Fprintf(t, "disk\t%s\n", humanBytes(int64(st.DiskBytes)))
	fmt.Fprintf(t, "block cache\t%s\n", humanBytes(st.CacheBytes))
	if online {
		fmt.Fprintf(t, "retired since start\texpired %d, pruned %d, evicted %d\n", st.Expired, st.Pruned, st.Evicted)
	} else {
		fmt.Fprintf(t, "retired since start\tnot known offline (a running server counts them)\n")
	}
	_ = t.Flush()
	if len(st.Databases) > 0 {
		fmt.Fprintln(w)
		t = newTable(w)
		fmt.Fprintln(t, "db\tkeys\twith TTL")
		for _, d := range st.Databases {
			fmt.Fprintf(t, "%s\t%d\t%d\n", dbName(d.DB), d.Keys, d.KeysWithTTL)
		}
		_ = t.Flush()
	}
	for _, h := range st.Histograms {
		fmt.Fprintf(w, "\n%s\n", histogramTitle(h.Name))
		var most int64
		for _, b := range h.Buckets {
			most = max(most, b.Count)
		}
		t = newTable(w)
		for _, b := range h.Buckets {
			n := 0
			if most > 0 {
				n = int((b.Count*barWidth + most - 1) / most)
			}
			fmt.Fprintf(t, "  %s\t%d\t%s\n", b.Label, b.Count, strings.Repeat("█", n))
		}
		_ = t.Flush()
	}
}

func histogramTitle(name string) string {
	switch name {
	case "ttl":
		return "remaining TTL"
	case "age":
		return "age (since created)"
	case "frequency":
		return "frequency (accesses)"
	case "heat":
		return "heat (accesses decayed by the half-life)"
	}
	return name
}

func dbName(db int) string {
	if db < 0 {
		return "-"
	}
	return strconv.Itoa(db)
}

// printKeys lists keys; what names the count of keys considered ("matched"
// by a pattern, "read" by hot and cold).
func printKeys(w io.Writer, ks inspect.Keys, what string) {
	t := newTable(w)
	fmt.Fprintln(t, "db\tkey\tvalue\tfreq\theat\tage\tttl\tlast access")
	for _, k := range ks.Keys {
		fmt.Fprintf(t, "%s\t%s\t%s\t%d\t%.3g\t%s\t%s\t%s\n", dbName(k.DB), quoteKey(k.Key), valueSize(k.ValueBytes),
			k.Frequency, k.Heat, humanDuration(k.AgeMs), ttlText(k.TTLMs), k.LastAccess.Format(time.RFC3339))
	}
	_ = t.Flush()
	if what == "" {
		return
	}
	fmt.Fprintf(w, "%d keys listed, %d %s of %d\n", len(ks.Keys), ks.Matched, what, ks.Total)
	if ks.Sampled {
		fmt.Fprintf(w, "sampled: read %d random keys of %d, not all (--sample-above)\n", ks.Scanned, ks.Total)
	}
}

func printMeta(w io.Writer, k inspect.KeyInfo) {
	t := newTable(w)
	fmt.Fprintf(t, "db\t%s\n", dbName(k.DB))
	fmt.Fprintf(t, "key\t%s\n", quoteKey(k.Key))
	fmt.Fprintf(t, "value\t%s\n", humanBytes(int64(k.ValueBytes)))
	fmt.Fprintf(t, "frequency\t%d\n", k.Frequency)
	fmt.Fprintf(t, "heat\t%.6g\n", k.Heat)
	fmt.Fprintf(t, "created\t%s (%s ago)\n", k.CreatedAt.Format(time.RFC3339Nano), humanDuration(k.AgeMs))
	fmt.Fprintf(t, "updated\t%s\n", k.UpdatedAt.Format(time.RFC3339Nano))
	fmt.Fprintf(t, "last access\t%s\n", k.LastAccess.Format(time.RFC3339Nano))
	if k.ExpiresAt != nil {
		fmt.Fprintf(t, "expires\t%s (in %s)\n", k.ExpiresAt.Format(time.RFC3339Nano), humanDuration(k.TTLMs))
	} else {
		fmt.Fprintf(t, "expires\tnever\n")
	}
	_ = t.Flush()
}

func printPreview(w io.Writer, p inspect.Preview) {
	fmt.Fprintf(w, "the pruning rule would remove %d keys, the budget evict %d\n", p.PruneTotal, p.EvictTotal)
	for _, part := range []struct {
		name string
		keys []inspect.KeyInfo
	}{{"prune", p.Prune}, {"evict", p.Evict}} {
		if len(part.keys) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", part.name)
		printKeys(w, inspect.Keys{Keys: part.keys}, "")
	}
}

func printCheck(w io.Writer, r epochdb.CheckReport) {
	t := newTable(w)
	fmt.Fprintf(t, "records\t%d (counter %d)\n", r.Records, r.Counters.Keys)
	fmt.Fprintf(t, "with TTL\t%d (counter %d)\n", r.TTLRecords, r.Counters.KeysWithTTL)
	fmt.Fprintf(t, "bytes\t%d (counter %d)\n", r.Bytes, r.Counters.LiveBytes)
	fmt.Fprintf(t, "deadline index\t%d entries (%d stale, swept when due)\n", r.TTLEntries, r.StaleTTLEntries)
	fmt.Fprintf(t, "metadata\t%d records (%d without data)\n", r.MetaRecords, r.OrphanMeta)
	fmt.Fprintf(t, "event log\t%d events (%d-%d), last sequence %d\n", r.Events, r.FirstEvent, r.LastEvent, r.EventSeq)
	_ = t.Flush()
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "OK: no problems found")
		return
	}
	fmt.Fprintf(w, "%d problems:\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  "+p)
	}
}

// quoteKey shows a key as is when it is printable, else Go-quoted.
func quoteKey(k string) string {
	if k != "" && strconv.CanBackquote(k) && !strings.ContainsAny(k, " \t`") {
		return k
	}
	return strconv.Quote(k)
}

// valueSize is a value's size; the prune preview does not know it (-1).
func valueSize(n int) string {
	if n < 0 {
		return "-"
	}
	return humanBytes(int64(n))
}

func ttlText(ms int64) string {
	if ms < 0 {
		return "-"
	}
	return humanDuration(ms)
}

// humanDuration renders milliseconds to two units: 3d4h, 2h5m, 1m30s, 1.5s.
func humanDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return d.String()
}

// progress draws a bar with rate and ETA on stderr while a command walks
// the store, only when stderr is a terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	what  string
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, what string) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return &progress{}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return &progress{}
	}
	return &progress{w: w, what: what, start: time.Now()}
}

func (p *progress) update(done, total int64) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond || now.Sub(p.start) < 300*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(done) / now.Sub(p.start).Seconds()
	frac, eta := 0.0, "?"
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
		if rate > 0 {
			eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
		}
	}
	n := int(frac * 30)
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d keys, %.0f keys/s, ETA %s ", p.what,
		strings.Repeat("#", n), strings.Repeat(".", 30-n), done, total, rate, eta)
	p.drawn = true
}

func (p *progress) done() {
	if p.w != nil && p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 100))
	}
}
