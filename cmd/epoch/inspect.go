package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/inspect"
	"github.com/epochdb/epochdb/server"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The inspection commands (stats, keys, get, meta, hot, cold, prune
// --preview, check) work offline on a data directory (--dir) or online
// against a running server (--addr). Both compute their figures with
// internal/inspect: offline in this process, online in the server
// (EPOCH.INSPECT), so they print the same.
//
// Offline they never change the store: they refuse a store a running server
// holds, and read a private copy of it (its table files hard-linked, its
// log and manifest copied, like a Pebble checkpoint) that they delete
// afterwards.

// source says where an inspection command reads from.
type source struct {
	dir      string
	addr     string
	password string
	tls      bool
	tlsCA    string
	insecure bool
	db       int
	asJSON   bool
	now      string // hidden: the time offline inspection takes as now (RFC 3339), for reproducible output

	// Offline only: the pruning rule and budget prune --preview applies.
	rule serveOptions
	conf string
}

func (s *source) addFlags(f *pflag.FlagSet) {
	f.StringVar(&s.dir, "dir", "./epoch-data", "data directory to inspect offline (no server may hold it)")
	f.StringVar(&s.addr, "addr", "", "inspect the server at this address (host:port) instead of --dir")
	f.StringVar(&s.password, "password", "", "the server's password (--requirepass); also EPOCH_PASSWORD")
	f.BoolVar(&s.tls, "tls", false, "connect to the server over TLS")
	f.StringVar(&s.tlsCA, "tls-ca", "", "PEM file of the CA that signed the server's certificate (default: the system's)")
	f.BoolVar(&s.insecure, "tls-insecure", false, "do not verify the server's certificate")
	f.IntVar(&s.db, "db", 0, "logical database (SELECT) of the keys; -1: the library's keys as stored, every database")
	f.BoolVar(&s.asJSON, "json", false, "print JSON for scripts instead of a table")
	f.StringVar(&s.now, "now", "", "offline: the current time to assume (RFC 3339)")
	_ = f.MarkHidden("now")
}

// do runs req offline or online and decodes the result into res.
func (s *source) do(cmd *cobra.Command, req inspect.Request, res any) error {
	req.DB = s.db
	if s.addr != "" {
		return s.doOnline(cmd.Context(), req, res)
	}
	out, err := s.doOffline(cmd, req)
	if err != nil {
		return err
	}
	// Through JSON, as online, so both paths print the same.
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, res)
}

// client connects to the server at --addr.
func (s *source) client() (*redis.Client, error) {
	o := &redis.Options{
		Addr: s.addr, Password: s.password, Protocol: 2, MaxRetries: -1, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if o.Password == "" {
		o.Password = os.Getenv("EPOCH_PASSWORD")
	}
	if s.tls || s.tlsCA != "" || s.insecure {
		host, _, _ := strings.Cut(s.addr, ":")
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, InsecureSkipVerify: s.insecure}
		if s.tlsCA != "" {
			pool, err := loadCAPool(s.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("tls-ca: %w", err)
			}
			tc.RootCAs = pool
		}
		o.TLSConfig = tc
	}
	return redis.NewClient(o), nil
}

func (s *source) doOnline(ctx context.Context, req inspect.Request, res any) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	defer c.Close()
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	reply, err := c.Do(ctx, "EPOCH.INSPECT", string(b)).Text()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: %q", epochdb.ErrNotFound, req.Key)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.addr, err)
	}
	return json.Unmarshal([]byte(reply), res)
}

func (s *source) clock() (time.Time, epochdb.Clock, error) {
	if s.now == "" {
		return time.Now(), nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.now)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("now: %w", err)
	}
	return t, fixedClock(t), nil
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func (s *source) doOffline(cmd *cobra.Command, req inspect.Request) (any, error) {
	now, clk, err := s.clock()
	if err != nil {
		return nil, err
	}
	opts := &epochdb.Options{DisableReadTracking: true, SyncInterval: -1, Clock: clk, NoWALPreallocation: true}
	if req.Op == "prune-preview" {
		if err := s.applyRule(cmd, opts); err != nil {
			return nil, err
		}
	}
	// Nothing may retire keys in the copy before it is read.
	opts.PruneInterval = 365 * 24 * time.Hour
	db, cleanup, err := openCopy(s.dir, opts)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	p := newProgress(cmd.ErrOrStderr(), req.Op)
	defer p.done()
	return inspect.Do(db, req, now, p.update)
}

