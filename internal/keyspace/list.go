package keyspace

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Lists. A list is a collection (record type TypeList) whose members are
// its items, keyed by position:
//
//	'c' members  c ‖ esc(user key) ‖ version ‖ position (8 B) → member record (the item)
//
// A position is an int64 stored big-endian with its sign bit flipped, so
// that positions sort as numbers. The items of a list are at the dense
// positions Head … Head+Count-1: the first is at Head, the i-th at
// Head+i. A push at the front takes Head-1, a push at the back
// Head+Count; a pop frees an end. So reaching an item by index, pushing
// and popping are one point read or write each, and a range of items is
// one iteration. A new list starts at position 0.
//
// A list's header is the collection header followed by its head and tail
// positions (the first and the last item's), 40 bytes: its length says
// its form, so the headers of hashes and sets are unchanged. The tail is
// redundant (Head+Count-1) and is checked on decoding.

// TypeList is the type of a list.
const TypeList Type = 4

// ListCollLen is the length of an encoded list header.
const ListCollLen = CollLen + 8 + 8

// PositionLen is the length of an encoded list position.
const PositionLen = 8

// AppendPosition appends the order-preserving encoding of position p.
func AppendPosition(dst []byte, p int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(p)^(1<<63))
}

// DecodePosition decodes a list position (the member part of an item's
// member key).
func DecodePosition(b []byte) (int64, error) {
	if len(b) != PositionLen {
		return 0, fmt.Errorf("list position of %d bytes, want %d: %w", len(b), PositionLen, ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)), nil
}

// appendListEnds appends a list header's head and tail positions.
func appendListEnds(dst []byte, c Coll) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Head))
	return binary.BigEndian.AppendUint64(dst, uint64(c.Head+c.Count-1))
}

// decodeListEnds completes the list header c (Count > 0) from its ends b.
func decodeListEnds(c Coll, b []byte) (Coll, error) {
	head := int64(binary.BigEndian.Uint64(b[0:8]))
	tail := int64(binary.BigEndian.Uint64(b[8:16]))
	if head > math.MaxInt64-(c.Count-1) || tail != head+c.Count-1 {
		return Coll{}, fmt.Errorf("list header with %d items from position %d to %d: %w", c.Count, head, tail, ErrCorrupt)
	}
	c.List, c.Head = true, head
	return c, nil
}
