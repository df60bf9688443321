package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epochdb/epochdb"
)

// liveConfig is the server's configuration as CONFIG SET changes it,
// initialized from the Server fields.
type liveConfig struct {
	mu       sync.RWMutex // guards password, notify
	password [sha256.Size]byte
	plain    string
	notify   string

	hasPass          atomic.Bool
	notifyFlags      atomic.Uint32
	maxClients       atomic.Int64
	timeout          atomic.Int64 // ns
	protoMaxBulkLen  atomic.Int64
	slowlogThreshold atomic.Int64 // µs; negative disables
	slowlogMaxLen    atomic.Int64
	maxMemory        atomic.Int64 // bytes; 0: none
	syncInterval     atomic.Int64 // ns: the interval appendfsync everysec uses
}

func (lc *liveConfig) init(s *Server) {
	lc.setPassword(s.RequirePass)
	lc.maxClients.Store(int64(orDefault(s.MaxClients, DefaultMaxClients)))
	lc.timeout.Store(int64(max(s.IdleTimeout, 0)))
	lc.protoMaxBulkLen.Store(orDefault(s.ProtoMaxBulkLen, DefaultProtoMaxBulkLen))
	th := s.SlowlogThreshold
	if th == 0 {
		th = DefaultSlowlogThreshold
	}
	lc.slowlogThreshold.Store(th.Microseconds())
	if th < 0 {
		lc.slowlogThreshold.Store(-1)
	}
	lc.slowlogMaxLen.Store(int64(orDefault(s.SlowlogMaxLen, DefaultSlowlogMaxLen)))
	lc.maxMemory.Store(max(s.MaxMemory, 0))
	interval := epochdb.DefaultOptions().SyncInterval
	if st := s.DB; st != nil && st.Settings().SyncInterval > 0 {
		interval = st.Settings().SyncInterval
	}
	lc.syncInterval.Store(int64(interval))
	flags, _ := parseNotifyFlags(s.NotifyKeyspaceEvents)
	lc.notifyFlags.Store(flags)
	lc.notify = notifyFlagsString(flags)
}

func orDefault[T int | int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (s *Server) maxMultiBulk() int64 { return orDefault(s.MaxMultiBulkLen, DefaultMaxMultiBulkLen) }
func (s *Server) queryLimit() int64   { return orDefault(s.QueryBufferLimit, DefaultQueryBufferLimit) }
func (s *Server) pubsubLimit() int64  { return orDefault(s.PubSubBufferLimit, DefaultPubSubBufferLimit) }
func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return s.WriteTimeout
}

// password returns the current password ("" if none).
func (lc *liveConfig) plainPassword() string {
	lc.mu.RLock()
	defer lc.mu.RUnlock()
	return lc.plain
}

func (lc *liveConfig) idleTimeout() time.Duration { return time.Duration(lc.timeout.Load()) }
func (lc *liveConfig) hasPassword() bool          { return lc.hasPass.Load() }

func (lc *liveConfig) setPassword(p string) {
	lc.mu.Lock()
	lc.plain = p
	lc.password = sha256.Sum256([]byte(p))
	lc.hasPass.Store(p != "")
	lc.mu.Unlock()
}

// checkPassword compares p with the password in constant time (both are
// hashed first, so not even the length leaks).
func (lc *liveConfig) checkPassword(p []byte) bool {
	h := sha256.Sum256(p)
	lc.mu.RLock()
	defer lc.mu.RUnlock()
	return subtle.ConstantTimeCompare(h[:], lc.password[:]) == 1
}

// param is a configuration parameter CONFIG GET shows. set parses a value
// and stages the change in a configTx, which CONFIG SET commits only when
// every parameter it names is valid; nil set means the parameter cannot
// change at run time, for the reason fixed says.
type param struct {
	name  string
	get   func(s *Server) string
	set   func(tx *configTx, v string) error
	fixed string
}

// configTx is one CONFIG SET: the library settings it changes, staged on a
// copy, and the server settings, as functions to run once all are valid.
type configTx struct {
	s         *Server
	db        epochdb.Settings
	dbSet     bool          // db was changed
	syncEvery time.Duration // the sync-interval appendfsync everysec uses
	apply     []func()
}

// then stages f to run when the CONFIG SET commits.
func (tx *configTx) then(f func()) error { tx.apply = append(tx.apply, f); return nil }

