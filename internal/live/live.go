// Package live reads a running server's figures over the Redis protocol —
// INFO, EPOCH.INSPECT (the shared inspection of internal/inspect) and
// CONFIG GET — and turns two readings into the rates the live views show.
// The web dashboard (through an in-process connection to its own server)
// and epoch top (over the network) both read through it, so they show the
// same figures.
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/inspect"
	"github.com/epochdb/epochdb/server"
	"github.com/redis/go-redis/v9"
)

// Reading is one reading of a server's figures.
type Reading struct {
	At   time.Time         // when it was read (local clock)
	Info map[string]string // INFO's fields, every section
	Lib  inspect.Live      // EPOCH.INSPECT {"op":"live"}
	// The budget and durability settings (CONFIG GET).
	MaxKeys     int64
	MaxDisk     int64
	Policy      string
	Appendfsync string
}

// Client is the part of a go-redis client (*redis.Client, *redis.Conn)
// the readings use.
type Client interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
	Pipeline() redis.Pipeliner
}

// Fetch takes a reading through c, in one pipeline.
func Fetch(ctx context.Context, c Client) (Reading, error) {
	r := Reading{At: time.Now()}
	pipe := c.Pipeline()
	info := pipe.Info(ctx, "all")
	lib := pipe.Do(ctx, "EPOCH.INSPECT", `{"op":"live","db":-1}`)
	conf := pipe.ConfigGet(ctx, "*")
	if _, err := pipe.Exec(ctx); err != nil {
		return r, err
	}
	r.Info = ParseInfo(info.Val())
	s, err := lib.Text()
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(s), &r.Lib); err != nil {
		return r, fmt.Errorf("EPOCH.INSPECT live: %w", err)
	}
	cv := conf.Val()
	r.MaxKeys, _ = strconv.ParseInt(cv["maxkeys"], 10, 64)
	r.MaxDisk, _ = strconv.ParseInt(cv["maxdisk"], 10, 64)
	r.Policy, r.Appendfsync = cv["maxmemory-policy"], cv["appendfsync"]
	return r, nil
}

// ParseInfo parses INFO's reply: "name:value" lines, "# Section" headers
// and blank lines (ignored). A line without a colon is ignored; a later
// field of the same name wins.
func ParseInfo(s string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// ParseKeyspace parses an INFO keyspace value, "keys=3,expires=1,avg_ttl=0",
// into its fields; it reports false for any part that is not name=integer.
func ParseKeyspace(v string) (map[string]int64, bool) {
	m := map[string]int64{}
	for part := range strings.SplitSeq(v, ",") {
		k, n, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return nil, false
		}
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, false
		}
		m[k] = i
	}
	return m, true
}

// Figures are what the live views chart: rates over the interval between
// two readings, and the latest gauges. A rate or latency is null when the
// interval saw nothing to compute it from.
type Figures struct {
	Time int64 `json:"t"` // Unix ms of the reading

	// Ops are operations per second by family: the library's get, set,
	// delete, increment (access counting), commit (transactions) and
	// batch (pipelined or multi-key writes), and every command the
	// server ran (commands).
	Ops map[string]float64 `json:"ops"`
	// Families are the server's commands per second by family (Redis's
	// command groups: string, generic, server, connection, transactions,
	// pubsub, epochdb, …), from INFO commandstats; absent families ran
	// nothing.
	Families map[string]float64 `json:"families"`
	// LatencyP50Us and LatencyP99Us are the median and 99th percentile of
	// the library operations' latencies in the interval, in microseconds
	// (the upper bound of the histogram bucket they fall in).
	LatencyP50Us *float64 `json:"latency_p50_us"`
	LatencyP99Us *float64 `json:"latency_p99_us"`
	// HitRatio is the share of GETs in the interval that found their key.
	HitRatio *float64 `json:"hit_ratio"`

	Keys        int64             `json:"keys"`
	KeysWithTTL int64             `json:"keys_with_ttl"`
	Databases   []inspect.DBCount `json:"databases"`
	LiveBytes   int64             `json:"live_bytes"`
	DiskBytes   uint64            `json:"disk_bytes"`
	MaxKeys     int64             `json:"maxkeys"` // 0: no budget
	MaxDisk     int64             `json:"maxdisk"` // 0: no budget
	Policy      string            `json:"maxmemory_policy"`

	ExpiredPerSec float64 `json:"expired_per_sec"`
	EvictedPerSec float64 `json:"evicted_per_sec"`
	PrunedPerSec  float64 `json:"pruned_per_sec"`
	Expired       uint64  `json:"expired"` // since the server started
	Evicted       uint64  `json:"evicted"`
	Pruned        uint64  `json:"pruned"`

	Appendfsync     string  `json:"appendfsync"`
	WALSyncsPerSec  float64 `json:"wal_syncs_per_sec"`
	WALSyncLagMs    int64   `json:"wal_sync_lag_ms"`
	TrackFlushLagMs int64   `json:"track_flush_lag_ms"`

	Clients       int64  `json:"clients"`
	MemoryBytes   int64  `json:"memory_bytes"`   // the process's resident memory (used_memory_process)
	HeapBytes     int64  `json:"heap_bytes"`     // the Go heap (used_memory)
	MaxMemory     int64  `json:"maxmemory"`      // the process's memory budget, 0: none
	UptimeSeconds int64  `json:"uptime_seconds"` // the server's
	Version       string `json:"version"`
	EngineFailed  bool   `json:"engine_failed"`
}

