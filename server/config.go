package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
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

// param is a configuration parameter CONFIG GET shows; set is nil for the
// ones that cannot change at run time.
type param struct {
	name string
	get  func(s *Server) string
	set  func(s *Server, v string) error
}

// params are the parameters, in the order CONFIG GET * lists them.
var params = []param{
	{"requirepass",
		func(s *Server) string { s.cfg.mu.RLock(); defer s.cfg.mu.RUnlock(); return s.cfg.plain },
		func(s *Server, v string) error { s.cfg.setPassword(v); return nil }},
	{"maxclients",
		func(s *Server) string { return strconv.FormatInt(s.cfg.maxClients.Load(), 10) },
		func(s *Server, v string) error { return setInt(&s.cfg.maxClients, v, 1, 1<<30, 1) }},
	{"timeout",
		func(s *Server) string { return strconv.FormatInt(int64(s.cfg.idleTimeout()/time.Second), 10) },
		func(s *Server, v string) error { return setInt(&s.cfg.timeout, v, 0, 1<<31, int64(time.Second)) }},
	{"proto-max-bulk-len",
		func(s *Server) string { return strconv.FormatInt(s.cfg.protoMaxBulkLen.Load(), 10) },
		func(s *Server, v string) error {
			n, err := ParseMemory(v)
			if err != nil {
				return err
			}
			if n < 1<<20 || n > 1<<31 {
				return fmt.Errorf("argument must be between 1048576 and 2147483648 inclusive")
			}
			s.cfg.protoMaxBulkLen.Store(n)
			return nil
		}},
	{"slowlog-log-slower-than",
		func(s *Server) string { return strconv.FormatInt(s.cfg.slowlogThreshold.Load(), 10) },
		func(s *Server, v string) error { return setInt(&s.cfg.slowlogThreshold, v, -1, 1<<62, 1) }},
	{"slowlog-max-len",
		func(s *Server) string { return strconv.FormatInt(s.cfg.slowlogMaxLen.Load(), 10) },
		func(s *Server, v string) error { return setInt(&s.cfg.slowlogMaxLen, v, 0, 1<<20, 1) }},
	{"notify-keyspace-events",
		func(s *Server) string { s.cfg.mu.RLock(); defer s.cfg.mu.RUnlock(); return s.cfg.notify },
		func(s *Server, v string) error {
			flags, ok := parseNotifyFlags(v)
			if !ok {
				return fmt.Errorf("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
			}
			s.cfg.mu.Lock()
			s.cfg.notify = notifyFlagsString(flags)
			s.cfg.mu.Unlock()
			s.cfg.notifyFlags.Store(flags)
			s.syncEvents()
			return nil
		}},
	{"appendonly", func(*Server) string { return "yes" }, nil},
	{"appendfsync", func(s *Server) string { return appendFsync(s) }, nil},
	{"databases", func(*Server) string { return strconv.Itoa(numDBs) }, nil},
	{"protected-mode", func(s *Server) string { return yesNo(!s.DisableProtectedMode) }, nil},
	{"maxmemory", func(s *Server) string { return strconv.FormatInt(max(s.MaxMemory, 0), 10) }, nil},
	{"maxmemory-policy", func(s *Server) string { return s.dbOpts().EvictionPolicy.String() }, nil},
	{"maxkeys", func(s *Server) string { return strconv.FormatInt(s.dbOpts().MaxKeys, 10) }, nil},
	{"maxdisk", func(s *Server) string { return strconv.FormatInt(s.dbOpts().MaxDiskBytes, 10) }, nil},
	{"lfu-half-life", func(s *Server) string { return s.dbOpts().HeatHalfLife.String() }, nil},
	{"prune-min-frequency", func(s *Server) string { return strconv.FormatUint(s.dbOpts().PruneMinFrequency, 10) }, nil},
	{"prune-idle", func(s *Server) string { return s.dbOpts().PruneIdle.String() }, nil},
	{"prune-grace", func(s *Server) string { return s.dbOpts().PruneGrace.String() }, nil},
	{"prune-interval", func(s *Server) string { return s.dbOpts().PruneInterval.String() }, nil},
	{"prune-skip-ttl-keys", func(s *Server) string { return yesNo(s.dbOpts().PruneSkipTTLKeys) }, nil},
	{"event-log", func(s *Server) string { return yesNo(s.dbOpts().EventLog) }, nil},
	{"event-log-values", func(s *Server) string { return yesNo(s.dbOpts().EventLogValues) }, nil},
	{"event-log-max-entries", func(s *Server) string { return strconv.FormatInt(s.dbOpts().EventLogMaxEntries, 10) }, nil},
	{"event-log-max-age", func(s *Server) string { return s.dbOpts().EventLogMaxAge.String() }, nil},
	{"backup-dir", func(s *Server) string { return s.BackupDir }, nil},
	{"backup-retain", func(s *Server) string { return strconv.Itoa(max(s.BackupRetain, 0)) }, nil},
	{"save", func(*Server) string { return "" }, nil},
	{"client-query-buffer-limit", func(s *Server) string { return strconv.FormatInt(s.queryLimit(), 10) }, nil},
	{"client-output-buffer-limit", func(s *Server) string {
		return "normal " + strconv.FormatInt(s.outputLimit(), 10) + " 0 0 slave 0 0 0 pubsub " + strconv.FormatInt(s.pubsubLimit(), 10) + " 0 0"
	}, nil},
}

func setInt(dst *atomic.Int64, v string, lo, hi, unit int64) error {
	n, ok := parseInt([]byte(v))
	if !ok || n < lo || n > hi {
		return fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
	}
	dst.Store(n * unit)
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// dbOpts returns DBOptions with the library's defaults filled in, for
// display.
func (s *Server) dbOpts() epochdb.Options {
	d := epochdb.DefaultOptions()
	if s.DBOptions == nil {
		return *d
	}
	o := *s.DBOptions
	if o.HeatHalfLife == 0 {
		o.HeatHalfLife = d.HeatHalfLife
	}
	if o.PruneInterval == 0 {
		o.PruneInterval = d.PruneInterval
	}
	if o.EventLogMaxEntries == 0 {
		o.EventLogMaxEntries = d.EventLogMaxEntries
	}
	return o
}

// appendFsync names the database's durability mode as Redis's appendfsync.
func appendFsync(s *Server) string {
	o := s.DBOptions
	switch {
	case o != nil && o.SyncWrites:
		return "always"
	case o != nil && o.SyncInterval < 0:
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
		type change struct {
			p param
			v string
		}
		var changes []change
		for i := 2; i < len(args); i += 2 {
			name := bstr(lower(nil, args[i]))
			var p *param
			for j := range params {
				if params[j].name == name {
					p = &params[j]
				}
			}
			if p == nil {
				c.WriteError("ERR Unknown option or number of arguments for CONFIG SET - '" + sanitize(string(args[i])) + "'")
				return
			}
			changes = append(changes, change{*p, string(args[i+1])})
		}
		for _, ch := range changes {
			if ch.p.set == nil {
				if ch.p.get(c.srv) == ch.v {
					continue
				}
				c.WriteError("ERR CONFIG SET failed (possibly related to argument '" + ch.p.name + "') - can't set immutable config")
				return
			}
			if err := ch.p.set(c.srv, ch.v); err != nil {
				c.WriteError("ERR CONFIG SET failed (possibly related to argument '" + ch.p.name + "') - " + err.Error())
				return
			}
		}
		c.WriteOK()
	case sub == "resetstat" && len(args) == 2:
		c.srv.resetStats()
		c.WriteOK()
	case sub == "rewrite" && len(args) == 2:
		c.WriteError("ERR CONFIG REWRITE is not supported: edit the configuration file")
	case sub == "help" && len(args) == 2:
		writeHelp(c, "CONFIG", []string{
			"GET <pattern> [<pattern> ...]",
			"    Return parameters matching the glob-like <pattern> and their values.",
			"SET <directive> <value> [<directive> <value> ...]",
			"    Set the configuration <directive> to <value>.",
			"RESETSTAT",
			"    Reset statistics reported by the INFO command.",
		})
	case sub == "get" || sub == "set" || sub == "resetstat" || sub == "rewrite" || sub == "help":
		c.WriteError(wrongArgs("config|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "CONFIG"))
	}
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
