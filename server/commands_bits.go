package server

import (
	"bytes"
	"errors"
	"math"
	"math/bits"

	"github.com/epochdb/epochdb"
)

// Bit and string-comparison commands: SETBIT GETBIT BITCOUNT BITPOS BITOP
// BITFIELD BITFIELD_RO LCS, and SUBSTR (GETRANGE's old name). They follow
// Redis 7's bitops.c and t_string.c, argument checks and error order
// included. Every write goes through Modify (or a transaction for BITOP),
// like SETRANGE: atomic with respect to every other write of the key, and
// inside EXEC part of its transaction.

func bitCommands() []command {
	k1 := func(name string, arity int, flags Flags, group, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: group, Summary: summary}
	}
	w, r := FlagWrite, FlagReadOnly
	return []command{
		{k1("setbit", 4, w, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."), cmdSetBit},
		{k1("getbit", 3, r, "bitmap", "Returns a bit value by offset."), cmdGetBit},
		{k1("bitcount", -2, r, "bitmap", "Counts the number of set bits (population counting) in a string."), cmdBitCount},
		{k1("bitpos", -3, r, "bitmap", "Finds the first set (1) or clear (0) bit in a string."), cmdBitPos},
		{CommandSpec{Name: "bitop", Arity: -4, Flags: w | FlagKeyspace, FirstKey: 2, LastKey: -1, Step: 1, Group: "bitmap",
			Summary: "Performs bitwise operations on multiple strings, and stores the result."}, cmdBitOp},
		{k1("bitfield", -2, w, "bitmap", "Performs arbitrary bitfield integer operations on strings."), cmdBitField},
		{k1("bitfield_ro", -2, r, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings."), cmdBitField},
		{CommandSpec{Name: "lcs", Arity: -3, Flags: r | FlagKeyspace, FirstKey: 1, LastKey: 2, Step: 1, Group: "string",
			Summary: "Finds the longest common substring."}, cmdLCS},
		{k1("substr", 4, r, "string", "Returns a substring from a string value."), cmdGetRange},
	}
}

const (
	errBitOffset = "ERR bit offset is not an integer or out of range"
	errBitValue  = "ERR bit is not an integer or out of range"
	errBitType   = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)

// parseBitOffset is Redis's getBitOffsetFromArgument: a non-negative bit
// offset whose byte is below proto-max-bulk-len; with hash, "#n" means n
// times width.
func parseBitOffset(arg []byte, hash bool, width int, maxBulk int64) (uint64, bool) {
	useHash := hash && len(arg) > 0 && arg[0] == '#' && width > 0
	if useHash {
		arg = arg[1:]
	}
	n, ok := parseInt(arg)
	if !ok {
		return 0, false
	}
	if useHash {
		if n > math.MaxInt64/int64(width) || n < math.MinInt64/int64(width) {
			return 0, false
		}
		n *= int64(width)
	}
	if n < 0 || n>>3 >= maxBulk {
		return 0, false
	}
	return uint64(n), true
}

// readValue reads key's value for a bit command: nil and false when absent.
func (c *Conn) readValue(key []byte) ([]byte, bool, error) {
	v, err := c.kv().Get(c.key(key))
	if errors.Is(err, epochdb.ErrNotFound) {
		return nil, false, nil
	}
	return v, err == nil, err
}

// growTo returns a copy of v zero-extended to at least n bytes.
func growTo(v []byte, n uint64) []byte {
	out := make([]byte, max(uint64(len(v)), n))
	copy(out, v)
	return out
}

func cmdSetBit(c *Conn, cmd Command) {
	off, ok := parseBitOffset(cmd.Args[2], false, 0, c.srv.cfg.protoMaxBulkLen.Load())
	if !ok {
		c.WriteError(errBitOffset)
		return
	}
	on, ok := parseInt(cmd.Args[3])
	if !ok || on&^1 != 0 {
		c.WriteError(errBitValue)
		return
	}
	byteIdx := off >> 3
	if c.memoryRefused(int64(byteIdx + 1)) {
		return
	}
	old := 0
	err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, _ bool) (epochdb.Change, error) {
		v := growTo(cur.Value, byteIdx+1)
		shift := 7 - off&7
		old = int(v[byteIdx]>>shift) & 1
		v[byteIdx] = v[byteIdx]&^(1<<shift) | byte(on)<<shift
		return epochdb.Change{Action: epochdb.Put, Value: v, ExpiresAt: cur.ExpiresAt}, nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyString, "setbit", cmd.Args[1])
	c.WriteInt(int64(old))
}

func cmdGetBit(c *Conn, cmd Command) {
	off, ok := parseBitOffset(cmd.Args[2], false, 0, c.srv.cfg.protoMaxBulkLen.Load())
	if !ok {
		c.WriteError(errBitOffset)
		return
	}
	v, _, err := c.readValue(cmd.Args[1])
	if err != nil {
		c.writeErr(err)
		return
	}
	bit := 0
	if b := off >> 3; b < uint64(len(v)) {
		bit = int(v[b]>>(7-off&7)) & 1
	}
	c.WriteInt(int64(bit))
}

// bitRange converts Redis's start/end arguments (bytes, or bits with
// isBit; negative from the end) over a value of n bytes to an inclusive bit
// range; empty when lo > hi.
func bitRange(start, end int64, isBit bool, n int64) (lo, hi int64) {
	total := n
	if isBit {
		total = n << 3
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	if start > end {
		return 1, 0
	}
	if isBit {
		return start, end
	}
	return start << 3, end<<3 + 7
}

// countBits counts the set bits of v in the inclusive bit range [lo, hi].
func countBits(v []byte, lo, hi int64) int64 {
	var n int64
	for lo <= hi && lo&7 != 0 {
		n += int64(v[lo>>3]>>(7-lo&7)) & 1
		lo++
	}
	for lo+7 <= hi {
		n += int64(bits.OnesCount8(v[lo>>3]))
		lo += 8
	}
	for ; lo <= hi; lo++ {
		n += int64(v[lo>>3]>>(7-lo&7)) & 1
	}
	return n
}

// firstBit returns the position of the first bit equal to bit in the
// inclusive range [lo, hi] of v, or -1.
func firstBit(v []byte, bit byte, lo, hi int64) int64 {
	skip := byte(0) // a whole byte without the bit wanted
	if bit == 0 {
		skip = 0xff
	}
	for lo <= hi {
		if lo&7 == 0 && lo+7 <= hi && v[lo>>3] == skip {
			lo += 8
			continue
		}
		if (v[lo>>3]>>(7-lo&7))&1 == bit {
			return lo
		}
		lo++
	}
	return -1
}

// cmdBitCount is BITCOUNT key [start end [BYTE|BIT]]. As in Redis, an
// absent key answers 0 before the arguments are looked at.
func cmdBitCount(c *Conn, cmd Command) {
	args := cmd.Args
	v, ok, err := c.readValue(args[1])
	if err != nil || !ok {
		if err != nil {
			c.writeErr(err)
		} else {
			c.WriteInt(0)
		}
		return
	}
	lo, hi := int64(0), int64(len(v))*8-1
	switch len(args) {
	case 2:
	case 4, 5:
		start, ok1 := parseInt(args[2])
		end, ok2 := parseInt(args[3])
		if !ok1 || !ok2 {
			c.WriteError(errNotInteger)
			return
		}
		if start < 0 && end < 0 && start > end {
			c.WriteInt(0)
			return
		}
		isBit := false
		if len(args) == 5 {
			switch {
			case equalFold(args[4], "bit"):
				isBit = true
			case !equalFold(args[4], "byte"):
				c.WriteError(errSyntax)
				return
			}
		}
		lo, hi = bitRange(start, end, isBit, int64(len(v)))
	default:
		c.WriteError(errSyntax)
		return
	}
	if lo > hi {
		c.WriteInt(0)
		return
	}
	c.WriteInt(countBits(v, lo, hi))
}

// cmdBitPos is BITPOS key bit [start [end [BYTE|BIT]]].
func cmdBitPos(c *Conn, cmd Command) {
	args := cmd.Args
	bit, ok := parseInt(args[2])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	if bit != 0 && bit != 1 {
		c.WriteError("ERR The bit argument must be 1 or 0.")
		return
	}
	v, found, err := c.readValue(args[1])
	if err != nil {
		c.writeErr(err)
		return
	}
	if !found {
		// An absent key is an endless run of zeros.
		c.WriteInt(-bit)
		return
	}
	n := int64(len(v))
	lo, hi := int64(0), n*8-1
	endGiven := false
	switch len(args) {
	case 3:
	case 4, 5, 6:
		start, ok := parseInt(args[3])
		if !ok {
			c.WriteError(errNotInteger)
			return
		}
		isBit := false
		if len(args) == 6 {
			switch {
			case equalFold(args[5], "bit"):
				isBit = true
			case !equalFold(args[5], "byte"):
				c.WriteError(errSyntax)
				return
			}
		}
		end := n - 1
		if isBit {
			end = n<<3 + 7
		}
		if len(args) >= 5 {
			if end, ok = parseInt(args[4]); !ok {
				c.WriteError(errNotInteger)
				return
			}
			endGiven = true
		}
		lo, hi = bitRange(start, end, isBit, n)
	default:
		c.WriteError(errSyntax)
		return
	}
	if lo > hi {
		c.WriteInt(-1)
		return
	}
	pos := firstBit(v, byte(bit), lo, hi)
	if pos < 0 && bit == 0 && !endGiven {
		// Looking for a clear bit without an end: the string continues
		// with zeros past its end.
		pos = hi + 1
	}
	c.WriteInt(pos)
}

// cmdBitOp is BITOP AND|OR|XOR|NOT destkey key [key ...]: one transaction
// reads the sources and writes (or, for an empty result, deletes) destkey,
// which loses its deadline as with SET.
func cmdBitOp(c *Conn, cmd Command) {
	args := cmd.Args
	var op byte
	switch {
	case equalFold(args[1], "and"):
		op = '&'
	case equalFold(args[1], "or"):
		op = '|'
	case equalFold(args[1], "xor"):
		op = '^'
	case equalFold(args[1], "not"):
		op = '~'
	default:
		c.WriteError(errSyntax)
		return
	}
	if op == '~' && len(args) != 4 {
		c.WriteError("ERR BITOP NOT must be called with a single source key.")
		return
	}
	dst := args[2]
	var size int
	deleted := false
	err := c.kv().Update(func(tx *epochdb.Tx) error {
		size, deleted = 0, false
		srcs := make([][]byte, 0, len(args)-3)
		for _, k := range args[3:] {
			v, err := tx.Get(c.key(k))
			if err != nil && !errors.Is(err, epochdb.ErrNotFound) {
				return err
			}
			srcs = append(srcs, v)
			size = max(size, len(v))
		}
		if size == 0 {
			ok, err := txExists(tx, c.key(dst))
			if err == nil && ok {
				deleted = true
				err = tx.Delete(c.key(dst))
			}
			return err
		}
		if c.memoryRefused(int64(size)) {
			return errReplyRefused
		}
		return tx.Set(c.key(dst), bitOp(op, srcs, size), 0)
	})
	switch {
	case errors.Is(err, errReplyRefused):
		// memoryRefused answered
	case err != nil:
		c.writeErr(err)
	default:
		if size > 0 {
			c.notify(notifyString, "set", dst)
		} else if deleted {
			c.notify(notifyGeneric, "del", dst)
		}
		c.WriteInt(int64(size))
	}
}

// bitOp computes op ('&', '|', '^', '~') over srcs, each zero-padded to
// size bytes.
func bitOp(op byte, srcs [][]byte, size int) []byte {
	out := make([]byte, size)
	copy(out, srcs[0])
	if op == '~' {
		for i := range out {
			out[i] = ^out[i]
		}
		return out
	}
	for _, s := range srcs[1:] {
		for i := range out {
			var b byte
			if i < len(s) {
				b = s[i]
			}
			switch op {
			case '&':
				out[i] &= b
			case '|':
				out[i] |= b
			case '^':
				out[i] ^= b
			}
		}
	}
	return out
}

// cmdLCS is LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN].
func cmdLCS(c *Conn, cmd Command) {
	args := cmd.Args
	var a, b []byte
	err := c.kv().View(func(tx *epochdb.Tx) error {
		var err error
		for i, p := range []*[]byte{&a, &b} {
			if *p, err = tx.Get(c.key(args[1+i])); err != nil && !errors.Is(err, epochdb.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	var getLen, getIdx, withLen bool
	var minLen int64
	for j := 3; j < len(args); j++ {
		switch {
		case equalFold(args[j], "idx"):
			getIdx = true
		case equalFold(args[j], "len"):
			getLen = true
		case equalFold(args[j], "withmatchlen"):
			withLen = true
		case equalFold(args[j], "minmatchlen") && j+1 < len(args):
			n, ok := parseInt(args[j+1])
			if !ok {
				c.WriteError(errNotInteger)
				return
			}
			minLen = max(n, 0)
			j++
		default:
			c.WriteError(errSyntax)
			return
		}
	}
	if getIdx && getLen {
		c.WriteError("ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	if uint64(len(a)) >= math.MaxUint32-1 || uint64(len(b)) >= math.MaxUint32-1 {
		c.WriteError("ERR String too long for LCS")
		return
	}
	cells := uint64(len(a)+1) * uint64(len(b)+1)
	if cells*4 > uint64(c.srv.cfg.protoMaxBulkLen.Load()) {
		c.WriteError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	res := lcs(a, b, getIdx || !getLen)
	switch {
	case getIdx:
		c.WriteMap(2)
		c.WriteBulkString("matches")
		var ranges []lcsMatch
		for _, m := range res.matches {
			if minLen == 0 || int64(m.n) >= minLen {
				ranges = append(ranges, m)
			}
		}
		c.WriteArray(len(ranges))
		for _, m := range ranges {
			c.WriteArray(2 + boolInt(withLen))
			c.WriteArray(2)
			c.WriteInt(int64(m.a))
			c.WriteInt(int64(m.a + m.n - 1))
			c.WriteArray(2)
			c.WriteInt(int64(m.b))
			c.WriteInt(int64(m.b + m.n - 1))
			if withLen {
				c.WriteInt(int64(m.n))
			}
		}
		c.WriteBulkString("len")
		c.WriteInt(int64(res.n))
	case getLen:
		c.WriteInt(int64(res.n))
	default:
		if c.replyBudget(int64(len(res.s))) {
			c.WriteBulk(res.s)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lcsMatch is a run of n equal bytes at a[a:] and b[b:].
type lcsMatch struct{ a, b, n int }

type lcsResult struct {
	n       int        // the length of the longest common subsequence
	s       []byte     // the subsequence (when asked for)
	matches []lcsMatch // its runs, from the end of the strings backward
}

// lcs is Redis's LCS: the dynamic programming table, then a walk back from
// its end that prefers moving in a when both directions keep the length,
// as Redis does (so the subsequence and runs reported are Redis's).
func lcs(a, b []byte, walk bool) lcsResult {
	w := len(b) + 1
	t := make([]uint32, (len(a)+1)*w)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				t[i*w+j] = t[(i-1)*w+j-1] + 1
			} else {
				t[i*w+j] = max(t[(i-1)*w+j], t[i*w+j-1])
			}
		}
	}
	res := lcsResult{n: int(t[len(a)*w+len(b)])}
	if !walk {
		return res
	}
	res.s = make([]byte, res.n)
	idx := res.n
	i, j := len(a), len(b)
	cur := lcsMatch{n: 0}
	emit := func() {
		if cur.n > 0 {
			res.matches = append(res.matches, cur)
		}
		cur = lcsMatch{}
	}
	for i > 0 && j > 0 {
		if a[i-1] == b[j-1] {
			res.s[idx-1] = a[i-1]
			if cur.n > 0 && cur.a == i && cur.b == j {
				cur.a, cur.b, cur.n = i-1, j-1, cur.n+1
			} else {
				emit()
				cur = lcsMatch{a: i - 1, b: j - 1, n: 1}
			}
			idx, i, j = idx-1, i-1, j-1
			if i == 0 || j == 0 {
				emit()
			}
			continue
		}
		if t[(i-1)*w+j] > t[i*w+j-1] {
			i--
		} else {
			j--
		}
		emit()
	}
	return res
}

// Bitfield operations.

const (
	bfGet = iota
	bfSet
	bfIncrBy
)

const (
	bfWrap = iota
	bfSat
	bfFail
)

// bitfieldOp is one GET, SET or INCRBY of a BITFIELD command.
type bitfieldOp struct {
	op       int
	signed   bool
	bits     int
	offset   uint64
	value    int64
	overflow int // the OVERFLOW mode in force
}

// bitfieldCmd is a parsed BITFIELD command.
type bitfieldCmd struct {
	ops      []bitfieldOp
	readOnly bool   // only GETs
	maxBit   uint64 // the highest bit a write reaches
}

// parseBitfield parses BITFIELD's operations (args after the key) as Redis
// does, in order: the first error found is the reply.
func parseBitfield(args [][]byte, maxBulk int64) (bitfieldCmd, string) {
	bc := bitfieldCmd{readOnly: true}
	overflow := bfWrap
	for j := 0; j < len(args); j++ {
		rem := len(args) - j - 1
		var op int
		switch {
		case equalFold(args[j], "get") && rem >= 2:
			op = bfGet
		case equalFold(args[j], "set") && rem >= 3:
			op = bfSet
		case equalFold(args[j], "incrby") && rem >= 3:
			op = bfIncrBy
		case equalFold(args[j], "overflow") && rem >= 1:
			j++
			switch {
			case equalFold(args[j], "wrap"):
				overflow = bfWrap
			case equalFold(args[j], "sat"):
				overflow = bfSat
			case equalFold(args[j], "fail"):
				overflow = bfFail
			default:
				return bc, "ERR Invalid OVERFLOW type specified"
			}
			continue
		default:
			return bc, errSyntax
		}
		signed, width, ok := parseBitfieldType(args[j+1])
		if !ok {
			return bc, errBitType
		}
		off, ok := parseBitOffset(args[j+2], true, width, maxBulk)
		if !ok {
			return bc, errBitOffset
		}
		o := bitfieldOp{op: op, signed: signed, bits: width, offset: off, overflow: overflow}
		if op != bfGet {
			bc.readOnly = false
			bc.maxBit = max(bc.maxBit, off+uint64(width)-1)
			if o.value, ok = parseInt(args[j+3]); !ok {
				return bc, errNotInteger
			}
			j++
		}
		bc.ops = append(bc.ops, o)
		j += 2
	}
	return bc, ""
}

// parseBitfieldType parses i1..i64 or u1..u63. As Redis reads the width as
// a C string, a NUL byte ends it.
func parseBitfieldType(t []byte) (signed bool, width int, ok bool) {
	if len(t) == 0 {
		return false, 0, false
	}
	switch t[0] {
	case 'i', 'I':
		signed = true
	case 'u', 'U':
	default:
		return false, 0, false
	}
	w := t[1:]
	if i := bytes.IndexByte(w, 0); i >= 0 {
		w = w[:i]
	}
	n, ok := parseInt(w)
	if !ok || n < 1 || signed && n > 64 || !signed && n > 63 {
		return false, 0, false
	}
	return signed, int(n), true
}

// getBits reads width bits of v from bit offset off, most significant
// first; bits past the end of v read as 0.
func getBits(v []byte, off uint64, width int) uint64 {
	var x uint64
	for range width {
		b := off >> 3
		bit := uint64(0)
		if b < uint64(len(v)) {
			bit = uint64(v[b]>>(7-off&7)) & 1
		}
		x = x<<1 | bit
		off++
	}
	return x
}

// setBits writes the low width bits of x into v at bit offset off, which
// v must cover.
func setBits(v []byte, off uint64, width int, x uint64) {
	for j := range width {
		bit := byte(x>>(width-1-j)) & 1
		b, shift := off>>3, 7-off&7
		v[b] = v[b]&^(1<<shift) | bit<<shift
		off++
	}
}

// signExtend interprets the low width bits of x as two's complement.
func signExtend(x uint64, width int) int64 {
	if width < 64 && x&(1<<(width-1)) != 0 {
		x |= math.MaxUint64 << width
	}
	return int64(x)
}

// unsignedOverflow is Redis's checkUnsignedBitfieldOverflow: whether
// value+incr leaves [0, 2^width-1], and the result under the mode.
func unsignedOverflow(value uint64, incr int64, width, mode int) (bool, uint64) {
	maxV := uint64(1)<<width - 1
	maxIncr := int64(maxV - value)
	minIncr := -int64(value)
	wrap := func() uint64 { return (value + uint64(incr)) & maxV }
	switch {
	case value > maxV || incr > 0 && incr > maxIncr:
		if mode == bfWrap {
			return true, wrap()
		}
		return true, maxV
	case incr < 0 && incr < minIncr:
		if mode == bfWrap {
			return true, wrap()
		}
		return true, 0
	}
	return false, 0
}

// signedOverflow is Redis's checkSignedBitfieldOverflow.
func signedOverflow(value, incr int64, width, mode int) (bool, int64) {
	maxV := int64(math.MaxInt64)
	if width < 64 {
		maxV = 1<<(width-1) - 1
	}
	minV := -maxV - 1
	maxIncr := int64(uint64(maxV) - uint64(value))
	minIncr := minV - value
	wrap := func() int64 {
		c := uint64(value) + uint64(incr)
		if width < 64 {
			mask := uint64(math.MaxUint64) << width
			if c&(1<<(width-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		return int64(c)
	}
	switch {
	case value > maxV || width != 64 && incr > maxIncr || value >= 0 && incr > 0 && incr > maxIncr:
		if mode == bfWrap {
			return true, wrap()
		}
		return true, maxV
	case value < minV || width != 64 && incr < minIncr || value < 0 && incr < 0 && incr < minIncr:
		if mode == bfWrap {
			return true, wrap()
		}
		return true, minV
	}
	return false, 0
}

// bitfieldReply is one operation's result: nil for a failed overflow.
type bitfieldReply struct {
	n   int64
	nil bool
}

// run applies the operations to v, which covers every bit a write reaches,
// in order, and returns their replies.
func (bc *bitfieldCmd) run(v []byte) []bitfieldReply {
	out := make([]bitfieldReply, 0, len(bc.ops))
	for _, o := range bc.ops {
		old := getBits(v, o.offset, o.bits)
		if o.op == bfGet {
			if o.signed {
				out = append(out, bitfieldReply{n: signExtend(old, o.bits)})
			} else {
				out = append(out, bitfieldReply{n: int64(old)})
			}
			continue
		}
		var newV uint64
		var reply int64
		var over bool
		if o.signed {
			oldS := signExtend(old, o.bits)
			var lim int64
			if o.op == bfIncrBy {
				over, lim = signedOverflow(oldS, o.value, o.bits, o.overflow)
				n := oldS + o.value
				if over {
					n = lim
				}
				newV, reply = uint64(n), n
			} else {
				n := o.value
				if over, lim = signedOverflow(n, 0, o.bits, o.overflow); over {
					n = lim
				}
				newV, reply = uint64(n), oldS
			}
		} else {
			var lim uint64
			if o.op == bfIncrBy {
				n := old + uint64(o.value)
				if over, lim = unsignedOverflow(old, o.value, o.bits, o.overflow); over {
					n = lim
				}
				newV, reply = n, int64(n)
			} else {
				n := uint64(o.value)
				if over, lim = unsignedOverflow(n, 0, o.bits, o.overflow); over {
					n = lim
				}
				newV, reply = n, int64(old)
			}
		}
		if over && o.overflow == bfFail {
			out = append(out, bitfieldReply{nil: true})
			continue
		}
		setBits(v, o.offset, o.bits, newV)
		out = append(out, bitfieldReply{n: reply})
	}
	return out
}

// cmdBitField is BITFIELD and BITFIELD_RO. Only GETs read the value (an
// access, like GET); any SET or INCRBY makes it one Modify that first
// zero-extends the value to the highest bit written, as Redis does even
// when an OVERFLOW FAIL leaves every field unchanged.
func cmdBitField(c *Conn, cmd Command) {
	bc, msg := parseBitfield(cmd.Args[2:], c.srv.cfg.protoMaxBulkLen.Load())
	if msg != "" {
		c.WriteError(msg)
		return
	}
	var replies []bitfieldReply
	if bc.readOnly {
		v, _, err := c.readValue(cmd.Args[1])
		if err != nil {
			c.writeErr(err)
			return
		}
		replies = bc.run(v)
	} else {
		if equalFold(cmd.Args[0], "bitfield_ro") {
			c.WriteError("ERR BITFIELD_RO only supports the GET subcommand")
			return
		}
		size := bc.maxBit>>3 + 1
		if c.memoryRefused(int64(size)) {
			return
		}
		err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, _ bool) (epochdb.Change, error) {
			v := growTo(cur.Value, size)
			replies = bc.run(v)
			return epochdb.Change{Action: epochdb.Put, Value: v, ExpiresAt: cur.ExpiresAt}, nil
		})
		if err != nil {
			c.writeErr(err)
			return
		}
		c.notify(notifyString, "setbit", cmd.Args[1])
	}
	c.WriteArray(len(replies))
	for _, r := range replies {
		if r.nil {
			c.WriteNull()
		} else {
			c.WriteInt(r.n)
		}
	}
}