// pruneResult is what prune --apply reports.
type pruneResult struct {
	Pruned  uint64 `json:"pruned"`
	Evicted uint64 `json:"evicted"`
	Expired uint64 `json:"expired"`
	Keys    int64  `json:"keys"` // left
}

// applyPrune opens the store with the rule and budget, lets the library
// run one pruning pass and evict down to the budget, and closes it.
func (s *source) applyPrune(cmd *cobra.Command) (pruneResult, error) {
	if s.addr != "" {
		return s.applyPruneOnline(cmd)
	}
	_, clk, err := s.clock()
	if err != nil {
		return pruneResult{}, err
	}
	opts := &epochdb.Options{Clock: clk, DisableReadTracking: true, NoWALPreallocation: true}
	if err := s.applyRule(cmd, opts); err != nil {
		return pruneResult{}, err
	}
	ruleOn := opts.PruneMinFrequency > 0 || opts.PruneIdle > 0
	budgetOn := (opts.MaxKeys > 0 || opts.MaxDiskBytes > 0) && opts.EvictionPolicy != epochdb.NoEviction
	if !ruleOn && !budgetOn {
		return pruneResult{}, errors.New("no rule to apply: give --prune-min-frequency or --prune-idle, or --maxkeys/--maxdisk with an evicting --maxmemory-policy (or --config)")
	}
	if s.rule.eventLogValues && !s.rule.eventLog {
		return pruneResult{}, errors.New("event-log-values yes needs event-log yes")
	}
	opts.EventLog, opts.EventLogValues, opts.EventLogMaxEntries = bool(s.rule.eventLog), bool(s.rule.eventLogValues), s.rule.eventLogMaxEntries
	opts.PruneInterval = 10 * time.Millisecond // the first pass starts at once
	// As the preview counts: the pruning pass first, then eviction down to
	// the budget (the library's background loop would evict first).
	var r pruneResult
	if ruleOn {
		o := *opts
		o.MaxKeys, o.MaxDiskBytes = 0, 0
		o.PruneInterval = 365 * 24 * time.Hour // the pass below, not the background one
		db, err := openOffline(s.dir, &o)
		if err != nil {
			return r, err
		}
		pr, err := db.Prune(0)
		st := db.Stats()
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return r, err
		}
		r.Pruned, r.Keys = uint64(pr.Removed), st.Keys
	}
	if budgetOn {
		o := *opts
		o.PruneMinFrequency, o.PruneIdle = 0, 0
		start := time.Now()
		err := s.runLifecycle(cmd, &o, &r, func(st epochdb.Stats) bool {
			return (o.MaxKeys == 0 || st.Keys <= o.MaxKeys) && (o.MaxDiskBytes == 0 || st.LiveBytes <= o.MaxDiskBytes) ||
				time.Since(start) > 30*time.Second // volatile-lfu may run out of keys to evict
		})
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// applyPruneOnline asks the server to run a pass of its pruning rule now.
func (s *source) applyPruneOnline(cmd *cobra.Command) (pruneResult, error) {
	c, err := s.client()
	if err != nil {
		return pruneResult{}, err
	}
	defer c.Close()
	m, err := c.Do(cmd.Context(), "EPOCH.PRUNE", "NOW").Slice()
	if err != nil {
		return pruneResult{}, err
	}
	var r pruneResult
	for i := 0; i+1 < len(m); i += 2 {
		if k, _ := m[i].(string); k == "removed" {
			n, _ := m[i+1].(int64)
			r.Pruned = uint64(n)
		}
	}
	// Keys left in every database, as offline: INFO keyspace's dbN:keys=…
	info, err := c.Info(cmd.Context(), "keyspace").Result()
	for _, line := range strings.Split(info, "\n") {
		var db int
		var n int64
		if _, perr := fmt.Sscanf(strings.TrimSpace(line), "db%d:keys=%d", &db, &n); perr == nil {
			r.Keys += n
		}
	}
	return r, err
}

// runLifecycle opens the store with opts, waits until done says the
// library's background work has done its part, closes it and adds what it
// retired to r.
func (s *source) runLifecycle(cmd *cobra.Command, opts *epochdb.Options, r *pruneResult, done func(epochdb.Stats) bool) error {
	db, err := openOffline(s.dir, opts)
	if err != nil {
		return err
	}
	p := newProgress(cmd.ErrOrStderr(), "prune")
	for st := db.Stats(); !done(st); st = db.Stats() {
		p.update(int64(st.PruneScanned), st.Keys)
		time.Sleep(10 * time.Millisecond)
	}
	p.done()
	st := db.Stats()
	if err := db.Close(); err != nil {
		return err
	}
	r.Pruned, r.Evicted, r.Expired, r.Keys = r.Pruned+st.Pruned, r.Evicted+st.Evicted, r.Expired+st.Expired, st.Keys
	return nil
}

// applyRule sets the pruning rule and budget of prune --preview from its
// flags and the --config file (as epoch serve reads them).
func (s *source) applyRule(cmd *cobra.Command, opts *epochdb.Options) error {
	file, err := loadConfigFile(s.conf)
	if err != nil {
		return err
	}
	fs := cmd.Flags()
	known := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
	for name := range file { // a serve config file: keep the settings prune knows
		if !known[name] || name == "dir" {
			delete(file, name)
		}
	}
	if err := applySources(fs, file, func(string) (string, bool) { return "", false }, "config"); err != nil {
		return err
	}
	r := s.rule
	maxDisk, err := server.ParseMemory(r.maxDisk)
	if err != nil {
		return fmt.Errorf("maxdisk: %w", err)
	}
	policy, err := epochdb.ParseEvictionPolicy(r.maxmemoryPolicy)
	if err != nil {
		return err
	}
	opts.PruneMinFrequency, opts.PruneIdle, opts.PruneGrace = r.pruneMinFrequency, r.pruneIdle, r.pruneGrace
	opts.PruneSkipTTLKeys, opts.MaxKeys, opts.MaxDiskBytes, opts.EvictionPolicy = r.pruneSkipTTLKeys, r.maxKeys, maxDisk, policy
	opts.HeatHalfLife = r.lfuHalfLife
	return nil
}

// openCopy opens a private copy of the store in dir, which no server may
// hold, and returns it with a function that closes and deletes it. The copy
// is made beside dir (table files hard-linked) or, if that fails, in the
// temporary directory (table files copied).
func openCopy(dir string, opts *epochdb.Options) (*epochdb.DB, func(), error) {
	if err := requireStore(dir); err != nil {
		return nil, nil, err
	}
	lock, err := lockStore(dir) // no server may start while the files are copied
	if err != nil {
		return nil, nil, err
	}
	tmp, err := copyStore(dir)
	_ = lock.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("copy %s for reading: %w", dir, err)
	}
	db, err := epochdb.Open(tmp, opts)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, nil, err
	}
	return db, func() {
		_ = db.Close()
		_ = os.RemoveAll(tmp)
	}, nil
}

