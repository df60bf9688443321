package server

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Memory bounds of the server process. Keys and values live on disk, so
// maxmemory does not bound the data set (maxkeys and maxdisk do): it is the
// process's memory budget. epoch serve gives it to the Go runtime as its
// soft limit (debug.SetMemoryLimit); the server refuses, with Redis's OOM
// error, a reply or a write of at least bigReply bytes that would take the
// process past it, before building the reply or calling the library. A reply over the output buffer limit
// of a normal client (client-output-buffer-limit normal) disconnects the
// client, as in Redis.

const (
	// errOOM is Redis's reply when memory is over maxmemory.
	errOOM = "OOM command not allowed when used memory > 'maxmemory'."
	// bigReply is the reply size from which the memory budget is checked:
	// smaller replies are too small to matter and are never refused.
	bigReply = 1 << 20
	// DefaultOutputBufferLimit is the default limit of a normal client's
	// pending replies: room for a value of the largest size
	// (proto-max-bulk-len) twice over.
	DefaultOutputBufferLimit = 1 << 30
	// DefaultMaxMemoryShare is the share of the machine's memory (or of the
	// cgroup's limit) epoch serve uses as maxmemory by default, in percent.
	DefaultMaxMemoryShare = 75
)

func (s *Server) outputLimit() int64 { return orDefault(s.OutputBufferLimit, DefaultOutputBufferLimit) }

// replyBudget checks a reply of n more bytes against the client's output
// buffer limit and the process's memory budget before it is built. Over
// the output limit the client is disconnected (nothing more is written
// to it); over the budget it gets the OOM error. It returns false when the
// reply must not be written.
func (c *Conn) replyBudget(n int64) bool {
	if n < bigReply {
		return true
	}
	s := c.srv
	if pending := int64(c.pending()) + n; pending > s.outputLimit() {
		s.log.Warn("server: closing client over the output buffer limit (client-output-buffer-limit normal)",
			"client", c.raddr, "reply_bytes", pending, "limit", s.outputLimit())
		c.dropReplies()
		c.quit = true
		return false
	}
	return !c.memoryRefused(n)
}

// memoryRefused answers the OOM error, and returns true, when n bytes (at
// least bigReply) more would take the process past its memory budget. Write
// commands check the bytes they write: the store holds copies of a value
// while it writes it.
func (c *Conn) memoryRefused(n int64) bool {
	s := c.srv
	limit := s.cfg.maxMemory.Load()
	if n < bigReply || limit <= 0 || processMemory()+n <= limit {
		return false
	}
	s.st.oomRejected.Add(1)
	c.WriteError(errOOM)
	return true
}

// argBytes is the length of args together.
func argBytes(args [][]byte) int64 {
	var n int64
	for _, a := range args {
		n += int64(len(a))
	}
	return n
}

// processMemory is the memory the process uses: its resident set where the
// system reports it, never less than what the Go runtime has mapped.
func processMemory() int64 {
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	metrics.Read(samples)
	var goMem int64
	if samples[0].Value.Kind() == metrics.KindUint64 && samples[1].Value.Kind() == metrics.KindUint64 {
		goMem = int64(samples[0].Value.Uint64() - samples[1].Value.Uint64())
	}
	return max(goMem, residentMemory())
}

// residentMemory reads the resident set size from /proc/self/statm; 0
// where there is none.
func residentMemory() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// SystemMemory returns the memory available to the process: the cgroup's
// memory limit when there is one (cgroup v2 memory.max, v1
// memory.limit_in_bytes), else the machine's (MemTotal of /proc/meminfo).
// It returns 0 when none can be read.
func SystemMemory() int64 {
	total := readMemInfoTotal("/proc/meminfo")
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(p); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
				return n
			}
		}
	}
	return total
}

// readMemInfoTotal returns MemTotal from a /proc/meminfo file, in bytes.
func readMemInfoTotal(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseMemInfoTotal(b)
}

// parseMemInfoTotal parses the MemTotal line of /proc/meminfo ("MemTotal:
// 24684092 kB") into bytes; 0 when it is missing or malformed.
func parseMemInfoTotal(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "MemTotal:" {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n < 0 || n > 1<<53 {
			return 0
		}
		if len(f) >= 3 && strings.EqualFold(f[2], "kB") {
			return n << 10
		}
		return n
	}
	return 0
}

// setMaxMemory changes maxmemory at run time; with ManageMemoryLimit it is
// also the Go runtime's soft memory limit, as at startup.
func (s *Server) setMaxMemory(n int64) {
	s.cfg.maxMemory.Store(n)
	if !s.ManageMemoryLimit {
		return
	}
	if n <= 0 {
		n = math.MaxInt64
	}
	debug.SetMemoryLimit(n)
}
