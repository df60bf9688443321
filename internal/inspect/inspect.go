// Package inspect computes what the epoch inspection commands show (stats
// and histograms, key listings, hot and cold keys, the prune preview, the
// consistency check) from an open *epochdb.DB, through the library's public
// API only. It is the one place these figures are computed: the CLI calls
// it on a store it opened itself (offline), the server's EPOCH.INSPECT
// command calls it for a client (online), and both encode the same JSON.
package inspect

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/glob"
)

// Request is one inspection. Offline the CLI passes it to Do; online it
// sends it as JSON to EPOCH.INSPECT, whose server passes it to Do.
type Request struct {
	// Op is stats, keys, hot, cold, expiring, get, meta, prune-preview,
	// check or live.
	Op string `json:"op"`
	// DB selects the server's logical database (0-15, the one-byte prefix
	// the server stores keys under); -1 means the library's keys as they
	// are (all of them for stats, hot, cold and keys).
	DB int `json:"db"`
	// Pattern is a Redis glob over the keys (keys; "" is every key).
	Pattern string `json:"pattern,omitempty"`
	// Key is the key of get and meta.
	Key string `json:"key,omitempty"`
	// Sort orders keys: key (default), heat, freq, ttl or age.
	Sort string `json:"sort,omitempty"`
	// Limit bounds the keys listed (keys, hot, cold, expiring,
	// prune-preview); 0 is DefaultLimit.
	Limit int `json:"limit,omitempty"`
	// SampleAbove is the number of keys above which hot, cold and expiring
	// sample the store instead of reading all of it; 0 is
	// DefaultSampleAbove. Stats samples only when it is set: above it, the
	// key counts come from the library's counters and the histograms from
	// a sample.
	SampleAbove int64 `json:"sample_above,omitempty"`
	// ValueMax, for get, truncates the value to this many bytes and
	// returns it base64-encoded (value_base64) instead of as a JSON string,
	// which cannot carry bytes that are not UTF-8.
	ValueMax int `json:"value_max,omitempty"`
}

// Defaults of Request's fields.
const (
	DefaultLimit       = 100
	DefaultSampleAbove = 100_000
	sampleRun          = 64 // keys read at each random start when sampling
)

