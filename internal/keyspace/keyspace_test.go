package keyspace

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestRecord_RoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     Header
		value []byte
	}{
		{"empty value", Header{CreatedAt: 1, UpdatedAt: 2}, []byte{}},
		{"with deadline", Header{CreatedAt: 1700000000000, UpdatedAt: 1700000000001, ExpiresAt: 1700000005000}, []byte("v")},
		{"binary value", Header{}, []byte{0, 0xff, 0, 'x'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := AppendRecord(nil, tc.h, tc.value)
			h, v, err := DecodeRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			if h != tc.h || !bytes.Equal(v, tc.value) {
				t.Fatalf("got %+v %q, want %+v %q", h, v, tc.h, tc.value)
			}
		})
	}
}

func TestDecodeRecord_Corrupt(t *testing.T) {
	good := AppendRecord(nil, Header{CreatedAt: 5}, []byte("v"))
	bad := [][]byte{nil, good[:HeaderLen-1], append([]byte{9}, good[1:]...)}
	neg := append([]byte(nil), good...)
	neg[17] = 0x80 // negative ExpiresAt
	bad = append(bad, neg)
	for i, b := range bad {
		if _, _, err := DecodeRecord(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("case %d: err = %v, want ErrCorrupt", i, err)
		}
	}
}

func TestHeader_Expired(t *testing.T) {
	h := Header{ExpiresAt: 100}
	if h.Expired(99) || !h.Expired(100) || !h.Expired(101) {
		t.Fatal("a key must be visible before its deadline and invisible from it on")
	}
	if (Header{}).Expired(math.MaxInt64) {
		t.Fatal("a key without deadline never expires")
	}
}

func TestTTLKey_OrderAndRoundTrip(t *testing.T) {
	a := TTLKey(nil, 100, []byte("z"))
	b := TTLKey(nil, 101, []byte("a"))
	if bytes.Compare(a, b) >= 0 {
		t.Fatal("ttl keys must sort by deadline first")
	}
	if bytes.Compare(a, TTLBound(101)) >= 0 || bytes.Compare(b, TTLBound(101)) < 0 {
		t.Fatal("TTLBound(101) must separate deadline 100 from 101")
	}
	exp, key, err := DecodeTTLKey(b)
	if err != nil || exp != 101 || string(key) != "a" {
		t.Fatalf("DecodeTTLKey = %d %q %v", exp, key, err)
	}
}

func TestMeta_Merge(t *testing.T) {
	m := Meta{Frequency: 3, LastAccess: 10}.Merge(Meta{Frequency: 2, LastAccess: 5}, 0)
	if m != (Meta{Frequency: 5, LastAccess: 10}) {
		t.Fatalf("merge = %+v", m)
	}
	if s := (Meta{Frequency: math.MaxUint64}).Merge(Meta{Frequency: 1}, 0); s.Frequency != math.MaxUint64 {
		t.Fatalf("frequency must saturate, got %d", s.Frequency)
	}
	// Heat: 4 as of t=0 and 1 as of t=1000 with a 1000ms half-life merge to
	// 4/2 + 1 = 3 as of t=1000, in either order.
	a, b := Meta{LastAccess: 0, Heat: 4}, Meta{LastAccess: 1000, Heat: 1}
	for _, m := range []Meta{a.Merge(b, 1000), b.Merge(a, 1000)} {
		if m.LastAccess != 1000 || math.Abs(m.Heat-3) > 1e-12 {
			t.Fatalf("heat merge = %+v, want 3 at 1000", m)
		}
	}
	if h := (Meta{LastAccess: 1000, Heat: 3}).HeatAt(3000, 1000); math.Abs(h-0.75) > 1e-12 {
		t.Fatalf("HeatAt two half-lives later = %v, want 0.75", h)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte("ab"), []byte("ac")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0xff, 0xff}, nil},
	} {
		if got := PrefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzDecodeRecord checks that arbitrary bytes never panic the decoder and
// that whatever decodes re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, Header{CreatedAt: 1, UpdatedAt: 2, ExpiresAt: 3}, []byte("value")))
	f.Add([]byte{})
	f.Add([]byte{RecordVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, v, err := DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendRecord(nil, h, v); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(AppendMeta(nil, Meta{Frequency: 7, LastAccess: 1700000000000, Heat: 2.5}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendMeta(nil, m); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
	})
}

func FuzzDecodeCounters(f *testing.F) {
	f.Add(AppendCounters(nil, 3, -1, 1<<40))
	f.Add(AppendCounter(nil, 9))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		vs, err := DecodeCounters(nil, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendCounters(nil, vs...); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
	})
}

func FuzzTTLKey(f *testing.F) {
	f.Add(int64(1700000000000), []byte("key"))
	f.Add(int64(0), []byte{})
	f.Fuzz(func(t *testing.T, exp int64, key []byte) {
		k := TTLKey(nil, exp, key)
		gotExp, gotKey, err := DecodeTTLKey(k)
		if err != nil || gotExp != exp || !bytes.Equal(gotKey, key) {
			t.Fatalf("round trip of (%d, %x) = (%d, %x, %v)", exp, key, gotExp, gotKey, err)
		}
		// Decoding arbitrary bytes must not panic.
		_, _, _ = DecodeTTLKey(key)
	})
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(AppendEvent(nil, EventRecord{Kind: 1, Time: 5, Key: []byte("k"), Header: Header{CreatedAt: 1, ExpiresAt: 5},
		Meta: Meta{Frequency: 3, LastAccess: 4, Heat: 1.5}}))
	f.Add(AppendEvent(nil, EventRecord{Kind: 2, Key: []byte("key"), HasValue: true, Value: []byte("value")}))
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendEvent(nil, e); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding %x gave %x", b, got)
		}
	})
}
