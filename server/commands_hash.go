package server

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/epochdb/epochdb"
)

// Hash commands, on the library's Hash (c.kv().hash): each command is one
// atomic library call (Hash.Modify for read-modify-writes), or part of
// EXEC's transaction. Field deadlines are the library's: a field is
// invisible from its deadline on and removed by the sweeper, which
// publishes "hexpired".

func hashCommands() []command {
	const g = "hash"
	k1 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: g, Summary: summary}
	}
	w, r := FlagWrite, FlagReadOnly
	return []command{
		{k1("hset", -4, w, "Creates or modifies the value of a field in a hash."), cmdHSet},
		{k1("hmset", -4, w, "Sets the values of multiple fields."), cmdHSet},
		{k1("hsetnx", 4, w, "Sets the value of a field in a hash only when the field doesn't exist."), cmdHSetNX},
		{k1("hget", 3, r, "Returns the value of a field in a hash."), cmdHGet},
		{k1("hmget", -3, r, "Returns the values of all fields in a hash."), cmdHMGet},
		{k1("hdel", -3, w, "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."), cmdHDel},
		{k1("hexists", 3, r, "Determines whether a field exists in a hash."), cmdHExists},
		{k1("hlen", 2, r, "Returns the number of fields in a hash."), cmdHLen},
		{k1("hstrlen", 3, r, "Returns the length of the value of a field."), cmdHStrlen},
		{k1("hkeys", 2, r, "Returns all fields in a hash."), cmdHGetAll},
		{k1("hvals", 2, r, "Returns all values in a hash."), cmdHGetAll},
		{k1("hgetall", 2, r, "Returns all fields and values in a hash."), cmdHGetAll},
		{k1("hincrby", 4, w, "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."), cmdHIncrBy},
		{k1("hincrbyfloat", 4, w, "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."), cmdHIncrByFloat},
		{k1("hrandfield", -2, r, "Returns one or more random fields from a hash."), cmdHRandField},
		{k1("hscan", -3, r, "Iterates over fields and values of a hash."), cmdHScan},
		{k1("hexpire", -6, w, "Set expiry for hash field using relative time to expire (seconds)."), cmdHExpire},
		{k1("hpexpire", -6, w, "Set expiry for hash field using relative time to expire (milliseconds)."), cmdHExpire},
		{k1("hexpireat", -6, w, "Set expiry for hash field using an absolute Unix timestamp (seconds)."), cmdHExpire},
		{k1("hpexpireat", -6, w, "Set expiry for hash field using an absolute Unix timestamp (milliseconds)."), cmdHExpire},
		{k1("httl", -5, r, "Returns the TTL in seconds of a hash field."), cmdHTTL},
		{k1("hpttl", -5, r, "Returns the TTL in milliseconds of a hash field."), cmdHTTL},
		{k1("hexpiretime", -5, r, "Returns the expiration time of a hash field as a Unix timestamp, in seconds."), cmdHTTL},
		{k1("hpexpiretime", -5, r, "Returns the expiration time of a hash field as a Unix timestamp, in msec."), cmdHTTL},
		{k1("hpersist", -5, w, "Removes the expiration time for each specified field."), cmdHPersist},
		{k1("hgetdel", -5, w, "Returns the value of a field and deletes it from the hash."), cmdHGetDel},
		{k1("hgetex", -5, w, "Get the value of one or more fields of a given hash key, and optionally set their expiration."), cmdHGetEx},
		{k1("hsetex", -6, w, "Set the value of one or more fields of a given hash key, and optionally set their expiration."), cmdHSetEx},
	}
}

// The hash field-TTL errors, as Redis words them.
const (
	errFieldsKeyword  = "ERR Mandatory keyword FIELDS is missing or not at the right position"
	errNumFields      = "ERR Parameter `numFields` should be greater than 0"
	errNumFieldsMatch = "ERR The `numfields` parameter must match the number of arguments"
	errNumFieldsMore  = "ERR Parameter `numFields` is more than number of arguments"
	errHashNotInt     = "ERR hash value is not an integer"
	errHashNotFloat   = "ERR hash value is not a float"
)

