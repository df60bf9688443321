package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/epochdb/epochdb/internal/inspect"
	"github.com/epochdb/epochdb/internal/live"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// epoch top: the dashboard's live figures in a terminal, over the Redis
// protocol only (INFO, EPOCH.INSPECT, CONFIG GET, EPOCH.EVENTS), read
// through internal/live as the web dashboard reads them.

func newTopCmd() *cobra.Command {
	var s source
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Watch a running server's figures live in the terminal",
		Long: `Watch a running server live: operations per second, latency, hit ratio,
keys against the budget, retirements per second, memory and clients as
sparklines; the hottest keys; the tail of retired keys (from the event log:
epoch serve --event-log yes).

Keys: 1 overview, 2 hottest keys, 3 retirements, tab to cycle, q to quit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 100*time.Millisecond {
				return fmt.Errorf("interval: %v is shorter than 100ms", interval)
			}
			c, err := s.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Ping(cmd.Context()).Err(); err != nil {
				return fmt.Errorf("%s: %w", s.addr, err)
			}
			m := newTopModel(c, s.addr, s.db, interval)
			p := tea.NewProgram(m, tea.WithContext(cmd.Context()), tea.WithInput(cmd.InOrStdin()),
				tea.WithOutput(cmd.OutOrStdout()), tea.WithAltScreen())
			_, err = p.Run()
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.addr, "addr", "127.0.0.1:6380", "the server's address (host:port)")
	f.StringVar(&s.password, "password", "", "the server's password (--requirepass); also EPOCH_PASSWORD")
	f.BoolVar(&s.tls, "tls", false, "connect to the server over TLS")
	f.StringVar(&s.tlsCA, "tls-ca", "", "PEM file of the CA that signed the server's certificate (default: the system's)")
	f.BoolVar(&s.insecure, "tls-insecure", false, "do not verify the server's certificate")
	f.IntVar(&s.db, "db", 0, "logical database of the hottest keys and the retirements")
	f.DurationVar(&interval, "interval", time.Second, "how often to read the figures")
	return cmd
}

// topView is what the screen shows below the header.
type topView int

const (
	viewOverview topView = iota
	viewHot
	viewRetired
	numViews
)

var viewNames = [numViews]string{"1 overview", "2 hottest keys", "3 retirements"}

const (
	topHistory = 120 // readings kept for the sparklines
	topRetired = 200
)

// topModel is epoch top's bubbletea model.
type topModel struct {
	client   *redis.Client
	addr     string
	db       int
	interval time.Duration

	view     topView
	width    int
	height   int
	prev     live.Reading
	history  []live.Figures
	hot      *inspect.Keys
	retired  []inspect.Retired // newest last
	cursor   string            // EPOCH.EVENTS cursor
	eventErr string            // why there is no retirement tail
	err      error
	readings int
}

func newTopModel(c *redis.Client, addr string, db int, interval time.Duration) *topModel {
	return &topModel{client: c, addr: addr, db: db, interval: interval, cursor: "$", width: 100, height: 30}
}

// topData is one round of readings.
type topData struct {
	reading  live.Reading
	hot      *inspect.Keys
	cursor   string
	retired  []inspect.Retired
	eventErr string
	err      error
}

type topTick struct{}

func (m *topModel) Init() tea.Cmd { return m.fetch() }

// fetch reads the figures, the hottest keys and new retirements.
func (m *topModel) fetch() tea.Cmd {
	cursor, eventsOff := m.cursor, m.eventErr != ""
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d := topData{cursor: cursor}
		if d.reading, d.err = live.Fetch(ctx, m.client); d.err != nil {
			return d
		}
		d.hot = &inspect.Keys{}
		if d.err = live.Inspect(ctx, m.client, inspect.Request{Op: "hot", DB: m.db, Limit: 20}, d.hot); d.err != nil {
			return d
		}
		if !eventsOff {
			c, evs, err := live.Events(ctx, m.client, cursor, 100)
			switch {
			case err != nil && strings.Contains(err.Error(), "event log is off"):
				d.eventErr = "the retirement tail needs the event log: epoch serve --event-log yes"
			case err != nil:
				d.err = err
			default:
				d.cursor, d.retired = c, evs
			}
		}
		return d
	}
}

func (m *topModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		case "tab", "right", "l":
			m.view = (m.view + 1) % numViews
		case "shift+tab", "left", "h":
			m.view = (m.view + numViews - 1) % numViews
		case "1", "2", "3":
			m.view = topView(msg.String()[0] - '1')
		}
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case topTick:
		return m, m.fetch()
	case topData:
		m.err = msg.err
		if msg.err == nil {
			m.readings++
			f := live.Compute(m.prev, msg.reading)
			m.prev = msg.reading
			m.history = append(m.history, f)
			if len(m.history) > topHistory {
				m.history = m.history[len(m.history)-topHistory:]
			}
			m.hot = msg.hot
			m.cursor = msg.cursor
			if msg.eventErr != "" {
				m.eventErr = msg.eventErr
			}
			m.retired = append(m.retired, msg.retired...)
			if len(m.retired) > topRetired {
				m.retired = m.retired[len(m.retired)-topRetired:]
			}
		}
		return m, tea.Tick(m.interval, func(time.Time) tea.Msg { return topTick{} })
	}
	return m, nil
}

var (
	topTitle  = lipgloss.NewStyle().Bold(true)
	topTab    = lipgloss.NewStyle().Padding(0, 1)
	topActive = lipgloss.NewStyle().Padding(0, 1).Bold(true).Reverse(true)
	topMuted  = lipgloss.NewStyle().Faint(true)
	topErr    = lipgloss.NewStyle().Foreground(lipgloss.Color("9"))
	topLabel  = lipgloss.NewStyle().Width(18)
	topValue  = lipgloss.NewStyle().Width(14).Align(lipgloss.Right)
	topSpark  = lipgloss.NewStyle().Foreground(lipgloss.Color("12"))
)

func (m *topModel) View() string {
	var b strings.Builder
	head := topTitle.Render("epoch top") + "  " + m.addr
	if n := len(m.history); n > 0 {
		f := m.history[n-1]
		head += topMuted.Render(fmt.Sprintf("  v%s · up %s · %s · %s", f.Version,
			time.Duration(f.UptimeSeconds)*time.Second, f.Appendfsync, f.Policy))
	}
	b.WriteString(head + "\n")
	var tabs []string
	for v := range numViews {
		st := topTab
		if v == m.view {
			st = topActive
		}
		tabs = append(tabs, st.Render(viewNames[v]))
	}
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, tabs...) + topMuted.Render("  tab: next · q: quit") + "\n\n")
	if m.err != nil {
		b.WriteString(topErr.Render("reading failed: "+m.err.Error()) + "\n\n")
	}
	if len(m.history) == 0 {
		b.WriteString("reading…\n")
		return b.String()
	}
	switch m.view {
	case viewOverview:
		m.overview(&b)
	case viewHot:
		m.hotView(&b)
	case viewRetired:
		m.retiredView(&b)
	}
	return b.String()
}

func (m *topModel) overview(b *strings.Builder) {
	f := m.history[len(m.history)-1]
	width := max(m.width-34, 10)
	row := func(label, value string, series func(live.Figures) float64) {
		line := topLabel.Render(label) + topValue.Render(value)
		if series != nil {
			line += "  " + topSpark.Render(sparkline(m.history, series, width))
		}
		b.WriteString(line + "\n")
	}
	opt := func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p
	}
	row("commands/s", fmtRate(f.Ops["commands"]), func(f live.Figures) float64 { return f.Ops["commands"] })
	row("gets/s", fmtRate(f.Ops["get"]), func(f live.Figures) float64 { return f.Ops["get"] })
	row("sets/s", fmtRate(f.Ops["set"]), func(f live.Figures) float64 { return f.Ops["set"] })
	row("latency p50", fmtMicros(f.LatencyP50Us), func(f live.Figures) float64 { return opt(f.LatencyP50Us) })
	row("latency p99", fmtMicros(f.LatencyP99Us), func(f live.Figures) float64 { return opt(f.LatencyP99Us) })
	hit := "-"
	if f.HitRatio != nil {
		hit = fmt.Sprintf("%.1f%%", *f.HitRatio*100)
	}
	row("hit ratio", hit, func(f live.Figures) float64 { return opt(f.HitRatio) })
	keys := fmt.Sprint(f.Keys)
	if f.MaxKeys > 0 {
		keys += fmt.Sprintf(" / %d", f.MaxKeys)
	}
	row("keys", keys, func(f live.Figures) float64 { return float64(f.Keys) })
	row("keys with TTL", fmt.Sprint(f.KeysWithTTL), func(f live.Figures) float64 { return float64(f.KeysWithTTL) })
	bytes := humanSize(f.LiveBytes)
	if f.MaxDisk > 0 {
		bytes += " / " + humanSize(f.MaxDisk)
	}
	row("live bytes", bytes, func(f live.Figures) float64 { return float64(f.LiveBytes) })
	row("expired/s", fmtRate(f.ExpiredPerSec), func(f live.Figures) float64 { return f.ExpiredPerSec })
	row("evicted/s", fmtRate(f.EvictedPerSec), func(f live.Figures) float64 { return f.EvictedPerSec })
	row("pruned/s", fmtRate(f.PrunedPerSec), func(f live.Figures) float64 { return f.PrunedPerSec })
	row("WAL syncs/s", fmtRate(f.WALSyncsPerSec), func(f live.Figures) float64 { return f.WALSyncsPerSec })
	row("clients", fmt.Sprint(f.Clients), func(f live.Figures) float64 { return float64(f.Clients) })
	row("memory", humanSize(f.MemoryBytes), func(f live.Figures) float64 { return float64(f.MemoryBytes) })
	b.WriteString("\n")
	var dbs []string
	for _, d := range f.Databases {
		name := fmt.Sprintf("db%d", d.DB)
		if d.DB < 0 {
			name = "other"
		}
		dbs = append(dbs, fmt.Sprintf("%s: %d keys (%d with TTL)", name, d.Keys, d.KeysWithTTL))
	}
	if len(dbs) == 0 {
		dbs = []string{"no keys"}
	}
	b.WriteString(topMuted.Render(strings.Join(dbs, " · ")) + "\n")
	b.WriteString(topMuted.Render(fmt.Sprintf("retired since start: expired %d, pruned %d, evicted %d", f.Expired, f.Pruned, f.Evicted)) + "\n")
}

func (m *topModel) hotView(b *strings.Builder) {
	if m.hot == nil {
		return
	}
	note := fmt.Sprintf("hottest keys of db %d by heat", m.db)
	if m.hot.Sampled {
		note += fmt.Sprintf(" (a sample of %d of %d keys)", m.hot.Scanned, m.hot.Total)
	}
	b.WriteString(topMuted.Render(note) + "\n")
	fmt.Fprintf(b, "%-10s %8s %10s %10s  %s\n", "heat", "freq", "ttl", "size", "key")
	for _, k := range limitRows(m.hot.Keys, m.height, 6) {
		ttl := "-"
		if k.TTLMs >= 0 {
			ttl = (time.Duration(k.TTLMs) * time.Millisecond).Round(time.Second).String()
		}
		fmt.Fprintf(b, "%-10.3g %8d %10s %10s  %s\n", k.Heat, k.Frequency, ttl, humanSize(int64(k.ValueBytes)), printable(k.Key))
	}
}

func (m *topModel) retiredView(b *strings.Builder) {
	if m.eventErr != "" {
		b.WriteString(topMuted.Render(m.eventErr) + "\n")
		return
	}
	b.WriteString(topMuted.Render(fmt.Sprintf("keys retired in db %d since top started, newest first", m.db)) + "\n")
	fmt.Fprintf(b, "%-12s %-8s %8s %10s  %s\n", "when", "kind", "freq", "age", "key")
	rows := make([]inspect.Retired, 0, len(m.retired))
	for i := len(m.retired) - 1; i >= 0; i-- {
		rows = append(rows, m.retired[i])
	}
	if len(rows) == 0 {
		b.WriteString(topMuted.Render("none yet") + "\n")
	}
	for _, r := range limitRows(rows, m.height, 6) {
		age := r.RetiredAt.Sub(r.CreatedAt).Round(time.Millisecond)
		fmt.Fprintf(b, "%-12s %-8s %8d %10s  %s\n", r.RetiredAt.Local().Format("15:04:05.000"), r.Kind, r.Frequency, age, printable(r.Key))
	}
}

// limitRows keeps the rows that fit the terminal below the header lines.
func limitRows[T any](rows []T, height, header int) []T {
	n := max(height-header, 1)
	return rows[:min(len(rows), n)]
}

// sparkline draws the last width values of series as block characters,
// scaled to their largest.
func sparkline(h []live.Figures, series func(live.Figures) float64, width int) string {
	const blocks = "▁▂▃▄▅▆▇█"
	rs := []rune(blocks)
	if len(h) > width {
		h = h[len(h)-width:]
	}
	var hi float64
	for _, f := range h {
		hi = max(hi, series(f))
	}
	var b strings.Builder
	for _, f := range h {
		v := series(f)
		i := 0
		if hi > 0 && v > 0 {
			i = min(int(v/hi*float64(len(rs)-1)+0.5), len(rs)-1)
		}
		b.WriteRune(rs[i])
	}
	return b.String()
}

func fmtRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v == float64(int64(v)):
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

func fmtMicros(p *float64) string {
	if p == nil {
		return "-"
	}
	return (time.Duration(*p) * time.Microsecond).String()
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// printable shows a key with its control and non-UTF-8 bytes escaped.
func printable(k string) string {
	q := fmt.Sprintf("%q", k)
	if q[1:len(q)-1] == k {
		return k
	}
	return q
}