// settings returns the library settings to edit.
func (tx *configTx) settings() *epochdb.Settings { tx.dbSet = true; return &tx.db }

// commit applies the staged changes: the library's first, as one
// Reconfigure (which validates them together), then the server's.
func (tx *configTx) commit() error {
	if tx.dbSet {
		if tx.db.SyncInterval > 0 { // everysec, or always with everysec's interval kept
			tx.db.SyncInterval = tx.syncEvery
		}
		if err := tx.s.DB.Reconfigure(func(s *epochdb.Settings) { *s = tx.db }); err != nil {
			return err
		}
	}
	for _, f := range tx.apply {
		f()
	}
	return nil
}

// stageInt parses an integer in [lo, hi] and stages storing it times unit
// in dst.
func stageInt(tx *configTx, dst *atomic.Int64, v string, lo, hi, unit int64) error {
	n, err := parseRange(v, lo, hi)
	if err != nil {
		return err
	}
	return tx.then(func() { dst.Store(n * unit) })
}

// parseRange parses an integer in [lo, hi], with Redis's error.
func parseRange(v string, lo, hi int64) (int64, error) {
	n, ok := parseInt([]byte(v))
	if !ok || n < lo || n > hi {
		return 0, fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
	}
	return n, nil
}

// parseDuration parses a duration such as 90s, 30m or 1h; "0" is zero.
func parseDuration(v string, min time.Duration, what string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		return 0, fmt.Errorf("argument must be a duration such as 90s, 30m or 1h, %s", what)
	}
	return d, nil
}

