package keyspace

import (
	"bytes"
	"errors"
	"testing"
)

func TestRecord_TypesRoundTrip(t *testing.T) {
	for _, typ := range []Type{TypeString, TypeHash, TypeSet, TypeZSet} {
		h := Header{CreatedAt: 1, UpdatedAt: 2, ExpiresAt: 3, Type: typ}
		v := AppendColl(nil, Coll{Version: 7, Count: 2, Bytes: 10})
		rec := AppendRecord(nil, h, v)
		if rec[0] != RecordVersion+byte(typ) {
			t.Fatalf("type %d: first byte %d", typ, rec[0])
		}
		gh, gv, err := DecodeRecord(rec)
		if err != nil || gh != h || !bytes.Equal(gv, v) {
			t.Fatalf("type %d: got %+v %x %v", typ, gh, gv, err)
		}
	}
	// A string record written before collections existed decodes as a string.
	old := append([]byte{1}, make([]byte, 24)...)
	if h, _, err := DecodeRecord(old); err != nil || h.Type != TypeString {
		t.Fatalf("old record: %+v %v", h, err)
	}
	if _, _, err := DecodeRecord(append([]byte{RecordVersion + byte(TypeList) + 1}, make([]byte, 24)...)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reserved type decoded: %v", err)
	}
}

func TestColl_RoundTripAndCorrupt(t *testing.T) {
	c := Coll{Version: 1 << 60, Count: 3, Bytes: 99}
	got, err := DecodeColl(AppendColl(nil, c))
	if err != nil || got != c {
		t.Fatalf("got %+v %v", got, err)
	}
	for _, b := range [][]byte{nil, make([]byte, 23), AppendColl(nil, Coll{Count: 0}), AppendColl(nil, Coll{Count: 1, Bytes: -1})} {
		if _, err := DecodeColl(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: err = %v, want ErrCorrupt", b, err)
		}
	}
}

func TestMemberKey_OrderAndRoundTrip(t *testing.T) {
	keys := [][]byte{{0}, {0, 0}, {0, 1}, {0, 0xff}, []byte("a"), []byte("a\x00"), []byte("a\x00b"), []byte("ab"), {0xff}}
	for i := 1; i < len(keys); i++ {
		a := MemberKey(nil, keys[i-1], 9, []byte("zz"))
		b := MemberKey(nil, keys[i], 1, nil)
		if bytes.Compare(a, b) >= 0 {
			t.Fatalf("member keys of %x and %x do not sort like the keys", keys[i-1], keys[i])
		}
	}
	for _, k := range keys {
		mk := MemberKey(nil, k, 42, []byte("m\x00"))
		gk, v, m, err := DecodeMemberKey(mk)
		if err != nil || !bytes.Equal(gk, k) || v != 42 || string(m) != "m\x00" {
			t.Fatalf("%x: %x %d %q %v", k, gk, v, m, err)
		}
		if !bytes.HasPrefix(mk, MemberPrefix(nil, k, 42)) {
			t.Fatal("a member key must start with its collection's prefix")
		}
		lo, hi := MemberNSRange(k[0])
		if bytes.Compare(mk, lo) < 0 || (hi != nil && bytes.Compare(mk, hi) >= 0) {
			t.Fatalf("member key %x outside its namespace range [%x, %x)", mk, lo, hi)
		}
	}
}

func TestFieldIndexKey_Order(t *testing.T) {
	a := FieldIndexKey(nil, 100, []byte("z"), 1, []byte("f"))
	b := FieldIndexKey(nil, 101, []byte("a"), 1, []byte("f"))
	if bytes.Compare(a, b) >= 0 || bytes.Compare(a, FieldIndexBound(101)) >= 0 || bytes.Compare(b, FieldIndexBound(101)) < 0 {
		t.Fatal("field index keys must sort by deadline first")
	}
}

func TestMember_RoundTrip(t *testing.T) {
	for _, m := range []Member{{}, {Value: []byte("v")}, {ExpiresAt: 1700000000000, Value: []byte{0, 1}}} {
		got, err := DecodeMember(AppendMember(nil, m))
		if err != nil || got.ExpiresAt != m.ExpiresAt || !bytes.Equal(got.Value, m.Value) {
			t.Fatalf("%+v: got %+v %v", m, got, err)
		}
	}
	for _, b := range [][]byte{nil, {2}, {1, 0, 0}, {1, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := DecodeMember(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: err = %v, want ErrCorrupt", b, err)
		}
	}
}

func TestEvent_FieldRoundTrip(t *testing.T) {
	e := EventRecord{Kind: 4, Time: 9, Key: []byte("h"), Header: Header{Type: TypeHash}, Field: []byte("f"), HasValue: true, Value: []byte("v")}
	got, err := DecodeEvent(AppendEvent(nil, e))
	if err != nil || string(got.Field) != "f" || string(got.Value) != "v" || got.Header.Type != TypeHash {
		t.Fatalf("got %+v %v", got, err)
	}
}

func FuzzDecodeColl(f *testing.F) {
	f.Add(AppendColl(nil, Coll{Version: 1, Count: 1, Bytes: 5}))
	f.Add([]byte{1, 2})
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
	})
}

func FuzzDecodeMember(f *testing.F) {
	f.Add(AppendMember(nil, Member{Value: []byte("v")}))
	f.Add(AppendMember(nil, Member{ExpiresAt: 1700000000000, Value: []byte("value")}))
	f.Add([]byte{})
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMember(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendMember(nil, m); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
	})
}

func FuzzDecodeMemberKey(f *testing.F) {
	f.Add(MemberKey(nil, []byte("key"), 7, []byte("member")))
	f.Add(MemberKey(nil, []byte{0, 0xff, 0}, 1<<63, nil))
	f.Add([]byte{PrefixMember, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		key, v, m, err := DecodeMemberKey(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := MemberKey(nil, key, v, m); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
	})
}

func FuzzDecodeFieldIndexKey(f *testing.F) {
	f.Add(FieldIndexKey(nil, 1700000000000, []byte("key"), 7, []byte("field")))
	f.Add(FieldIndexKey(nil, 0, []byte{0}, 0, nil))
	f.Add([]byte{PrefixFieldIndex})
	f.Fuzz(func(t *testing.T, b []byte) {
		exp, key, v, field, err := DecodeFieldIndexKey(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := FieldIndexKey(nil, exp, key, v, field); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
	})
}