func copyStore(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".inspect-")
	if err != nil {
		if tmp, err = os.MkdirTemp("", "epoch-inspect-"); err != nil {
			return "", err
		}
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		return "", errors.Join(err, os.RemoveAll(tmp))
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || name == "LOCK" {
			continue
		}
		src, dst := filepath.Join(abs, name), filepath.Join(tmp, name)
		// Table files are immutable: share them. The log, manifest and
		// markers are written in place by an open store: copy them.
		if strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob") {
			if os.Link(src, dst) == nil {
				continue
			}
		}
		if err := copyFile(src, dst); err != nil {
			return "", errors.Join(err, os.RemoveAll(tmp))
		}
	}
	return tmp, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// newInspectCmd returns an inspection command: run builds the request from
// the arguments and prints the result.
func newInspectCmd(use, short, long string, args cobra.PositionalArgs, run func(cmd *cobra.Command, s *source, args []string) error) (*cobra.Command, *source) {
	s := &source{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: long + `

Offline (--dir, the default ./epoch-data) it reads the store without changing
it, and refuses a store a running server holds; online (--addr) it asks the
server. --json prints JSON for scripts.`,
		Args: args,
	}
	if run != nil {
		cmd.RunE = func(cmd *cobra.Command, a []string) error { return run(cmd, s, a) }
	}
	s.addFlags(cmd.Flags())
	return cmd, s
}

