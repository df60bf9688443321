package server

import (
	"math"
	"strconv"
	"strings"
)

// parseStrtod parses b as C's strtod does when Redis requires it to consume
// the whole string (SORT's weights): leading white space is skipped, then a
// decimal or hexadecimal number, inf, infinity or nan, in any case, must
// make up the rest. The empty string is 0, as strtod leaves the end pointer
// on the terminating NUL. It fails on anything else, on NaN, and on a value
// out of range.
func parseStrtod(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	if s == "" || strings.ContainsRune(s, '_') {
		return 0, false // strtod stops at once; Go would accept 0x1_0p0
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return 0, false
	}
	if len(body) > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') && !strings.ContainsAny(body, "pP") {
		s += "p0" // strtod's hexadecimal form needs no binary exponent; Go's does
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}
