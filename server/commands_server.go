package server

import (
	"errors"
	"fmt"
	"github.com/epochdb/epochdb"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server commands: INFO CONFIG TIME SLOWLOG LASTSAVE SAVE BGSAVE SHUTDOWN
// COMMAND.

func serverCommands() []command {
	const g = "server"
	return []command{
		{CommandSpec{Name: "info", Arity: -1, Group: g, Summary: "Returns information and statistics about the server."}, cmdInfo},
		configCommand(),
		{CommandSpec{Name: "time", Arity: 1, Group: g, Summary: "Returns the server time."}, cmdTime},
		{CommandSpec{Name: "slowlog", Arity: -2, Flags: FlagAdmin | FlagLoose, Group: g, Summary: "A container for slow log commands."}, cmdSlowlog},
		{CommandSpec{Name: "lastsave", Arity: 1, Group: g, Summary: "Returns the Unix timestamp of the last successful save to disk."}, cmdLastSave},
		{CommandSpec{Name: "save", Arity: 1, Flags: FlagAdmin | FlagNoMulti, Group: g, Summary: "Makes every acknowledged write durable on disk."}, cmdSave},
		{CommandSpec{Name: "bgsave", Arity: -1, Flags: FlagAdmin, Group: g, Summary: "Makes every acknowledged write durable on disk, in the background."}, cmdBgsave},
		{CommandSpec{Name: "shutdown", Arity: -1, Flags: FlagAdmin | FlagNoMulti, Group: g, Summary: "Stops the server: finishes in-flight commands, closes the database."}, cmdShutdown},
		{CommandSpec{Name: "command", Arity: -1, Flags: FlagLoose, Group: g, Summary: "Returns detailed information about all commands."}, cmdCommand},
	}
}

func (s *Server) resetStats() {
	s.st.received.Store(0)
	s.st.rejected.Store(0)
	s.st.commands.Store(0)
	s.st.netIn.Store(0)
	s.st.netOut.Store(0)
	s.intro.resetCommandStats()
}

func cmdTime(c *Conn, cmd Command) {
	now := c.srv.now()
	c.WriteArray(2)
	c.WriteBulkString(strconv.FormatInt(now.Unix(), 10))
	c.WriteBulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

// cmdLastSave reports the current time: every acknowledged write is already
// in the write-ahead log (durable within the sync interval, or at once with
// appendfsync always), so the data is always "saved" — except while a
// BGSAVE runs, when it reports the time the BGSAVE began, so that a client
// polling LASTSAVE until it changes (Redis's way to wait for BGSAVE) waits
// for the BGSAVE to finish.
func cmdLastSave(c *Conn, cmd Command) { c.WriteInt(c.srv.lastSave()) }

func cmdSave(c *Conn, cmd Command) {
	if equalFold(cmd.Args[0], "save") && c.srv.bg.inProgress() {
		c.WriteError("ERR Background save already in progress")
		return
	}
	if err := c.srv.syncDB(); err != nil {
		c.WriteError("ERR " + err.Error())
		return
	}
	c.WriteOK()
}

// cmdBgsave is BGSAVE [SCHEDULE]: SAVE's work (waiting until every write
// acknowledged so far is fsynced) in a goroutine. SCHEDULE is accepted and
// changes nothing: there is no other background job to wait for.
func cmdBgsave(c *Conn, cmd Command) {
	if len(cmd.Args) > 2 || len(cmd.Args) == 2 && !equalFold(cmd.Args[1], "schedule") {
		c.WriteError(errSyntax)
		return
	}
	s := c.srv
	if err := s.canSync(); err != nil {
		c.WriteError("ERR " + err.Error())
		return
	}
	switch s.bg.start(s) {
	case bgStarted:
		c.WriteString("Background saving started")
	case bgRunning:
		c.WriteError("ERR Background save already in progress")
	default:
		c.WriteError("ERR the server is shutting down")
	}
}

// bgsave is the state of BGSAVE.
type bgsave struct {
	mu      sync.Mutex    // guards the fields
	gate    chan struct{} // tests: a BGSAVE waits for it to close before its work
	running bool
	since   int64 // Unix seconds at the start of the running BGSAVE
	lastErr error // of the last finished BGSAVE
	ended   bool  // the server stopped: no new BGSAVE
	wg      sync.WaitGroup
}

const (
	bgStarted = iota
	bgRunning
	bgEnded
)

// start begins a BGSAVE unless one runs or the server has stopped.
func (b *bgsave) start(s *Server) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.ended:
		return bgEnded
	case b.running:
		return bgRunning
	}
	b.running, b.since = true, s.now().Unix()
	b.wg.Add(1)
	gate := b.gate
	go func() {
		defer b.wg.Done()
		if gate != nil {
			<-gate
		}
		start := time.Now()
		err := s.syncDB()
		if err != nil {
			s.log.Error("server: BGSAVE failed", "err", err)
		} else {
			s.log.Info("server: BGSAVE done", "took", time.Since(start))
		}
		b.mu.Lock()
		b.running, b.lastErr = false, err
		b.mu.Unlock()
	}()
	return bgStarted
}

