package server

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestBits_LimitsAndLifecycle: bit offsets past proto-max-bulk-len are
// refused with Redis's error and change nothing; bit writes keep the
// key's deadline and history; BITOP's destination is a new value without
// deadline, as SET; the LCS table is bounded by proto-max-bulk-len.
func TestBits_LimitsAndLifecycle(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.ProtoMaxBulkLen = 1 << 20 })
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		SET k abc EX 100 => +OK
		TOUCH k => :1
		SETBIT k 8388608 1 => -ERR bit offset is not an integer or out of range
		BITFIELD k SET u8 8388608 1 => -ERR bit offset is not an integer or out of range
		BITFIELD k SET u8 #1048576 1 => -ERR bit offset is not an integer or out of range
		BITFIELD k SET u8 #2305843009213693952 1 => -ERR bit offset is not an integer or out of range
		GETBIT k 8388608 => -ERR bit offset is not an integer or out of range
		BITFIELD k GET u8 0 SET u8 0 1 SET u8 8388608 1 => -ERR bit offset is not an integer or out of range
		GET k => "abc"
		SETBIT k 7 0 => :1
		BITFIELD k INCRBY u8 8 1 => [:99]
		GET k => "`+"`"+`cc"
		!advance 10s
		TTL k => :90
		OBJECT FREQ k => :3
		SETBIT k 8388607 1 => :0
		STRLEN k => :1048576
		TTL k => :90
		BITOP NOT d k => :1048576
		TTL d => :-1
		BITCOUNT d 0 2 => :14
		SET a x => +OK
		SETRANGE a 200 x => :201
		LCS a k LEN => -ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len
		LCS a a LEN => :201
	`)
	// Inside EXEC, each bit command works on EXEC's own writes.
	runScript(t, ts, rc, `
		MULTI => +OK
		SET m "\x0f" => +QUEUED
		SETBIT m 0 1 => +QUEUED
		BITFIELD m INCRBY u4 4 1 OVERFLOW FAIL INCRBY u4 4 16 => +QUEUED
		BITOP XOR n m m => +QUEUED
		BITCOUNT n => +QUEUED
		LCS m m => +QUEUED
		EXEC => [+OK :0 [:0 nil] :1 :0 "\x80"]
	`)
}

// TestBitfield_Parse: the parser's answers for each kind of bad input, in
// Redis's order, and the operations it builds.
func TestBitfield_Parse(t *testing.T) {
	for _, c := range []struct {
		args, err string
		ops       int
		readOnly  bool
		maxBit    uint64
	}{
		{"", "", 0, true, 0},
		{"GET u8 0 GET i64 #3", "", 2, true, 0},
		{"SET u8 0 1 INCRBY i5 #2 -3", "", 2, false, 14},
		{"OVERFLOW SAT GET u8 0", "", 1, true, 0},
		{"OVERFLOW", errSyntax, 0, true, 0},
		{"OVERFLOW nope GET u8 0", "ERR Invalid OVERFLOW type specified", 0, true, 0},
		{"GET u8", errSyntax, 0, true, 0},
		{"SET u8 0", errSyntax, 0, true, 0},
		{"GET u64 0", errBitType, 0, true, 0},
		{"GET i65 0", errBitType, 0, true, 0},
		{"GET i0 0", errBitType, 0, true, 0},
		{"GET x8 0", errBitType, 0, true, 0},
		{"GET u08 0", errBitType, 0, true, 0},
		{"GET u8 -1", errBitOffset, 0, true, 0},
		{"GET u8 #", errBitOffset, 0, true, 0},
		{"GET u8 8192", errBitOffset, 0, true, 0}, // byte 1024 of a 1024-byte limit
		{"SET u8 0 x", errNotInteger, 0, true, 0},
		{"GET u8 0 FOO", errSyntax, 0, true, 0},
	} {
		args, _ := splitArgs([]byte(c.args), nil)
		bc, msg := parseBitfield(args, 1024)
		if msg != c.err {
			t.Errorf("%q: error %q, want %q", c.args, msg, c.err)
			continue
		}
		if msg == "" && (len(bc.ops) != c.ops || bc.readOnly != c.readOnly || bc.maxBit != c.maxBit) {
			t.Errorf("%q: %d ops, read-only %v, max bit %d; want %d, %v, %d", c.args, len(bc.ops), bc.readOnly, bc.maxBit, c.ops, c.readOnly, c.maxBit)
		}
	}
}

// FuzzBitfield: any argument list either parses or gets an error reply;
// what parses runs on a value covering its writes without panicking, with
// one reply per operation, each within its type's range, and leaves the
// value's length alone.
func FuzzBitfield(f *testing.F) {
	for _, seed := range []string{
		"GET u8 0",
		"SET i64 0 -1 GET u63 1 INCRBY i64 0 9223372036854775807",
		"OVERFLOW SAT INCRBY u4 #3 100 OVERFLOW FAIL INCRBY i3 5 -9 OVERFLOW WRAP SET u1 7 3",
		"SET u8 #1023 255 GET i16 8184",
		"INCRBY i1 0 1 INCRBY i1 0 -2",
		"GET u8 8192",
		"SET U2 #x 1",
		"overflow wrap get i64 #0",
		"GET \"u8\\x00x\" 0",
	} {
		f.Add([]byte(seed), []byte("value"))
	}
	f.Fuzz(func(t *testing.T, line, value []byte) {
		args, ok := splitArgs(line, nil)
		if !ok {
			return
		}
		bc, msg := parseBitfield(args, 1024)
		if msg != "" {
			if !strings.HasPrefix(msg, "ERR ") {
				t.Fatalf("error reply %q", msg)
			}
			return
		}
		v := bytes.Clone(value)
		if !bc.readOnly {
			v = growTo(v, bc.maxBit>>3+1)
		}
		n := len(v)
		replies := bc.run(v)
		if len(replies) != len(bc.ops) || len(v) != n {
			t.Fatalf("%d replies for %d ops; length %d -> %d", len(replies), len(bc.ops), n, len(v))
		}
		for i, r := range replies {
			o := bc.ops[i]
			if r.nil {
				if o.overflow != bfFail || o.op == bfGet {
					t.Fatalf("op %d: nil reply without OVERFLOW FAIL", i)
				}
				continue
			}
			lo, hi := int64(0), int64(math.MaxInt64)
			switch {
			case o.signed && o.bits < 64:
				lo, hi = -1<<(o.bits-1), 1<<(o.bits-1)-1
			case o.signed:
				lo = math.MinInt64
			default:
				hi = 1<<o.bits - 1
			}
			if r.n < lo || r.n > hi {
				t.Fatalf("op %d (%+v): reply %d outside [%d, %d]", i, o, r.n, lo, hi)
			}
		}
	})
}

// FuzzLongDouble: INCRBYFLOAT's parser accepts or refuses any input
// without panicking, and what it formats parses again.
func FuzzLongDouble(f *testing.F) {
	for _, s := range []string{"0", "1.5", "-0.0", "1e4932", "1e-5000", "0x1p-3", "inf", "-Infinity", "nan", " 1", "1_0", "9223372036854775807"} {
		f.Add([]byte(s), []byte("0.1"))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		x, ok1 := parseLongDouble(a)
		y, ok2 := parseLongDouble(b)
		if !ok1 || !ok2 {
			return
		}
		sum, ok := addLongDouble(x, y)
		if !ok {
			return
		}
		s := formatLongDouble(sum)
		if _, ok := parseLongDouble([]byte(s)); !ok {
			t.Fatalf("%q + %q formatted as %q, which does not parse", a, b, s)
		}
	})
}
