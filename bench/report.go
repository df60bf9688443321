package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// table renders aligned plain-text or Markdown tables.
type table struct {
	head  []string
	rows  [][]string
	right []bool // right-align column i
}

func newTable(head ...string) *table {
	t := &table{head: head, right: make([]bool, len(head))}
	for i := 1; i < len(head); i++ {
		t.right[i] = true
	}
	return t
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) render(w io.Writer, markdown bool) {
	width := make([]int, len(t.head))
	for _, row := range append([][]string{t.head}, t.rows...) {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	pad := func(s string, i int) string {
		n := width[i] - utf8.RuneCountInString(s)
		if t.right[i] {
			return strings.Repeat(" ", n) + s
		}
		return s + strings.Repeat(" ", n)
	}
	line := func(row []string) {
		cells := make([]string, len(t.head))
		for i := range cells {
			c := ""
			if i < len(row) {
				c = row[i]
			}
			cells[i] = pad(c, i)
		}
		if markdown {
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		} else {
			fmt.Fprintf(w, "  %s\n", strings.TrimRight(strings.Join(cells, "   "), " "))
		}
	}
	line(t.head)
	sep := make([]string, len(t.head))
	for i := range sep {
		if markdown {
			sep[i] = strings.Repeat("-", width[i])
			if t.right[i] {
				sep[i] = sep[i][:width[i]-1] + ":"
			}
		} else {
			sep[i] = strings.Repeat("-", width[i])
		}
	}
	if markdown {
		fmt.Fprintf(w, "| %s |\n", strings.Join(sep, " | "))
	} else {
		fmt.Fprintf(w, "  %s\n", strings.Join(sep, "   "))
	}
	for _, r := range t.rows {
		line(r)
	}
	fmt.Fprintln(w)
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%.2fµs", float64(d)/1e3)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// fmtRate prints ops/s with a thousands separator.
func fmtRate(v float64) string {
	n := int64(v + 0.5)
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtRatio(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

// fmtCores prints a CPU load in cores, or "?" if unknown.
func fmtCores(x float64) string {
	if x < 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f", x)
}

// fmtTxCounters prints an engine's own transaction counters, or "" if it
// keeps none.
func fmtTxCounters(c *txCounts) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf(" (engine: %d commits, %d conflicts, %d retries in Update, %d gave up)",
		c.commits, c.conflicts, c.retries, c.gaveUp)
}
