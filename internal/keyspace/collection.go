package keyspace

import (
	"encoding/binary"
	"fmt"
)

// Collections. A collection (hash, set) is one key of the data keyspace
// whose record's first byte names its type, and whose value is the
// collection's header (Coll): its version, member count and member bytes.
// Its members live in their own keyspaces, keyed by (user key, version,
// member):
//
//	'c' members     c ‖ esc(user key) ‖ version (BE u64) ‖ member → member record
//	'f' field index f ‖ expires-at (BE u64) ‖ esc(user key) ‖ version ‖ field → empty
//
// esc is an order-preserving, self-delimiting encoding of the user key
// (0x00 → 0x00 0xff, terminated by 0x00 0x01), so that the members of one
// (key, version) are one contiguous range, and the members of the keys of
// one namespace (a user key's first byte) are one range too.

// Member keyspace prefixes.
const (
	PrefixMember     byte = 'c'
	PrefixFieldIndex byte = 'f'
)

// Type is the type of the value stored under a key. The first byte of a
// data record is 1 + its type: 1 for a string (the byte every record had
// before collections existed, so string records are unchanged), 2 for a
// hash, 3 for a set, 4 for a sorted set (zset.go), 5 for a list (list.go).
type Type uint8

// The types (TypeList is in list.go).
const (
	TypeString Type = 0
	TypeHash   Type = 1
	TypeSet    Type = 2
	TypeZSet   Type = 3
)

// Known reports whether t is a type this code reads: a record of another
// is corrupt (or written by a later build).
func (t Type) Known() bool { return t <= TypeList }

// IsCollection reports whether t keeps its members in the member keyspace.
func (t Type) IsCollection() bool { return t != TypeString }

// CollLen is the length of an encoded collection header (a list's is
// ListCollLen: its length says its form).
const CollLen = 8 + 8 + 8

// Coll is the value of a collection's data record.
type Coll struct {
	Version uint64 // names the collection's members: (key, Version, member)
	Count   int64  // member records stored (expired fields not yet swept included)
	Bytes   int64  // the length of their members and values
	// List marks a list's header, which holds its end positions too: its
	// items are at the positions Head … Head+Count-1 (list.go).
	List bool
	Head int64
}

// AppendColl appends the encoding of c to dst.
func AppendColl(dst []byte, c Coll) []byte {
	dst = binary.BigEndian.AppendUint64(dst, c.Version)
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Count))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Bytes))
	if c.List {
		dst = appendListEnds(dst, c)
	}
	return dst
}

// DecodeColl decodes a collection header (the value of its data record).
// DecodeCollOf checks its form against the record's type too.
func DecodeColl(b []byte) (Coll, error) {
	if len(b) != CollLen && len(b) != ListCollLen {
		return Coll{}, fmt.Errorf("collection header of %d bytes, want %d or %d: %w", len(b), CollLen, ListCollLen, ErrCorrupt)
	}
	c := Coll{
		Version: binary.BigEndian.Uint64(b[0:8]),
		Count:   int64(binary.BigEndian.Uint64(b[8:16])),
		Bytes:   int64(binary.BigEndian.Uint64(b[16:24])),
	}
	if c.Count <= 0 || c.Bytes < 0 {
		return Coll{}, fmt.Errorf("collection header with %d members and %d bytes: %w", c.Count, c.Bytes, ErrCorrupt)
	}
	if len(b) == ListCollLen {
		return decodeListEnds(c, b[CollLen:])
	}
	return c, nil
}

// DecodeCollOf decodes the header of a collection of type t: a list's
// must have the list form, any other's the plain one.
func DecodeCollOf(t Type, b []byte) (Coll, error) {
	c, err := DecodeColl(b)
	if err == nil && c.List != (t == TypeList) {
		return Coll{}, fmt.Errorf("collection header of %d bytes for a record of type %d: %w", len(b), t, ErrCorrupt)
	}
	return c, err
}

// appendEsc appends the order-preserving encoding of key.
func appendEsc(dst, key []byte) []byte {
	for _, b := range key {
		if b == 0 {
			dst = append(dst, 0, 0xff)
		} else {
			dst = append(dst, b)
		}
	}
	return append(dst, 0, 1)
}

// decodeEsc splits b into the key encoded at its start and the rest.
func decodeEsc(b []byte) (key, rest []byte, err error) {
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			key = append(key, b[i])
			continue
		}
		if i+1 >= len(b) {
			break
		}
		switch b[i+1] {
		case 0xff:
			key = append(key, 0)
			i++
		case 1:
			return key, b[i+2:], nil
		default:
			return nil, nil, fmt.Errorf("escaped key with 0x00 0x%02x: %w", b[i+1], ErrCorrupt)
		}
	}
	return nil, nil, fmt.Errorf("escaped key without terminator: %w", ErrCorrupt)
}