func (b *bgsave) inProgress() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

// status is INFO's rdb_last_bgsave_status: ok or err.
func (b *bgsave) status() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lastErr != nil {
		return "err"
	}
	return "ok"
}

// wait refuses new BGSAVEs and waits for the running one (at shutdown,
// before the caller closes the database).
func (b *bgsave) wait() {
	b.mu.Lock()
	b.ended = true
	b.mu.Unlock()
	b.wg.Wait()
}

// lastSave is LASTSAVE (see cmdLastSave).
func (s *Server) lastSave() int64 {
	s.bg.mu.Lock()
	defer s.bg.mu.Unlock()
	if s.bg.running {
		return s.bg.since
	}
	return s.now().Unix()
}

// canSync reports why syncDB cannot work (appendfsync no), or nil.
func (s *Server) canSync() error {
	if o := s.DBOptions; o != nil && !o.SyncWrites && o.SyncInterval < 0 {
		return errAppendFsyncNo
	}
	return nil
}

var errAppendFsyncNo = errors.New("appendfsync is 'no': durability is left to the OS and cannot be forced")

// syncDB returns once every write acknowledged before the call is durable.
// With appendfsync no the user left durability to the OS: it refuses.
func (s *Server) syncDB() error {
	if err := s.canSync(); err != nil {
		return err
	}
	return s.DB.Sync()
}

func cmdShutdown(c *Conn, cmd Command) {
	for _, a := range cmd.Args[1:] {
		switch {
		case equalFold(a, "abort"):
			c.WriteError("ERR No shutdown in progress.")
			return
		case equalFold(a, "nosave"), equalFold(a, "save"), equalFold(a, "now"), equalFold(a, "force"):
		default:
			c.WriteError(errSyntax)
			return
		}
	}
	c.srv.log.Info("server: SHUTDOWN requested", "client", c.raddr)
	// As in Redis, the client gets no reply: the connection just closes.
	c.quit = true
	c.srv.requestShutdown()
}

// INFO.

var infoSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu",
	"commandstats", "errorstats", "latencystats", "keyspace", "epochdb"}

// infoDefault reports whether INFO without a section (or "default") shows
// sec: every section but commandstats and latencystats, as in Redis.
func infoDefault(sec string) bool { return sec != "commandstats" && sec != "latencystats" }

func cmdInfo(c *Conn, cmd Command) {
	want := map[string]bool{}
	for _, a := range cmd.Args[1:] {
		switch s := string(lower(nil, a)); s {
		case "all", "everything":
			for _, sec := range infoSections {
				want[sec] = true
			}
		case "default":
			for _, sec := range infoSections {
				want[sec] = want[sec] || infoDefault(sec)
			}
		default:
			want[s] = true
		}
	}
	if len(want) == 0 {
		for _, sec := range infoSections {
			want[sec] = infoDefault(sec)
		}
	}
	var b strings.Builder
	for _, sec := range infoSections {
		if !want[sec] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + strings.ToUpper(sec[:1]) + sec[1:] + "\r\n")
		for _, kv := range c.srv.info(sec) {
			b.WriteString(kv[0] + ":" + kv[1] + "\r\n")
		}
	}
	c.WriteVerbatim(b.String())
}