// parseFields parses "FIELDS numfields field..." starting at args[at], the
// fields being the rest of the arguments (pairs: field value when pairs).
func parseFields(args [][]byte, at int, pairs bool) ([][]byte, string) {
	if at >= len(args) || !equalFold(args[at], "fields") {
		return nil, errFieldsKeyword
	}
	if at+1 >= len(args) {
		return nil, errNumFields
	}
	n, ok := parseInt(args[at+1])
	if !ok || n <= 0 {
		return nil, errNumFields
	}
	rest := args[at+2:]
	per := int64(1)
	if pairs {
		per = 2
	}
	switch {
	case n > int64(len(rest))/per:
		return nil, errNumFieldsMore
	case n*per != int64(len(rest)):
		return nil, errNumFieldsMatch
	}
	return rest, ""
}

func cmdHSet(c *Conn, cmd Command) {
	args := cmd.Args
	if len(args)%2 != 0 {
		c.WriteError(wrongArgs(bstr(lower(nil, args[0]))))
		return
	}
	fields := make([]epochdb.FieldValue, 0, (len(args)-2)/2)
	var size int64
	for i := 2; i < len(args); i += 2 {
		fields = append(fields, epochdb.FieldValue{Field: args[i], Value: args[i+1]})
		size += int64(len(args[i]) + len(args[i+1]))
	}
	if c.memoryRefused(size) {
		return
	}
	n, err := c.kv().hash(c.key(args[1])).SetFields(fields...)
	if err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyHash, "hset", args[1])
	if equalFold(args[0], "hmset") {
		c.WriteOK()
		return
	}
	c.WriteInt(int64(n))
}