func newInspectCommands() []*cobra.Command {
	stats, _ := newInspectCmd("stats", "Keys, live bytes, disk, and histograms of TTL, age, frequency and heat",
		`Stats counts the live keys (per logical database, with a deadline), their
bytes, the disk and block cache used, the keys retired since the store was
opened, and draws histograms of the remaining TTL, the age, the access
frequency and the heat of every key. It reads every key.`,
		cobra.NoArgs, func(cmd *cobra.Command, s *source, _ []string) error {
			var st inspect.Stats
			if err := s.do(cmd, inspect.Request{Op: "stats"}, &st); err != nil {
				return err
			}
			return s.print(cmd, st, func(w io.Writer) { printStats(w, st, s.addr != "") })
		})

	var sortBy string
	var limit int
	keys, _ := newInspectCmd("keys [PATTERN]", "List keys with their metadata",
		`Keys lists the keys matching PATTERN (a Redis glob; every key without one)
with their value size, frequency, heat, age, TTL and last access, sorted by
key or by --sort, at most --limit of them.`,
		cobra.MaximumNArgs(1), func(cmd *cobra.Command, s *source, args []string) error {
			req := inspect.Request{Op: "keys", Sort: sortBy, Limit: limit}
			if len(args) == 1 {
				req.Pattern = args[0]
			}
			var ks inspect.Keys
			if err := s.do(cmd, req, &ks); err != nil {
				return err
			}
			return s.print(cmd, ks, func(w io.Writer) { printKeys(w, ks, "matched") })
		})
	keys.Flags().StringVar(&sortBy, "sort", "key", "order: key, heat (hottest first), freq (most used first), ttl (soonest deadline first), age (oldest first)")
	keys.Flags().IntVar(&limit, "limit", inspect.DefaultLimit, "list at most this many keys")

	get, _ := newInspectCmd("get KEY", "Print a key's value (not counted as an access)",
		"Get prints the value of KEY; with --json, also its metadata.",
		cobra.ExactArgs(1), func(cmd *cobra.Command, s *source, args []string) error {
			var ki inspect.KeyInfo
			if err := s.do(cmd, inspect.Request{Op: "get", Key: args[0]}, &ki); err != nil {
				return err
			}
			return s.print(cmd, ki, func(w io.Writer) {
				if ki.Value != nil {
					fmt.Fprintln(w, *ki.Value)
				}
			})
		})
	meta, _ := newInspectCmd("meta KEY", "Print a key's metadata",
		"Meta prints the metadata of KEY: frequency, heat, times, TTL, value size.",
		cobra.ExactArgs(1), func(cmd *cobra.Command, s *source, args []string) error {
			var ki inspect.KeyInfo
			if err := s.do(cmd, inspect.Request{Op: "meta", Key: args[0]}, &ki); err != nil {
				return err
			}
			return s.print(cmd, ki, func(w io.Writer) { printMeta(w, ki) })
		})
	hot := hotColdCmd("hot", "hottest")
	cold := hotColdCmd("cold", "coldest")

	var preview, apply bool
	prune, ps := newInspectCmd("prune --preview|--apply", "Show what the pruning rule and the budget would retire now, or retire it",
		`Prune --preview lists the keys the pruning rule would remove and those the
budget would evict now, without removing anything. Online it applies the
server's rule; offline the rule and budget given as flags (the names of
epoch serve's) or read from --config.

Prune --apply offline opens the store, which no server may hold, runs one
pruning pass with the rule, evicts down to the budget, and reports what it
removed. With --event-log yes the removed keys are logged as a server would
log them. Online (--addr) the server runs one pass of its own rule now
(EPOCH.PRUNE NOW); the rule flags apply offline only.`,
		cobra.NoArgs, nil)
	prune.RunE = func(cmd *cobra.Command, _ []string) error {
		switch {
		case preview == apply:
			return errors.New("prune needs --preview or --apply")
		case apply:
			r, err := ps.applyPrune(cmd)
			if err != nil {
				return err
			}
			return ps.print(cmd, r, func(w io.Writer) {
				fmt.Fprintf(w, "pruned %d keys, evicted %d, expired %d; %d keys left\n", r.Pruned, r.Evicted, r.Expired, r.Keys)
			})
		}
		var p inspect.Preview
		if err := ps.do(cmd, inspect.Request{Op: "prune-preview", Limit: limit}, &p); err != nil {
			return err
		}
		return ps.print(cmd, p, func(w io.Writer) { printPreview(w, p) })
	}
	pf := prune.Flags()
	pf.BoolVar(&preview, "preview", false, "list what would be retired, retire nothing")
	pf.BoolVar(&apply, "apply", false, "offline: retire what the rule and the budget select")
	pf.IntVar(&limit, "limit", inspect.DefaultLimit, "list at most this many keys of each kind")
	pf.StringVar(&ps.conf, "config", "", "offline: read the rule from this epoch serve configuration file")
	pf.Int64Var(&ps.rule.maxKeys, "maxkeys", 0, "offline: budget on the number of keys")
	pf.StringVar(&ps.rule.maxDisk, "maxdisk", "0", "offline: budget on live data, e.g. 10gb")
	pf.StringVar(&ps.rule.maxmemoryPolicy, "maxmemory-policy", "noeviction", "offline: eviction policy")
	pf.DurationVar(&ps.rule.lfuHalfLife, "lfu-half-life", time.Hour, "offline: half-life of a key's heat")
	pf.Uint64Var(&ps.rule.pruneMinFrequency, "prune-min-frequency", 0, "offline: prune keys with a lower frequency")
	pf.DurationVar(&ps.rule.pruneIdle, "prune-idle", 0, "offline: prune keys idle this long")
	pf.DurationVar(&ps.rule.pruneGrace, "prune-grace", 0, "offline: age under which no key is pruned")
	pf.BoolVar(&ps.rule.pruneSkipTTLKeys, "prune-skip-ttl-keys", false, "offline: leave keys with a TTL to expire")
	pf.Var(&ps.rule.eventLog, "event-log", "with --apply: log the removed keys in the store's durable event log (yes|no)")
	pf.Var(&ps.rule.eventLogValues, "event-log-values", "with --apply and --event-log yes: with their values")
	pf.Int64Var(&ps.rule.eventLogMaxEntries, "event-log-max-entries", epochdb.DefaultOptions().EventLogMaxEntries, "with --apply: events the log keeps")

	var repair bool
	check, _ := newInspectCmd("check", "Verify a store's consistency (and repair it)",
		`Check compares the key counters with a scan of the records, the deadline
index with the records' deadlines, looks for metadata without a record and
checks the event log's sequence numbers. It reports, and exits with status 1
when it found a problem.

With --repair (offline only, on the store itself, which no server may hold)
it first fixes what can be fixed without losing data: it adds the deadline
index entries records lack, removes stale index entries and metadata without
a record, and rewrites the counters from the records; then it checks.`,
		cobra.NoArgs, func(cmd *cobra.Command, s *source, _ []string) error {
			if repair {
				if err := s.repair(cmd); err != nil {
					return err
				}
			}
			var r epochdb.CheckReport
			if err := s.do(cmd, inspect.Request{Op: "check"}, &r); err != nil {
				return err
			}
			if err := s.print(cmd, r, func(w io.Writer) { printCheck(w, r) }); err != nil {
				return err
			}
			if len(r.Problems) > 0 {
				return fmt.Errorf("check found %d problems", len(r.Problems))
			}
			return nil
		})
	check.Flags().BoolVar(&repair, "repair", false, "offline: fix what can be fixed without losing data, then check")
	return []*cobra.Command{stats, keys, get, meta, hot, cold, prune, check, newCompactCmd()}
}

