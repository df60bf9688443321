// Package keyspace defines how EpochDB lays its data out inside one Pebble
// database: the key prefixes of its keyspaces and the byte encoding of every
// record stored under them. It is the only package that knows the on-disk
// format; see docs/ARCHITECTURE.md for the layout as a table.
//
// Keyspaces (the first byte of every Pebble key):
//
//	'd' data   d ‖ user key                 → record header ‖ value
//	'm' meta   m ‖ user key                 → meta (frequency, last access)
//	't' ttl    t ‖ expires-at (BE u64) ‖ key → empty
//	's' system s ‖ name                      → system record (counters, format)
//	'e' events e ‖ sequence (BE u64)         → event record
//	'c' member c ‖ esc(key) ‖ version ‖ member → member record (collection.go)
//	'f' fields f ‖ expires-at ‖ esc(key) ‖ version ‖ field → empty
//	'z' scores z ‖ esc(key) ‖ version ‖ score ‖ member → empty (zset.go)
//
// All times are Unix milliseconds. Zero means "never" for deadlines.
package keyspace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Keyspace prefixes.
const (
	PrefixData byte = 'd'
	PrefixMeta byte = 'm'
	PrefixTTL  byte = 't'
	PrefixSys  byte = 's'
)

// ErrCorrupt is returned (wrapped) when stored bytes cannot be decoded.
var ErrCorrupt = errors.New("corrupt record")

// RecordVersion is the version byte that starts every data record and meta
// value written by this code.
const RecordVersion byte = 1

// HeaderLen is the length of a data record's header.
const HeaderLen = 1 + 8 + 8 + 8

// MetaLen is the length of an encoded meta value.
const MetaLen = 1 + 8 + 8 + 8

// DataKey appends the data-keyspace key for key to dst.
func DataKey(dst, key []byte) []byte {
	dst = append(dst, PrefixData)
	return append(dst, key...)
}

// MetaKey appends the meta-keyspace key for key to dst.
func MetaKey(dst, key []byte) []byte {
	dst = append(dst, PrefixMeta)
	return append(dst, key...)
}

// TTLKey appends the ttl-index key for (expiresAt, key) to dst. Entries sort
// by deadline first, so an iterator over the index visits keys in the order
// they expire.
func TTLKey(dst []byte, expiresAt int64, key []byte) []byte {
	dst = append(dst, PrefixTTL)
	dst = binary.BigEndian.AppendUint64(dst, uint64(expiresAt))
	return append(dst, key...)
}

// TTLBound returns the smallest ttl-index key whose deadline is at or after
// expiresAt; used as an exclusive upper bound when scanning for due keys.
func TTLBound(expiresAt int64) []byte {
	return TTLKey(make([]byte, 0, 9), expiresAt, nil)
}

// DecodeTTLKey splits a ttl-index key into its deadline and user key. The
// returned key aliases k.
func DecodeTTLKey(k []byte) (expiresAt int64, key []byte, err error) {
	if len(k) < 9 || k[0] != PrefixTTL {
		return 0, nil, fmt.Errorf("ttl index key of %d bytes: %w", len(k), ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(k[1:9])), k[9:], nil
}

// UserKey strips the one-byte keyspace prefix from a data or meta key.
func UserKey(k []byte) []byte { return k[1:] }

// SysKey returns the system-keyspace key for name.
func SysKey(name string) []byte { return append([]byte{PrefixSys}, name...) }

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, or nil if there is none (prefix is all 0xff).
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Header is the fixed-size prefix of every data record.
type Header struct {
	CreatedAt int64 // when the key was first written (since its last deletion)
	UpdatedAt int64 // when its value was last written
	ExpiresAt int64 // deadline; 0 = never expires
	Type      Type  // the record's first byte, less one: TypeString for every record written before collections
}

// Expired reports whether a key with this header is expired at now: a key is
// invisible from its deadline on.
func (h Header) Expired(now int64) bool { return h.ExpiresAt != 0 && now >= h.ExpiresAt }

// AppendRecord appends the data record for (h, value) to dst. The first
// byte is RecordVersion (1) for a string, 1 + h.Type for a collection,
// whose value is its Coll.
func AppendRecord(dst []byte, h Header, value []byte) []byte {
	dst = append(dst, RecordVersion+byte(h.Type))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.CreatedAt))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.UpdatedAt))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.ExpiresAt))
	return append(dst, value...)
}