// MemberPrefix appends the prefix of the member keys of (key, version).
func MemberPrefix(dst, key []byte, version uint64) []byte {
	dst = append(dst, PrefixMember)
	dst = appendEsc(dst, key)
	return binary.BigEndian.AppendUint64(dst, version)
}

// MemberKey appends the member-keyspace key of member of (key, version).
func MemberKey(dst, key []byte, version uint64, member []byte) []byte {
	return append(MemberPrefix(dst, key, version), member...)
}

// MemberNSRange returns the range of member keys of every key of namespace
// ns (the user key's first byte).
func MemberNSRange(ns byte) (lo, hi []byte) {
	lo = []byte{PrefixMember, ns}
	if ns == 0xff {
		return lo, []byte{PrefixMember + 1}
	}
	return lo, []byte{PrefixMember, ns + 1}
}

// DecodeMemberKey splits a member key into user key, version and member.
// The member aliases k.
func DecodeMemberKey(k []byte) (key []byte, version uint64, member []byte, err error) {
	if len(k) < 1 || k[0] != PrefixMember {
		return nil, 0, nil, fmt.Errorf("member key of %d bytes: %w", len(k), ErrCorrupt)
	}
	key, rest, err := decodeEsc(k[1:])
	if err != nil {
		return nil, 0, nil, err
	}
	if len(key) == 0 || len(rest) < 8 {
		return nil, 0, nil, fmt.Errorf("member key too short: %w", ErrCorrupt)
	}
	return key, binary.BigEndian.Uint64(rest[:8]), rest[8:], nil
}

// FieldIndexKey appends the field-index key of (expiresAt, key, version,
// field): entries sort by deadline first, like the ttl index.
func FieldIndexKey(dst []byte, expiresAt int64, key []byte, version uint64, field []byte) []byte {
	dst = append(dst, PrefixFieldIndex)
	dst = binary.BigEndian.AppendUint64(dst, uint64(expiresAt))
	dst = appendEsc(dst, key)
	dst = binary.BigEndian.AppendUint64(dst, version)
	return append(dst, field...)
}

// FieldIndexBound returns the smallest field-index key with a deadline at
// or after expiresAt.
func FieldIndexBound(expiresAt int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{PrefixFieldIndex}, uint64(expiresAt))
}

// DecodeFieldIndexKey splits a field-index key. The field aliases k.
func DecodeFieldIndexKey(k []byte) (expiresAt int64, key []byte, version uint64, field []byte, err error) {
	if len(k) < 9 || k[0] != PrefixFieldIndex {
		return 0, nil, 0, nil, fmt.Errorf("field index key of %d bytes: %w", len(k), ErrCorrupt)
	}
	key, rest, err := decodeEsc(k[9:])
	if err != nil {
		return 0, nil, 0, nil, err
	}
	if len(key) == 0 || len(rest) < 8 {
		return 0, nil, 0, nil, fmt.Errorf("field index key too short: %w", ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(k[1:9])), key, binary.BigEndian.Uint64(rest[:8]), rest[8:], nil
}

// Member is a member record: a hash field's value and deadline (a set
// member has neither). A sorted set will keep its score here, and a score
// index of its own.
type Member struct {
	ExpiresAt int64 // 0 = never
	Value     []byte
}

// Expired reports whether the member is invisible at now.
func (m Member) Expired(now int64) bool { return m.ExpiresAt != 0 && now >= m.ExpiresAt }

// Member record flags (its first byte).
const (
	memberHasDeadline byte = 1 << iota
	memberFlags            = memberHasDeadline
)

// AppendMember appends the encoding of m: flags ‖ [expires-at] ‖ value.
func AppendMember(dst []byte, m Member) []byte {
	if m.ExpiresAt == 0 {
		dst = append(dst, 0)
	} else {
		dst = append(dst, memberHasDeadline)
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.ExpiresAt))
	}
	return append(dst, m.Value...)
}

// DecodeMember decodes a member record. Value aliases b.
func DecodeMember(b []byte) (Member, error) {
	if len(b) < 1 || b[0]&^memberFlags != 0 {
		return Member{}, fmt.Errorf("member record of %d bytes: %w", len(b), ErrCorrupt)
	}
	if b[0]&memberHasDeadline == 0 {
		return Member{Value: b[1:]}, nil
	}
	if len(b) < 9 {
		return Member{}, fmt.Errorf("member record with a truncated deadline: %w", ErrCorrupt)
	}
	m := Member{ExpiresAt: int64(binary.BigEndian.Uint64(b[1:9])), Value: b[9:]}
	if m.ExpiresAt <= 0 {
		return Member{}, fmt.Errorf("member record with deadline %d: %w", m.ExpiresAt, ErrCorrupt)
	}
	return m, nil
}
