package keyspace

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestScore_OrderAndRoundTrip(t *testing.T) {
	scores := []float64{math.Inf(-1), -math.MaxFloat64, -1e20, -1.5, -1, -math.SmallestNonzeroFloat64, 0,
		math.SmallestNonzeroFloat64, 0.1, 1, 1.5, 2, 1e20, math.MaxFloat64, math.Inf(1)}
	var prev []byte
	for _, f := range scores {
		b := AppendScore(nil, f)
		if prev != nil && bytes.Compare(prev, b) >= 0 {
			t.Fatalf("encoding of %v does not sort after the one before", f)
		}
		prev = b
		got, err := DecodeScore(b)
		if err != nil || got != f {
			t.Fatalf("%v: decoded %v %v", f, got, err)
		}
	}
	// -0 is stored as 0.
	if !bytes.Equal(AppendScore(nil, math.Copysign(0, -1)), AppendScore(nil, 0)) {
		t.Fatal("-0 and 0 encode differently")
	}
	nan := []byte{0xff, 0xf8, 0, 0, 0, 0, 0, 0}
	negZero := []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	for _, b := range [][]byte{nil, make([]byte, 7), make([]byte, 9), nan, negZero} {
		if _, err := DecodeScore(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: err = %v, want ErrCorrupt", b, err)
		}
	}
}

func TestScoreKey_OrderAndRoundTrip(t *testing.T) {
	type entry struct {
		score  float64
		member string
	}
	entries := []entry{{-1, "z"}, {0, ""}, {0, "a"}, {0, "a\x00"}, {0, "b"}, {2.5, "a"}, {math.Inf(1), "a"}}
	var keys [][]byte
	for _, e := range entries {
		keys = append(keys, ScoreKey(nil, []byte("k\x00"), 7, e.score, []byte(e.member)))
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Fatal("score keys do not sort by score, then member")
	}
	for i, k := range keys {
		key, ver, score, m, err := DecodeScoreKey(k)
		if err != nil || string(key) != "k\x00" || ver != 7 || score != entries[i].score || string(m) != entries[i].member {
			t.Fatalf("%x: %q %d %v %q %v", k, key, ver, score, m, err)
		}
		if !bytes.HasPrefix(k, ScorePrefix(nil, []byte("k\x00"), 7)) {
			t.Fatal("a score key must start with its sorted set's prefix")
		}
		lo, hi := ScoreNSRange('k')
		if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Fatalf("score key %x outside its namespace range [%x, %x)", k, lo, hi)
		}
	}
	for _, k := range [][]byte{nil, {PrefixScoreIndex}, MemberKey(nil, []byte("k"), 1, []byte("m")), ScorePrefix(nil, []byte("k"), 1),
		append(ScorePrefix(nil, []byte("k"), 1), 1, 2, 3), append(ScorePrefix(nil, nil, 1), AppendScore(nil, 1)...)} {
		if _, _, _, _, err := DecodeScoreKey(k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: err = %v, want ErrCorrupt", k, err)
		}
	}
}

// FuzzDecodeScore checks that any 8 bytes either decode to a score that
// encodes back to them or are rejected, and that the order of encodings is
// the order of the scores.
func FuzzDecodeScore(f *testing.F) {
	for _, s := range []float64{0, -1, 1.5, math.Inf(1), math.Inf(-1), 1e-300} {
		f.Add(AppendScore(nil, s), AppendScore(nil, -s))
	}
	f.Add([]byte{0xff, 0xf8, 0, 0, 0, 0, 0, 0}, []byte{1})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fa, erra := DecodeScore(a)
		fb, errb := DecodeScore(b)
		if erra == nil && !bytes.Equal(AppendScore(nil, fa), a) {
			t.Fatalf("%x decodes to %v, which encodes differently", a, fa)
		}
		if erra == nil && errb == nil {
			if c := bytes.Compare(a, b); (c < 0) != (fa < fb) || (c == 0) != (fa == fb) {
				t.Fatalf("order of %x (%v) and %x (%v) differs", a, fa, b, fb)
			}
		}
	})
}

// FuzzDecodeScoreKey checks that arbitrary bytes never panic the decoder,
// and that a decoded key encodes back to the same bytes.
func FuzzDecodeScoreKey(f *testing.F) {
	f.Add(ScoreKey(nil, []byte("k"), 1, 2.5, []byte("m")))
	f.Add(ScoreKey(nil, []byte{0, 0xff, 0}, 1<<60, math.Inf(-1), nil))
	f.Add([]byte{PrefixScoreIndex, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		key, ver, score, m, err := DecodeScoreKey(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if again := ScoreKey(nil, key, ver, score, m); !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to (%q, %d, %v, %q), which encodes to %x", b, key, ver, score, m, again)
		}
	})
}
