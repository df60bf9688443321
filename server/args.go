package server

import (
	"math"
	"unsafe"
)

// parseInt parses b as Redis's string2ll does: an optional '-', then decimal
// digits without leading zeros ("0" alone is fine), no '+', no blanks, and
// the value must fit in an int64.
func parseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n > 20 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	i, neg := 0, false
	if b[0] == '-' {
		neg = true
		i++
		if i == n {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
		if v > math.MaxUint64-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > uint64(math.MaxInt64)+1 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// parseCount parses a COUNT argument: a positive integer, capped at limit.
// On bad input it answers the error itself and returns false.
func parseCount(c *Conn, b []byte, limit int) (int, bool) {
	n, ok := parseInt(b)
	if !ok {
		c.WriteError(errNotInteger)
		return 0, false
	}
	if n <= 0 {
		c.WriteError(errPositive)
		return 0, false
	}
	return int(min(n, int64(limit))), true
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// lower appends the ASCII lower-case form of b to dst.
func lower(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// bstr returns b as a string without copying; only for short-lived uses
// (map lookups, comparisons, formatting into a reply).
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