// DecodeRecord splits a data record into its header and value. The value
// aliases rec.
func DecodeRecord(rec []byte) (Header, []byte, error) {
	if len(rec) < HeaderLen {
		return Header{}, nil, fmt.Errorf("data record of %d bytes, shorter than its %d-byte header: %w",
			len(rec), HeaderLen, ErrCorrupt)
	}
	if rec[0] < RecordVersion || !Type(rec[0]-RecordVersion).Known() {
		return Header{}, nil, fmt.Errorf("data record version %d, not a known type: %w", rec[0], ErrCorrupt)
	}
	h := Header{
		CreatedAt: int64(binary.BigEndian.Uint64(rec[1:9])),
		UpdatedAt: int64(binary.BigEndian.Uint64(rec[9:17])),
		ExpiresAt: int64(binary.BigEndian.Uint64(rec[17:25])),
		Type:      Type(rec[0] - RecordVersion),
	}
	if h.CreatedAt < 0 || h.UpdatedAt < 0 || h.ExpiresAt < 0 {
		return Header{}, nil, fmt.Errorf("data record with a negative timestamp: %w", ErrCorrupt)
	}
	return h, rec[HeaderLen:], nil
}

// Meta is the hot, frequently rewritten part of a key's metadata. The same
// encoding serves as a full value and as a merge operand (a delta): merging
// adds frequencies, keeps the latest access time and adds heats after
// decaying both to that time.
type Meta struct {
	Frequency  uint64
	LastAccess int64
	// Heat is the access count decayed with a half-life, as of LastAccess:
	// each access adds 1, and the sum halves every half-life.
	Heat float64
}

// Merge combines two meta values or deltas, decaying heat with the given
// half-life in milliseconds (<= 0: no decay). Frequency saturates at
// MaxUint64.
func (m Meta) Merge(o Meta, halfLifeMs int64) Meta {
	f := m.Frequency + o.Frequency
	if f < m.Frequency {
		f = math.MaxUint64
	}
	last := max(m.LastAccess, o.LastAccess)
	heat := Decay(m.Heat, last-m.LastAccess, halfLifeMs) + Decay(o.Heat, last-o.LastAccess, halfLifeMs)
	return Meta{Frequency: f, LastAccess: last, Heat: heat}
}

// HeatAt returns the key's heat decayed to now (Unix ms).
func (m Meta) HeatAt(now, halfLifeMs int64) float64 {
	if now < m.LastAccess {
		return m.Heat
	}
	return Decay(m.Heat, now-m.LastAccess, halfLifeMs)
}

// Decay returns heat after elapsedMs of exponential decay with the given
// half-life (<= 0: no decay).
func Decay(heat float64, elapsedMs, halfLifeMs int64) float64 {
	if heat == 0 || elapsedMs <= 0 || halfLifeMs <= 0 {
		return heat
	}
	return heat * math.Exp2(-float64(elapsedMs)/float64(halfLifeMs))
}

// AppendMeta appends the encoding of m to dst.
func AppendMeta(dst []byte, m Meta) []byte {
	dst = append(dst, RecordVersion)
	dst = binary.BigEndian.AppendUint64(dst, m.Frequency)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.LastAccess))
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(m.Heat))
}

// DecodeMeta decodes a meta value or merge operand.
func DecodeMeta(b []byte) (Meta, error) {
	if len(b) != MetaLen {
		return Meta{}, fmt.Errorf("meta value of %d bytes, want %d: %w", len(b), MetaLen, ErrCorrupt)
	}
	if b[0] != RecordVersion {
		return Meta{}, fmt.Errorf("meta value version %d, want %d: %w", b[0], RecordVersion, ErrCorrupt)
	}
	m := Meta{
		Frequency:  binary.BigEndian.Uint64(b[1:9]),
		LastAccess: int64(binary.BigEndian.Uint64(b[9:17])),
		Heat:       math.Float64frombits(binary.BigEndian.Uint64(b[17:25])),
	}
	if m.LastAccess < 0 {
		return Meta{}, fmt.Errorf("meta value with a negative access time: %w", ErrCorrupt)
	}
	if m.Heat < 0 || math.IsNaN(m.Heat) || math.IsInf(m.Heat, 0) {
		return Meta{}, fmt.Errorf("meta value with heat %v: %w", m.Heat, ErrCorrupt)
	}
	return m, nil
}

