package server

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"sync"

	"github.com/epochdb/epochdb"
	"github.com/tidwall/redcon"
)

// Pub/sub: SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB, and
// keyspace notifications for the writes this server makes.
//
// Messages reach a subscriber asynchronously: PUBLISH appends them to the
// subscriber's push queue and the subscriber's pusher goroutine writes
// them. Once a connection has subscribed, its command replies go through
// the same queue, so replies and messages keep their order. A subscriber
// whose queue exceeds PubSubBufferLimit (it does not read) is disconnected.

func pubsubCommands() []command {
	const g = "pubsub"
	return []command{
		{CommandSpec{Name: "subscribe", Arity: -2, Flags: FlagPubSub | FlagNoMulti, Group: g, Summary: "Listens for messages published to channels."}, cmdSubscribe},
		{CommandSpec{Name: "psubscribe", Arity: -2, Flags: FlagPubSub | FlagNoMulti, Group: g, Summary: "Listens for messages published to channels that match patterns."}, cmdSubscribe},
		{CommandSpec{Name: "unsubscribe", Arity: -1, Flags: FlagPubSub | FlagNoMulti, Group: g, Summary: "Stops listening to messages posted to channels."}, cmdUnsubscribe},
		{CommandSpec{Name: "punsubscribe", Arity: -1, Flags: FlagPubSub | FlagNoMulti, Group: g, Summary: "Stops listening to messages published to channels that match patterns."}, cmdUnsubscribe},
		{CommandSpec{Name: "publish", Arity: 3, Group: g, Summary: "Posts a message to a channel."}, cmdPublish},
		{CommandSpec{Name: "pubsub", Arity: -2, Flags: FlagLoose, Group: g, Summary: "A container for Pub/Sub commands."}, cmdPubsub},
	}
}

// hub routes published messages to subscribers.
type hub struct {
	mu       sync.RWMutex                  // guards channels, patterns
	channels map[string]map[*Conn]struct{} // channel → subscribers
	patterns map[string]map[*Conn]struct{} // pattern → subscribers
}

func (h *hub) init() {
	h.channels = make(map[string]map[*Conn]struct{})
	h.patterns = make(map[string]map[*Conn]struct{})
}

// add subscribes c to name. confirm (nil = none) runs first, under the
// same lock publishers take, so that the subscription's confirmation is
// queued before any message and no PUBLISH that starts after the client
// has read the confirmation misses it.
func (h *hub) add(c *Conn, name string, pattern bool, confirm func() error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if confirm != nil {
		if err := confirm(); err != nil {
			return err
		}
	}
	m := h.channels
	if pattern {
		m = h.patterns
	}
	set := m[name]
	if set == nil {
		set = make(map[*Conn]struct{})
		m[name] = set
	}
	set[c] = struct{}{}
	return nil
}

func (h *hub) remove(c *Conn, name string, pattern bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.channels
	if pattern {
		m = h.patterns
	}
	if set := m[name]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(m, name)
		}
	}
}

// unsubscribeAll removes c from every channel and pattern.
func (h *hub) unsubscribeAll(c *Conn) {
	for ch := range c.subs {
		h.remove(c, ch, false)
	}
	for p := range c.psubs {
		h.remove(c, p, true)
	}
	clear(c.subs)
	clear(c.psubs)
	c.shared.nsub.Store(0)
	c.shared.npsub.Store(0)
}

// publish sends msg to the subscribers of channel and of the patterns
// matching it, and returns how many received it.
func (h *hub) publish(channel, msg []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	var enc [2][]byte // the message in RESP2 and RESP3
	for c := range h.channels[string(channel)] {
		resp := c.shared.resp.Load()
		i := resp - 2
		if enc[i] == nil {
			b := appendPush(nil, 3, int(resp))
			b = redcon.AppendBulkString(b, "message")
			b = redcon.AppendBulk(b, channel)
			enc[i] = redcon.AppendBulk(b, msg)
		}
		if c.push.enqueue(c, enc[i]) == nil {
			n++
		}
	}
	for pat, set := range h.patterns {
		if !globMatch([]byte(pat), channel) {
			continue
		}
		var penc [2][]byte
		for c := range set {
			resp := c.shared.resp.Load()
			i := resp - 2
			if penc[i] == nil {
				b := appendPush(nil, 4, int(resp))
				b = redcon.AppendBulkString(b, "pmessage")
				b = redcon.AppendBulkString(b, pat)
				b = redcon.AppendBulk(b, channel)
				penc[i] = redcon.AppendBulk(b, msg)
			}
			if c.push.enqueue(c, penc[i]) == nil {
				n++
			}
		}
	}
	return n
}

