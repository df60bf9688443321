package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/epochdb/epochdb"
	"github.com/spf13/pflag"
)

// checkServeDir refuses a directory a running server holds, and a
// non-empty directory that is not a store unless init: serve creates a
// store only in a new or empty directory, or when told to.
func checkServeDir(dir string, init bool) error {
	st, err := inspectDir(dir)
	if err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	if st.store {
		return checkNotHeld(dir)
	}
	if len(st.names) > 0 && !init {
		return fmt.Errorf("%s is not empty and not an EpochDB store (it holds %s); "+
			"pass --init to create a store in it anyway, or choose another --dir", dir, describeEntries(st.names))
	}
	return nil
}

// unknownEnvVars returns the EPOCH_* variables of environ that name no flag
// of fs (a misspelled EPOCH_MAXKEY would otherwise be ignored silently).
// EPOCH_PASSWORD is the inspection commands' (--password).
func unknownEnvVars(fs *pflag.FlagSet, environ []string) []string {
	known := map[string]bool{"EPOCH_PASSWORD": true}
	fs.VisitAll(func(f *pflag.Flag) { known[envName(f.Name)] = true })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "EPOCH_") && !known[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// logSettings logs the effective durability and lifecycle settings once,
// before the store is opened.
func logSettings(log *slog.Logger, o serveOptions, opts *epochdb.Options) {
	sync := "everysec"
	switch {
	case opts.SyncWrites:
		sync = "always"
	case opts.SyncInterval < 0:
		sync = "no"
	}
	prune := "off"
	if opts.PruneMinFrequency > 0 || opts.PruneIdle > 0 {
		var rule []string
		if opts.PruneMinFrequency > 0 {
			rule = append(rule, fmt.Sprintf("frequency<%d", opts.PruneMinFrequency))
		}
		if opts.PruneIdle > 0 {
			rule = append(rule, fmt.Sprintf("idle>%v", opts.PruneIdle))
		}
		prune = fmt.Sprintf("%s, grace %v, every %v, skip-ttl-keys %t",
			strings.Join(rule, " or "), opts.PruneGrace, opts.PruneInterval, opts.PruneSkipTTLKeys)
	}
	eventLog := "off"
	if opts.EventLog {
		eventLog = fmt.Sprintf("on, values %t, max %d entries, max age %v",
			opts.EventLogValues, opts.EventLogMaxEntries, opts.EventLogMaxAge)
	}
	log.Info("epoch: settings", "dir", o.dir, "appendfsync", sync, "sync_interval", o.syncInterval,
		"maxkeys", opts.MaxKeys, "maxdisk", opts.MaxDiskBytes, "maxmemory_policy", opts.EvictionPolicy.String(),
		"lfu_half_life", o.lfuHalfLife, "prune", prune, "event_log", eventLog)
}
