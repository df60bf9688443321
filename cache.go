package epochdb

import (
	"sync"
	"sync/atomic"

	"github.com/epochdb/epochdb/internal/keyspace"
)

// The record cache: each shard keeps the latest data record of recently
// read or written keys (the header, and the value when it is small), so
// that a Get of a cached key and a write over it need no engine read.
//
// It is write-through and owned by the shard: every writeOp updates the
// entries of the keys it wrote after its batch is applied, while it still
// holds the shard locks (a key the cache does not hold enters on a write
// only while the shard has room, so that a stream of new keys causes no
// evictions; a Get brings it in), so the cache never holds a state older than the
// store's. A Get that misses reads the engine without the shard lock and
// then fills the cache only if no write to the shard began or ended
// meanwhile (the shard's generation is unchanged and no write is between
// its apply and its cache update), so a fill never brings back a state a
// write replaced, nor puts an old state in the cache while readers of the
// engine already see the new one. Transactions read their snapshot, never the
// cache; iterations (Scan, backup, lifecycle passes) read the engine.
//
// The cache also knows keys that have no record: a write that deletes a key
// leaves an absent entry in its place, and a Get that finds nothing fills
// one while the shard has room. A key overwritten many times and then
// deleted is the costliest engine read there is (the engine's lookup steps
// over every shadowed version of the key until its memtable is flushed):
// an emptied collection that clients keep popping from, a lock key set and
// deleted in a loop. Absent entries answer those without the engine.
//
// The size is bounded per shard (RecordCacheSize / numShards). When a
// shard is over its bound, entries are evicted in the map's random order,
// sparing once those read since the last pass (a CLOCK approximation).

// cacheEntry is a cached data record. value is nil when the value was too
// large to cache (vlen is its length); entries are never changed in place,
// only replaced, so a value may be read after the lock is released.
type cacheEntry struct {
	key    string // its key in the cache's map
	hdr    keyspace.Header
	value  []byte
	vlen   int
	hasVal bool
	absent bool        // the key has no record (hdr and value are zero)
	ref    atomic.Bool // read since the last eviction pass

	// Tracked reads of the key not yet flushed: a Get of a cached key
	// counts here, without a lock or an allocation (see trackEntry).
	reads atomic.Uint64
	last  atomic.Int64 // the latest of them, Unix ms
}

// cacheEntryOverhead approximates the memory of an entry besides its key
// and value: the entry, the map slot and the key's string header.
const cacheEntryOverhead = 96

func (e *cacheEntry) size(key string) int64 {
	return int64(len(key) + len(e.value) + cacheEntryOverhead)
}

// recordCache is one shard's cache.
type recordCache struct {
	mu      sync.RWMutex // guards m, bytes, gen, writing, misses
	m       map[string]*cacheEntry
	bytes   int64
	gen     uint64 // counts the writes to the shard's keys, for fills
	writing int    // writes between their apply and their cache update
	misses  uint32 // Get misses while full, for fillAdmit
}

// fillAdmit is how many Get misses of a full shard it takes to admit one
// fill: a key read often gets in after a few reads, while a uniform stream
// of reads over more keys than the cache holds (where caching cannot pay)
// evicts and allocates for one miss in fillAdmit only.
const fillAdmit = 8

// cacheOn reports whether the record cache is on.
func (db *DB) cacheOn() bool { return db.cacheMax > 0 }

// get returns key's entry if the cache can answer a Get: the key is cached
// with its value, or known to be absent. The entry may be read after the call (entries are never
// changed in place, but for their atomic counts). Otherwise it returns the
// shard's write generation, for a fill after the engine read (cacheFill).
func (c *recordCache) get(key []byte) (*cacheEntry, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.m[string(key)]
	if e == nil || !e.hasVal {
		return nil, c.gen
	}
	e.ref.Store(true)
	return e, 0
}

// peek returns key's entry for a writer (which holds the shard lock, so
// the entry cannot be replaced meanwhile), or nil.
func (c *recordCache) peek(key []byte) *cacheEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[string(key)]
}

// newEntry builds the entry of a record, keeping the value if it is at
// most valueMax bytes (copied).
func newEntry(hdr keyspace.Header, value []byte, valueMax int) *cacheEntry {
	if len(value) <= smallValue && len(value) <= valueMax {
		// One allocation for the entry and its value (counters, flags,
		// short strings).
		se := &smallEntry{cacheEntry: cacheEntry{hdr: hdr, vlen: len(value), hasVal: true}}
		se.value = append(se.buf[:0:len(value)], value...)
		return &se.cacheEntry
	}
	e := &cacheEntry{hdr: hdr, vlen: len(value)}
	if len(value) <= valueMax {
		e.value = append(make([]byte, 0, len(value)), value...)
		e.hasVal = true
	}
	return e
}

// smallValue is the largest value a cache entry holds in the same
// allocation as itself.
const smallValue = 24

