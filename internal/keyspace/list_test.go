package keyspace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestPosition_OrderAndRoundTrip(t *testing.T) {
	ps := []int64{math.MinInt64, -1 << 40, -2, -1, 0, 1, 2, 1 << 40, math.MaxInt64}
	for i, p := range ps {
		b := AppendPosition(nil, p)
		got, err := DecodePosition(b)
		if err != nil || got != p {
			t.Fatalf("%d: got %d %v", p, got, err)
		}
		if i > 0 && bytes.Compare(AppendPosition(nil, ps[i-1]), b) >= 0 {
			t.Fatalf("positions %d and %d do not sort as numbers", ps[i-1], p)
		}
	}
	for _, b := range [][]byte{nil, make([]byte, 7), make([]byte, 9)} {
		if _, err := DecodePosition(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: err = %v, want ErrCorrupt", b, err)
		}
	}
}

func TestListColl_RoundTripAndCorrupt(t *testing.T) {
	for _, c := range []Coll{
		{Version: 9, Count: 3, Bytes: 30, List: true, Head: -1},
		{Version: 1, Count: 1, Bytes: 8, List: true, Head: math.MaxInt64},
		{Version: 1, Count: 2, Bytes: 8, List: true, Head: math.MinInt64},
	} {
		b := AppendColl(nil, c)
		if len(b) != ListCollLen {
			t.Fatalf("%+v: %d bytes", c, len(b))
		}
		got, err := DecodeCollOf(TypeList, b)
		if err != nil || got != c {
			t.Fatalf("%+v: got %+v %v", c, got, err)
		}
		if _, err := DecodeCollOf(TypeHash, b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("a list header read as a hash's: %v", err)
		}
	}
	plain := AppendColl(nil, Coll{Version: 1, Count: 1, Bytes: 1})
	if _, err := DecodeCollOf(TypeList, plain); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a hash header read as a list's: %v", err)
	}
	// A tail that does not match the count, or a list past the last position.
	bad := AppendColl(nil, Coll{Version: 1, Count: 2, Bytes: 1, List: true, Head: 5})
	bad[len(bad)-1]++
	// Two items from the last position: the tail would wrap around.
	over := AppendColl(nil, Coll{Version: 1, Count: 2, Bytes: 1})
	over = binary.BigEndian.AppendUint64(over, math.MaxInt64)
	over = binary.BigEndian.AppendUint64(over, 1<<63)
	for _, b := range [][]byte{bad, over, make([]byte, ListCollLen), make([]byte, ListCollLen+1)} {
		if _, err := DecodeColl(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: err = %v, want ErrCorrupt", b, err)
		}
	}
}

func TestRecord_ListType(t *testing.T) {
	h := Header{CreatedAt: 1, Type: TypeList}
	rec := AppendRecord(nil, h, AppendColl(nil, Coll{Version: 1, Count: 1, Bytes: 9, List: true}))
	if rec[0] != 5 {
		t.Fatalf("first byte %d, want 5", rec[0])
	}
	if got, _, err := DecodeRecord(rec); err != nil || got != h {
		t.Fatalf("got %+v %v", got, err)
	}
	for _, first := range []byte{0, 6} {
		if _, _, err := DecodeRecord(append([]byte{first}, make([]byte, 24)...)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("first byte %d decoded: %v", first, err)
		}
	}
}

func FuzzDecodeListColl(f *testing.F) {
	f.Add(AppendColl(nil, Coll{Version: 1, Count: 3, Bytes: 27, List: true, Head: -1}))
	f.Add(AppendColl(nil, Coll{Version: 1, Count: 1, Bytes: 8, List: true, Head: math.MaxInt64}))
	f.Add(AppendColl(nil, Coll{Version: 1, Count: 1, Bytes: 8}))
	f.Add(make([]byte, ListCollLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeColl(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendColl(nil, c); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
		if c.List && c.Head+(c.Count-1) < c.Head {
			t.Fatalf("%+v: positions overflow", c)
		}
		typ := TypeHash
		if c.List {
			typ = TypeList
		}
		if _, err := DecodeCollOf(typ, b); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
	})
}

func FuzzDecodePosition(f *testing.F) {
	f.Add(AppendPosition(nil, 0))
	f.Add(AppendPosition(nil, math.MinInt64))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePosition(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendPosition(nil, p); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
	})
}