func cmdSubscribe(c *Conn, cmd Command) {
	pattern := equalFold(cmd.Args[0], "psubscribe")
	kind, set := "subscribe", &c.subs
	if pattern {
		kind, set = "psubscribe", &c.psubs
	}
	c.startPushing()
	if *set == nil {
		*set = make(map[string]struct{})
	}
	for _, a := range cmd.Args[1:] {
		name := string(a)
		_, had := (*set)[name]
		(*set)[name] = struct{}{}
		c.shared.nsub.Store(int32(len(c.subs)))
		c.shared.npsub.Store(int32(len(c.psubs)))
		confirm := func() error {
			c.writeSubReply(kind, a, len(c.subs)+len(c.psubs))
			return c.flush()
		}
		if had {
			if confirm() != nil {
				return
			}
			continue
		}
		if c.srv.hub.add(c, name, pattern, confirm) != nil {
			return
		}
	}
}

func cmdUnsubscribe(c *Conn, cmd Command) {
	pattern := equalFold(cmd.Args[0], "punsubscribe")
	kind, set := "unsubscribe", c.subs
	if pattern {
		kind, set = "punsubscribe", c.psubs
	}
	names := cmd.Args[1:]
	if len(names) == 0 {
		for name := range set {
			names = append(names, []byte(name))
		}
		slices.SortFunc(names, func(a, b []byte) int { return compareBytes(a, b) })
	}
	if len(names) == 0 {
		c.writeSubReply(kind, nil, len(c.subs)+len(c.psubs))
		return
	}
	for _, a := range names {
		if _, ok := set[string(a)]; ok {
			delete(set, string(a))
			c.srv.hub.remove(c, string(a), pattern)
		}
		c.shared.nsub.Store(int32(len(c.subs)))
		c.shared.npsub.Store(int32(len(c.psubs)))
		c.writeSubReply(kind, a, len(c.subs)+len(c.psubs))
	}
}

func compareBytes(a, b []byte) int {
	switch {
	case string(a) < string(b):
		return -1
	case string(a) > string(b):
		return 1
	}
	return 0
}

// writeSubReply writes a (un)subscribe confirmation: a push in RESP3.
func (c *Conn) writeSubReply(kind string, name []byte, count int) {
	c.out = appendPush(c.out, 3, c.resp)
	c.WriteBulkString(kind)
	if name == nil {
		c.WriteNull()
	} else {
		c.WriteBulk(name)
	}
	c.WriteInt(int64(count))
}

func cmdPublish(c *Conn, cmd Command) {
	c.WriteInt(int64(c.srv.hub.publish(cmd.Args[1], cmd.Args[2])))
}