// AppendCounter appends the encoding of a system counter (or a delta to one).
func AppendCounter(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

// DecodeCounter decodes a system counter or a delta to one.
func DecodeCounter(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("counter of %d bytes, want 8: %w", len(b), ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// AppendCounters appends the encoding of a vector of counters (or of deltas
// to them): each as AppendCounter, so a single counter is a vector of one.
func AppendCounters(dst []byte, vs ...int64) []byte {
	for _, v := range vs {
		dst = AppendCounter(dst, v)
	}
	return dst
}

// DecodeCounters decodes a vector of counters into dst (reset first).
func DecodeCounters(dst []int64, b []byte) ([]int64, error) {
	if len(b) == 0 || len(b)%8 != 0 {
		return nil, fmt.Errorf("counter vector of %d bytes, want a positive multiple of 8: %w", len(b), ErrCorrupt)
	}
	dst = dst[:0]
	for ; len(b) > 0; b = b[8:] {
		dst = append(dst, int64(binary.BigEndian.Uint64(b)))
	}
	return dst, nil
}

// PrefixEvent is the keyspace of the durable event log:
//
//	'e' ‖ sequence (BE u64) → event record
const PrefixEvent byte = 'e'

// EventKey returns the event-log key of sequence number seq.
func EventKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{PrefixEvent}, seq)
}

// DecodeEventKey returns the sequence number of an event-log key.
func DecodeEventKey(k []byte) (uint64, error) {
	if len(k) != 9 || k[0] != PrefixEvent {
		return 0, fmt.Errorf("event key of %d bytes: %w", len(k), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// EventRecord is a lifecycle event as stored in the event log.
type EventRecord struct {
	Kind     uint8
	Time     int64 // when the key was retired, Unix ms
	Key      []byte
	Header   Header
	Meta     Meta
	HasValue bool
	Value    []byte
	// Field is the hash field of a field expiry (nil for a key's event).
	Field []byte
}

// AppendEvent appends the encoding of e to dst.
func AppendEvent(dst []byte, e EventRecord) []byte {
	dst = append(dst, RecordVersion, e.Kind)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Time))
	dst = AppendRecord(dst, e.Header, nil)
	dst = AppendMeta(dst, e.Meta)
	dst = binary.AppendUvarint(dst, uint64(len(e.Key)))
	dst = append(dst, e.Key...)
	// Flags: bit 0 a value follows (the rest of the record), bit 1 a field
	// precedes it (uvarint length ‖ field). Records without a field, the
	// only ones before collections, are unchanged.
	var flags byte
	if e.HasValue {
		flags |= eventHasValue
	}
	if e.Field != nil {
		flags |= eventHasField
	}
	dst = append(dst, flags)
	if e.Field != nil {
		dst = binary.AppendUvarint(dst, uint64(len(e.Field)))
		dst = append(dst, e.Field...)
	}
	if !e.HasValue {
		return dst
	}
	return append(dst, e.Value...)
}

// Event record flags.
const (
	eventHasValue byte = 1 << iota
	eventHasField
)

// uvarintLen is the length of the minimal uvarint encoding of v.
func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}

// DecodeEvent decodes an event record. Key and Value alias b.
func DecodeEvent(b []byte) (EventRecord, error) {
	const fixed = 2 + 8 + HeaderLen + MetaLen
	if len(b) < fixed+2 {
		return EventRecord{}, fmt.Errorf("event record of %d bytes: %w", len(b), ErrCorrupt)
	}
	if b[0] != RecordVersion {
		return EventRecord{}, fmt.Errorf("event record version %d, want %d: %w", b[0], RecordVersion, ErrCorrupt)
	}
	e := EventRecord{Kind: b[1], Time: int64(binary.BigEndian.Uint64(b[2:10]))}
	var err error
	if e.Header, _, err = DecodeRecord(b[10 : 10+HeaderLen]); err != nil {
		return EventRecord{}, err
	}
	if e.Meta, err = DecodeMeta(b[10+HeaderLen : fixed]); err != nil {
		return EventRecord{}, err
	}
	rest := b[fixed:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n >= uint64(len(rest)-w) {
		return EventRecord{}, fmt.Errorf("event record key length: %w", ErrCorrupt)
	}
	if w != uvarintLen(n) { // e.g. 0x80 0x00 for 0: one record, one encoding
		return EventRecord{}, fmt.Errorf("event record key length not minimally encoded: %w", ErrCorrupt)
	}
	rest = rest[w:]
	e.Key, rest = rest[:n], rest[n:]
	flags := rest[0]
	rest = rest[1:]
	if flags&^(eventHasValue|eventHasField) != 0 {
		return EventRecord{}, fmt.Errorf("event record value flag %d: %w", flags, ErrCorrupt)
	}
	if flags&eventHasField != 0 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) || w != uvarintLen(n) {
			return EventRecord{}, fmt.Errorf("event record field length: %w", ErrCorrupt)
		}
		e.Field = rest[w : w+int(n) : w+int(n)]
		rest = rest[w+int(n):]
	}
	if flags&eventHasValue != 0 {
		e.HasValue, e.Value = true, rest
	} else if len(rest) != 0 {
		return EventRecord{}, fmt.Errorf("event record with trailing bytes: %w", ErrCorrupt)
	}
	return e, nil
}
