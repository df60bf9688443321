package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/cluster"
	"github.com/epochdb/epochdb/internal/clock"
	"github.com/epochdb/epochdb/server"
	"github.com/spf13/cobra"
)

// serveOptions are epoch serve's settings, from flags, EPOCH_* variables
// and the config file.
type serveOptions struct {
	dir             string
	addr            string
	httpAddr        string
	requirepass     string
	requirepassFile string
	httpAuth        bool
	httpInsecure    bool
	tlsCert         string
	tlsKey          string
	tlsCA           string
	configFile      string
	appendfsync     string
	cluster         bool
	nodeID          string
	raftAddr        string
	peers           string
	raftSecretFile  string
	raftTLSCert     string
	raftTLSKey      string
	raftTLSCA       string
	raftSnapThresh  uint64
	raftSnapEvery   time.Duration
	raftTrailing    uint64
	raftReads       string
	syncInterval    time.Duration
	timeout         int
	maxclients      int
	protoMaxBulkLen string
	maxmemory       string
	cacheSize       string
	memtableSize    string
	queryBufLimit   string
	outputBufLimit  string
	protectedMode   bool
	notify          string
	slowlogSlower   int64
	slowlogMaxLen   int
	logLevel        string
	logFormat       string
	shutdownTimeout time.Duration

	// Lifecycle (see epochdb.Options).
	maxKeys           int64
	maxDisk           string
	maxmemoryPolicy   string
	lfuHalfLife       time.Duration
	pruneMinFrequency uint64
	pruneIdle         time.Duration
	pruneGrace        time.Duration
	pruneInterval     time.Duration
	pruneSkipTTLKeys  bool

	// The durable event log (EPOCH.EVENTS) and backups (EPOCH.BACKUP).
	eventLog           yesNoValue
	eventLogValues     yesNoValue
	eventLogMaxEntries int64
	eventLogMaxAge     time.Duration
	backupDir          string
	walPreallocate     string
	backupRetain       int

	// debugClock enables EPOCH.DEBUG CLOCK (a hidden test hook).
	debugClock bool
	// debugTrace is Server.DebugTrace's file (a hidden test hook).
	debugTrace string

	// init lets serve create a store in a non-empty directory that is not
	// one; unknownEnv are EPOCH_* variables that name no setting.
	init       bool
	unknownEnv []string
}

// yesNoValue is a boolean flag written as redis.conf writes them: yes or no
// (true/false, on/off and 1/0 work too), always with a value, as in
// "--event-log yes" or "--event-log=yes".
type yesNoValue bool

func (v *yesNoValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "yes", "true", "on", "1":
		*v = true
	case "no", "false", "off", "0":
		*v = false
	default:
		return fmt.Errorf("%q is neither yes nor no", s)
	}
	return nil
}

func (v *yesNoValue) String() string {
	if *v {
		return "yes"
	}
	return "no"
}

