package server

import (
	"math"
	"testing"
)

// FuzzZSetArgs feeds arbitrary bytes to the sorted set argument parsers:
// none panics; a score that parses is written back ("%.17g") as text that
// parses to the same score; a score ZADD accepts is a range bound with
// the same value too; a lex bound keeps its member.
func FuzzZSetArgs(f *testing.F) {
	for _, s := range []string{"1", "-2.5", "(3", "inf", "-INF", "+infinity", "0x1p3", "0X1.8P1", "1e400", "1e-400",
		"4.9e-324", " 1", "1 ", "", "(", "nan", "1_0", ".5", "5.", "[a", "(b", "-", "+", "+\x00", "1\x00x", "0x", "1e"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if f, ok := parseScore(b); ok {
			if math.IsNaN(f) {
				t.Fatalf("%q parsed as NaN", b)
			}
			text := appendScore(nil, f)
			if g, ok := parseScore(text); !ok || g != f {
				t.Fatalf("%q = %v, written %q, read back %v %v", b, f, text, g, ok)
			}
			if sb, ok := parseRangeScore(b); !ok || sb.Score != f || sb.Exclusive {
				t.Fatalf("%q is a score %v but a range bound %+v %v", b, f, sb, ok)
			}
		}
		if sb, ok := parseRangeScore(b); ok && math.IsNaN(sb.Score) {
			t.Fatalf("%q parsed as a NaN bound", b)
		}
		if lb, ok := parseLexBound(b); ok && lb.Inf == 0 && string(lb.Member) != string(b[1:]) {
			t.Fatalf("%q: lex bound %+v", b, lb)
		}
	})
}
