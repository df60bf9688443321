package epochdb

import (
	"fmt"
	"time"
)

// Settings are the options an open DB can change: the durability mode, the
// heat half-life, the pruning rule, the budget and its eviction policy, and
// the event log's retention. Each field means what the Options field of the
// same name means, with its default filled in. Read them with
// DB.Settings and change them with DB.Reconfigure.
type Settings struct {
	SyncWrites   bool
	SyncInterval time.Duration // negative: no periodic sync

	HeatHalfLife time.Duration // negative: no decay

	PruneMinFrequency uint64
	PruneIdle         time.Duration
	PruneGrace        time.Duration
	PruneInterval     time.Duration
	PruneBatchSize    int
	PruneSkipTTLKeys  bool

	MaxKeys        int64
	MaxDiskBytes   int64
	EvictionPolicy EvictionPolicy

	EventLogMaxEntries int64
	EventLogMaxAge     time.Duration
}

func settingsOf(o *Options) Settings {
	return Settings{
		SyncWrites:         o.SyncWrites,
		SyncInterval:       o.SyncInterval,
		HeatHalfLife:       o.HeatHalfLife,
		PruneMinFrequency:  o.PruneMinFrequency,
		PruneIdle:          o.PruneIdle,
		PruneGrace:         o.PruneGrace,
		PruneInterval:      o.PruneInterval,
		PruneBatchSize:     o.PruneBatchSize,
		PruneSkipTTLKeys:   o.PruneSkipTTLKeys,
		MaxKeys:            o.MaxKeys,
		MaxDiskBytes:       o.MaxDiskBytes,
		EvictionPolicy:     o.EvictionPolicy,
		EventLogMaxEntries: o.EventLogMaxEntries,
		EventLogMaxAge:     o.EventLogMaxAge,
	}
}

// validate reports the first invalid field, naming it and its accepted
// range.
func (s *Settings) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s %v: %s", ErrInvalidOptions, field, v, want)
	}
	switch {
	case s.SyncInterval == 0:
		return bad("SyncInterval", s.SyncInterval, "must be positive, or negative for no periodic sync")
	case s.HeatHalfLife == 0:
		return bad("HeatHalfLife", s.HeatHalfLife, "must be positive, or negative for no decay")
	case s.PruneIdle < 0:
		return bad("PruneIdle", s.PruneIdle, "must be 0 (off) or positive")
	case s.PruneGrace < 0:
		return bad("PruneGrace", s.PruneGrace, "must be 0 or positive")
	case s.PruneInterval <= 0:
		return bad("PruneInterval", s.PruneInterval, "must be positive")
	case s.PruneBatchSize <= 0:
		return bad("PruneBatchSize", s.PruneBatchSize, "must be positive")
	case s.MaxKeys < 0:
		return bad("MaxKeys", s.MaxKeys, "must be 0 (no limit) or positive")
	case s.MaxDiskBytes < 0:
		return bad("MaxDiskBytes", s.MaxDiskBytes, "must be 0 (no limit) or positive")
	case s.EvictionPolicy > EvictAllKeysLRU:
		return bad("EvictionPolicy", s.EvictionPolicy, "must be one of "+fmt.Sprint(evictionPolicyNames))
	case s.EventLogMaxEntries <= 0:
		return bad("EventLogMaxEntries", s.EventLogMaxEntries, "must be positive")
	case s.EventLogMaxAge < 0:
		return bad("EventLogMaxAge", s.EventLogMaxAge, "must be 0 (no age limit) or positive")
	}
	return nil
}

// cfg returns the current settings. The value is immutable: Reconfigure
// replaces it.
func (db *DB) cfg() *Settings { return db.settings.Load() }

// Settings returns the settings in effect.
func (db *DB) Settings() Settings { return *db.cfg() }

// Reconfigure changes the settings while the DB is open: fn edits a copy of
// the current ones, which replace them if they are valid (else the error
// names the field and its accepted range, and nothing changes).
//
// Every change applies from the next operation on: a write admitted under
// the new budget, a sync mode chosen per write, the next pass of the
// pruning rule. A budget lowered below the store's size with an evicting
// policy makes the background work evict down to it at once, in steps,
// without blocking writers; under NoEviction the writes that grow the store
// fail with ErrFull until it is back under budget. A new heat half-life
// also changes how the heat already accumulated decays from now on.
// Switching SyncWrites on makes the next write wait for an fsync that also
// covers every write before it.
func (db *DB) Reconfigure(fn func(s *Settings)) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	db.settingsMu.Lock()
	defer db.settingsMu.Unlock()
	s := *db.cfg()
	fn(&s)
	if err := s.validate(); err != nil {
		return err
	}
	db.settings.Store(&s)
	db.log.Info("epochdb: reconfigured", "settings", fmt.Sprintf("%+v", s))
	db.kickBackground()
	return nil
}

// kickBackground wakes the sync and lifecycle loops so that they pick up
// new settings now rather than at their next tick.
func (db *DB) kickBackground() {
	for _, ch := range []chan struct{}{db.syncKick, db.lifeKick} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// halfLifeMs is the heat half-life in milliseconds (negative: no decay).
func (db *DB) halfLifeMs() int64 {
	if hl := db.cfg().HeatHalfLife; hl > 0 {
		return max(hl.Milliseconds(), 1)
	}
	return -1
}
