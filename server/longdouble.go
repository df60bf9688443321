package server

import (
	"math/big"
	"strconv"
	"strings"
	"unsafe"
)

// INCRBYFLOAT's arithmetic. Redis computes it in C's long double, on
// x86-64 the x87 80-bit format (a 64-bit significand, exponents up to
// about ±16384), and writes the result with "%.17Lf" less its trailing
// zeros. Doing the same in big.Float at 64 bits of precision gives Redis's
// results digit for digit: 0.1+0.2 is "0.3", 9223372036854775807+100 is
// "9223372036854775907", and 1e308+1e308 is a number, not an overflow.

const (
	ldPrec    = 64    // bits of significand
	ldMaxExp  = 16384 // |x| < 2^16384
	ldMinExp  = -16445
	ldMaxChar = 5 * 1024 // Redis's MAX_LONG_DOUBLE_CHARS
)

// parseLongDouble parses b as Redis's getLongDoubleFromObject does
// (strtold): no blanks around it, nothing after it, not NaN, not out of
// the long double range. "inf" and hex floats are accepted.
func parseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= ldMaxChar || isSpace(b[0]) || isSpace(b[len(b)-1]) {
		return nil, false
	}
	s := unsafe.String(unsafe.SliceData(b), len(b))
	if strings.ContainsRune(s, '_') {
		return nil, false
	}
	f, err := strconv.ParseFloat(s, 64) // the syntax check
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return nil, false
		}
	}
	if f != f { // NaN
		return nil, false
	}
	x := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven)
	t := strings.ToLower(strings.TrimLeft(s, "+-"))
	if t == "inf" || t == "infinity" {
		return x.SetInf(s[0] == '-'), true
	}
	if _, _, err := x.Parse(s, 0); err != nil {
		return nil, false
	}
	if !ldInRange(x) {
		return nil, false // strtold's ERANGE
	}
	return x, true
}

// ldInRange reports whether x is zero, infinite, or a finite long double.
func ldInRange(x *big.Float) bool {
	if x.IsInf() || x.Sign() == 0 {
		return true
	}
	e := x.MantExp(nil)
	return e <= ldMaxExp && e > ldMinExp
}

// addLongDouble returns a+b rounded to a long double, and false when the
// sum is infinite or NaN (Redis: "increment would produce NaN or
// Infinity").
func addLongDouble(a, b *big.Float) (*big.Float, bool) {
	if a.IsInf() || b.IsInf() {
		return nil, false // inf+x is inf, inf-inf is NaN
	}
	z := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven).Add(a, b)
	if z.Sign() != 0 && z.MantExp(nil) > ldMaxExp {
		return nil, false
	}
	return z, true
}

// formatLongDouble is Redis's ld2string in LD_STR_HUMAN mode: "%.17Lf",
// then the trailing zeros (and a trailing '.') removed, "-0" as "0".
func formatLongDouble(x *big.Float) string {
	s := x.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
