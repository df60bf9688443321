package server

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/epochdb/epochdb"
)

// Introspection commands: MONITOR LATENCY MEMORY WAIT WAITAOF.

func introCommands() []command {
	return []command{
		{CommandSpec{Name: "monitor", Arity: 1, Flags: FlagAdmin | FlagNoMulti, Group: "server", Summary: "Listens for all requests received by the server in real-time."}, cmdMonitor},
		{CommandSpec{Name: "latency", Arity: -2, Flags: FlagAdmin | FlagLoose, Group: "server", Summary: "A container for latency diagnostics commands."}, cmdLatency},
		{CommandSpec{Name: "memory", Arity: -2, Flags: FlagLoose, Group: "server", Summary: "A container for memory diagnostics commands."}, cmdMemory},
		{CommandSpec{Name: "wait", Arity: 3, Group: "generic", Summary: "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."}, cmdWait},
		{CommandSpec{Name: "readonly", Arity: 1, Flags: FlagLoose, Group: "cluster", Summary: "Enables read-only queries for a connection to a Redis Cluster replica node."}, cmdReadOnly},
		{CommandSpec{Name: "readwrite", Arity: 1, Flags: FlagLoose, Group: "cluster", Summary: "Enables read-write queries for a connection to a Redis Cluster replica node."}, cmdReadWrite},
		{CommandSpec{Name: "epoch.cluster", Arity: -2, Flags: FlagAdmin | FlagNoMulti, Group: "epochdb", Summary: "Shows and changes the cluster: STATUS, JOIN id raft-addr, REMOVE id."}, cmdEpochCluster},
		{CommandSpec{Name: "epoch.debug", Arity: -2, Flags: FlagAdmin | FlagNoMulti | FlagLoose, Group: "epochdb", Summary: "Test hooks, refused unless enabled: CLOCK [JUMP ms | SET ms] moves the store's clock."}, cmdEpochDebug},
		{CommandSpec{Name: "role", Arity: 1, Flags: FlagNoMulti, Group: "server", Summary: "Returns the replication role."}, cmdRole},
		{CommandSpec{Name: "waitaof", Arity: 4, Flags: FlagNoMulti, Group: "generic", Summary: "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas."}, cmdWaitAOF},
	}
}

// cmdWait answers WAIT numreplicas timeout: there are no replicas, so it
// answers 0 at once (Redis would wait for the timeout when asked for
// replicas it does not have).
func cmdWait(c *Conn, cmd Command) {
	if _, ok := parseInt(cmd.Args[1]); !ok {
		c.WriteError(errNotInteger)
		return
	}
	if errMsg := checkTimeout(cmd.Args[2]); errMsg != "" {
		c.WriteError(errMsg)
		return
	}
	if cl := c.srv.Cluster; cl != nil {
		// An acknowledged write is on a quorum already: the other members
		// of a majority have it.
		peers, _ := strconv.Atoi(cl.Stats()["num_peers"])
		c.WriteInt(int64((peers + 1) / 2))
		return
	}
	c.WriteInt(0)
}

// cmdWaitAOF answers WAITAOF numlocal numreplicas timeout: with numlocal
// above 0 it returns once the connection's earlier writes are on disk
// (like SAVE), then [1, 0]: the local store and no replicas.
func cmdWaitAOF(c *Conn, cmd Command) {
	numLocal, ok1 := parseInt(cmd.Args[1])
	_, ok2 := parseInt(cmd.Args[2])
	if !ok1 || !ok2 {
		c.WriteError(errNotInteger)
		return
	}
	if errMsg := checkTimeout(cmd.Args[3]); errMsg != "" {
		c.WriteError(errMsg)
		return
	}
	local := int64(1)
	if numLocal > 0 {
		if err := c.srv.syncDB(); err != nil {
			if errors.Is(err, errAppendFsyncNo) {
				c.WriteError("ERR WAITAOF cannot be used when numlocal is set but appendfsync is 'no'.")
				return
			}
			c.writeErr(err)
			return
		}
	}
	c.WriteArray(2)
	c.WriteInt(local)
	c.WriteInt(0)
}