// repair opens the store itself (no server may hold it), repairs it and
// prints what it changed on stderr.
func (s *source) repair(cmd *cobra.Command) error {
	if s.addr != "" {
		return errors.New("check --repair works offline (--dir): stop the server first")
	}
	db, err := openOffline(s.dir, &epochdb.Options{DisableReadTracking: true, NoWALPreallocation: true})
	if err != nil {
		return err
	}
	r, err := db.Repair()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "repaired: %d deadline index entries added, %d stale ones removed, %d metadata records without data removed, counters rewritten (%d namespaces differed)\n",
		r.TTLAdded, r.TTLRemoved, r.MetaRemoved, len(r.CountersFixed))
	return nil
}

func hotColdCmd(op, what string) *cobra.Command {
	var sampleAbove int64
	cmd, s := newInspectCmd(op+" [N]", "List the N "+what+" keys by heat (default 10)",
		`Lists the N `+what+` keys by heat, the access count decayed over time that
LFU eviction ranks by. On a store of more than --sample-above keys it reads
a random sample of that many keys, as eviction does, and says so.`,
		cobra.MaximumNArgs(1), nil)
	cmd.Flags().Int64Var(&sampleAbove, "sample-above", inspect.DefaultSampleAbove, "sample stores with more keys than this")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		n := 10
		if len(args) == 1 {
			if _, err := fmt.Sscanf(args[0], "%d", &n); err != nil || n <= 0 {
				return fmt.Errorf("N must be a positive number, not %q", args[0])
			}
		}
		var ks inspect.Keys
		if err := s.do(cmd, inspect.Request{Op: op, Limit: n, SampleAbove: sampleAbove}, &ks); err != nil {
			return err
		}
		return s.print(cmd, ks, func(w io.Writer) { printKeys(w, ks, "read") })
	}
	return cmd
}

// print writes v as indented JSON with --json, else the table.
func (s *source) print(cmd *cobra.Command, v any, table func(io.Writer)) error {
	w := cmd.OutOrStdout()
	if s.asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	table(w)
	return nil
}