// latencyOps are the library operations whose latencies the figures merge.
var latencyOps = []string{"get", "set", "delete", "increment", "commit"}

// Compute returns the figures of cur, with rates over the interval since
// prev (the zero Reading: no rates yet).
func Compute(prev, cur Reading) Figures {
	l, p := cur.Lib, prev.Lib
	f := Figures{
		Time: cur.At.UnixMilli(), Keys: l.Keys, KeysWithTTL: l.KeysWithTTL, Databases: l.Databases,
		LiveBytes: l.LiveBytes, DiskBytes: l.DiskBytes, MaxKeys: cur.MaxKeys, MaxDisk: cur.MaxDisk,
		Policy: cur.Policy, Appendfsync: cur.Appendfsync, Expired: l.Expired, Evicted: l.Evicted, Pruned: l.Pruned,
		TrackFlushLagMs: l.TrackFlushLagMs, WALSyncLagMs: l.WALSyncLagMs, EngineFailed: l.EngineFailed,
		Clients: infoInt(cur.Info, "connected_clients"), MemoryBytes: infoInt(cur.Info, "used_memory_process"),
		HeapBytes: infoInt(cur.Info, "used_memory"), MaxMemory: infoInt(cur.Info, "maxmemory"),
		UptimeSeconds: infoInt(cur.Info, "uptime_in_seconds"), Version: cur.Info["epochdb_version"],
		Ops: map[string]float64{},
	}
	if f.Databases == nil {
		f.Databases = []inspect.DBCount{}
	}
	secs := cur.At.Sub(prev.At).Seconds()
	// No rates from a first reading, a reading out of order, or counters
	// that went back (the server restarted).
	if prev.At.IsZero() || secs <= 0 || l.Gets < p.Gets || l.Sets < p.Sets {
		return f
	}
	rate := func(a, b uint64) float64 {
		if a < b {
			return 0
		}
		return float64(a-b) / secs
	}
	f.Ops["get"] = rate(l.Gets, p.Gets)
	f.Ops["set"] = rate(l.Sets, p.Sets)
	f.Ops["delete"] = rate(l.Deletes, p.Deletes)
	f.Ops["increment"] = rate(l.Increments, p.Increments)
	f.Ops["commit"] = rate(l.TxCommits, p.TxCommits)
	f.Ops["batch"] = rate(l.Batches, p.Batches)
	f.Ops["commands"] = rate(uint64(infoInt(cur.Info, "total_commands_processed")), uint64(infoInt(prev.Info, "total_commands_processed")))
	f.Families = familyRates(prev, cur)
	f.ExpiredPerSec = rate(l.Expired, p.Expired)
	f.EvictedPerSec = rate(l.Evicted, p.Evicted)
	f.PrunedPerSec = rate(l.Pruned, p.Pruned)
	f.WALSyncsPerSec = rate(l.WALSyncs, p.WALSyncs)
	if gets := l.Gets - p.Gets; gets > 0 && l.Misses >= p.Misses {
		r := 1 - float64(l.Misses-p.Misses)/float64(gets)
		f.HitRatio = &r
	}
	var h epochdb.Histogram
	for _, op := range latencyOps {
		a, b := l.Latency[op], p.Latency[op]
		for i := range min(len(a), len(h.Buckets)) {
			var was uint64
			if i < len(b) {
				was = b[i]
			}
			if a[i] >= was {
				h.Buckets[i] += a[i] - was
				h.Count += a[i] - was
			}
		}
	}
	if h.Count > 0 {
		p50 := micros(h.Quantile(0.5))
		p99 := micros(h.Quantile(0.99))
		f.LatencyP50Us, f.LatencyP99Us = &p50, &p99
	}
	return f
}

