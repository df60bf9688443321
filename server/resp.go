package server

import (
	"math"
	"strconv"

	"github.com/tidwall/redcon"
)

// Reply encoders. RESP2 types come from redcon's Append* functions; the RESP3
// types redcon lacks (null, map, set, double, boolean, verbatim string, push)
// are written here, each with the RESP2 form a Redis server falls back to.

// appendNull appends a null: RESP3 "_", RESP2 the null bulk string.
func appendNull(b []byte, resp int) []byte {
	if resp >= 3 {
		return append(b, "_\r\n"...)
	}
	return redcon.AppendNull(b)
}

// appendNullArray appends a null array: RESP3 "_", RESP2 "*-1".
func appendNullArray(b []byte, resp int) []byte {
	if resp >= 3 {
		return append(b, "_\r\n"...)
	}
	return append(b, "*-1\r\n"...)
}

// appendMap appends the header of a map of n pairs: RESP3 "%n", RESP2 an
// array of 2n alternating keys and values.
func appendMap(b []byte, n, resp int) []byte {
	if resp >= 3 {
		return appendHeader(b, '%', n)
	}
	return redcon.AppendArray(b, 2*n)
}

// appendSet appends the header of a set of n elements: RESP3 "~n", RESP2 an
// array.
func appendSet(b []byte, n, resp int) []byte {
	if resp >= 3 {
		return appendHeader(b, '~', n)
	}
	return redcon.AppendArray(b, n)
}

// appendPush appends the header of an out-of-band push of n elements: RESP3
// ">n", RESP2 an array (pub/sub messages).
func appendPush(b []byte, n, resp int) []byte {
	if resp >= 3 {
		return appendHeader(b, '>', n)
	}
	return redcon.AppendArray(b, n)
}

// appendDouble appends f: RESP3 ",f", RESP2 a bulk string, formatted as
// Redis does (shortest round-trip form; inf, -inf, nan).
func appendDouble(b []byte, f float64, resp int) []byte {
	var s string
	switch {
	case math.IsInf(f, 1):
		s = "inf"
	case math.IsInf(f, -1):
		s = "-inf"
	case math.IsNaN(f):
		s = "nan"
	default:
		s = strconv.FormatFloat(f, 'g', -1, 64)
	}
	if resp >= 3 {
		b = append(b, ',')
		b = append(b, s...)
		return append(b, '\r', '\n')
	}
	return redcon.AppendBulkString(b, s)
}

// appendBool appends v: RESP3 "#t"/"#f", RESP2 the integers 1 and 0.
func appendBool(b []byte, v bool, resp int) []byte {
	if resp >= 3 {
		if v {
			return append(b, "#t\r\n"...)
		}
		return append(b, "#f\r\n"...)
	}
	if v {
		return redcon.AppendInt(b, 1)
	}
	return redcon.AppendInt(b, 0)
}

// appendVerbatim appends a verbatim text string (INFO, CLIENT LIST): RESP3
// "=len\r\ntxt:…", RESP2 a bulk string.
func appendVerbatim(b []byte, s string, resp int) []byte {
	if resp >= 3 {
		b = appendHeader(b, '=', len(s)+4)
		b = append(b, "txt:"...)
		b = append(b, s...)
		return append(b, '\r', '\n')
	}
	return redcon.AppendBulkString(b, s)
}

func appendHeader(b []byte, c byte, n int) []byte {
	b = append(b, c)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}