// info returns the fields of one INFO section.
func (s *Server) info(section string) [][2]string {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	utoa := func(n uint64) string { return strconv.FormatUint(n, 10) }
	switch section {
	case "server":
		exe, _ := os.Executable()
		up := time.Since(s.started)
		return [][2]string{
			{"redis_version", RedisVersion},
			{"epochdb_version", Version},
			{"redis_mode", "standalone"},
			{"os", runtime.GOOS + " " + runtime.GOARCH},
			{"arch_bits", strconv.Itoa(strconv.IntSize)},
			{"go_version", runtime.Version()},
			{"process_id", strconv.Itoa(os.Getpid())},
			{"tcp_port", strconv.Itoa(s.port())},
			{"server_time_usec", itoa(time.Now().UnixMicro())},
			{"uptime_in_seconds", itoa(int64(up / time.Second))},
			{"uptime_in_days", itoa(int64(up / (24 * time.Hour)))},
			{"executable", exe},
			{"config_file", s.ConfigFile},
		}
	case "clients":
		pubsub := 0
		for _, c := range s.snapshotConns() {
			if c.clientType() == "pubsub" {
				pubsub++
			}
		}
		return [][2]string{
			{"connected_clients", itoa(s.st.connections.Load())},
			{"maxclients", itoa(s.cfg.maxClients.Load())},
			{"blocked_clients", itoa(s.st.blocked.Load())},
			{"pubsub_clients", strconv.Itoa(pubsub)},
		}
	case "memory":
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return [][2]string{
			{"used_memory", utoa(m.HeapAlloc)},
			{"used_memory_human", humanBytes(m.HeapAlloc)},
			{"used_memory_rss", utoa(m.Sys)},
			{"used_memory_rss_human", humanBytes(m.Sys)},
			{"used_memory_process", itoa(processMemory())},
			{"maxmemory", itoa(s.cfg.maxMemory.Load())},
			{"maxmemory_human", humanBytes(uint64(s.cfg.maxMemory.Load()))},
			{"maxmemory_oom_rejected", utoa(s.st.oomRejected.Load())},
			{"client_output_buffer_limit_normal", itoa(s.outputLimit())},
			{"maxmemory_policy", s.DB.Settings().EvictionPolicy.String()},
			{"mem_allocator", "go"},
		}
	case "persistence":
		st := s.DB.Stats()
		return [][2]string{
			{"loading", "0"},
			{"async_loading", "0"},
			{"rdb_changes_since_last_save", "0"},
			{"rdb_bgsave_in_progress", itoa(int64(b2i(s.bg.inProgress())))},
			{"rdb_last_save_time", itoa(s.lastSave())},
			{"rdb_last_bgsave_status", s.bg.status()},
			{"aof_enabled", "1"},
			{"aof_rewrite_in_progress", "0"},
			{"aof_last_write_status", writeStatus(s.DB)},
			{"appendfsync", appendFsync(s.DB.Settings())},
			{"epochdb_disk_bytes", utoa(st.DiskBytes)},
			{"epochdb_wal_syncs", utoa(st.WALSyncs)},
		}
	case "stats":
		st := s.DB.Stats()
		s.hub.mu.RLock()
		channels, patterns := len(s.hub.channels), len(s.hub.patterns)
		s.hub.mu.RUnlock()
		return [][2]string{
			{"total_connections_received", utoa(s.st.received.Load())},
			{"total_commands_processed", utoa(s.st.commands.Load())},
			{"total_net_input_bytes", utoa(s.st.netIn.Load())},
			{"total_net_output_bytes", utoa(s.st.netOut.Load())},
			{"rejected_connections", utoa(s.st.rejected.Load())},
			{"expired_keys", utoa(st.Expired)},
			{"evicted_keys", utoa(st.Evicted)},
			{"epochdb_pruned_keys", utoa(st.Pruned)},
			{"keyspace_hits", utoa(st.Gets - st.Misses)},
			{"keyspace_misses", utoa(st.Misses)},
			{"pubsub_channels", strconv.Itoa(channels)},
			{"pubsub_patterns", strconv.Itoa(patterns)},
			{"total_error_replies", utoa(s.intro.errors.total.Load())},
		}
	case "replication":
		if s.Cluster != nil {
			return s.replicationInfo()
		}
		return [][2]string{{"role", "master"}, {"connected_slaves", "0"}}
	case "keyspace":
		var keys, expires [numDBs]int64
		for i := range numDBs {
			ns := s.DB.Namespace(byte(i))
			keys[i], expires[i] = ns.Keys, ns.KeysWithTTL
		}
		var out [][2]string
		for i := range numDBs {
			if keys[i] > 0 {
				out = append(out, [2]string{"db" + strconv.Itoa(i),
					fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", keys[i], expires[i])})
			}
		}
		return out
	case "epochdb":
		st := s.DB.Stats()
		return [][2]string{
			{"keys", itoa(st.Keys)},
			{"keys_with_ttl", itoa(st.KeysWithTTL)},
			{"gets", utoa(st.Gets)},
			{"misses", utoa(st.Misses)},
			{"sets", utoa(st.Sets)},
			{"deletes", utoa(st.Deletes)},
			{"frequency_increments", utoa(st.Increments)},
			{"live_bytes", itoa(st.LiveBytes)},
			{"expired", utoa(st.Expired)},
			{"evicted", utoa(st.Evicted)},
			{"pruned", utoa(st.Pruned)},
			{"events_dropped", utoa(st.EventsDropped)},
			{"tx_commits", utoa(st.TxCommits)},
			{"tx_conflicts", utoa(st.TxConflicts)},
			{"expiry_sweeps", utoa(st.ExpirySweeps)},
			{"pending_tracked_keys", strconv.Itoa(st.PendingTrackedKeys)},
			{"disk_bytes", utoa(st.DiskBytes)},
			{"engine_failed", strconv.Itoa(b2i(st.EngineFailed))},
			{"engine_reopens", utoa(st.EngineReopens)},
			{"wal_sync_lag_ms", strconv.FormatInt(st.WALSyncLag.Milliseconds(), 10)},
		}
	}
	return s.introInfo(section)
}

// port is the TCP port of one of the server's listeners (0 if none).
func (s *Server) port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		if a, ok := (*ln).Addr().(*net.TCPAddr); ok {
			return a.Port
		}
	}
	return 0
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fK", float64(n)/(1<<10))
	}
	return strconv.FormatUint(n, 10) + "B"
}

