package server

import (
	"math"
	"strconv"

	"github.com/epochdb/epochdb"
)

// Parsing and formatting of sorted set scores and ranges, as Redis 7 does
// them in C: scores with strtod (string2d), replies with "%.17g".

// isCSpace reports whether b is a space for C's isspace.
func isCSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }

// strtod scans the longest prefix of b that C's strtod would read after
// its leading blanks: a decimal or hexadecimal number, inf or infinity, or
// nan (all case-insensitive, with an optional sign). It returns the value,
// the bytes consumed (blanks included; 0 if there is no number), whether
// the value overflowed to infinity, and whether a non-zero number
// underflowed to zero (strtod's ERANGE).
func strtod(b []byte) (f float64, n int, overflow, underflow bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	start := i
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	neg := start < len(b) && b[start] == '-'
	word := func(w string) bool {
		if len(b)-i < len(w) {
			return false
		}
		for j := range len(w) {
			if b[i+j]|0x20 != w[j] {
				return false
			}
		}
		return true
	}
	switch {
	case word("infinity"):
		return math.Inf(sign(neg)), i + 8, false, false
	case word("inf"):
		return math.Inf(sign(neg)), i + 3, false, false
	case word("nan"):
		i += 3
		if i < len(b) && b[i] == '(' { // nan(n-char-sequence)
			j := i + 1
			for j < len(b) && (isAlnum(b[j]) || b[j] == '_') {
				j++
			}
			if j < len(b) && b[j] == ')' {
				i = j + 1
			}
		}
		return math.NaN(), i, false, false
	}
	hex := i+1 < len(b) && b[i] == '0' && b[i+1]|0x20 == 'x'
	if hex {
		j, digits, nonzero := scanDigits(b, i+2, true)
		if digits == 0 {
			hex = false // "0x" without digits: strtod reads the 0
		} else {
			end := j
			if j+1 < len(b) && b[j]|0x20 == 'p' {
				if k := scanExponent(b, j+1); k > 0 {
					end = k
				}
			}
			lit := string(b[start:end])
			if end == j {
				lit += "p0" // Go wants the binary exponent
			}
			return parsedFloat(lit, end, nonzero)
		}
	}
	j, digits, nonzero := scanDigits(b, i, false)
	if digits == 0 {
		return 0, 0, false, false
	}
	if j+1 < len(b) && b[j]|0x20 == 'e' {
		if k := scanExponent(b, j+1); k > 0 {
			j = k
		}
	}
	return parsedFloat(string(b[start:j]), j, nonzero)
}

func sign(neg bool) int {
	if neg {
		return -1
	}
	return 1
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isDigit(c byte, hex bool) bool {
	return (c >= '0' && c <= '9') || (hex && c|0x20 >= 'a' && c|0x20 <= 'f')
}

// scanDigits scans a mantissa at b[i:]: digits, an optional '.', digits.
// It returns the index after it, how many digits it has and whether one
// is not zero.
func scanDigits(b []byte, i int, hex bool) (end, digits int, nonzero bool) {
	dot := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case isDigit(c, hex):
			digits++
			nonzero = nonzero || c != '0'
		case c == '.' && !dot:
			dot = true
		default:
			return i, digits, nonzero
		}
	}
	return i, digits, nonzero
}

// scanExponent scans an exponent's sign and digits at b[i:] (after the 'e'
// or 'p'), returning the index after it, or 0 if there are no digits.
func scanExponent(b []byte, i int) int {
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i {
		return 0
	}
	return j
}

// parsedFloat parses the literal lit that strtod read, ending at end.
func parsedFloat(lit string, end int, nonzero bool) (float64, int, bool, bool) {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, end, true, false
		}
		return 0, 0, false, false
	}
	return f, end, false, f == 0 && nonzero
}

// parseScore parses a score, an increment or a weight as Redis's string2d:
// the whole argument is the number, without blanks, not NaN, neither
// overflowing nor underflowing to zero.
func parseScore(b []byte) (float64, bool) {
	if len(b) == 0 || isCSpace(b[0]) {
		return 0, false
	}
	f, n, over, under := strtod(b)
	if n != len(b) || over || under || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// parseRangeScore parses one end of a score range as Redis's zslParseRange
// (strtod with no more checks): leading blanks are skipped, nothing may
// follow the number (up to a NUL byte: C sees the end of the string
// there), an overflow is infinite, and an empty argument is 0.
func parseRangeScore(b []byte) (epochdb.ScoreBound, bool) {
	var sb epochdb.ScoreBound
	if len(b) > 0 && b[0] == '(' {
		sb.Exclusive = true
		b = b[1:]
	}
	f, n, _, _ := strtod(b)
	if n < len(b) && b[n] != 0 {
		return sb, false
	}
	if math.IsNaN(f) {
		return sb, false
	}
	sb.Score = f
	return sb, true
}

// parseLexBound parses one end of a lex range: "[m" (m included), "(m"
// (excluded), "-" (below every member) or "+" (above every member).
func parseLexBound(b []byte) (epochdb.LexBound, bool) {
	if len(b) == 0 {
		return epochdb.LexBound{}, false
	}
	switch b[0] {
	case '+', '-':
		if len(b) > 1 && b[1] != 0 {
			return epochdb.LexBound{}, false
		}
		if b[0] == '+' {
			return epochdb.LexBound{Inf: 1}, true
		}
		return epochdb.LexBound{Inf: -1}, true
	case '(':
		return epochdb.LexBound{Member: b[1:], Exclusive: true}, true
	case '[':
		return epochdb.LexBound{Member: b[1:]}, true
	}
	return epochdb.LexBound{}, false
}

// appendScore appends f as Redis 7.0 replies with a score: "%.17g", and
// "inf" / "-inf".
func appendScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

// writeScore writes a score: a double in RESP3, a bulk string in RESP2.
func (c *Conn) writeScore(f float64) {
	var buf [32]byte
	s := appendScore(buf[:0], f)
	if c.resp >= 3 {
		c.out = append(c.out, ',')
		c.out = append(c.out, s...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.WriteBulk(s)
}