func cmdHSetNX(c *Conn, cmd Command) {
	set := false
	err := c.kv().hash(c.key(cmd.Args[1])).Modify(func(v *epochdb.HashView) error {
		_, ok, err := v.Get(cmd.Args[2])
		if err != nil || ok {
			return err
		}
		set = true
		_, err = v.Set(cmd.Args[2], cmd.Args[3], time.Time{})
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if set {
		c.notify(notifyHash, "hset", cmd.Args[1])
	}
	c.WriteBool(set)
}

func cmdHGet(c *Conn, cmd Command) {
	v, err := c.kv().hash(c.key(cmd.Args[1])).Get(cmd.Args[2])
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteNull()
	case err != nil:
		c.writeErr(err)
	case c.replyBudget(int64(len(v))):
		c.writeBulkOwned(v)
	}
}

func cmdHMGet(c *Conn, cmd Command) {
	vs, err := c.kv().hash(c.key(cmd.Args[1])).GetMany(cmd.Args[2:]...)
	if err != nil {
		c.writeErr(err)
		return
	}
	c.writeValues(vs)
}

// writeValues writes an array of bulk strings, nil ones as nulls.
func (c *Conn) writeValues(vs [][]byte) {
	c.WriteArray(len(vs))
	for _, v := range vs {
		if v == nil {
			c.WriteNull()
		} else {
			c.WriteBulk(v)
		}
	}
}

func cmdHDel(c *Conn, cmd Command) {
	gone := false
	n := 0
	err := c.kv().hash(c.key(cmd.Args[1])).Modify(func(v *epochdb.HashView) error {
		n = 0
		for _, f := range cmd.Args[2:] {
			ok, err := v.Del(f)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		gone = v.Exists() && v.Len() == 0
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if n > 0 {
		c.notify(notifyHash, "hdel", cmd.Args[1])
	}
	if gone {
		c.notify(notifyGeneric, "del", cmd.Args[1])
	}
	c.WriteInt(int64(n))
}

func cmdHExists(c *Conn, cmd Command) {
	_, err := c.kv().hash(c.key(cmd.Args[1])).Get(cmd.Args[2])
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteInt(0)
	case err != nil:
		c.writeErr(err)
	default:
		c.WriteInt(1)
	}
}

func cmdHLen(c *Conn, cmd Command) {
	n, err := c.kv().hash(c.key(cmd.Args[1])).Len()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteInt(n)
}

func cmdHStrlen(c *Conn, cmd Command) {
	v, err := c.kv().hash(c.key(cmd.Args[1])).Get(cmd.Args[2])
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteInt(0)
	case err != nil:
		c.writeErr(err)
	default:
		c.WriteInt(int64(len(v)))
	}
}

// cmdHGetAll is HGETALL (a map in RESP3), HKEYS and HVALS.
func cmdHGetAll(c *Conn, cmd Command) {
	name := bstr(lower(c.nameBuf[:0], cmd.Args[0]))
	var fields []epochdb.FieldValue
	var size int64
	err := c.kv().hash(c.key(cmd.Args[1])).Scan(nil, func(f epochdb.FieldValue) bool {
		fields = append(fields, epochdb.FieldValue{Field: append([]byte{}, f.Field...), Value: append([]byte{}, f.Value...)})
		size += int64(len(f.Field) + len(f.Value))
		return true
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if !c.replyBudget(size) {
		return
	}
	switch name {
	case "hkeys":
		c.WriteArray(len(fields))
		for _, f := range fields {
			c.WriteBulk(f.Field)
		}
	case "hvals":
		c.WriteArray(len(fields))
		for _, f := range fields {
			c.WriteBulk(f.Value)
		}
	default:
		c.WriteMap(len(fields))
		for _, f := range fields {
			c.WriteBulk(f.Field)
			c.WriteBulk(f.Value)
		}
	}
}

func cmdHIncrBy(c *Conn, cmd Command) {
	delta, ok := parseInt(cmd.Args[3])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	var result int64
	err := c.kv().hash(c.key(cmd.Args[1])).Modify(func(v *epochdb.HashView) error {
		f, ok, err := v.Get(cmd.Args[2])
		if err != nil {
			return err
		}
		var cur int64
		if ok {
			if cur, ok = parseInt(f.Value); !ok {
				return replyError(errHashNotInt)
			}
		}
		if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
			return replyError(errOverflow)
		}
		result = cur + delta
		_, err = v.Set(cmd.Args[2], strconv.AppendInt(nil, result, 10), f.ExpiresAt) // the field keeps its deadline
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyHash, "hincrby", cmd.Args[1])
	c.WriteInt(result)
}

func cmdHIncrByFloat(c *Conn, cmd Command) {
	delta, ok := parseLongDouble(cmd.Args[3])
	if !ok {
		c.WriteError(errNotFloat)
		return
	}
	if delta.IsInf() {
		c.WriteError("ERR value is NaN or Infinity") // Redis checks the increment first
		return
	}
	var result []byte
	err := c.kv().hash(c.key(cmd.Args[1])).Modify(func(v *epochdb.HashView) error {
		f, ok, err := v.Get(cmd.Args[2])
		if err != nil {
			return err
		}
		cur, _ := parseLongDouble([]byte("0"))
		if ok {
			if cur, ok = parseLongDouble(f.Value); !ok {
				return replyError(errHashNotFloat)
			}
		}
		sum, finite := addLongDouble(cur, delta)
		if !finite {
			return replyError(errNaNInf)
		}
		result = []byte(formatLongDouble(sum))
		_, err = v.Set(cmd.Args[2], result, f.ExpiresAt)
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyHash, "hincrbyfloat", cmd.Args[1])
	c.WriteBulk(result)
}

// cmdHRandField is HRANDFIELD key [count [WITHVALUES]].
func cmdHRandField(c *Conn, cmd Command) {
	args := cmd.Args
	if len(args) > 4 || (len(args) == 4 && !equalFold(args[3], "withvalues")) {
		c.WriteError(errSyntax)
		return
	}
	count, withCount := int64(1), len(args) >= 3
	if withCount {
		n, ok := parseInt(args[2])
		if !ok {
			c.WriteError(errNotInteger)
			return
		}
		if n < -math.MaxInt32 || n > math.MaxInt32 {
			c.WriteError("ERR value is out of range")
			return
		}
		count = n
	}
	withValues := len(args) == 4
	fields, err := c.kv().hash(c.key(args[1])).Random(int(count))
	if err != nil {
		c.writeErr(err)
		return
	}
	if !withCount {
		if len(fields) == 0 {
			c.WriteNull()
		} else {
			c.WriteBulk(fields[0].Field)
		}
		return
	}
	if withValues && c.resp == 3 {
		c.WriteArray(len(fields))
		for _, f := range fields {
			c.WriteArray(2)
			c.WriteBulk(f.Field)
			c.WriteBulk(f.Value)
		}
		return
	}
	if withValues {
		c.WriteArray(2 * len(fields))
	} else {
		c.WriteArray(len(fields))
	}
	for _, f := range fields {
		c.WriteBulk(f.Field)
		if withValues {
			c.WriteBulk(f.Value)
		}
	}
}

// scanArgs are the parsed arguments of HSCAN and SSCAN.
type scanArgs struct {
	after    []byte // continue after this member (nil: from the start)
	pattern  []byte
	count    int
	noValues bool
}

// parseCollScan parses "cursor [MATCH pattern] [COUNT count] [NOVALUES]"
// at args[2:]; it writes the error and returns false on a bad one.
func (c *Conn) parseCollScan(args [][]byte, noValuesOK bool) (scanArgs, bool) {
	s := scanArgs{count: 10}
	cur, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil {
		c.WriteError("ERR invalid cursor")
		return s, false
	}
	for i := 3; i < len(args); i++ {
		switch {
		case noValuesOK && equalFold(args[i], "novalues"):
			s.noValues = true
		case equalFold(args[i], "count") && i+1 < len(args):
			n, ok := parseInt(args[i+1])
			if !ok {
				c.WriteError(errNotInteger)
				return s, false
			}
			if n < 1 {
				c.WriteError(errSyntax)
				return s, false
			}
			s.count = int(min(n, 1<<20))
			i++
		case equalFold(args[i], "match") && i+1 < len(args):
			s.pattern = args[i+1]
			if len(s.pattern) == 1 && s.pattern[0] == '*' {
				s.pattern = nil
			}
			i++
		default:
			c.WriteError(errSyntax)
			return s, false
		}
	}
	if cur != 0 {
		pos, ok := c.srv.cursors.get(cur)
		if !ok || pos.db != c.db {
			c.WriteError("ERR invalid cursor")
			return s, false
		}
		s.after = pos.after
	}
	return s, true
}

// writeCollScan replies to HSCAN or SSCAN with the members (and values)
// one page found; more says the scan stopped before the end, after last.
func (c *Conn) writeCollScan(items [][]byte, more bool, last []byte) {
	next := uint64(0)
	if more {
		next = c.srv.cursors.put(cursorPos{db: c.db, after: last})
	}
	c.WriteArray(2)
	c.WriteBulkString(strconv.FormatUint(next, 10))
	c.WriteArray(len(items))
	for _, it := range items {
		c.WriteBulk(it)
	}
}

func cmdHScan(c *Conn, cmd Command) {
	s, ok := c.parseCollScan(cmd.Args, true)
	if !ok {
		return
	}
	var items [][]byte
	last := make([]byte, 0, 32)
	seen, more := 0, false
	err := c.kv().hash(c.key(cmd.Args[1])).Scan(s.after, func(f epochdb.FieldValue) bool {
		if seen == s.count {
			more = true
			return false
		}
		seen++
		last = append(last[:0], f.Field...)
		if s.pattern == nil || globMatch(s.pattern, f.Field) {
			items = append(items, append([]byte{}, f.Field...))
			if !s.noValues {
				items = append(items, append([]byte{}, f.Value...))
			}
		}
		return true
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.writeCollScan(items, more, last)
}

// Per-field results of the field-TTL commands.
const (
	fieldMissing  = -2
	fieldNoTTL    = -1
	fieldNotMet   = 0
	fieldSet      = 1
	fieldDeleted  = 2
	fieldUntimed  = -1 // HPERSIST: no deadline
	fieldPersists = 1
)

// cmdHExpire is HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT key time [NX|XX|GT|LT]
// FIELDS numfields field...: one atomic Hash.Modify.
func cmdHExpire(c *Conn, cmd Command) {
	args := cmd.Args
	name := bstr(lower(nil, args[0]))
	at := 3
	cond := epochdb.Always
	if at < len(args) && !equalFold(args[at], "fields") {
		switch {
		case equalFold(args[at], "nx"):
			cond = epochdb.IfNone
		case equalFold(args[at], "xx"):
			cond = epochdb.IfSet
		case equalFold(args[at], "gt"):
			cond = epochdb.IfLater
		case equalFold(args[at], "lt"):
			cond = epochdb.IfEarlier
		default:
			c.WriteError(errFieldsKeyword)
			return
		}
		at++
	}
	fields, msg := parseFields(args, at, false)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	when, ok := parseInt(args[2])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	if when < 0 {
		c.WriteError("ERR invalid expire time, must be >= 0")
		return
	}
	if name == "hexpire" || name == "hexpireat" {
		if when > math.MaxInt64/1000 {
			c.WriteError(string(errInvalidExpire(name)))
			return
		}
		when *= 1000
	}
	now := c.srv.now().UnixMilli()
	if name == "hexpire" || name == "hpexpire" {
		if when > math.MaxInt64-now {
			c.WriteError(string(errInvalidExpire(name)))
			return
		}
		when += now
	}
	if when > 1<<48 { // Redis's bound on field deadlines
		c.WriteError(string(errInvalidExpire(name)))
		return
	}
	res := make([]int64, len(fields))
	var set, deleted bool
	gone := false
	err := c.kv().hash(c.key(args[1])).Modify(func(v *epochdb.HashView) error {
		set, deleted = false, false
		for i, f := range fields {
			cur, ok, err := v.Get(f)
			if err != nil {
				return err
			}
			if !ok {
				res[i] = fieldMissing
				continue
			}
			var curMs int64
			if !cur.ExpiresAt.IsZero() {
				curMs = cur.ExpiresAt.UnixMilli()
			}
			if !deadlineHolds(cond, curMs, when) {
				res[i] = fieldNotMet
				continue
			}
			if when <= v.Now().UnixMilli() {
				if _, err := v.Del(f); err != nil {
					return err
				}
				res[i], deleted = fieldDeleted, true
				continue
			}
			if _, err := v.SetDeadline(f, time.UnixMilli(when)); err != nil {
				return err
			}
			res[i], set = fieldSet, true
		}
		gone = v.Exists() && v.Len() == 0
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if set {
		c.notify(notifyHash, "hexpire", args[1])
	}
	if deleted {
		c.notify(notifyHash, "hdel", args[1])
	}
	if gone {
		c.notify(notifyGeneric, "del", args[1])
	}
	c.writeInts(res)
}

// deadlineHolds is the library's rule for EXPIRE's conditions, on Unix ms
// (0: no deadline, counting as infinitely late).
func deadlineHolds(cond epochdb.DeadlineCond, cur, exp int64) bool {
	inf := func(d int64) int64 {
		if d == 0 {
			return math.MaxInt64
		}
		return d
	}
	switch cond {
	case epochdb.IfNone:
		return cur == 0
	case epochdb.IfSet:
		return cur != 0
	case epochdb.IfLater:
		return inf(exp) > inf(cur)
	case epochdb.IfEarlier:
		return inf(exp) < inf(cur)
	}
	return true
}

func (c *Conn) writeInts(res []int64) {
	c.WriteArray(len(res))
	for _, r := range res {
		c.WriteInt(r)
	}
}

// cmdHTTL is HTTL HPTTL HEXPIRETIME HPEXPIRETIME key FIELDS numfields
// field...: -2 for a missing field, -1 for one without deadline.
func cmdHTTL(c *Conn, cmd Command) {
	fields, msg := parseFields(cmd.Args, 2, false)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	name := bstr(lower(nil, cmd.Args[0]))
	res := make([]int64, len(fields))
	err := c.kv().hash(c.key(cmd.Args[1])).View(func(v *epochdb.HashView) error {
		now := v.Now().UnixMilli()
		for i, f := range fields {
			cur, ok, err := v.Get(f)
			switch {
			case err != nil:
				return err
			case !ok:
				res[i] = fieldMissing
			case cur.ExpiresAt.IsZero():
				res[i] = fieldNoTTL
			default:
				at := cur.ExpiresAt.UnixMilli()
				switch name {
				case "httl":
					res[i] = (at - now + 999) / 1000
				case "hpttl":
					res[i] = at - now
				case "hexpiretime":
					res[i] = at / 1000
				default:
					res[i] = at
				}
			}
		}
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.writeInts(res)
}

func cmdHPersist(c *Conn, cmd Command) {
	fields, msg := parseFields(cmd.Args, 2, false)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	res := make([]int64, len(fields))
	changed := false
	err := c.kv().hash(c.key(cmd.Args[1])).Modify(func(v *epochdb.HashView) error {
		changed = false
		for i, f := range fields {
			cur, ok, err := v.Get(f)
			switch {
			case err != nil:
				return err
			case !ok:
				res[i] = fieldMissing
			case cur.ExpiresAt.IsZero():
				res[i] = fieldUntimed
			default:
				if _, err := v.SetDeadline(f, time.Time{}); err != nil {
					return err
				}
				res[i], changed = fieldPersists, true
			}
		}
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if changed {
		c.notify(notifyHash, "hpersist", cmd.Args[1])
	}
	c.writeInts(res)
}

// cmdHGetDel is HGETDEL key FIELDS numfields field...
func cmdHGetDel(c *Conn, cmd Command) {
	fields, msg := parseFields(cmd.Args, 2, false)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	vals := make([][]byte, len(fields))
	deleted, gone := false, false
	err := c.kv().hash(c.key(cmd.Args[1])).Modify(func(v *epochdb.HashView) error {
		deleted = false
		for i, f := range fields {
			cur, ok, err := v.Get(f)
			if err != nil {
				return err
			}
			vals[i] = nil
			if !ok {
				continue
			}
			vals[i] = append([]byte{}, cur.Value...)
			if _, err := v.Del(f); err != nil {
				return err
			}
			deleted = true
		}
		gone = v.Exists() && v.Len() == 0
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if deleted {
		c.notify(notifyHash, "hdel", cmd.Args[1])
	}
	if gone {
		c.notify(notifyGeneric, "del", cmd.Args[1])
	}
	c.writeValues(vals)
}

// fieldExpiry is the parsed expiry option of HGETEX and HSETEX.
type fieldExpiry struct {
	set      bool  // EX PX EXAT PXAT
	at       int64 // its deadline, Unix ms
	persist  bool  // HGETEX PERSIST
	keepTTL  bool  // HSETEX KEEPTTL
	fnx, fxx bool  // HSETEX FNX FXX
}

// parseFieldExpiry parses the options of HGETEX (getex) or HSETEX before
// FIELDS; it returns the index of FIELDS, or writes an error and -1.
func (c *Conn) parseFieldExpiry(cmd Command, getex bool) (fieldExpiry, int) {
	var o fieldExpiry
	args := cmd.Args
	name := bstr(lower(nil, args[0]))
	i := 2
	for ; i < len(args) && !equalFold(args[i], "fields"); i++ {
		a := args[i]
		taken := o.set || o.persist || o.keepTTL
		switch {
		case !getex && equalFold(a, "fnx") && !o.fnx && !o.fxx:
			o.fnx = true
		case !getex && equalFold(a, "fxx") && !o.fnx && !o.fxx:
			o.fxx = true
		case getex && equalFold(a, "persist") && !taken:
			o.persist = true
		case !getex && equalFold(a, "keepttl") && !taken:
			o.keepTTL = true
		case !taken && i+1 < len(args) && (equalFold(a, "ex") || equalFold(a, "px") || equalFold(a, "exat") || equalFold(a, "pxat")):
			at, err := c.deadline(name, bstr(lower(nil, a)), args[i+1])
			if err != nil {
				c.writeErr(err)
				return o, -1
			}
			o.set, o.at = true, at
			i++
		default:
			c.WriteError(errSyntax)
			return o, -1
		}
	}
	return o, i
}

// cmdHGetEx is HGETEX key [EX|PX|EXAT|PXAT t | PERSIST] FIELDS numfields
// field...: the values, and the deadline of each field found changed.
func cmdHGetEx(c *Conn, cmd Command) {
	o, at := c.parseFieldExpiry(cmd, true)
	if at < 0 {
		return
	}
	fields, msg := parseFields(cmd.Args, at, false)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	vals := make([][]byte, len(fields))
	changed, deleted, gone := false, false, false
	err := c.kv().hash(c.key(cmd.Args[1])).Modify(func(v *epochdb.HashView) error {
		changed, deleted = false, false
		for i, f := range fields {
			cur, ok, err := v.Get(f)
			if err != nil {
				return err
			}
			vals[i] = nil
			if !ok {
				continue
			}
			vals[i] = append([]byte{}, cur.Value...)
			switch {
			case o.set && o.at <= v.Now().UnixMilli():
				_, err = v.Del(f)
				deleted = true
			case o.set:
				_, err = v.SetDeadline(f, time.UnixMilli(o.at))
				changed = true
			case o.persist && !cur.ExpiresAt.IsZero():
				_, err = v.SetDeadline(f, time.Time{})
				changed = true
			}
			if err != nil {
				return err
			}
		}
		gone = v.Exists() && v.Len() == 0
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	switch {
	case changed && o.persist:
		c.notify(notifyHash, "hpersist", cmd.Args[1])
	case changed:
		c.notify(notifyHash, "hexpire", cmd.Args[1])
	}
	if deleted {
		c.notify(notifyHash, "hdel", cmd.Args[1])
	}
	if gone {
		c.notify(notifyGeneric, "del", cmd.Args[1])
	}
	c.writeValues(vals)
}

// cmdHSetEx is HSETEX key [FNX|FXX] [EX|PX|EXAT|PXAT t | KEEPTTL] FIELDS
// numfields field value...: 1 if it set every field, 0 if the condition
// kept it from setting any.
func cmdHSetEx(c *Conn, cmd Command) {
	o, at := c.parseFieldExpiry(cmd, false)
	if at < 0 {
		return
	}
	pairs, msg := parseFields(cmd.Args, at, true)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	var size int64
	for _, p := range pairs {
		size += int64(len(p))
	}
	if c.memoryRefused(size) {
		return
	}
	done := false
	err := c.kv().hash(c.key(cmd.Args[1])).Modify(func(v *epochdb.HashView) error {
		done = false
		if o.fnx || o.fxx {
			for i := 0; i < len(pairs); i += 2 {
				_, ok, err := v.Get(pairs[i])
				if err != nil {
					return err
				}
				if (o.fnx && ok) || (o.fxx && !ok) {
					return nil
				}
			}
		}
		done = true
		for i := 0; i < len(pairs); i += 2 {
			var exp time.Time
			switch {
			case o.set:
				exp = time.UnixMilli(o.at)
			case o.keepTTL:
				cur, ok, err := v.Get(pairs[i])
				if err != nil {
					return err
				}
				if ok {
					exp = cur.ExpiresAt
				}
			}
			if o.set && o.at <= v.Now().UnixMilli() {
				if _, err := v.Del(pairs[i]); err != nil {
					return err
				}
				continue
			}
			if _, err := v.Set(pairs[i], pairs[i+1], exp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if done {
		c.notify(notifyHash, "hset", cmd.Args[1])
		if o.set {
			c.notify(notifyHash, "hexpire", cmd.Args[1])
		}
	}
	c.WriteBool(done)
}