// KeyInfo is one key with its metadata. Times are UTC; TTLMs is -1 for a
// key without deadline.
type KeyInfo struct {
	DB         int     `json:"db"`
	Key        string  `json:"key"`
	ValueBytes int     `json:"value_bytes"`
	Value      *string `json:"value,omitempty"` // get only
	// ValueBase64 is the value's first ValueMax bytes (get with value_max);
	// ValueTruncated says the value is longer.
	ValueBase64    *string    `json:"value_base64,omitempty"`
	ValueTruncated bool       `json:"value_truncated,omitempty"`
	Frequency      uint64     `json:"frequency"`
	Heat           float64    `json:"heat"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	LastAccess     time.Time  `json:"last_access"`
	ExpiresAt      *time.Time `json:"expires_at"`
	TTLMs          int64      `json:"ttl_ms"`
	AgeMs          int64      `json:"age_ms"`
}

// Bucket is one bar of a histogram: the keys whose figure falls in it.
type Bucket struct {
	Label string `json:"label"`
	Count int64  `json:"count"`
}

// Histogram counts keys by one figure.
type Histogram struct {
	Name    string   `json:"name"`
	Buckets []Bucket `json:"buckets"`
}

// DBCount is the key count of one logical database (-1: keys the server
// did not write).
type DBCount struct {
	DB          int   `json:"db"`
	Keys        int64 `json:"keys"`
	KeysWithTTL int64 `json:"keys_with_ttl"`
}

// Stats is the result of op stats.
type Stats struct {
	Now         time.Time   `json:"now"`
	Keys        int64       `json:"keys"` // live keys, by a scan
	KeysWithTTL int64       `json:"keys_with_ttl"`
	LiveBytes   int64       `json:"live_bytes"` // their keys' and values' lengths
	DiskBytes   uint64      `json:"disk_bytes"`
	CacheBytes  int64       `json:"cache_bytes"`
	Databases   []DBCount   `json:"databases"`
	Expired     uint64      `json:"expired"` // retired since the store was opened (by a server: since it started)
	Pruned      uint64      `json:"pruned"`
	Evicted     uint64      `json:"evicted"`
	Histograms  []Histogram `json:"histograms"` // ttl, age, frequency, heat
	// Sampled says the histograms count a random sample of Scanned keys
	// (a request's sample_above, on a bigger store), not every key.
	Sampled bool  `json:"sampled,omitempty"`
	Scanned int64 `json:"scanned"`
}

// Keys is the result of ops keys, hot and cold.
type Keys struct {
	Keys    []KeyInfo `json:"keys"`
	Matched int64     `json:"matched"` // keys that matched (of those read)
	Scanned int64     `json:"scanned"` // keys read
	Total   int64     `json:"total"`   // keys in the store (the library's counter)
	Sampled bool      `json:"sampled"` // read a random sample, not every key
}

// Preview is the result of op prune-preview.
type Preview struct {
	PruneTotal int       `json:"prune_total"`
	EvictTotal int       `json:"evict_total"`
	Prune      []KeyInfo `json:"prune"`
	Evict      []KeyInfo `json:"evict"`
}

// ErrNotFound is returned by get and meta for a missing key.
var ErrNotFound = epochdb.ErrNotFound

// Progress, if not nil, is called now and then with the keys read so far
// and the keys in the store, by the operations that walk the store.
type Progress func(done, total int64)

// Do runs req on db at time now and returns its result: *Stats, *Keys,
// *KeyInfo, *Preview, *epochdb.CheckReport or *Live.
func Do(db *epochdb.DB, req Request, now time.Time, progress Progress) (any, error) {
	if req.DB < -1 || req.DB > 255 {
		return nil, fmt.Errorf("db %d is out of range", req.DB)
	}
	if req.Limit <= 0 {
		req.Limit = DefaultLimit
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	switch req.Op {
	case "stats":
		return stats(db, req, now, progress)
	case "keys":
		return listKeys(db, req, now, progress)
	case "hot", "cold", "expiring":
		return hotCold(db, req, now, progress)
	case "live":
		return live(db, now)
	case "get", "meta":
		return getKey(db, req, now)
	case "prune-preview":
		p, err := db.Preview(req.Limit)
		if err != nil {
			return nil, err
		}
		out := &Preview{PruneTotal: p.PruneTotal, EvictTotal: p.EvictTotal, Prune: []KeyInfo{}, Evict: []KeyInfo{}}
		for _, c := range p.Prune {
			out.Prune = append(out.Prune, keyInfo(c.Key, -1, c.Metadata, now))
		}
		for _, c := range p.Evict {
			out.Evict = append(out.Evict, keyInfo(c.Key, -1, c.Metadata, now))
		}
		return out, nil
	case "check":
		r, err := db.Check()
		if err != nil {
			return nil, err
		}
		if r.Problems == nil {
			r.Problems = []string{}
		}
		return &r, nil
	}
	return nil, fmt.Errorf("unknown inspection %q (want stats, keys, hot, cold, expiring, get, meta, prune-preview, check or live)", req.Op)
}

// splitDB returns a stored key's logical database and its key within it:
// the server prefixes keys with one byte 0-15. Other keys are db -1.
func splitDB(k []byte) (int, []byte) {
	if len(k) > 0 && k[0] < 16 {
		return int(k[0]), k[1:]
	}
	return -1, k
}

// storedKey is the library key of key in database db (-1: as is).
func storedKey(db int, key []byte) []byte {
	if db < 0 {
		return key
	}
	return append([]byte{byte(db)}, key...)
}

func keyInfo(stored []byte, valueLen int, md epochdb.Metadata, now time.Time) KeyInfo {
	db, key := splitDB(stored)
	ki := KeyInfo{
		DB: db, Key: string(key), ValueBytes: valueLen, Frequency: md.Frequency, Heat: md.Heat,
		CreatedAt: md.CreatedAt.UTC(), UpdatedAt: md.UpdatedAt.UTC(), LastAccess: md.LastAccess.UTC(),
		TTLMs: -1, AgeMs: now.Sub(md.CreatedAt).Milliseconds(),
	}
	if !md.ExpiresAt.IsZero() {
		t := md.ExpiresAt.UTC()
		ki.ExpiresAt = &t
		ki.TTLMs = max(md.ExpiresAt.Sub(now).Milliseconds(), 0)
	}
	return ki
}

// The histograms' buckets: a figure falls in the first bucket whose bound
// it is below; the last bucket takes the rest.
var (
	durationBounds = []time.Duration{time.Minute, 10 * time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}
	durationLabels = []string{"<1m", "<10m", "<1h", "<1d", "<7d", "<30d", ">=30d"}
	freqBounds     = []float64{1, 2, 4, 16, 64, 256, 1024}
	freqLabels     = []string{"0", "1", "2-3", "4-15", "16-63", "64-255", "256-1023", ">=1024"}
	heatBounds     = []float64{0.01, 0.1, 0.5, 1, 2, 4, 16, 64}
	heatLabels     = []string{"<0.01", "<0.1", "<0.5", "<1", "<2", "<4", "<16", "<64", ">=64"}
)

func newHistogram(name string, labels []string) Histogram {
	h := Histogram{Name: name}
	for _, l := range labels {
		h.Buckets = append(h.Buckets, Bucket{Label: l})
	}
	return h
}

func bucketOf[T int64 | float64 | time.Duration](bounds []T, v T) int {
	for i, b := range bounds {
		if v < b {
			return i
		}
	}
	return len(bounds)
}

func stats(db *epochdb.DB, req Request, now time.Time, progress Progress) (*Stats, error) {
	st := db.Stats()
	s := &Stats{Now: now.UTC(), DiskBytes: st.DiskBytes, Expired: st.Expired, Pruned: st.Pruned, Evicted: st.Evicted}
	sampled := req.SampleAbove > 0 && st.Keys > req.SampleAbove
	if em, err := db.EngineMetrics(); err == nil {
		s.CacheBytes = em.BlockCacheBytes
	}
	ttl := newHistogram("ttl", append([]string{"none"}, durationLabels...))
	age := newHistogram("age", durationLabels)
	freq := newHistogram("frequency", freqLabels)
	heat := newHistogram("heat", heatLabels)
	perDB := map[int]*DBCount{}
	visit := func(key, value []byte, md epochdb.Metadata) error {
		s.Scanned++
		if sampled {
			ttlB, ageB, freqB, heatB := ttl.Buckets, age.Buckets, freq.Buckets, heat.Buckets
			if md.ExpiresAt.IsZero() {
				ttlB[0].Count++
			} else {
				ttlB[1+bucketOf(durationBounds, md.ExpiresAt.Sub(now))].Count++
			}
			ageB[bucketOf(durationBounds, now.Sub(md.CreatedAt))].Count++
			freqB[bucketOf(freqBounds, float64(md.Frequency))].Count++
			heatB[bucketOf(heatBounds, md.Heat)].Count++
			return nil
		}
		s.Keys++
		s.LiveBytes += int64(len(key) + len(value))
		d, _ := splitDB(key)
		c := perDB[d]
		if c == nil {
			c = &DBCount{DB: d}
			perDB[d] = c
		}
		c.Keys++
		if md.ExpiresAt.IsZero() {
			ttl.Buckets[0].Count++
		} else {
			s.KeysWithTTL++
			c.KeysWithTTL++
			ttl.Buckets[1+bucketOf(durationBounds, md.ExpiresAt.Sub(now))].Count++
		}
		age.Buckets[bucketOf(durationBounds, now.Sub(md.CreatedAt))].Count++
		freq.Buckets[bucketOf(freqBounds, float64(md.Frequency))].Count++
		heat.Buckets[bucketOf(heatBounds, md.Heat)].Count++
		if s.Keys%4096 == 0 {
			progress(s.Keys, st.Keys)
		}
		return nil
	}
	if sampled {
		// The counts from the library's counters (O(1)), the histograms
		// from runs of keys read at random starting points.
		s.Sampled = true
		s.Keys, s.KeysWithTTL, s.LiveBytes = st.Keys, st.KeysWithTTL, st.LiveBytes
		rest := DBCount{DB: -1, Keys: st.Keys, KeysWithTTL: st.KeysWithTTL}
		for i := range 16 {
			ns := db.Namespace(byte(i))
			rest.Keys -= ns.Keys
			rest.KeysWithTTL -= ns.KeysWithTTL
			if ns.Keys > 0 {
				perDB[i] = &DBCount{DB: i, Keys: ns.Keys, KeysWithTTL: ns.KeysWithTTL}
			}
		}
		if rest.Keys > 0 {
			perDB[-1] = &rest
		}
		// Each database in proportion to its keys (their key ranges are
		// apart: one random start over all of them would miss most).
		for d, c := range perDB {
			n := max(req.SampleAbove*c.Keys/st.Keys, 1)
			var prefix []byte
			if d >= 0 {
				prefix = []byte{byte(d)}
			}
			if err := sample(db, prefix, n, now, visit); err != nil {
				return nil, err
			}
		}
	} else if err := db.Scan(epochdb.ScanOptions{}, visit); err != nil {
		return nil, err
	} else {
		progress(s.Keys, st.Keys)
	}
	s.Databases = []DBCount{}
	for _, c := range perDB {
		s.Databases = append(s.Databases, *c)
	}
	slices.SortFunc(s.Databases, func(a, b DBCount) int { return a.DB - b.DB })
	s.Histograms = []Histogram{ttl, age, freq, heat}
	return s, nil
}

// less orders two keys by sort (ascending: the first listed first).
// heat and freq list the highest first, ttl the soonest deadline (keys
// without one last), age the oldest.
func lessFunc(sort string) (func(a, b *KeyInfo) int, error) {
	byKey := func(a, b *KeyInfo) int {
		if a.DB != b.DB {
			return a.DB - b.DB
		}
		return strings.Compare(a.Key, b.Key)
	}
	then := func(c int, a, b *KeyInfo) int {
		if c != 0 {
			return c
		}
		return byKey(a, b)
	}
	switch sort {
	case "", "key":
		return byKey, nil
	case "heat":
		return func(a, b *KeyInfo) int { return then(cmp.Compare(b.Heat, a.Heat), a, b) }, nil
	case "freq":
		return func(a, b *KeyInfo) int { return then(cmp.Compare(float64(b.Frequency), float64(a.Frequency)), a, b) }, nil
	case "ttl":
		return func(a, b *KeyInfo) int {
			ta, tb := a.TTLMs, b.TTLMs
			if ta < 0 {
				ta = 1<<63 - 1
			}
			if tb < 0 {
				tb = 1<<63 - 1
			}
			return then(cmp.Compare(float64(ta), float64(tb)), a, b)
		}, nil
	case "age":
		return func(a, b *KeyInfo) int { return then(cmp.Compare(float64(b.AgeMs), float64(a.AgeMs)), a, b) }, nil
	}
	return nil, fmt.Errorf("unknown sort %q (want key, heat, freq, ttl or age)", sort)
}

// topN keeps the first n keys by cmp out of those added.
type topN struct {
	n    int
	cmp  func(a, b *KeyInfo) int
	keys []KeyInfo
}

func (t *topN) add(k KeyInfo) {
	t.keys = append(t.keys, k)
	if len(t.keys) >= 2*t.n+64 {
		t.trim()
	}
}

func (t *topN) trim() {
	slices.SortFunc(t.keys, func(a, b KeyInfo) int { return t.cmp(&a, &b) })
	if len(t.keys) > t.n {
		t.keys = t.keys[:t.n]
	}
}

func listKeys(db *epochdb.DB, req Request, now time.Time, progress Progress) (*Keys, error) {
	cmp, err := lessFunc(req.Sort)
	if err != nil {
		return nil, err
	}
	total := db.Stats().Keys
	out := &Keys{Total: total}
	top := &topN{n: req.Limit, cmp: cmp}
	pattern := []byte(req.Pattern)
	prefix := storedKey(req.DB, nil)
	if req.DB >= 0 {
		prefix = append(prefix, glob.Prefix(pattern)...)
	}
	byKey := req.Sort == "" || req.Sort == "key"
	err = db.Scan(epochdb.ScanOptions{Prefix: prefix}, func(stored, value []byte, md epochdb.Metadata) error {
		out.Scanned++
		if out.Scanned%4096 == 0 {
			progress(out.Scanned, total)
		}
		_, key := splitDB(stored)
		if req.Pattern != "" && !glob.Match(pattern, key) {
			return nil
		}
		out.Matched++
		if byKey && len(top.keys) >= req.Limit {
			return nil // keep counting the matches
		}
		top.add(keyInfo(stored, len(value), md, now))
		return nil
	})
	if err != nil {
		return nil, err
	}
	progress(out.Scanned, total)
	top.trim()
	out.Keys = append([]KeyInfo{}, top.keys...)
	return out, nil
}

// hotCold lists the hottest (hot) or coldest (cold) keys by heat, or the
// keys whose deadline comes first (expiring). Up to SampleAbove keys it
// reads every key; above, it reads a sample of SampleAbove keys (see
// sample) and says so.
func hotCold(db *epochdb.DB, req Request, now time.Time, progress Progress) (*Keys, error) {
	if req.SampleAbove <= 0 {
		req.SampleAbove = DefaultSampleAbove
	}
	hottest, _ := lessFunc("heat")
	cmp := hottest
	switch req.Op {
	case "cold":
		cmp = func(a, b *KeyInfo) int { return hottest(b, a) }
	case "expiring":
		cmp, _ = lessFunc("ttl")
	}
	total := db.Stats().Keys
	out := &Keys{Total: total, Sampled: total > req.SampleAbove}
	top := &topN{n: req.Limit, cmp: cmp}
	prefix := storedKey(req.DB, nil)
	visit := func(stored, value []byte, md epochdb.Metadata) error {
		out.Scanned++
		if out.Scanned%4096 == 0 {
			progress(out.Scanned, min(total, req.SampleAbove))
		}
		if req.Op == "expiring" && md.ExpiresAt.IsZero() {
			return nil
		}
		out.Matched++
		top.add(keyInfo(stored, len(value), md, now))
		return nil
	}
	if !out.Sampled {
		if err := db.Scan(epochdb.ScanOptions{Prefix: prefix}, visit); err != nil {
			return nil, err
		}
	} else if err := sample(db, prefix, req.SampleAbove, now, visit); err != nil {
		return nil, err
	}
	progress(out.Scanned, min(total, req.SampleAbove))
	top.trim()
	out.Keys = append([]KeyInfo{}, top.keys...)
	return out, nil
}

// sample calls visit for about n keys under prefix, read in runs of
// sampleRun keys from random starting points, as eviction samples; a key
// is visited at most once.
func sample(db *epochdb.DB, prefix []byte, n int64, now time.Time, visit func(k, v []byte, md epochdb.Metadata) error) error {
	rng := rand.New(rand.NewPCG(uint64(now.UnixNano()), 0))
	seen := map[string]bool{}
	var read int64
	var last []byte // the greatest key read
	once := func(k, v []byte, md epochdb.Metadata) error {
		if seen[string(k)] {
			return epochdb.ErrStopScan // ran into a run read before
		}
		seen[string(k)] = true
		if bytes.Compare(k, last) > 0 {
			last = bytes.Clone(k)
		}
		read++
		return visit(k, v, md)
	}
	for tries := int64(0); read < n && tries < n; tries++ {
		start := append(bytes.Clone(prefix), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)))
		before := read
		if err := db.Scan(epochdb.ScanOptions{Prefix: prefix, After: start, Limit: sampleRun}, once); err != nil {
			return err
		}
		if got := read - before; got < sampleRun {
			// The start was past the last key, or in a run read before
			// (keys bunched in a narrow range): the run goes on after the
			// greatest key read, or from the first.
			if err := db.Scan(epochdb.ScanOptions{Prefix: prefix, After: last, Limit: int(sampleRun - got)}, once); err != nil {
				return err
			}
			if read == before {
				if err := db.Scan(epochdb.ScanOptions{Prefix: prefix, Limit: sampleRun}, once); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func getKey(db *epochdb.DB, req Request, now time.Time) (*KeyInfo, error) {
	stored := storedKey(req.DB, []byte(req.Key))
	var (
		ki    *KeyInfo
		found bool
	)
	// One snapshot for value and metadata, and no access counted: a scan
	// of exactly this key.
	err := db.Scan(epochdb.ScanOptions{Prefix: stored, Limit: 1}, func(k, v []byte, md epochdb.Metadata) error {
		if !bytes.Equal(k, stored) {
			return epochdb.ErrStopScan
		}
		found = true
		info := keyInfo(k, len(v), md, now)
		if req.DB < 0 {
			info.DB, info.Key = -1, string(k)
		}
		switch {
		case req.Op == "get" && req.ValueMax > 0:
			b := base64.StdEncoding.EncodeToString(v[:min(len(v), req.ValueMax)])
			info.ValueBase64, info.ValueTruncated = &b, len(v) > req.ValueMax
		case req.Op == "get":
			s := string(v)
			info.Value = &s
		}
		ki = &info
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, req.Key)
	}
	return ki, nil
}

// IsNotFound reports whether err is a missing key's.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