// SLOWLOG.

func cmdSlowlog(c *Conn, cmd Command) {
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	switch {
	case sub == "get" && len(args) <= 3:
		n := 10
		if len(args) == 3 {
			v, ok := parseInt(args[2])
			if !ok || v < -1 {
				c.WriteError("ERR count should be greater than or equal to -1")
				return
			}
			n = int(min(v, 1<<30))
			if v == -1 {
				n = 1 << 30
			}
		}
		entries := c.srv.slow.get(n)
		c.WriteArray(len(entries))
		for _, e := range entries {
			c.WriteArray(6)
			c.WriteInt(e.id)
			c.WriteInt(e.at.Unix())
			c.WriteInt(e.took.Microseconds())
			c.WriteArray(len(e.args))
			for _, a := range e.args {
				c.WriteBulkString(a)
			}
			c.WriteBulkString(e.addr)
			c.WriteBulkString(e.name)
		}
	case sub == "len" && len(args) == 2:
		c.WriteInt(int64(c.srv.slow.len()))
	case sub == "reset" && len(args) == 2:
		c.srv.slow.reset()
		c.WriteOK()
	case sub == "help" && len(args) == 2:
		writeHelp(c, "SLOWLOG", []string{
			"GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
			"LEN", "    Return the length of the slowlog.",
			"RESET", "    Reset the slowlog.",
		})
	case sub == "get" || sub == "len" || sub == "reset" || sub == "help":
		c.WriteError(wrongArgs("slowlog|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "SLOWLOG"))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeStatus is "ok" while the store accepts writes, "err" once its engine
// failed (Redis's aof_last_write_status).
func writeStatus(db interface{ Health() error }) string {
	if err := db.Health(); err != nil && !errors.Is(err, epochdb.ErrClosed) {
		return "err"
	}
	return "ok"
}