// smallEntry is a cache entry with room for a small value.
type smallEntry struct {
	cacheEntry
	buf [smallValue]byte
}

// cacheFill caches a record read by a Get if no write to the shard happened
// since generation gen, and the key is not cached already.
func (db *DB) cacheFill(sh *shard, key []byte, hdr keyspace.Header, value []byte, gen uint64) {
	c := &sh.cache
	if !c.admitFill(key, int64(len(key)+len(value)+cacheEntryOverhead), db.cacheMax, gen, fillAdmit) {
		return
	}
	db.cacheFillEntry(sh, key, newEntry(hdr, value, db.opts.RecordCacheValueMax), gen)
}

// cacheFillAbsent caches that a Get found no record of key, on the terms of
// cacheFill, but only while the shard has room: a stream of reads of
// missing keys never evicts a record.
func (db *DB) cacheFillAbsent(sh *shard, key []byte, gen uint64) {
	if !sh.cache.admitFill(key, int64(len(key)+cacheEntryOverhead), db.cacheMax, gen, 0) {
		return
	}
	db.cacheFillEntry(sh, key, absentEntry(), gen)
}

func (db *DB) cacheFillEntry(sh *shard, key []byte, e *cacheEntry, gen uint64) {
	c := &sh.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.writing > 0 || c.m[string(key)] != nil {
		return
	}
	db.cacheInsertLocked(sh, string(key), e)
}

// absentEntry is the entry of a key without a record.
func absentEntry() *cacheEntry { return &cacheEntry{absent: true, hasVal: true} }

// cacheWriting marks a write to one of c's keys as begun: no fill until
// it ends with cacheSet or cacheDelete. The caller holds the shard lock.
func (c *recordCache) cacheWriting() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing++
}

// admitFill reports whether a fill of key (of about size bytes) read at
// generation gen may go in: no write began or ended since, the key is not
// cached, and a full shard admits one miss in every (none if every is 0).
func (c *recordCache) admitFill(key []byte, size, limit int64, gen uint64, every uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.writing > 0 || c.m[string(key)] != nil {
		return false
	}
	if c.bytes+size > limit {
		if every == 0 {
			return false
		}
		c.misses++
		return c.misses%every == 0
	}
	return true
}

// cacheSet records key's new record after a write began with cacheWriting
// and applied. keepReads carries the old entry's unflushed tracked reads
// over to the new one (an overwrite of a live key keeps its frequency);
// otherwise they are dropped (the key starts afresh). The caller holds the
// shard lock.
func (db *DB) cacheSet(sh *shard, key []byte, hdr keyspace.Header, value []byte, keepReads bool) {
	c := &sh.cache
	e := newEntry(hdr, value, db.opts.RecordCacheValueMax)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.writing--
	old := c.m[string(key)]
	if old == nil && c.bytes+e.size(string(key)) > db.cacheMax {
		// A write of a key the cache does not hold is admitted only while
		// there is room: a stream of new keys (a bulk load) then costs no
		// evictions; a read of the key brings it in.
		return
	}
	if old != nil {
		if n := old.reads.Swap(0); n > 0 && keepReads {
			e.reads.Store(n)
			e.last.Store(old.last.Load())
			sh.markTracked(e)
		}
	}
	db.cacheInsertLocked(sh, string(key), e)
}

// cacheDelete records that a write that began with cacheWriting removed
// key: its unflushed reads are dropped with it, and an absent entry takes
// its place if it was cached or the shard has room. The caller holds the
// shard lock.
func (db *DB) cacheDelete(sh *shard, key []byte) {
	c := &sh.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.writing--
	e := absentEntry()
	if old := c.m[string(key)]; old != nil {
		old.reads.Store(0)
	} else if c.bytes+e.size(string(key)) > db.cacheMax {
		return
	}
	db.cacheInsertLocked(sh, string(key), e)
}

// cacheForget forgets what the cache holds of key after a write whose
// outcome is unknown (it failed, or was interrupted: began, it began with
// cacheWriting) or that was made elsewhere (a replicated write, applied
// without cacheWriting): the key's unflushed reads go back to the shard's
// pending reads. The caller holds the shard lock.
func (db *DB) cacheForget(sh *shard, key []byte, began bool) {
	c := &sh.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if began {
		c.writing--
	}
	if old := c.m[string(key)]; old != nil {
		if n := old.reads.Swap(0); n > 0 {
			sh.addPending(old.key, access{count: n, last: old.last.Load()})
		}
		c.bytes -= old.size(string(key))
		db.st.cacheBytes.Add(-old.size(string(key)))
		db.st.cacheEntries.Add(-1)
		delete(c.m, string(key))
	}
}

