package main

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGrafanaDashboard: every metric the Grafana dashboard in deploy/
// queries is one that a real epoch serve exports on /metrics.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/epochdb.json")
	must(t, err)
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	must(t, json.Unmarshal(raw, &d))
	var exprs []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if s, ok := v.Query.(string); ok {
			exprs = append(exprs, s)
		}
	}

	resp, httpAddr := runServeInProcess(t, testOptions(t))
	rc := newClient(t, resp)
	ctx := context.Background()
	must(t, rc.Set(ctx, "k", "v", time.Minute).Err())
	must(t, rc.Get(ctx, "k").Err())
	code, body := httpGet(t, "http://"+httpAddr+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	families := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(f, " ")
			families[name] = true
			if kind == "histogram" || kind == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					families[name+s] = true
				}
			}
		}
	}
	metric := regexp.MustCompile(`\b(epochdb_|process_|go_)[a-z0-9_]+`)
	var names []string
	for _, e := range exprs {
		names = append(names, metric.FindAllString(e, -1)...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) < 10 {
		t.Fatalf("only %d metrics found in the dashboard: %v", len(names), names)
	}
	for _, n := range names {
		if !families[n] {
			t.Errorf("the dashboard queries %s, which /metrics does not export", n)
		}
	}
}
