package epochdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// EventKind says why a key was retired.
type EventKind uint8

// The lifecycle events.
const (
	// EventExpired: the key's deadline passed (removed by the sweeper, or
	// replaced or deleted after its deadline).
	EventExpired EventKind = iota + 1
	// EventPruned: the pruning rule selected the key.
	EventPruned
	// EventEvicted: the key was evicted to keep the budget.
	EventEvicted
	// EventFieldExpired: a hash field's deadline passed (removed by the
	// sweeper, or replaced or deleted after its deadline). Event.Field
	// names it; the key stays unless it was its last field.
	EventFieldExpired
)

func (k EventKind) String() string {
	switch k {
	case EventExpired:
		return "expired"
	case EventPruned:
		return "pruned"
	case EventEvicted:
		return "evicted"
	case EventFieldExpired:
		return "field-expired"
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event reports a key the store retired.
type Event struct {
	// Seq is the event's sequence number in the durable event log, or 0 if
	// the log is off.
	Seq  uint64
	Kind EventKind
	Key  []byte
	// Field is the hash field of an EventFieldExpired, nil otherwise.
	Field    []byte
	Time     time.Time // when the key was retired
	Metadata Metadata  // the key's last metadata
	// Value is the retired value, only in events read from the event log
	// when Options.EventLogValues is set.
	Value []byte
}

// Subscription receives lifecycle events; see DB.Subscribe.
type Subscription struct {
	db *DB
	ch chan Event
}

// C returns the channel events arrive on. It is closed by Close, or when the
// database closes.
func (s *Subscription) C() <-chan Event { return s.ch }

// Close ends the subscription and closes its channel. Closing twice does
// nothing.
func (s *Subscription) Close() {
	s.db.ev.mu.Lock()
	defer s.db.ev.mu.Unlock()
	if _, ok := s.db.ev.subs[s]; ok {
		delete(s.db.ev.subs, s)
		close(s.ch)
	}
}

// Subscribe returns a subscription to every lifecycle event (expiry, prune,
// eviction) from now on, with a channel buffer of the given size (minimum 1).
// A subscriber that falls behind never slows the store: events that do not
// fit its buffer are dropped and counted in Stats.EventsDropped. For events
// that must not be missed, use the durable event log (Options.EventLog).
func (db *DB) Subscribe(buffer int) (*Subscription, error) {
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.leave()
	s := &Subscription{db: db, ch: make(chan Event, max(buffer, 1))}
	db.ev.addSub(s)
	return s, nil
}

// eventHub fans events out to subscribers and orders the durable log.
type eventHub struct {
	mu     sync.Mutex // guards subs, notify; serializes publication
	subs   map[*Subscription]struct{}
	notify chan struct{} // closed and replaced whenever the event log grows

	// logMu is held by a commit that writes event-log entries from the
	// moment it takes sequence numbers until the batch is applied, so that
	// entries become visible in sequence order. Lock order: shard locks,
	// then the oracle's mutex, then logMu, then mu. A writer that is not a
	// transaction therefore publishes its events (releasing logMu) before it
	// registers with the oracle.
	logMu   sync.Mutex
	lastSeq uint64 // the last sequence number handed out; guarded by logMu

	// durable is the sequence number up to which the log is durable and
	// readable: an event becomes visible to ReadEvents and WaitEvents only
	// once a crash can no longer take it back.
	durable atomic.Uint64
}

// retired collects the events of one commit. Use: stage each retirement
// while building the batch, then finish once the batch is applied (or
// failed).
type retired struct {
	db     *DB
	events []Event
	logged bool // holds db.ev.logMu
}

// wantEvents reports whether retirements need their metadata read: someone
// subscribes or the durable log is on.
func (db *DB) wantEvents() bool {
	if db.opts.EventLog {
		return true
	}
	db.ev.mu.Lock()
	defer db.ev.mu.Unlock()
	return len(db.ev.subs) > 0
}

// stage records the retirement of key (record header hdr, value) in b and
// in r. m is the key's meta including unflushed reads.
func (r *retired) stage(b *pebble.Batch, kind EventKind, key []byte, hdr keyspace.Header, m keyspace.Meta, value []byte, now int64) {
	db := r.db
	switch kind {
	case EventExpired:
		db.st.expired.Add(1)
	case EventPruned:
		db.st.pruned.Add(1)
	case EventEvicted:
		db.st.evicted.Add(1)
	}
	r.add(b, Event{Kind: kind, Key: append([]byte(nil), key...), Time: time.UnixMilli(now), Metadata: db.makeMetadata(hdr, m, now)},
		hdr, m, value)
}

// stageField records the expiry of field of the hash key (record header
// hdr, meta m) in b and in r.
func (r *retired) stageField(b *pebble.Batch, key, field []byte, hdr keyspace.Header, m keyspace.Meta, now int64) {
	r.db.st.fieldsExpired.Add(1)
	r.add(b, Event{Kind: EventFieldExpired, Key: append([]byte(nil), key...), Field: append([]byte{}, field...),
		Time: time.UnixMilli(now), Metadata: r.db.makeMetadata(hdr, m, now)}, hdr, m, nil)
}

// add records ev in b (the event log) and in r.
func (r *retired) add(b *pebble.Batch, ev Event, hdr keyspace.Header, m keyspace.Meta, value []byte) {
	db := r.db
	if db.opts.EventLog && !r.logged {
		db.ev.logMu.Lock()
		r.logged = true
	}
	if db.opts.EventLog {
		db.ev.lastSeq++
		ev.Seq = db.ev.lastSeq
		now := ev.Time.UnixMilli()
		rec := keyspace.EventRecord{Kind: uint8(ev.Kind), Time: now, Key: ev.Key, Header: hdr, Meta: m, Field: ev.Field}
		if db.opts.EventLogValues && !hdr.Type.IsCollection() && ev.Kind != EventFieldExpired {
			rec.HasValue, rec.Value = true, value
		}
		_ = b.Set(keyspace.EventKey(ev.Seq), keyspace.AppendEvent(nil, rec), nil)
		_ = b.Set(keyspace.SysKey(sysEventSeq), keyspace.AppendCounter(nil, int64(ev.Seq)), nil)
	}
	r.events = append(r.events, ev)
}

// lastSeq returns the highest event-log sequence number r staged (0: none).
func (r *retired) lastSeq() uint64 {
	if len(r.events) == 0 {
		return 0
	}
	return r.events[len(r.events)-1].Seq
}

// eventsDurable records that the event log is durable up to seq and wakes
// the readers waiting for it.
func (db *DB) eventsDurable(seq uint64) {
	for {
		cur := db.ev.durable.Load()
		if seq <= cur {
			return
		}
		if db.ev.durable.CompareAndSwap(cur, seq) {
			break
		}
	}
	db.ev.mu.Lock()
	defer db.ev.mu.Unlock()
	close(db.ev.notify)
	db.ev.notify = make(chan struct{})
}

// assignedEventSeq returns the last sequence number handed out; every
// event up to it has been applied (or its commit failed).
func (db *DB) assignedEventSeq() uint64 {
	db.ev.logMu.Lock()
	defer db.ev.logMu.Unlock()
	return db.ev.lastSeq
}

// finish publishes the events if the batch was applied, and releases the
// log order. On failure the sequence numbers taken are given back.
func (r *retired) finish(applied bool) {
	db := r.db
	if r.logged {
		if !applied {
			db.ev.lastSeq -= uint64(len(r.events))
		}
		db.ev.logMu.Unlock()
		r.logged = false
	}
	if !applied || len(r.events) == 0 {
		r.events = r.events[:0]
		return
	}
	db.publish(r.events)
	r.events = r.events[:0]
}

// publish hands events to every subscriber, dropping (and counting) those
// a full buffer cannot take.
func (db *DB) publish(events []Event) {
	db.ev.mu.Lock()
	defer db.ev.mu.Unlock()
	for s := range db.ev.subs {
		for _, ev := range events {
			select {
			case s.ch <- ev:
			default:
				db.st.eventsDropped.Add(1)
			}
		}
	}
}

// loadEventSeq restores the last event-log sequence number.
func (db *DB) loadEventSeq() error {
	db.ev.subs = make(map[*Subscription]struct{})
	db.ev.notify = make(chan struct{})
	seq, err := db.getCounter(sysEventSeq)
	if err != nil {
		return err
	}
	// A number handed out before a crash that lost its event is handed
	// out again, but no reader ever saw it: events are readable only once
	// durable.
	db.ev.lastSeq = uint64(seq)
	db.ev.durable.Store(uint64(seq))
	return nil
}

// closeSubscriptions closes every subscriber's channel (at DB close).
func (db *DB) closeSubscriptions() {
	db.ev.mu.Lock()
	defer db.ev.mu.Unlock()
	for s := range db.ev.subs {
		close(s.ch)
		delete(db.ev.subs, s)
	}
}

// ReadEvents returns up to max events from the durable event log with
// sequence numbers greater than after, in order, and the sequence number to
// pass as after to continue. Events dropped by retention are skipped. It
// returns an error if the event log is off.
func (db *DB) ReadEvents(after uint64, max int) ([]Event, uint64, error) {
	if !db.opts.EventLog {
		return nil, after, ErrEventLogOff
	}
	if err := db.enter(); err != nil {
		return nil, after, err
	}
	defer db.leave()
	if max <= 0 {
		max = 100
	}
	durable := db.ev.durable.Load()
	if durable <= after {
		return nil, after, nil
	}
	it, err := db.pdb.NewIter(&pebble.IterOptions{
		LowerBound: keyspace.EventKey(after + 1),
		UpperBound: keyspace.EventKey(durable + 1),
	})
	if err != nil {
		return nil, after, fmt.Errorf("epochdb: read events: %w", err)
	}
	defer it.Close()
	var out []Event
	for it.First(); it.Valid() && len(out) < max; it.Next() {
		seq, err := keyspace.DecodeEventKey(it.Key())
		if err != nil {
			return nil, after, fmt.Errorf("%w: event log: %v", ErrCorrupt, err)
		}
		rec, err := keyspace.DecodeEvent(it.Value())
		if err != nil {
			return nil, after, fmt.Errorf("%w: event %d: %v", ErrCorrupt, seq, err)
		}
		ev := Event{
			Seq:      seq,
			Kind:     EventKind(rec.Kind),
			Key:      append([]byte(nil), rec.Key...),
			Field:    bytes.Clone(rec.Field),
			Time:     time.UnixMilli(rec.Time),
			Metadata: db.makeMetadata(rec.Header, rec.Meta, rec.Time),
		}
		if rec.HasValue {
			ev.Value = append([]byte{}, rec.Value...)
		}
		out = append(out, ev)
		after = seq
	}
	return out, after, it.Error()
}

// LastEventSeq returns the sequence number of the newest durable event in
// the event log (0 if none was ever logged, or the log is off). Events up
// to it can be read with ReadEvents, unless retention dropped them. An
// event becomes durable, and readable, when the write that logged it is:
// at once with SyncWrites, otherwise at the next periodic sync (or Sync).
func (db *DB) LastEventSeq() uint64 { return db.ev.durable.Load() }

// SyncEvents makes every event logged so far durable, and so readable: it
// syncs the log when some are not yet (Sync's work), and returns at once
// when all are. A consumer that must see the events of writes it just made
// calls it before ReadEvents.
func (db *DB) SyncEvents() error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	last := db.assignedEventSeq()
	if last <= db.ev.durable.Load() {
		return nil
	}
	if err := db.syncLog(); err != nil {
		return fmt.Errorf("epochdb: sync events: %w", err)
	}
	db.eventsDurable(last)
	return nil
}

// WaitEvents blocks until the event log holds an event with a sequence
// number greater than after, or ctx ends (returning its error).
func (db *DB) WaitEvents(ctx context.Context, after uint64) error {
	if !db.opts.EventLog {
		return ErrEventLogOff
	}
	for {
		db.ev.mu.Lock()
		ch := db.ev.notify
		db.ev.mu.Unlock()
		if db.ev.durable.Load() > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-db.closeCh:
			return ErrClosed
		}
	}
}

