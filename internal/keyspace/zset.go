package keyspace

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Sorted sets. A sorted set (TypeZSet) is a collection like a hash or a set:
// its members live in the member keyspace, and a member record's value is
// the member's score (8 bytes, AppendScore). A score index orders the
// members by score, then member, for range queries by score and by rank:
//
//	'z' score index z ‖ esc(user key) ‖ version (BE u64) ‖ score (8 B) ‖ member → empty
//
// The member keyspace itself orders them by member (byte order), which is
// what ranges by member (Redis's lex ranges) walk.
//
// A score is encoded so that the byte order of encodings is the numeric
// order of scores: the IEEE 754 bits, big-endian, with the sign bit
// flipped for positive numbers and every bit flipped for negative ones
// (so -inf < negative < 0 < positive < +inf). -0 is stored as 0 (Redis
// reports both as 0 and orders them as equal), and NaN is never stored.

// PrefixScoreIndex is the score index's keyspace prefix.
const PrefixScoreIndex byte = 'z'

// ScoreLen is the length of an encoded score.
const ScoreLen = 8

// AppendScore appends the order-preserving encoding of f, which must not be
// NaN; -0 is encoded as 0.
func AppendScore(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 sorts and reads as 0
	}
	b := math.Float64bits(f)
	if b>>63 != 0 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, b)
}

// DecodeScore decodes an encoded score. The encodings of NaN and of -0,
// which are never written, are corrupt.
func DecodeScore(b []byte) (float64, error) {
	if len(b) != ScoreLen {
		return 0, fmt.Errorf("score of %d bytes, want %d: %w", len(b), ScoreLen, ErrCorrupt)
	}
	u := binary.BigEndian.Uint64(b)
	if u>>63 != 0 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	f := math.Float64frombits(u)
	if math.IsNaN(f) || (f == 0 && math.Signbit(f)) {
		return 0, fmt.Errorf("score encoding %x (%v): %w", b, f, ErrCorrupt)
	}
	return f, nil
}

// ScorePrefix appends the prefix of the score-index keys of (key, version).
func ScorePrefix(dst, key []byte, version uint64) []byte {
	dst = append(dst, PrefixScoreIndex)
	dst = appendEsc(dst, key)
	return binary.BigEndian.AppendUint64(dst, version)
}

// ScoreKey appends the score-index key of member with score of (key,
// version).
func ScoreKey(dst, key []byte, version uint64, score float64, member []byte) []byte {
	dst = ScorePrefix(dst, key, version)
	dst = AppendScore(dst, score)
	return append(dst, member...)
}

// DecodeScoreKey splits a score-index key into user key, version, score
// and member. The member aliases k.
func DecodeScoreKey(k []byte) (key []byte, version uint64, score float64, member []byte, err error) {
	if len(k) < 1 || k[0] != PrefixScoreIndex {
		return nil, 0, 0, nil, fmt.Errorf("score index key of %d bytes: %w", len(k), ErrCorrupt)
	}
	key, rest, err := decodeEsc(k[1:])
	if err != nil {
		return nil, 0, 0, nil, err
	}
	if len(key) == 0 || len(rest) < 8+ScoreLen {
		return nil, 0, 0, nil, fmt.Errorf("score index key too short: %w", ErrCorrupt)
	}
	score, err = DecodeScore(rest[8 : 8+ScoreLen])
	if err != nil {
		return nil, 0, 0, nil, err
	}
	return key, binary.BigEndian.Uint64(rest[:8]), score, rest[8+ScoreLen:], nil
}

// ScoreNSRange returns the range of score-index keys of every key of
// namespace ns (the user key's first byte).
func ScoreNSRange(ns byte) (lo, hi []byte) { return nsRange(PrefixScoreIndex, ns) }

// nsRange returns the range of the keys of keyspace prefix whose escaped
// user key starts with ns.
func nsRange(prefix, ns byte) (lo, hi []byte) {
	lo = []byte{prefix, ns}
	if ns == 0xff {
		return lo, []byte{prefix + 1}
	}
	return lo, []byte{prefix, ns + 1}
}