func cmdPubsub(c *Conn, cmd Command) {
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	h := &c.srv.hub
	switch {
	case sub == "channels" && len(args) <= 3:
		var pattern []byte
		if len(args) == 3 {
			pattern = args[2]
		}
		names := h.channelNames(pattern)
		slices.Sort(names)
		c.WriteArray(len(names))
		for _, n := range names {
			c.WriteBulkString(n)
		}
	case sub == "numsub":
		c.WriteMap(len(args) - 2)
		for _, ch := range args[2:] {
			c.WriteBulk(ch)
			c.WriteInt(int64(h.subscribers(ch)))
		}
	case sub == "numpat" && len(args) == 2:
		c.WriteInt(int64(h.patternCount()))
	case sub == "help" && len(args) == 2:
		writeHelp(c, "PUBSUB", []string{
			"CHANNELS [<pattern>]", "    Return the currently active channels matching a <pattern> (default: '*').",
			"NUMPAT", "    Return number of subscriptions to patterns.",
			"NUMSUB [<channel> ...]", "    Return the number of subscribers for the specified channels, excluding",
			"    pattern subscriptions(default: no channels).",
		})
	case sub == "channels" || sub == "numpat" || sub == "help":
		c.WriteError(wrongArgs("pubsub|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "PUBSUB"))
	}
}

// Keyspace notifications (notify-keyspace-events).

// Event classes, as Redis's notify-keyspace-events letters.
const (
	notifyKeyspace uint32 = 1 << iota // K
	notifyKeyevent                    // E
	notifyGeneric                     // g
	notifyString                      // $
	notifyExpired                     // x
	notifyEvicted                     // e
	notifyNew                         // n
	notifyOther                       // t d m (types EpochDB lacks)
	notifyHash                        // h
	notifySet                         // s
	notifyZSet                        // z
	notifyList                        // l
)

const notifyAll = notifyGeneric | notifyString | notifyExpired | notifyEvicted | notifyOther | notifyHash | notifySet | notifyZSet | notifyList // A

func parseNotifyFlags(s string) (uint32, bool) {
	var f uint32
	for _, r := range s {
		switch r {
		case 'A':
			f |= notifyAll
		case 'g':
			f |= notifyGeneric
		case '$':
			f |= notifyString
		case 'x':
			f |= notifyExpired
		case 'e':
			f |= notifyEvicted
		case 'K':
			f |= notifyKeyspace
		case 'E':
			f |= notifyKeyevent
		case 'n':
			f |= notifyNew
		case 'h':
			f |= notifyHash
		case 's':
			f |= notifySet
		case 'z':
			f |= notifyZSet
		case 'l':
			f |= notifyList
		case 't', 'd', 'm':
			f |= notifyOther
		default:
			return 0, false
		}
	}
	return f, true
}

func notifyFlagsString(f uint32) string {
	var s string
	if f&notifyAll == notifyAll {
		s = "A"
	} else {
		for _, x := range []struct {
			bit uint32
			c   string
		}{{notifyGeneric, "g"}, {notifyString, "$"}, {notifyList, "l"}, {notifySet, "s"}, {notifyHash, "h"}, {notifyZSet, "z"}, {notifyOther, "dtm"}, {notifyExpired, "x"}, {notifyEvicted, "e"}} {
			if f&x.bit != 0 {
				s += x.c
			}
		}
	}
	if f&notifyKeyspace != 0 {
		s += "K"
	}
	if f&notifyKeyevent != 0 {
		s += "E"
	}
	if f&notifyNew != 0 {
		s += "n"
	}
	return s
}

// notify publishes a keyspace notification for the client key key of the
// selected database, if its class is enabled.
func (c *Conn) notify(class uint32, event string, key []byte) {
	c.notifyIn(c.db, class, event, key)
}

func (c *Conn) notifyIn(db int, class uint32, event string, key []byte) {
	if c.execTx != nil {
		// Published once EXEC commits, not for an attempt it retries.
		c.execNotes = append(c.execNotes, note{db: db, class: class, event: event, key: bytes.Clone(key)})
		return
	}
	c.srv.notifyKey(db, class, event, key)
	c.wakeLater(db, key)
}

// note is a keyspace notification held back until EXEC commits.
type note struct {
	db    int
	class uint32
	event string
	key   []byte
}

// notifyKey publishes a keyspace notification for the client key key of
// database db, if its class is enabled.
func (s *Server) notifyKey(db int, class uint32, event string, key []byte) {
	f := s.cfg.notifyFlags.Load()
	if f&class == 0 || f&(notifyKeyspace|notifyKeyevent) == 0 {
		return
	}
	d := strconv.Itoa(db)
	if f&notifyKeyspace != 0 {
		s.hub.publish(append([]byte("__keyspace@"+d+"__:"), key...), []byte(event))
	}
	if f&notifyKeyevent != 0 {
		s.hub.publish([]byte("__keyevent@"+d+"__:"+event), key)
	}
}

// syncEvents subscribes to the database's lifecycle events while
// notifications of expired, evicted or pruned keys are on, and ends the
// subscription while they are off: the library then reads no metadata and
// builds no event for a retirement nobody is told of.
func (s *Server) syncEvents() {
	f := s.cfg.notifyFlags.Load()
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if f&(notifyExpired|notifyEvicted|notifyHash) != 0 && f&(notifyKeyspace|notifyKeyevent) != 0 {
		s.startEventsLocked()
	} else {
		s.endEventsLocked()
	}
}

// startEventsLocked subscribes to the database's lifecycle events and
// publishes them as keyspace notifications: "expired" (class x), "evicted"
// and "pruned" (class e), "hexpired" (class h, a hash field's deadline). The subscription drops events a slow publisher
// cannot take (counted in the DB's Stats.EventsDropped). The caller holds
// evMu.
func (s *Server) startEventsLocked() {
	if s.events != nil || s.eventsEnded {
		return
	}
	sub, err := s.DB.Subscribe(4096)
	if err != nil {
		s.log.Error("server: cannot subscribe to lifecycle events; no expired/evicted notifications", "err", err)
		return
	}
	s.events = sub
	s.eventsDone = make(chan struct{})
	go func() {
		defer close(s.eventsDone)
		for ev := range sub.C() {
			if len(ev.Key) == 0 || int(ev.Key[0]) >= numDBs {
				continue // not a server key
			}
			class, name := notifyExpired, "expired"
			switch ev.Kind {
			case epochdb.EventFieldExpired:
				class, name = notifyHash, "hexpired"
			case epochdb.EventEvicted:
				class, name = notifyEvicted, "evicted"
			case epochdb.EventPruned:
				class, name = notifyEvicted, "pruned"
			}
			s.notifyKey(int(ev.Key[0]), class, name, ev.Key[1:])
		}
	}()
}

// stopEvents ends the lifecycle subscription for good (at shutdown) and
// waits for its goroutine.
func (s *Server) stopEvents() {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	s.eventsEnded = true
	s.endEventsLocked()
}

// endEventsLocked ends the lifecycle subscription, if any, and waits for
// its goroutine. The caller holds evMu.
func (s *Server) endEventsLocked() {
	if s.events != nil {
		s.events.Close()
		<-s.eventsDone
		s.events = nil
	}
}

// The push queue.

var errConnGone = errors.New("connection closed")

// pushQueue holds output waiting for a subscribed connection's pusher.
type pushQueue struct {
	mu   sync.Mutex // guards buf, dead
	buf  []byte
	dead bool
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// enqueue appends b to c's queue; over the limit, it disconnects c.
func (q *pushQueue) enqueue(c *Conn, b []byte) error {
	wake, ok, over := q.add(b, c.srv.pubsubLimit())
	if over {
		c.srv.log.Warn("server: closing subscriber over its output buffer limit", "client", c.raddr,
			"limit", c.srv.pubsubLimit())
		c.kill()
	}
	if !ok {
		return errConnGone
	}
	select {
	case wake <- struct{}{}:
	default:
	}
	return nil
}

// queueQuietly appends b to the queue without waking the pusher.
func (q *pushQueue) queueQuietly(b []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.buf = append(q.buf, b...)
}

func (q *pushQueue) pendingBytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf)
}

// startPushing switches c's output to the push queue and starts its
// pusher; replies already buffered go first.
func (c *Conn) startPushing() {
	if c.pushing {
		return
	}
	q := &c.push
	q.mu.Lock()
	q.wake = make(chan struct{}, 1)
	q.stop = make(chan struct{})
	q.done = make(chan struct{})
	q.mu.Unlock()
	c.pushing = true
	go c.pushLoop()
}

// stopPushing makes the pusher write what is queued and exit, and waits
// for it.
func (c *Conn) stopPushing() {
	if !c.pushing {
		return
	}
	close(c.push.stop)
	<-c.push.done
}

func (c *Conn) pushLoop() {
	q := &c.push
	defer close(q.done)
	var spare []byte
	for {
		stopping := false
		select {
		case <-q.wake:
		case <-q.stop:
			stopping = true
		}
		b := q.take(spare, stopping)
		if len(b) > 0 && c.writeAll(b) != nil {
			q.kill()
			return
		}
		if stopping {
			return
		}
		if cap(b) <= flushThreshold {
			spare = b
		} else {
			spare = nil
		}
	}
}

// add appends b to the queue unless the connection is gone (ok false) or b
// would take it over limit (over: the queue is dead and ok false), and
// returns the channel that wakes the pusher.
func (q *pushQueue) add(b []byte, limit int64) (wake chan struct{}, ok, over bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead || q.wake == nil {
		return nil, false, false
	}
	if int64(len(q.buf)+len(b)) > limit {
		q.dead, q.buf = true, nil
		return nil, false, true
	}
	q.buf = append(q.buf, b...)
	return q.wake, true, false
}

// take returns the queued bytes, leaving spare as the new buffer; stopping
// marks the queue dead.
func (q *pushQueue) take(spare []byte, stopping bool) []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.buf
	q.buf = spare[:0]
	if stopping {
		q.dead, q.buf = true, nil
	}
	return b
}

// kill marks the queue dead (its connection failed).
func (q *pushQueue) kill() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dead, q.buf = true, nil
}

// channelNames returns the channels with subscribers matching pattern (nil:
// all).
func (h *hub) channelNames(pattern []byte) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var names []string
	for ch := range h.channels {
		if pattern == nil || globMatch(pattern, []byte(ch)) {
			names = append(names, ch)
		}
	}
	return names
}

// subscribers returns the number of subscribers of channel ch.
func (h *hub) subscribers(ch []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.channels[string(ch)])
}

// patternCount returns the number of pattern subscriptions.
func (h *hub) patternCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.patterns)
}