// ErrEventLogOff is returned by ReadEvents and WaitEvents when
// Options.EventLog is not set.
var ErrEventLogOff = errors.New("epochdb: the event log is off (Options.EventLog)")

// trimEventLog drops events beyond EventLogMaxEntries and older than
// EventLogMaxAge.
func (db *DB) trimEventLog(now int64) error {
	last := db.ev.durable.Load()
	var end uint64 // drop sequence numbers below end
	if n := uint64(db.cfg().EventLogMaxEntries); last > n {
		end = last - n + 1
	}
	if maxAge := db.cfg().EventLogMaxAge; maxAge > 0 {
		cutoff := now - maxAge.Milliseconds()
		it, err := db.pdb.NewIter(&pebble.IterOptions{
			LowerBound: keyspace.EventKey(end),
			UpperBound: keyspace.EventKey(last + 1),
		})
		if err != nil {
			return err
		}
		for it.First(); it.Valid(); it.Next() {
			rec, err := keyspace.DecodeEvent(it.Value())
			if err != nil || rec.Time >= cutoff {
				break
			}
			seq, _ := keyspace.DecodeEventKey(it.Key())
			end = seq + 1
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	if end == 0 {
		return nil
	}
	b := db.pdb.NewBatch()
	_ = b.DeleteRange(keyspace.EventKey(0), keyspace.EventKey(end), nil)
	if err := db.applyBatch(b, false); err != nil {
		return err
	}
	return b.Close()
}

// addSub registers a subscription.
func (ev *eventHub) addSub(s *Subscription) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.subs[s] = struct{}{}
}

// setLastSeq sets the event log's last sequence number to seq (atLeast:
// raises it to seq if lower).
func (ev *eventHub) setLastSeq(seq uint64, atLeast bool) {
	ev.logMu.Lock()
	defer ev.logMu.Unlock()
	if atLeast {
		seq = max(ev.lastSeq, seq)
	}
	ev.lastSeq = seq
}
