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
// holds the shard locks, so the cache never holds a state older than the
// store's. A Get that misses reads the engine without the shard lock and
// then fills the cache only if no write to the shard began or ended
// meanwhile (the shard's generation is unchanged and no write is between
// its apply and its cache update), so a fill never brings back a state a
// write replaced, nor puts an old state in the cache while readers of the
// engine already see the new one. Transactions read their snapshot, never the
// cache; iterations (Scan, backup, lifecycle passes) read the engine.
//
// The size is bounded per shard (RecordCacheSize / numShards). When a
// shard is over its bound, entries are evicted in the map's random order,
// sparing once those read since the last pass (a CLOCK approximation).

// cacheEntry is a cached data record. value is nil when the value was too
// large to cache (vlen is its length); entries are never changed in place,
// only replaced, so a value may be read after the lock is released.
type cacheEntry struct {
	hdr    keyspace.Header
	value  []byte
	vlen   int
	hasVal bool
	ref    atomic.Bool // read since the last eviction pass
}

// cacheEntryOverhead approximates the memory of an entry besides its key
// and value: the entry, the map slot and the key's string header.
const cacheEntryOverhead = 96

func (e *cacheEntry) size(key string) int64 {
	return int64(len(key) + len(e.value) + cacheEntryOverhead)
}

// recordCache is one shard's cache.
type recordCache struct {
	mu      sync.RWMutex // guards m, bytes, gen, writing
	m       map[string]*cacheEntry
	bytes   int64
	gen     uint64 // counts the writes to the shard's keys, for fills
	writing int    // writes between their apply and their cache update
}

// cacheOn reports whether the record cache is on.
func (db *DB) cacheOn() bool { return db.cacheMax > 0 }

// cachedGet returns key's value (a copy) and header from the cache. ok is
// false when the cache cannot answer: the key is not cached, or only its
// header is.
func (c *recordCache) get(key []byte) (value []byte, hdr keyspace.Header, ok bool) {
	c.mu.RLock()
	e := c.m[string(key)]
	if e == nil || !e.hasVal {
		c.mu.RUnlock()
		return nil, keyspace.Header{}, false
	}
	e.ref.Store(true)
	c.mu.RUnlock()
	return append(make([]byte, 0, len(e.value)), e.value...), e.hdr, true
}

// generation returns the shard's write generation, to pass to fill.
func (c *recordCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
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
	e := &cacheEntry{hdr: hdr, vlen: len(value)}
	if len(value) <= valueMax {
		e.value = append(make([]byte, 0, len(value)), value...)
		e.hasVal = true
	}
	return e
}

// fill caches a record read by a Get if no write to the shard happened
// since generation gen, and the key is not cached already.
func (db *DB) cacheFill(c *recordCache, key []byte, hdr keyspace.Header, value []byte, gen uint64) {
	e := newEntry(hdr, value, db.opts.RecordCacheValueMax)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.writing > 0 || c.m[string(key)] != nil {
		return
	}
	db.cacheInsertLocked(c, string(key), e)
}

// cacheWriting marks a write to one of c's keys as begun: no fill until
// it ends with cacheSet or cacheDelete. The caller holds the shard lock.
func (c *recordCache) cacheWriting() {
	c.mu.Lock()
	c.writing++
	c.mu.Unlock()
}

// cacheSet records key's new record after a write began with cacheWriting
// and applied. The caller holds the shard lock.
func (db *DB) cacheSet(c *recordCache, key []byte, hdr keyspace.Header, value []byte) {
	e := newEntry(hdr, value, db.opts.RecordCacheValueMax)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.writing--
	db.cacheInsertLocked(c, string(key), e)
}

// cacheDelete forgets key after a write that began with cacheWriting
// removed it, or failed (its outcome unknown). The caller holds the shard
// lock.
func (db *DB) cacheDelete(c *recordCache, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.writing--
	if old := c.m[string(key)]; old != nil {
		c.bytes -= old.size(string(key))
		db.st.cacheBytes.Add(-old.size(string(key)))
		db.st.cacheEntries.Add(-1)
		delete(c.m, string(key))
	}
}

func (db *DB) cacheInsertLocked(c *recordCache, key string, e *cacheEntry) {
	if old := c.m[key]; old != nil {
		c.bytes -= old.size(key)
		db.st.cacheBytes.Add(-old.size(key))
	} else {
		db.st.cacheEntries.Add(1)
	}
	c.m[key] = e
	c.bytes += e.size(key)
	db.st.cacheBytes.Add(e.size(key))
	if c.bytes > db.cacheMax {
		db.cacheEvictLocked(c, key)
	}
}

// cacheEvictLocked evicts entries until the shard is within its bound,
// sparing keep and, on the first pass, the entries read since the last one.
func (db *DB) cacheEvictLocked(c *recordCache, keep string) {
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
		}
	}
}

// cacheDropNamespace forgets every cached key of namespace ns. The caller
// holds every shard lock.
func (db *DB) cacheDropNamespace(ns byte) {
	for i := range db.shards {
		c := &db.shards[i].cache
		c.mu.Lock()
		c.gen++
		for k, e := range c.m {
			if k[0] == ns {
				c.bytes -= e.size(k)
				db.st.cacheBytes.Add(-e.size(k))
				db.st.cacheEntries.Add(-1)
				delete(c.m, k)
			}
		}
		c.mu.Unlock()
	}
}

// cacheOp is a cache change a writeOp makes once its batch is applied.
type cacheOp struct {
	key   []byte
	hdr   keyspace.Header
	value []byte
	del   bool
}
