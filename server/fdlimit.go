package server

import "strconv"

// DefaultFDReserve is how many file descriptors the server keeps out of
// maxclients' reach by default: Redis's 32 (listeners, logs, files the
// server opens) plus 96 for the storage engine (its write-ahead log, its
// manifest, its lock and options files, the tables it keeps open, and the
// new log and tables it opens while rotating and flushing, which must
// never fail for want of a descriptor).
const DefaultFDReserve = 128

// fdLimit returns the process's descriptor limit (the soft RLIMIT_NOFILE),
// or 0 when it cannot be read.
var fdLimit = readFDLimit

// adjustMaxClients lowers maxclients to the descriptor limit minus the
// reserve, as Redis does at start, and logs it.
func (s *Server) adjustMaxClients() {
	limit := fdLimit()
	if limit <= 0 {
		return
	}
	reserve := int64(orDefault(s.FDReserve, DefaultFDReserve))
	want := s.cfg.maxClients.Load()
	if want+reserve <= limit {
		return
	}
	reduced := max(limit-reserve, 1)
	s.cfg.maxClients.Store(reduced)
	s.log.Warn("server: You requested maxclients of "+strconv.FormatInt(want, 10)+" requiring at least "+
		strconv.FormatInt(want+reserve, 10)+" max file descriptors. Current maximum open files is "+
		strconv.FormatInt(limit, 10)+". maxclients has been reduced to "+strconv.FormatInt(reduced, 10)+
		" to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
		"maxclients", reduced, "open_files_limit", limit, "reserved", reserve)
}