func (v *yesNoValue) Type() string { return "yes|no" }

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Redis-protocol server",
		Long: `Run EpochDB's Redis-protocol server (RESP2 and RESP3).

Settings come from flags, then EPOCH_* environment variables (EPOCH_ADDR,
EPOCH_REQUIREPASS, ...), then the --config file (one "name value" per line,
names as the flags), then the defaults. SIGINT, SIGTERM and the SHUTDOWN
command stop it gracefully: in-flight commands finish, the database is
closed, the exit status is 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			path := o.configFile
			if !fs.Changed("config") {
				if v, ok := os.LookupEnv(envName("config")); ok {
					path = v
				}
			}
			file, err := loadConfigFile(path)
			if err != nil {
				return err
			}
			if err := applySources(fs, file, os.LookupEnv, "config"); err != nil {
				return err
			}
			o.configFile = path
			o.unknownEnv = unknownEnvVars(fs, os.Environ())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, o, cmd.ErrOrStderr(), nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "./epoch-data", "data directory")
	f.StringVar(&o.addr, "addr", "127.0.0.1:6380", "RESP listen address (TLS when --tls-cert is set)")
	f.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:9380", `HTTP listen address for the web dashboard (/), its JSON API (/api/), /metrics and /healthz; "" disables`)
	f.StringVar(&o.requirepass, "requirepass", "", "password clients must AUTH with; required to listen on a non-loopback address (prefer --requirepass-file or EPOCH_REQUIREPASS: argv is visible to other users)")
	f.StringVar(&o.requirepassFile, "requirepass-file", "", "file holding the password (its first line), instead of --requirepass")
	f.BoolVar(&o.httpAuth, "http-auth", false, "require the password on HTTP (basic auth or a bearer token); always on for a non-loopback --http-addr")
	f.BoolVar(&o.httpInsecure, "http-insecure", false, "serve HTTP on a non-loopback --http-addr without a password")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM); with --tls-key, serve RESP over TLS")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&o.tlsCA, "tls-ca", "", "with --cluster and --tls-cert: PEM file of the CA that signed the nodes' --tls-cert, which a follower verifies the leader's against when it forwards a command (default: the system's roots)")
	f.StringVar(&o.configFile, "config", "", "configuration file: one \"name value\" per line, names as these flags")
	f.BoolVar(&o.cluster, "cluster", false, "replicate the store across nodes on raft: --node-id, --raft-addr, --peers; --dir then holds store/ and raft/")
	f.StringVar(&o.nodeID, "node-id", "", "with --cluster: this node's ID, unique and stable")
	f.StringVar(&o.raftAddr, "raft-addr", "", "with --cluster: the address raft listens on and peers reach this node at (host:port)")
	f.StringVar(&o.peers, "peers", "", "with --cluster: the initial members, id=host:port,… (raft addresses, this node included; the same on every node); without it the node waits to be added (epoch cluster join)")
	f.StringVar(&o.raftSecretFile, "raft-secret-file", "", "with --cluster: file holding the secret every node's raft connections must prove (its first line; required on a non-loopback --raft-addr)")
	f.StringVar(&o.raftTLSCert, "raft-tls-cert", "", "with --cluster: TLS certificate (PEM) for raft's traffic; with --raft-tls-key and --raft-tls-ca")
	f.StringVar(&o.raftTLSKey, "raft-tls-key", "", "with --cluster: TLS private key (PEM) for raft's traffic")
	f.StringVar(&o.raftTLSCA, "raft-tls-ca", "", "with --cluster: PEM file of the CA that signed the nodes' raft certificates")
	f.Uint64Var(&o.raftSnapThresh, "raft-snapshot-threshold", cluster.DefaultSnapshotThreshold, "with --cluster: log entries since the last snapshot that make the node snapshot its store and compact its log")
	f.DurationVar(&o.raftSnapEvery, "raft-snapshot-interval", cluster.DefaultSnapshotInterval, "with --cluster: how often the node checks --raft-snapshot-threshold")
	f.StringVar(&o.raftReads, "raft-reads", "lease", "with --cluster: how the leader confirms a linearizable read: lease (reads at once while a majority accepted its heartbeats of the last half heartbeat timeout; trusts clock rates) or quorum (a quorum round trip per read, shared by concurrent reads)")
	f.Uint64Var(&o.raftTrailing, "raft-trailing-logs", cluster.DefaultTrailingLogs, "with --cluster: log entries kept behind a snapshot, so that a follower a little behind catches up from the log rather than a snapshot")
	f.StringVar(&o.appendfsync, "appendfsync", "everysec", "durability: always (fsync each write), everysec (fsync every --sync-interval), no (leave it to the OS)")
	f.DurationVar(&o.syncInterval, "sync-interval", 100*time.Millisecond, "WAL fsync interval with appendfsync everysec")
	f.IntVar(&o.timeout, "timeout", 0, "close clients idle for this many seconds (0: never)")
	f.IntVar(&o.maxclients, "maxclients", server.DefaultMaxClients, "maximum connected clients")
	f.StringVar(&o.protoMaxBulkLen, "proto-max-bulk-len", "512mb", "largest argument a client may send")
	f.StringVar(&o.maxmemory, "maxmemory", "auto", "the process's memory budget: the Go runtime's soft limit, and large replies and writes that would pass it answer OOM (auto: 75% of the machine's or the cgroup's memory; 0: none)")
	f.StringVar(&o.queryBufLimit, "client-query-buffer-limit", "1gb", "largest command (all its arguments) a client may send; past it the client is disconnected")
	f.StringVar(&o.outputBufLimit, "client-output-buffer-limit", "1gb", "largest reply pending for a normal client; past it the client is disconnected")
	f.BoolVar(&o.protectedMode, "protected-mode", true, "refuse non-loopback listening and clients while no password is set")
	f.StringVar(&o.notify, "notify-keyspace-events", "", "keyspace notifications to publish (Redis's letters, e.g. KEA)")
	f.Int64Var(&o.slowlogSlower, "slowlog-log-slower-than", 10000, "slow log threshold in microseconds (negative disables)")
	f.IntVar(&o.slowlogMaxLen, "slowlog-max-len", server.DefaultSlowlogMaxLen, "slow log length")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown waits for in-flight commands")
	f.StringVar(&o.cacheSize, "cache-size", "64mb", "the engine's block cache (Options.CacheSize; its memtables come on top)")
	f.StringVar(&o.memtableSize, "memtable-size", "64mb", "one engine memtable (Options.MemTableSize): larger ones absorb more writes between flushes; up to two are in memory")
	f.Int64Var(&o.maxKeys, "maxkeys", 0, "budget on the number of keys (0: none); see --maxmemory-policy")
	f.StringVar(&o.maxDisk, "maxdisk", "0", "budget on live data (keys + values), e.g. 10gb (0: none)")
	f.StringVar(&o.maxmemoryPolicy, "maxmemory-policy", "noeviction", "over budget: noeviction (writes fail), allkeys-lfu, volatile-lfu, allkeys-lru")
	f.DurationVar(&o.lfuHalfLife, "lfu-half-life", time.Hour, "half-life of a key's heat (access frequency decayed over time)")
	f.Uint64Var(&o.pruneMinFrequency, "prune-min-frequency", 0, "prune keys older than --prune-grace with a lower frequency (0: off)")
	f.DurationVar(&o.pruneIdle, "prune-idle", 0, "prune keys older than --prune-grace not accessed for this long (0: off)")
	f.DurationVar(&o.pruneGrace, "prune-grace", 0, "age under which no key is pruned")
	f.DurationVar(&o.pruneInterval, "prune-interval", time.Minute, "how often the pruning pass runs")
	f.BoolVar(&o.pruneSkipTTLKeys, "prune-skip-ttl-keys", false, "leave keys with a TTL to expire instead of pruning them")
	f.Var(&o.eventLog, "event-log", "keep a durable log of expired, pruned and evicted keys, read with EPOCH.EVENTS")
	f.Var(&o.eventLogValues, "event-log-values", "store the retired value in each event of the log (needs --event-log yes)")
	f.Int64Var(&o.eventLogMaxEntries, "event-log-max-entries", epochdb.DefaultOptions().EventLogMaxEntries, "events the log keeps; older ones are dropped")
	f.DurationVar(&o.eventLogMaxAge, "event-log-max-age", 0, "drop events older than this from the log (0: keep until --event-log-max-entries drops them)")
	f.StringVar(&o.walPreallocate, "wal-preallocate", "auto", "reserve ~70 MiB of disk per write-ahead log file up front: yes, no, or auto (yes with appendfsync always, where it makes fsyncs cheaper)")
	f.BoolVar(&o.init, "init", false, "create a store in --dir even though it is not empty (serve refuses a non-empty directory that is not a store)")
	f.StringVar(&o.backupDir, "backup-dir", "", `directory EPOCH.BACKUP writes into, never outside it (default "<dir>-backups", beside the data directory)`)
	f.IntVar(&o.backupRetain, "backup-retain", 10, "backup files EPOCH.BACKUP keeps under --backup-dir; older ones are removed (0: keep all)")
	// A test hook, off by default and not listed: the store reads a clock
	// that EPOCH.DEBUG CLOCK can move, so that a fault-injection harness
	// can make this process's clock jump.
	f.BoolVar(&o.debugClock, "debug-clock", false, "test hook: let EPOCH.DEBUG CLOCK move the store's clock")
	_ = f.MarkHidden("debug-clock")
	// Another: a replicated server appends a line per data command to
	// this file (Server.DebugTrace), to tell which node answered what.
	f.StringVar(&o.debugTrace, "debug-trace", "", "test hook: append where each data command ran, and its reply, to this file")
	_ = f.MarkHidden("debug-trace")
	return cmd
}

// newLogger returns the slog logger the options ask for.
func newLogger(o serveOptions, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("log-format: %q is neither text nor json", o.logFormat)
}

// dbOptions maps the durability settings onto the library's options.
func dbOptions(o serveOptions, log *slog.Logger) (*epochdb.Options, error) {
	opts := &epochdb.Options{Logger: log}
	switch strings.ToLower(o.appendfsync) {
	case "always":
		opts.SyncWrites = true
	case "everysec":
		if o.syncInterval <= 0 {
			return nil, fmt.Errorf("sync-interval must be positive, got %v", o.syncInterval)
		}
		opts.SyncInterval = o.syncInterval
	case "no":
		opts.SyncInterval = -1
	default:
		return nil, fmt.Errorf("appendfsync: %q is not always, everysec or no", o.appendfsync)
	}
	maxDisk, err := server.ParseMemory(o.maxDisk)
	if err != nil {
		return nil, fmt.Errorf("maxdisk: %w", err)
	}
	if opts.CacheSize, err = server.ParseMemory(o.cacheSize); err != nil || opts.CacheSize <= 0 {
		return nil, fmt.Errorf("cache-size %q: must be a positive size (64mb, 1gb)", o.cacheSize)
	}
	memtable, err := server.ParseMemory(o.memtableSize)
	if err != nil || memtable < 1<<20 || memtable >= 4<<30 {
		return nil, fmt.Errorf("memtable-size %q: must be a size from 1mb to under 4gb", o.memtableSize)
	}
	opts.MemTableSize = uint64(memtable)
	policy, err := epochdb.ParseEvictionPolicy(o.maxmemoryPolicy)
	if err != nil {
		return nil, fmt.Errorf("maxmemory-policy: %w", err)
	}
	for _, c := range []struct {
		bad        bool
		flag, want string
		v          any
	}{
		{o.maxKeys < 0, "maxkeys", "0 (no limit) or positive", o.maxKeys},
		{o.lfuHalfLife == 0, "lfu-half-life", "positive, or negative for no decay", o.lfuHalfLife},
		{o.pruneIdle < 0, "prune-idle", "0 (off) or positive", o.pruneIdle},
		{o.pruneGrace < 0, "prune-grace", "0 or positive", o.pruneGrace},
		{o.pruneInterval <= 0, "prune-interval", "positive", o.pruneInterval},
		{o.eventLogMaxEntries <= 0, "event-log-max-entries", "positive", o.eventLogMaxEntries},
		{o.eventLogMaxAge < 0, "event-log-max-age", "0 (no age limit) or positive", o.eventLogMaxAge},
	} {
		if c.bad {
			return nil, fmt.Errorf("%s %v: must be %s", c.flag, c.v, c.want)
		}
	}
	opts.MaxKeys = o.maxKeys
	opts.MaxDiskBytes = maxDisk
	opts.EvictionPolicy = policy
	opts.HeatHalfLife = o.lfuHalfLife
	opts.PruneMinFrequency = o.pruneMinFrequency
	opts.PruneIdle = o.pruneIdle
	opts.PruneGrace = o.pruneGrace
	opts.PruneInterval = o.pruneInterval
	opts.PruneSkipTTLKeys = o.pruneSkipTTLKeys
	if o.eventLogValues && !o.eventLog {
		return nil, errors.New("event-log-values yes needs event-log yes")
	}
	switch strings.ToLower(o.walPreallocate) {
	case "auto", "":
		if !opts.SyncWrites {
			opts.NoWALPreallocation = true
		}
	case "yes":
	case "no":
		opts.NoWALPreallocation = true
	default:
		return nil, fmt.Errorf("wal-preallocate: %q is not yes, no or auto", o.walPreallocate)
	}
	opts.EventLog = bool(o.eventLog)
	opts.EventLogValues = bool(o.eventLogValues)
	opts.EventLogMaxEntries = o.eventLogMaxEntries
	opts.EventLogMaxAge = o.eventLogMaxAge
	return opts, nil
}

// memoryLimits are the parsed memory settings of epoch serve.
type memoryLimits struct{ max, query, output int64 }

// parseMemoryLimits parses maxmemory ("auto": DefaultMaxMemoryShare percent
// of server.SystemMemory) and the client buffer limits.
func parseMemoryLimits(o serveOptions) (memoryLimits, error) {
	var m memoryLimits
	var err error
	if strings.EqualFold(o.maxmemory, "auto") {
		m.max = server.SystemMemory() / 100 * server.DefaultMaxMemoryShare
	} else if m.max, err = server.ParseMemory(o.maxmemory); err != nil {
		return m, fmt.Errorf("maxmemory: %w", err)
	}
	if m.query, err = server.ParseMemory(o.queryBufLimit); err != nil || m.query < 1<<20 {
		return m, fmt.Errorf("client-query-buffer-limit: %q is not a size of at least 1mb", o.queryBufLimit)
	}
	if m.output, err = server.ParseMemory(o.outputBufLimit); err != nil || m.output < 1<<20 {
		return m, fmt.Errorf("client-output-buffer-limit: %q is not a size of at least 1mb", o.outputBufLimit)
	}
	return m, nil
}

// fdReserve is the number of descriptors kept out of maxclients' reach:
// the server's default, plus the HTTP listener's connections when it is on.
func fdReserve(o serveOptions) int {
	if o.httpAddr == "" {
		return server.DefaultFDReserve
	}
	return server.DefaultFDReserve + httpMaxConns
}

// readPasswordFile reads --requirepass-file into o.requirepass: the file's
// first line, without its line ending.
func readPasswordFile(o *serveOptions) error {
	if o.requirepassFile == "" {
		return nil
	}
	if o.requirepass != "" {
		return errors.New("requirepass and requirepass-file are exclusive: give the password once")
	}
	b, err := os.ReadFile(o.requirepassFile)
	if err != nil {
		return fmt.Errorf("requirepass-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if o.requirepass = strings.TrimSuffix(line, "\r"); o.requirepass == "" {
		return fmt.Errorf("requirepass-file: %s: the first line is empty", o.requirepassFile)
	}
	return nil
}

// httpNeedsAuth reports whether HTTP requires the password: with
// --http-auth, and on a non-loopback --http-addr unless --http-insecure. It
// refuses a non-loopback address without a password and without
// --http-insecure.
func httpNeedsAuth(o serveOptions) (bool, error) {
	if o.httpAddr == "" {
		return false, nil
	}
	need := o.httpAuth || !loopbackHost(o.httpAddr) && !o.httpInsecure
	if need && o.requirepass == "" {
		return false, fmt.Errorf("refusing to serve HTTP on %s without a password: set --requirepass "+
			"(or --requirepass-file, EPOCH_REQUIREPASS), or pass --http-insecure to accept the risk", o.httpAddr)
	}
	return need, nil
}

// loopbackHost reports whether the host of a listen address is a loopback
// address or name.
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// runServe runs the server until ctx ends or a client sends SHUTDOWN, then
// shuts down gracefully. ready, if not nil, is called with the listening
// addresses (httpAddr nil when HTTP is disabled).
func runServe(ctx context.Context, o serveOptions, logw io.Writer, ready func(resp, http net.Addr)) error {
	log, err := newLogger(o, logw)
	if err != nil {
		return err
	}
	opts, err := dbOptions(o, log)
	if err != nil {
		return err
	}
	maxBulk, err := server.ParseMemory(o.protoMaxBulkLen)
	if err != nil {
		return fmt.Errorf("proto-max-bulk-len: %w", err)
	}
	mem, err := parseMemoryLimits(o)
	if err != nil {
		return err
	}
	if o.timeout < 0 || o.maxclients < 1 || o.backupRetain < 0 {
		return errors.New("timeout and backup-retain must be >= 0 and maxclients >= 1")
	}
	if err := readPasswordFile(&o); err != nil {
		return err
	}
	httpAuth, err := httpNeedsAuth(o)
	if err != nil {
		return err
	}
	if o.protectedMode && o.requirepass == "" && !loopbackHost(o.addr) {
		return fmt.Errorf("refusing to listen on %s without a password: set --requirepass "+
			"(or --protected-mode=false to accept the risk)", o.addr)
	}
	var tlsConfig *tls.Config
	switch {
	case o.tlsCert != "" && o.tlsKey != "":
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case o.tlsCert != "" || o.tlsKey != "":
		return errors.New("tls: --tls-cert and --tls-key go together")
	}
	var forwardTLS *tls.Config
	if o.cluster && tlsConfig != nil {
		forwardTLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if o.tlsCA != "" {
			if forwardTLS.RootCAs, err = loadCAPool(o.tlsCA); err != nil {
				return fmt.Errorf("tls-ca: %w", err)
			}
		}
	} else if o.tlsCA != "" {
		return errors.New("tls-ca: only with --cluster and --tls-cert (a follower verifies the leader with it)")
	}
	slowlog := time.Duration(o.slowlogSlower) * time.Microsecond
	switch {
	case o.slowlogSlower < 0:
		slowlog = -1
	case o.slowlogSlower == 0:
		slowlog = time.Nanosecond // log every command
	}

	backupDir := o.backupDir
	if backupDir == "" {
		abs, err := filepath.Abs(o.dir)
		if err != nil {
			return fmt.Errorf("dir: %w", err)
		}
		backupDir = abs + "-backups"
	}

	for _, name := range o.unknownEnv {
		log.Warn("epoch: unknown environment variable ignored (no such setting)", "name", name)
	}
	storeDir := o.dir
	if o.cluster {
		if err := os.MkdirAll(o.dir, 0o755); err != nil {
			return fmt.Errorf("dir: %w", err)
		}
		storeDir = filepath.Join(o.dir, "store")
	}
	if err := checkServeDir(storeDir, o.init); err != nil {
		return err
	}
	// Bind first: a taken port must not leave a new store behind.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	var httpLn net.Listener
	if o.httpAddr != "" {
		if httpLn, err = net.Listen("tcp", o.httpAddr); err != nil {
			_ = ln.Close()
			return err
		}
	}
	closeListeners := func() {
		_ = ln.Close()
		if httpLn != nil {
			_ = httpLn.Close()
		}
	}
	var debugClock *clock.Offset
	if o.debugClock {
		debugClock = &clock.Offset{}
		opts.Clock = debugClock
		log.Warn("epoch: --debug-clock: EPOCH.DEBUG CLOCK can move the store's clock (a test hook)")
	}
	var traceFile *os.File
	if o.debugTrace != "" {
		if traceFile, err = os.OpenFile(o.debugTrace, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			closeListeners()
			return err
		}
		defer traceFile.Close()
	}
	logSettings(log, o, opts)
	var node *cluster.Node
	var db *epochdb.DB
	if o.cluster {
		node, err = openClusterNode(o, ln.Addr().String(), storeDir, opts, log)
		if err == nil {
			db = node.DB()
		}
	} else {
		db, err = epochdb.Open(storeDir, opts)
	}
	if err != nil {
		closeListeners()
		if heldErr(err) {
			return errHeld(storeDir)
		}
		return err
	}
	closeStore := db.Close
	if node != nil {
		closeStore = node.Close
	}
	srv := &server.Server{
		DB:                   db,
		DBOptions:            opts,
		TLSConfig:            tlsConfig,
		ForwardTLS:           forwardTLS,
		RequirePass:          o.requirepass,
		DisableProtectedMode: !o.protectedMode,
		MaxClients:           o.maxclients,
		FDReserve:            fdReserve(o),
		IdleTimeout:          time.Duration(o.timeout) * time.Second,
		ProtoMaxBulkLen:      maxBulk,
		QueryBufferLimit:     mem.query,
		OutputBufferLimit:    mem.output,
		MaxMemory:            mem.max,
		NotifyKeyspaceEvents: o.notify,
		BackupDir:            backupDir,
		BackupRetain:         o.backupRetain,
		SlowlogThreshold:     slowlog,
		SlowlogMaxLen:        o.slowlogMaxLen,
		ConfigFile:           o.configFile,
		ManageMemoryLimit:    true,
		Logger:               log,
	}
	if node != nil {
		srv.Cluster = node
	}
	if debugClock != nil {
		srv.DebugClock = debugClock
	}
	if traceFile != nil && node != nil {
		srv.DebugTrace = traceFile
	}
	// The Go runtime's memory limit is process-wide: the previous one is
	// restored when runServe returns (CONFIG SET maxmemory changes it too).
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	if mem.max > 0 {
		debug.SetMemoryLimit(mem.max)
	}
	if o.configFile != "" {
		srv.ConfigRewrite = configRewriter(o.configFile, newServeCmd().Flags(), srv.ConfigParams())
	}
	log.Info("server: memory limits", "maxmemory", mem.max, "client_query_buffer_limit", mem.query,
		"client_output_buffer_limit", mem.output)
	var stopping atomic.Bool
	var httpSrv *http.Server
	var dash *dashboardServer
	if httpLn != nil {
		var check func(string) bool
		if httpAuth {
			check = srv.CheckPassword
		} else if !loopbackHost(o.httpAddr) {
			log.Warn("http: serving without a password on a non-loopback address (--http-insecure)", "addr", o.httpAddr)
		}
		dash = newDashboard(srv, db, o.requirepass, log)
		httpSrv = newHTTPServer(newHTTPHandler(db, node, &stopping, check, dash.Handler))
		httpSrv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
		httpLn = newLimitListener(httpLn, httpMaxConns)
		go func() {
			if err := httpSrv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http: serve failed", "err", err)
			}
		}()
		log.Info("http: listening", "addr", httpLn.Addr().String(), "auth", httpAuth, "max_connections", httpMaxConns)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		var ha net.Addr
		if httpLn != nil {
			ha = httpLn.Addr()
		}
		ready(ln.Addr(), ha)
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("epoch: signal received, shutting down")
	case serveErr = <-errc:
		if errors.Is(serveErr, server.ErrServerClosed) {
			serveErr = nil // SHUTDOWN
		}
	}
	stopping.Store(true)
	if dash != nil {
		dash.Close() // ends its live streams, which the HTTP shutdown would wait for
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("epoch: shutdown timed out; connections closed", "err", err)
	}
	if httpSrv != nil {
		_ = httpSrv.Shutdown(sctx)
	}
	if err := closeStore(); err != nil {
		return errors.Join(serveErr, err)
	}
	log.Info("epoch: stopped")
	return serveErr
}

// openClusterNode opens the store in storeDir as a member of a raft
// cluster (--cluster), its raft state in <dir>/raft. clientAddr is the
// address this server's clients use, published to the others when this
// node leads.
func openClusterNode(o serveOptions, clientAddr, storeDir string, opts *epochdb.Options, log *slog.Logger) (*cluster.Node, error) {
	if o.nodeID == "" || o.raftAddr == "" {
		return nil, errors.New("cluster: --node-id and --raft-addr are required with --cluster")
	}
	peers, err := parsePeers(o.peers)
	if err != nil {
		return nil, err
	}
	cfg := cluster.Config{
		NodeID: o.nodeID, RaftAddr: o.raftAddr, Peers: peers, Dir: filepath.Join(o.dir, "raft"),
		ClientAddr: clientAddr, Logger: log,
		SnapshotThreshold: o.raftSnapThresh, SnapshotInterval: o.raftSnapEvery, TrailingLogs: o.raftTrailing,
	}
	switch o.raftReads {
	case "lease", "": // "": options built without the flags
	case "quorum":
		cfg.QuorumReads = true
	default:
		return nil, fmt.Errorf("cluster: --raft-reads %q: want lease or quorum", o.raftReads)
	}
	if o.raftSnapThresh == 0 || o.raftTrailing == 0 || o.raftSnapEvery < 5*time.Millisecond {
		return nil, errors.New("cluster: --raft-snapshot-threshold and --raft-trailing-logs must be at least 1, --raft-snapshot-interval at least 5ms")
	}
	if o.raftSecretFile != "" {
		b, err := os.ReadFile(o.raftSecretFile)
		if err != nil {
			return nil, fmt.Errorf("raft-secret-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if cfg.Secret = []byte(strings.TrimSuffix(line, "\r")); len(cfg.Secret) == 0 {
			return nil, fmt.Errorf("raft-secret-file: %s: the first line is empty", o.raftSecretFile)
		}
	}
	switch {
	case o.raftTLSCert != "" && o.raftTLSKey != "" && o.raftTLSCA != "":
		pair, err := tls.LoadX509KeyPair(o.raftTLSCert, o.raftTLSKey)
		if err != nil {
			return nil, fmt.Errorf("raft-tls: %w", err)
		}
		pool, err := loadCAPool(o.raftTLSCA)
		if err != nil {
			return nil, fmt.Errorf("raft-tls-ca: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS13}
		// A peer is verified against the CA, under the host of its raft
		// address (which its certificate must name).
		cfg.ClientTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	case o.raftTLSCert != "" || o.raftTLSKey != "" || o.raftTLSCA != "":
		return nil, errors.New("raft-tls: --raft-tls-cert, --raft-tls-key and --raft-tls-ca go together")
	}
	log.Info("cluster: starting", "node", o.nodeID, "raft_addr", o.raftAddr, "peers", o.peers,
		"raft_tls", cfg.TLS != nil, "raft_secret", len(cfg.Secret) > 0, "snapshot_threshold", o.raftSnapThresh,
		"snapshot_interval", o.raftSnapEvery, "trailing_logs", o.raftTrailing)
	return cluster.Open(cfg, storeDir, opts)
}

// parsePeers parses --peers: id=host:port, comma-separated.
func parsePeers(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		id, addr, ok := strings.Cut(p, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("peers: %q is not id=host:port", p)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("peers: %s: %w", id, err)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("peers: %s is listed twice", id)
		}
		out[id] = addr
	}
	return out, nil
}

// loadCAPool reads a PEM file of CA certificates.
func loadCAPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", file)
	}
	return pool, nil
}