func (db *DB) cacheInsertLocked(sh *shard, key string, e *cacheEntry) {
	c := &sh.cache
	if old := c.m[key]; old != nil {
		c.bytes -= old.size(key)
		db.st.cacheBytes.Add(-old.size(key))
	} else {
		db.st.cacheEntries.Add(1)
	}
	e.key = key
	c.m[key] = e
	c.bytes += e.size(key)
	db.st.cacheBytes.Add(e.size(key))
	if c.bytes > db.cacheMax {
		db.cacheEvictLocked(sh, key)
	}
}

// cacheEvictLocked evicts entries until the shard is within its bound,
// sparing keep and, on the first pass, the entries read since the last one.
// An evicted entry's unflushed reads move to the shard's pending reads.
func (db *DB) cacheEvictLocked(sh *shard, keep string) {
	c := &sh.cache
	for pass := 0; pass < 2 && c.bytes > db.cacheMax; pass++ {
		for k, e := range c.m {
			if c.bytes <= db.cacheMax {
				return
			}
			if k == keep || pass == 0 && e.ref.Swap(false) {
				continue
			}
			c.bytes -= e.size(k)
			db.st.cacheBytes.Add(-e.size(k))
			db.st.cacheEntries.Add(-1)
			delete(c.m, k)
			if n := e.reads.Swap(0); n > 0 {
				sh.addPending(k, access{count: n, last: e.last.Load()})
			}
		}
	}
}

// cacheDropNamespace forgets every cached key of namespace ns. The caller
// holds every shard lock.
func (db *DB) cacheDropNamespace(ns byte) {
	for i := range db.shards {
		db.cacheDropShardNamespace(&db.shards[i].cache, ns)
	}
}

// cacheDropShardNamespace forgets the cached keys of namespace ns in c.
func (db *DB) cacheDropShardNamespace(c *recordCache, ns byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		if k[0] == ns {
			e.reads.Store(0)
			c.bytes -= e.size(k)
			db.st.cacheBytes.Add(-e.size(k))
			db.st.cacheEntries.Add(-1)
			delete(c.m, k)
		}
	}
}

// cacheOp is a cache change a writeOp makes once its batch is applied.
type cacheOp struct {
	key       []byte
	hdr       keyspace.Header
	value     []byte
	del       bool
	keepReads bool // the key's unflushed reads survive the write
}

// Tracked reads. A Get of a cached key counts on the entry (atomic adds);
// the first count since the last flush puts the entry on the shard's
// tracked list, which the flush walks. A Get of a key the cache does not
// hold counts in the shard's pending map. Both take trackMu only for the
// list append and the map; neither takes the shard's writer lock.

// trackEntry counts one read of a cached key at now.
func (sh *shard) trackEntry(e *cacheEntry, now int64) {
	if e.reads.Add(1) == 1 {
		sh.markTracked(e)
	}
	for {
		l := e.last.Load()
		if now <= l || e.last.CompareAndSwap(l, now) {
			return
		}
	}
}

// markTracked puts e on the shard's tracked list.
func (sh *shard) markTracked(e *cacheEntry) {
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	sh.tracked = append(sh.tracked, e)
}

// addPending adds reads of key to the shard's pending map.
func (sh *shard) addPending(key string, a access) {
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	p := sh.pending[key]
	p.add(a.count, a.last)
	sh.pending[key] = p
}

// swapTracked takes the shard's pending map and tracked list, leaving
// empty ones (nil, nil if there is nothing).
func (sh *shard) swapTracked() (map[string]access, []*cacheEntry) {
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	pending, tracked := sh.pending, sh.tracked
	if len(pending) == 0 && len(tracked) == 0 {
		return nil, nil
	}
	sh.pending, sh.tracked = make(map[string]access, len(pending)), nil
	return pending, tracked
}

// takeTracked hands the shard's unflushed reads over to the caller (a
// flush): the pending map, with the counts of the listed cache entries
// moved into it, or nil if there are none.
func (sh *shard) takeTracked() map[string]access {
	pending, tracked := sh.swapTracked()
	if pending == nil {
		return nil
	}
	// An entry replaced or evicted since it was listed has handed its
	// counts on: it has none.
	for _, e := range tracked {
		if n := e.reads.Swap(0); n > 0 {
			a := pending[e.key]
			a.add(n, e.last.Load())
			pending[e.key] = a
		}
	}
	return pending
}

// copyTracked adds the shard's unflushed reads to into, leaving them in
// place (an entry listed twice is counted once).
func (sh *shard) copyTracked(into map[string]access) {
	sh.trackMu.Lock()
	defer sh.trackMu.Unlock()
	for k, a := range sh.pending {
		p := into[k]
		p.add(a.count, a.last)
		into[k] = p
	}
	seen := make(map[*cacheEntry]bool, len(sh.tracked))
	for _, e := range sh.tracked {
		if n := e.reads.Load(); n > 0 && !seen[e] {
			seen[e] = true
			p := into[e.key]
			p.add(n, e.last.Load())
			into[e.key] = p
		}
	}
}
