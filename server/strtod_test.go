package server

import (
	"math"
	"testing"
)

func TestParseStrtod(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", 0, true}, // strtod consumes nothing and ends on the NUL
		{"1", 1, true},
		{" \t1.5", 1.5, true},
		{"-2", -2, true},
		{"+3", 3, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"1e5", 1e5, true},
		{"0x1A", 26, true},
		{"0x1p3", 8, true},
		{"inf", math.Inf(1), true},
		{"-Infinity", math.Inf(-1), true},
		{"nan", 0, false},
		{"  ", 0, false},
		{"1 ", 0, false},
		{"+-1", 0, false},
		{"1e400", 0, false},
		{"0x", 0, false},
		{"abc", 0, false},
		{"1_000", 0, false},
	} {
		got, ok := parseStrtod([]byte(c.in))
		if ok != c.ok || ok && got != c.want {
			t.Errorf("parseStrtod(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseStrtod(f *testing.F) {
	for _, s := range []string{"", "1", " -2.5e3", "0x1A", "inf", "nan", "1e400", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := parseStrtod(b)
		if ok && math.IsNaN(v) {
			t.Fatalf("parseStrtod(%q) accepted NaN", b)
		}
		if !ok && v != 0 {
			t.Fatalf("parseStrtod(%q) failed with %v", b, v)
		}
	})
}