// params are the parameters, in the order CONFIG GET * lists them.
var params = []param{
	{name: "requirepass",
		get: func(s *Server) string { s.cfg.mu.RLock(); defer s.cfg.mu.RUnlock(); return s.cfg.plain },
		set: func(tx *configTx, v string) error { return tx.then(func() { tx.s.cfg.setPassword(v) }) }},
	{name: "maxclients",
		get: func(s *Server) string { return strconv.FormatInt(s.cfg.maxClients.Load(), 10) },
		set: func(tx *configTx, v string) error { return stageInt(tx, &tx.s.cfg.maxClients, v, 1, 1<<30, 1) }},
	{name: "timeout",
		get: func(s *Server) string { return strconv.FormatInt(int64(s.cfg.idleTimeout()/time.Second), 10) },
		set: func(tx *configTx, v string) error {
			return stageInt(tx, &tx.s.cfg.timeout, v, 0, 1<<31, int64(time.Second))
		}},
	{name: "proto-max-bulk-len",
		get: func(s *Server) string { return strconv.FormatInt(s.cfg.protoMaxBulkLen.Load(), 10) },
		set: func(tx *configTx, v string) error {
			n, err := ParseMemory(v)
			if err != nil {
				return err
			}
			if n < 1<<20 || n > 1<<31 {
				return fmt.Errorf("argument must be between 1048576 and 2147483648 inclusive")
			}
			return tx.then(func() { tx.s.cfg.protoMaxBulkLen.Store(n) })
		}},
	{name: "slowlog-log-slower-than",
		get: func(s *Server) string { return strconv.FormatInt(s.cfg.slowlogThreshold.Load(), 10) },
		set: func(tx *configTx, v string) error { return stageInt(tx, &tx.s.cfg.slowlogThreshold, v, -1, 1<<62, 1) }},
	{name: "slowlog-max-len",
		get: func(s *Server) string { return strconv.FormatInt(s.cfg.slowlogMaxLen.Load(), 10) },
		set: func(tx *configTx, v string) error { return stageInt(tx, &tx.s.cfg.slowlogMaxLen, v, 0, 1<<20, 1) }},
	{name: "notify-keyspace-events",
		get: func(s *Server) string { s.cfg.mu.RLock(); defer s.cfg.mu.RUnlock(); return s.cfg.notify },
		set: func(tx *configTx, v string) error {
			flags, ok := parseNotifyFlags(v)
			if !ok {
				return fmt.Errorf("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
			}
			return tx.then(func() {
				s := tx.s
				s.cfg.mu.Lock()
				s.cfg.notify = notifyFlagsString(flags)
				s.cfg.mu.Unlock()
				s.cfg.notifyFlags.Store(flags)
				s.syncEvents()
			})
		}},
	{name: "appendonly", get: func(*Server) string { return "yes" },
		fixed: "every write goes to the write-ahead log; appendfsync chooses how often it is synced"},
	{name: "appendfsync",
		get: func(s *Server) string { return appendFsync(s.DB.Settings()) },
		set: func(tx *configTx, v string) error {
			st := tx.settings()
			switch strings.ToLower(v) {
			case "always":
				st.SyncWrites = true
			case "everysec":
				st.SyncWrites = false
				st.SyncInterval = tx.syncEvery
			case "no":
				st.SyncWrites = false
				st.SyncInterval = -1
			default:
				return fmt.Errorf("argument must be one of always, everysec, no")
			}
			return nil
		}},
	{name: "sync-interval",
		get: func(s *Server) string { return time.Duration(s.cfg.syncInterval.Load()).String() },
		set: func(tx *configTx, v string) error {
			d, err := parseDuration(v, time.Millisecond, "at least 1ms")
			if err != nil {
				return err
			}
			tx.syncEvery = d
			tx.settings() // commit puts it in effect with appendfsync everysec
			return tx.then(func() { tx.s.cfg.syncInterval.Store(int64(d)) })
		}},
	{name: "databases", get: func(*Server) string { return strconv.Itoa(numDBs) },
		fixed: "the number of databases is fixed"},
	{name: "protected-mode", get: func(s *Server) string { return yesNo(!s.DisableProtectedMode) },
		fixed: "it is checked when the listener starts; restart with --protected-mode"},
	{name: "maxmemory",
		get: func(s *Server) string { return strconv.FormatInt(s.cfg.maxMemory.Load(), 10) },
		set: func(tx *configTx, v string) error {
			n, err := ParseMemory(v)
			if err != nil {
				return fmt.Errorf("argument must be a memory size such as 4gb, or 0 for none")
			}
			return tx.then(func() { tx.s.setMaxMemory(n) })
		}},
	{name: "maxmemory-policy",
		get: func(s *Server) string { return s.DB.Settings().EvictionPolicy.String() },
		set: func(tx *configTx, v string) error {
			p, err := epochdb.ParseEvictionPolicy(v)
			if err != nil {
				return fmt.Errorf("argument must be one of noeviction, allkeys-lfu, volatile-lfu, allkeys-lru")
			}
			tx.settings().EvictionPolicy = p
			return nil
		}},
	{name: "maxkeys",
		get: func(s *Server) string { return strconv.FormatInt(s.DB.Settings().MaxKeys, 10) },
		set: func(tx *configTx, v string) error {
			n, err := parseRange(v, 0, math.MaxInt64)
			tx.settings().MaxKeys = n
			return err
		}},
	{name: "maxdisk",
		get: func(s *Server) string { return strconv.FormatInt(s.DB.Settings().MaxDiskBytes, 10) },
		set: func(tx *configTx, v string) error {
			n, err := ParseMemory(v)
			if err != nil {
				return fmt.Errorf("argument must be a size such as 10gb, or 0 for none")
			}
			tx.settings().MaxDiskBytes = n
			return nil
		}},
	{name: "lfu-half-life",
		get: func(s *Server) string { return s.DB.Settings().HeatHalfLife.String() },
		set: func(tx *configTx, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d == 0 {
				return fmt.Errorf("argument must be a duration such as 30m or 1h, or negative for no decay")
			}
			tx.settings().HeatHalfLife = d
			return nil
		}},
	{name: "prune-min-frequency",
		get: func(s *Server) string { return strconv.FormatUint(s.DB.Settings().PruneMinFrequency, 10) },
		set: func(tx *configTx, v string) error {
			n, err := parseRange(v, 0, math.MaxInt64)
			tx.settings().PruneMinFrequency = uint64(n)
			return err
		}},
	{name: "prune-idle",
		get: func(s *Server) string { return s.DB.Settings().PruneIdle.String() },
		set: func(tx *configTx, v string) error {
			d, err := parseDuration(v, 0, "or 0 for off")
			tx.settings().PruneIdle = d
			return err
		}},
	{name: "prune-grace",
		get: func(s *Server) string { return s.DB.Settings().PruneGrace.String() },
		set: func(tx *configTx, v string) error {
			d, err := parseDuration(v, 0, "or 0")
			tx.settings().PruneGrace = d
			return err
		}},
	{name: "prune-interval",
		get: func(s *Server) string { return s.DB.Settings().PruneInterval.String() },
		set: func(tx *configTx, v string) error {
			d, err := parseDuration(v, time.Millisecond, "at least 1ms")
			tx.settings().PruneInterval = d
			return err
		}},
	{name: "prune-skip-ttl-keys",
		get: func(s *Server) string { return yesNo(s.DB.Settings().PruneSkipTTLKeys) },
		set: func(tx *configTx, v string) error {
			b, err := parseYesNo(v)
			tx.settings().PruneSkipTTLKeys = b
			return err
		}},
	{name: "event-log", get: func(s *Server) string { return yesNo(s.dbOpts().EventLog) },
		fixed: "the event log is set up when the store opens; restart with --event-log"},
	{name: "event-log-values", get: func(s *Server) string { return yesNo(s.dbOpts().EventLogValues) },
		fixed: "it is set up with the event log when the store opens; restart with --event-log-values"},
	{name: "event-log-max-entries",
		get: func(s *Server) string { return strconv.FormatInt(s.DB.Settings().EventLogMaxEntries, 10) },
		set: func(tx *configTx, v string) error {
			n, err := parseRange(v, 1, math.MaxInt64)
			tx.settings().EventLogMaxEntries = n
			return err
		}},
	{name: "event-log-max-age",
		get: func(s *Server) string { return s.DB.Settings().EventLogMaxAge.String() },
		set: func(tx *configTx, v string) error {
			d, err := parseDuration(v, 0, "or 0 for no age limit")
			tx.settings().EventLogMaxAge = d
			return err
		}},
	{name: "backup-dir", get: func(s *Server) string { return s.BackupDir },
		fixed: "a client must not choose where the server writes files; restart with --backup-dir"},
	{name: "backup-retain", get: func(s *Server) string { return strconv.Itoa(max(s.BackupRetain, 0)) },
		fixed: "restart with --backup-retain"},
	{name: "save", get: func(*Server) string { return "" },
		fixed: "there are no snapshots to schedule: every write is in the write-ahead log (see appendfsync)"},
	{name: "client-query-buffer-limit", get: func(s *Server) string { return strconv.FormatInt(s.queryLimit(), 10) },
		fixed: "restart with --client-query-buffer-limit"},
	{name: "client-output-buffer-limit", get: func(s *Server) string {
		return "normal " + strconv.FormatInt(s.outputLimit(), 10) + " 0 0 slave 0 0 0 pubsub " + strconv.FormatInt(s.pubsubLimit(), 10) + " 0 0"
	}, fixed: "restart with --client-output-buffer-limit"},
}

func parseYesNo(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("argument must be 'yes' or 'no'")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// dbOpts returns the options the database was opened with, for the ones
// that cannot change (the rest are in DB.Settings).
func (s *Server) dbOpts() epochdb.Options {
	if s.DBOptions == nil {
		return *epochdb.DefaultOptions()
	}
	return *s.DBOptions
}

// appendFsync names the durability mode as Redis's appendfsync.
func appendFsync(st epochdb.Settings) string {
	switch {
	case st.SyncWrites:
		return "always"
	case st.SyncInterval < 0:
		return "no"
	}
	return "everysec"
}

// ParseMemory parses a memory size as redis.conf writes them: a number of
// bytes with an optional unit, k/m/g (powers of 1000) or kb/mb/gb (powers of
// 1024), case-insensitive.
func ParseMemory(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	n, ok := parseInt([]byte(s))
	if !ok || n < 0 || n > (1<<62)/mul {
		return 0, fmt.Errorf("invalid memory size %q", v)
	}
	return n * mul, nil
}

func configCommand() command {
	return command{CommandSpec{Name: "config", Arity: -2, Flags: FlagAdmin | FlagLoose, Group: "server", Summary: "A container for server configuration commands."}, cmdConfig}
}

func cmdConfig(c *Conn, cmd Command) {
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	switch {
	case sub == "get" && len(args) >= 3:
		var matched []param
		for _, p := range params {
			for _, pat := range args[2:] {
				if globMatch(lower(nil, pat), []byte(p.name)) {
					matched = append(matched, p)
					break
				}
			}
		}
		c.WriteMap(len(matched))
		for _, p := range matched {
			c.WriteBulkString(p.name)
			c.WriteBulkString(p.get(c.srv))
		}
	case sub == "set" && len(args) >= 4 && len(args)%2 == 0:
		configSet(c, args[2:])
	case sub == "resetstat" && len(args) == 2:
		c.srv.resetStats()
		c.WriteOK()
	case sub == "rewrite" && len(args) == 2:
		configRewrite(c)
	case sub == "help" && len(args) == 2:
		writeHelp(c, "CONFIG", []string{
			"GET <pattern> [<pattern> ...]",
			"    Return parameters matching the glob-like <pattern> and their values.",
			"SET <directive> <value> [<directive> <value> ...]",
			"    Set the configuration <directive> to <value>.",
			"RESETSTAT",
			"    Reset statistics reported by the INFO command.",
			"REWRITE",
			"    Rewrite the configuration file.",
		})
	case sub == "get" || sub == "set" || sub == "resetstat" || sub == "rewrite" || sub == "help":
		c.WriteError(wrongArgs("config|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "CONFIG"))
	}
}

// configSet runs CONFIG SET name value [name value ...]: all the changes or,
// if any name or value is wrong, none.
func configSet(c *Conn, args [][]byte) {
	fail := func(name, why string) {
		c.WriteError("ERR CONFIG SET failed (possibly related to argument '" + sanitize(name) + "') - " + why)
	}
	tx := &configTx{s: c.srv, db: c.srv.DB.Settings(), syncEvery: time.Duration(c.srv.cfg.syncInterval.Load())}
	seen := map[string]bool{}
	for i := 0; i < len(args); i += 2 {
		name, v := bstr(lower(nil, args[i])), string(args[i+1])
		p := findParam(name)
		if p == nil {
			c.WriteError("ERR Unknown option or number of arguments for CONFIG SET - '" + sanitize(string(args[i])) + "'")
			return
		}
		if seen[name] {
			fail(name, "duplicate parameter")
			return
		}
		seen[name] = true
		if p.set == nil {
			if p.get(c.srv) != v {
				fail(name, "can't set immutable config: "+p.fixed)
				return
			}
			continue
		}
		if err := p.set(tx, v); err != nil {
			fail(name, err.Error())
			return
		}
	}
	if err := tx.commit(); err != nil {
		fail(string(args[0]), err.Error())
		return
	}
	c.WriteOK()
}

func findParam(name string) *param {
	for i := range params {
		if params[i].name == name {
			return &params[i]
		}
	}
	return nil
}

// ConfigParam is a configuration parameter and its current value, as CONFIG
// GET shows it; Mutable says whether CONFIG SET can change it.
type ConfigParam struct {
	Name, Value string
	Mutable     bool
}

// ConfigParams returns every parameter with its current value, in CONFIG
// GET's order.
func (s *Server) ConfigParams() []ConfigParam {
	s.init()
	out := make([]ConfigParam, len(params))
	for i, p := range params {
		out[i] = ConfigParam{Name: p.name, Value: p.get(s), Mutable: p.set != nil}
	}
	return out
}

// configRewrite runs CONFIG REWRITE through Server.ConfigRewrite.
func configRewrite(c *Conn) {
	s := c.srv
	if s.ConfigRewrite == nil {
		c.WriteError("ERR The server is running without a config file")
		return
	}
	if err := s.ConfigRewrite(s.ConfigParams()); err != nil {
		s.log.Warn("server: CONFIG REWRITE failed", "err", err)
		c.WriteError("ERR Rewriting config file: " + sanitize(err.Error()))
		return
	}
	c.WriteOK()
}

// unknownSubcommand is Redis's error for a subcommand a container lacks.
func unknownSubcommand(sub []byte, container string) string {
	return sanitize("ERR unknown subcommand '" + truncate(sub, 128) + "'. Try " + container + " HELP.")
}

// writeHelp writes a HELP reply: a header line and the lines given.
func writeHelp(c *Conn, container string, lines []string) {
	lines = append([]string{container + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"}, lines...)
	lines = append(lines, "HELP", "    Print this help.")
	c.WriteArray(len(lines))
	for _, l := range lines {
		c.WriteString(l)
	}
}