// checkTimeout validates a WAIT/WAITAOF timeout (milliseconds).
func checkTimeout(b []byte) string {
	n, ok := parseInt(b)
	switch {
	case !ok:
		return "ERR timeout is not an integer or out of range"
	case n < 0:
		return "ERR timeout is negative"
	}
	return ""
}

// MEMORY.

func cmdMemory(c *Conn, cmd Command) {
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	n := len(args)
	switch {
	case sub == "usage" && n >= 3:
		memoryUsage(c, args[2:])
	case sub == "stats" && n == 2:
		memoryStats(c)
	case sub == "doctor" && n == 2:
		c.WriteVerbatim(memoryDoctor(c.srv))
	case sub == "malloc-stats" && n == 2:
		c.WriteVerbatim("Stats not supported for the current allocator")
	case sub == "purge" && n == 2:
		debug.FreeOSMemory()
		c.WriteOK()
	case sub == "help" && n == 2:
		writeHelp(c, "MEMORY", []string{
			"DOCTOR", "    Return memory problems reports.",
			"MALLOC-STATS", "    Return internal statistics report from the memory allocator.",
			"PURGE", "    Attempt to purge dirty pages for reclamation by the allocator.",
			"STATS", "    Return information about the memory usage of the server.",
			"USAGE <key> [SAMPLES <count>]",
			"    Return memory in bytes used by <key> and its value. Nested values are",
			"    sampled up to <count> times (default: 5, 0 means sample all).",
		})
	case sub == "usage" || sub == "stats" || sub == "doctor" || sub == "malloc-stats" || sub == "purge" || sub == "help":
		c.WriteError(wrongArgs("memory|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "MEMORY"))
	}
}

// memoryUsage answers MEMORY USAGE key [SAMPLES count]: the bytes of the
// key's records in the store plus the record cache's memory for it (see
// epochdb.KeySize), or nil for a missing key. SAMPLES is validated and
// ignored: a value is one string, never sampled.
func memoryUsage(c *Conn, opts [][]byte) {
	for i := 1; i < len(opts); i += 2 {
		if !equalFold(opts[i], "samples") || i+1 >= len(opts) {
			c.WriteError(errSyntax)
			return
		}
		n, ok := parseInt(opts[i+1])
		if !ok {
			c.WriteError(errNotInteger)
			return
		}
		if n < 0 {
			c.WriteError(errSyntax)
			return
		}
	}
	ks, err := c.srv.DB.KeySize(c.key(opts[0]))
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteNull()
	case err != nil:
		c.writeErr(err)
	default:
		c.WriteInt(ks.Stored + ks.Cached)
	}
}

// memoryStats answers MEMORY STATS with Redis's field names where they
// have a meaning here, and EpochDB's own (epochdb.*).
func memoryStats(c *Conn) {
	s := c.srv
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st := s.DB.Stats()
	var clients int64
	for _, o := range s.snapshotConns() {
		clients += int64(o.push.pendingBytes())
	}
	overhead := int64(m.HeapAlloc) - st.CacheBytes
	perKey := int64(0)
	if st.Keys > 0 {
		perKey = int64(m.HeapAlloc) / st.Keys
	}
	rss := processMemory()
	pct := func(a, b int64) float64 {
		if b <= 0 {
			return 0
		}
		return float64(a) * 100 / float64(b)
	}
	ratio := func(a, b int64) float64 {
		if b <= 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	type kv struct {
		k   string
		i   int64
		f   float64
		isF bool
	}
	fields := []kv{
		{k: "peak.allocated", i: int64(m.HeapSys)},
		{k: "total.allocated", i: int64(m.HeapAlloc)},
		{k: "startup.allocated", i: 0},
		{k: "replication.backlog", i: 0},
		{k: "clients.slaves", i: 0},
		{k: "clients.normal", i: clients},
		{k: "cluster.links", i: 0},
		{k: "aof.buffer", i: 0},
		{k: "lua.caches", i: 0},
		{k: "functions.caches", i: 0},
		{k: "overhead.total", i: max(overhead, 0)},
		{k: "keys.count", i: st.Keys},
		{k: "keys.bytes-per-key", i: perKey},
		{k: "dataset.bytes", i: st.CacheBytes},
		{k: "dataset.percentage", f: pct(st.CacheBytes, int64(m.HeapAlloc)), isF: true},
		{k: "peak.percentage", f: pct(int64(m.HeapAlloc), int64(m.HeapSys)), isF: true},
		{k: "allocator.allocated", i: int64(m.HeapAlloc)},
		{k: "allocator.active", i: int64(m.HeapInuse)},
		{k: "allocator.resident", i: int64(m.Sys - m.HeapReleased)},
		{k: "allocator-fragmentation.ratio", f: ratio(int64(m.HeapInuse), int64(m.HeapAlloc)), isF: true},
		{k: "allocator-fragmentation.bytes", i: int64(m.HeapInuse) - int64(m.HeapAlloc)},
		{k: "rss-overhead.ratio", f: ratio(rss, int64(m.Sys-m.HeapReleased)), isF: true},
		{k: "rss-overhead.bytes", i: rss - int64(m.Sys-m.HeapReleased)},
		{k: "fragmentation", f: ratio(rss, int64(m.HeapAlloc)), isF: true},
		{k: "fragmentation.bytes", i: rss - int64(m.HeapAlloc)},
		{k: "epochdb.live.bytes", i: st.LiveBytes},
		{k: "epochdb.disk.bytes", i: int64(st.DiskBytes)},
		{k: "epochdb.record-cache.bytes", i: st.CacheBytes},
		{k: "epochdb.record-cache.keys", i: st.CacheEntries},
		{k: "epochdb.process.bytes", i: rss},
	}
	c.WriteMap(len(fields))
	for _, f := range fields {
		c.WriteBulkString(f.k)
		if f.isF {
			c.WriteDouble(f.f)
		} else {
			c.WriteInt(f.i)
		}
	}
}

// memoryDoctor is MEMORY DOCTOR's report, in Redis's words where they
// apply.
func memoryDoctor(s *Server) string {
	const emptyMsg = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
	st := s.DB.Stats()
	if st.Keys == 0 {
		return emptyMsg
	}
	var issues []string
	if s.MaxMemory > 0 {
		if used := processMemory(); used > s.MaxMemory*9/10 {
			issues = append(issues, " * High memory use: the process uses "+humanBytes(uint64(used))+
				", over 90% of maxmemory ("+humanBytes(uint64(s.MaxMemory))+"). Big replies and writes will be refused with OOM errors.")
		}
	}
	o := s.dbOpts()
	if o.MaxKeys > 0 && st.Keys > o.MaxKeys*9/10 {
		issues = append(issues, " * Key budget: "+strconv.FormatInt(st.Keys, 10)+" keys stored, over 90% of maxkeys ("+
			strconv.FormatInt(o.MaxKeys, 10)+").")
	}
	if o.MaxDiskBytes > 0 && st.LiveBytes > o.MaxDiskBytes*9/10 {
		issues = append(issues, " * Disk budget: "+humanBytes(uint64(st.LiveBytes))+" stored, over 90% of maxdisk ("+
			humanBytes(uint64(o.MaxDiskBytes))+").")
	}
	var pending int64
	for _, c := range s.snapshotConns() {
		pending = max(pending, int64(c.push.pendingBytes()))
	}
	if pending > 32<<20 {
		issues = append(issues, " * Big client buffers: a client has "+humanBytes(uint64(pending))+
			" of output pending (a slow subscriber or monitor).")
	}
	if len(issues) == 0 {
		return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
	}
	out := "Sam, I detected a few issues in this EpochDB instance memory implants:\n\n"
	for _, i := range issues {
		out += i + "\n\n"
	}
	return out + "I'm here to keep you safe, Sam. I want to help you.\n"
}