func micros(d time.Duration) float64 {
	if d == math.MaxInt64 {
		return float64(epochdb.LatencyBucketBound(epochdb.NumLatencyBuckets-2) / time.Microsecond * 2)
	}
	return float64(d / time.Microsecond)
}

// commandFamily maps a command name to its group, from the server's
// command table.
var commandFamily = func() map[string]string {
	m := map[string]string{}
	for _, s := range server.NewCommandMux().Specs() {
		m[s.Name] = s.Group
	}
	return m
}()

// cmdstatCalls returns the calls= of each cmdstat_<name> field of INFO.
func cmdstatCalls(info map[string]string) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range info {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		for _, part := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(part, "calls="); ok {
				c, _ := strconv.ParseUint(n, 10, 64)
				out[name] = c
			}
		}
	}
	return out
}

// familyRates returns the commands per second of each family between two
// readings (nil without a previous one).
func familyRates(prev, cur Reading) map[string]float64 {
	secs := cur.At.Sub(prev.At).Seconds()
	if prev.At.IsZero() || secs <= 0 {
		return nil
	}
	was := cmdstatCalls(prev.Info)
	out := map[string]float64{}
	for name, calls := range cmdstatCalls(cur.Info) {
		if calls < was[name] { // CONFIG RESETSTAT
			continue
		}
		fam := commandFamily[name]
		if fam == "" {
			fam = "other"
		}
		if d := calls - was[name]; d > 0 {
			out[fam] += float64(d) / secs
		}
	}
	return out
}

func infoInt(m map[string]string, k string) int64 {
	n, _ := strconv.ParseInt(m[k], 10, 64)
	return n
}

// Inspect sends req to the server's EPOCH.INSPECT and decodes the reply
// into out. A missing key (get, meta) is epochdb.ErrNotFound.
func Inspect(ctx context.Context, c Client, req inspect.Request, out any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	s, err := c.Do(ctx, "EPOCH.INSPECT", string(b)).Text()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: %q", epochdb.ErrNotFound, req.Key)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), out)
}

// Events reads the server's durable event log (EPOCH.EVENTS) after the
// cursor from ("$": from now on), at most count events, and returns the
// next cursor and the events as retirements.
func Events(ctx context.Context, c Client, from string, count int) (string, []inspect.Retired, error) {
	v, err := c.Do(ctx, "EPOCH.EVENTS", "FROM", from, "COUNT", count).Slice()
	if err != nil {
		return from, nil, err
	}
	return parseEvents(v, time.Now())
}

// parseEvents decodes EPOCH.EVENTS's reply, RESP2 (flat pairs) or RESP3
// (maps).
func parseEvents(v []any, now time.Time) (string, []inspect.Retired, error) {
	if len(v) != 2 {
		return "", nil, fmt.Errorf("EPOCH.EVENTS: a reply of %d elements, want 2", len(v))
	}
	cursor := fmt.Sprint(v[0])
	list, ok := v[1].([]any)
	if !ok {
		return "", nil, errors.New("EPOCH.EVENTS: the events are not an array")
	}
	var out []inspect.Retired
	for _, e := range list {
		fields := map[string]any{}
		switch e := e.(type) {
		case map[any]any:
			for k, v := range e {
				fields[fmt.Sprint(k)] = v
			}
		case []any:
			for i := 0; i+1 < len(e); i += 2 {
				fields[fmt.Sprint(e[i])] = e[i+1]
			}
		default:
			return "", nil, fmt.Errorf("EPOCH.EVENTS: an event of type %T", e)
		}
		num := func(k string) int64 {
			switch n := fields[k].(type) {
			case int64:
				return n
			case string:
				i, _ := strconv.ParseInt(n, 10, 64)
				return i
			}
			return 0
		}
		r := inspect.Retired{Kind: fmt.Sprint(fields["kind"]), Seq: uint64(num("seq"))}
		r.DB, r.Key, r.TTLMs, r.ValueBytes = -1, fmt.Sprint(fields["key"]), -1, -1
		r.RetiredAt = time.UnixMilli(num("time")).UTC()
		r.Frequency = uint64(num("frequency"))
		r.CreatedAt = time.UnixMilli(num("created_at")).UTC()
		r.AgeMs = now.Sub(r.CreatedAt).Milliseconds()
		if exp := num("expires_at"); exp > 0 {
			t := time.UnixMilli(exp).UTC()
			r.ExpiresAt = &t
		}
		if val, ok := fields["value"].(string); ok {
			r.ValueBytes = len(val)
		}
		out = append(out, r)
	}
	return cursor, out, nil
}
