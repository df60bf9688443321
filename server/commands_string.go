package server

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/epochdb/epochdb"
)

// String commands. Every read-modify-write goes through DB.Modify, so it is
// atomic with respect to every other write of the key.

func stringCommands() []command {
	const g = "string"
	k1 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: g, Summary: summary}
	}
	w, r := FlagWrite, FlagReadOnly
	return []command{
		{k1("get", 2, r, "Returns the string value of a key."), cmdGet},
		{k1("set", -3, w, "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."), cmdSet},
		{k1("setnx", 3, w, "Set the string value of a key only when the key doesn't exist."), cmdSetNX},
		{k1("setex", 4, w, "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."), cmdSetEX},
		{k1("psetex", 4, w, "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."), cmdSetEX},
		{k1("getex", -2, w, "Returns the string value of a key after setting its expiration time."), cmdGetEX},
		{k1("getdel", 2, w, "Returns the string value of a key after deleting the key."), cmdGetDel},
		{k1("getset", 3, w, "Returns the previous string value of a key after setting it to a new value."), cmdGetSet},
		{CommandSpec{Name: "mget", Arity: -2, Flags: r | FlagKeyspace, FirstKey: 1, LastKey: -1, Step: 1, Group: g, Summary: "Atomically returns the string values of one or more keys."}, cmdMGet},
		{CommandSpec{Name: "mset", Arity: -3, Flags: w | FlagKeyspace, FirstKey: 1, LastKey: -1, Step: 2, Group: g, Summary: "Atomically creates or modifies the string values of one or more keys."}, cmdMSet},
		{CommandSpec{Name: "msetnx", Arity: -3, Flags: w | FlagKeyspace, FirstKey: 1, LastKey: -1, Step: 2, Group: g, Summary: "Atomically modifies the string values of one or more keys only when all keys don't exist."}, cmdMSetNX},
		{k1("append", 3, w, "Appends a string to the value of a key. Creates the key if it doesn't exist."), cmdAppend},
		{k1("strlen", 2, r, "Returns the length of a string value."), cmdStrlen},
		{k1("getrange", 4, r, "Returns a substring of the string stored at a key."), cmdGetRange},
		{k1("setrange", 4, w, "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."), cmdSetRange},
		{k1("incr", 2, w, "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."), cmdIncr},
		{k1("decr", 2, w, "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."), cmdIncr},
		{k1("incrby", 3, w, "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."), cmdIncr},
		{k1("decrby", 3, w, "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."), cmdIncr},
		{k1("incrbyfloat", 3, w, "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."), cmdIncrByFloat},
	}
}

func cmdGet(c *Conn, cmd Command) {
	v, err := c.kv().Get(c.key(cmd.Args[1]))
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteNull()
	case err != nil:
		c.writeErr(err)
	case c.replyBudget(int64(len(v))):
		c.writeBulkOwned(v)
	}
}

// setOptions are the parsed options of SET and GETEX.
type setOptions struct {
	nx, xx, get, keepTTL, persist bool
	expires                       bool  // an expiry option was given
	at                            int64 // its deadline, Unix ms
	// ttl is the expiry as a duration from now when it was given as one
	// (EX, PX, epoch-db 0.3's ttl_ms) and fits a time.Duration, else 0.
	ttl time.Duration
	// unit ("ex", "px", "exat", "pxat") and expiry are the expiry option
	// as given, before resolveExpiry checks it.
	unit   string
	expiry []byte
}

// parseSetOptions parses the options of SET (getex false) or GETEX exactly
// as Redis 7 does: NX and XX exclude each other, the expiry options (EX PX
// EXAT PXAT, KEEPTTL for SET, PERSIST for GETEX) exclude each other, and an
// option may repeat (the last expiry given wins; only its value is
// checked, once every option parsed).
func (c *Conn) parseSetOptions(name string, opts [][]byte, getex bool) (setOptions, error) {
	var o setOptions
	unit := "" // of the last expiry option
	var expiry []byte
	for i := 0; i < len(opts); i++ {
		a := opts[i]
		hasNext := i+1 < len(opts)
		isUnit := func(u string) bool {
			return equalFold(a, u) && hasNext && (unit == "" || unit == u) && !o.keepTTL && !o.persist
		}
		switch {
		case !getex && equalFold(a, "nx") && !o.xx:
			o.nx = true
		case !getex && equalFold(a, "xx") && !o.nx:
			o.xx = true
		case !getex && equalFold(a, "get"):
			o.get = true
		case !getex && equalFold(a, "keepttl") && unit == "" && !o.persist:
			o.keepTTL = true
		case getex && equalFold(a, "persist") && unit == "" && !o.keepTTL:
			o.persist = true
		case isUnit("ex") || isUnit("px") || isUnit("exat") || isUnit("pxat"):
			unit, expiry = bstr(lower(nil, a)), opts[i+1]
			i++
		default:
			return o, replyError(errSyntax)
		}
	}
	o.unit, o.expiry = unit, expiry
	if getex {
		return o, nil // GETEX checks the value once it found the key
	}
	return o, c.resolveExpiry(name, &o)
}

// resolveExpiry checks the expiry value parsed by parseSetOptions and
// converts it to a deadline.
func (c *Conn) resolveExpiry(name string, o *setOptions) error {
	if o.unit == "" {
		return nil
	}
	at, err := c.deadline(name, o.unit, o.expiry)
	if err != nil {
		return err
	}
	o.expires, o.at = true, at
	o.ttl = relativeTTL(o.unit, o.expiry)
	return nil
}

// deadline converts an expiry argument of the named command to an absolute
// deadline in Unix ms: unit "ex" (seconds from now), "px" (ms from now),
// "exat" (Unix seconds), "pxat" (Unix ms). Non-positive and overflowing
// values are Redis's "invalid expire time" error.
func (c *Conn) deadline(name, unit string, arg []byte) (int64, error) {
	n, ok := parseInt(arg)
	if !ok {
		return 0, replyError(errNotInteger)
	}
	if n <= 0 {
		return 0, errInvalidExpire(name)
	}
	if unit == "ex" || unit == "exat" {
		if n > math.MaxInt64/1000 {
			return 0, errInvalidExpire(name)
		}
		n *= 1000
	}
	if unit == "ex" || unit == "px" {
		now := c.srv.now().UnixMilli()
		if n > math.MaxInt64-now {
			return 0, errInvalidExpire(name)
		}
		n += now
	}
	return n, nil
}

// relativeTTL is the duration of an expiry argument that deadline accepted
// when its unit is relative ("ex", "px"), or 0 for absolute units and for
// durations beyond time.Duration's range (about 292 years).
func relativeTTL(unit string, arg []byte) time.Duration {
	n, ok := parseInt(arg)
	if !ok || n <= 0 || (unit != "ex" && unit != "px") {
		return 0
	}
	if unit == "ex" {
		n *= 1000 // deadline refused values that overflow
	}
	if n > math.MaxInt64/int64(time.Millisecond) {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms) }

func cmdSet(c *Conn, cmd Command) {
	args := cmd.Args
	if c.memoryRefused(int64(len(args[2]))) {
		return
	}
	key, val := c.key(args[1]), args[2]
	var o setOptions
	if len(args) == 4 {
		if ttl, ok := parseInt(args[3]); ok {
			// epoch-db 0.3's "SET key value ttl_ms": 0 means no TTL.
			if ttl < 0 || ttl > math.MaxInt64-c.srv.now().UnixMilli() {
				c.WriteError(string(errInvalidExpire("set")))
				return
			}
			if ttl > 0 {
				o.expires, o.at = true, c.srv.now().UnixMilli()+ttl
				o.ttl = relativeTTL("px", args[3])
			}
			args = args[:3]
		}
	}
	if len(args) > 3 {
		var err error
		if o, err = c.parseSetOptions("set", args[3:], false); err != nil {
			c.writeErr(err)
			return
		}
	}
	// A plain SET, also with a relative expiry, is one DB.Set: a blind
	// write, counted in the library's set statistics (/metrics).
	if !o.nx && !o.xx && !o.get && !o.keepTTL && (!o.expires || o.ttl > 0) {
		if err := c.kv().Set(key, val, o.ttl); err != nil {
			c.writeErr(err)
			return
		}
		c.notify(notifyString, "set", args[1])
		if o.expires {
			c.notify(notifyGeneric, "expire", args[1])
		}
		c.WriteOK()
		return
	}
	var old []byte
	var existed, done bool
	err := c.kv().Modify(key, func(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
		existed = ok
		if o.get && ok {
			old = append([]byte{}, cur.Value...)
		}
		if o.nx && ok || o.xx && !ok {
			return epochdb.Change{Action: epochdb.Keep}, nil
		}
		done = true
		ch := epochdb.Change{Action: epochdb.Put, Value: val}
		switch {
		case o.expires:
			ch.ExpiresAt = msTime(o.at)
		case o.keepTTL:
			ch.ExpiresAt = cur.ExpiresAt
		}
		return ch, nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if done {
		c.notify(notifyString, "set", args[1])
		if o.expires {
			c.notify(notifyGeneric, "expire", args[1])
		}
	}
	switch {
	case o.get && existed:
		c.WriteBulk(old)
	case o.get || !done:
		c.WriteNull()
	default:
		c.WriteOK()
	}
}

func cmdSetNX(c *Conn, cmd Command) {
	if c.memoryRefused(int64(len(cmd.Args[2]))) {
		return
	}
	done := false
	err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
		if ok {
			return epochdb.Change{Action: epochdb.Keep}, nil
		}
		done = true
		return epochdb.Change{Action: epochdb.Put, Value: cmd.Args[2]}, nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if done {
		c.notify(notifyString, "set", cmd.Args[1])
	}
	c.WriteBool(done)
}

// cmdSetEX is SETEX key seconds value and PSETEX key ms value.
func cmdSetEX(c *Conn, cmd Command) {
	if c.memoryRefused(int64(len(cmd.Args[3]))) {
		return
	}
	name, unit := "setex", "ex"
	if equalFold(cmd.Args[0], "psetex") {
		name, unit = "psetex", "px"
	}
	at, err := c.deadline(name, unit, cmd.Args[2])
	if ttl := relativeTTL(unit, cmd.Args[2]); err == nil && ttl > 0 {
		err = c.kv().Set(c.key(cmd.Args[1]), cmd.Args[3], ttl)
	} else if err == nil {
		err = c.kv().Modify(c.key(cmd.Args[1]), func(epochdb.Entry, bool) (epochdb.Change, error) {
			return epochdb.Change{Action: epochdb.Put, Value: cmd.Args[3], ExpiresAt: msTime(at)}, nil
		})
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyString, "set", cmd.Args[1])
	c.notify(notifyGeneric, "expire", cmd.Args[1])
	c.WriteOK()
}

// cmdGetEX reads a key and changes its deadline, in one transaction, so
// that the read and the deadline change are one step; the value is not
// rewritten.
func cmdGetEX(c *Conn, cmd Command) {
	o, err := c.parseSetOptions("getex", cmd.Args[2:], true)
	if err != nil {
		c.writeErr(err)
		return
	}
	key := c.key(cmd.Args[1])
	var v []byte
	event := ""
	err = c.kv().Update(func(tx *epochdb.Tx) error {
		event = ""
		var err error
		if v, err = tx.Get(key); err != nil {
			return err
		}
		// As Redis: the expiry value is checked once the key is found.
		if err := c.resolveExpiry("getex", &o); err != nil {
			return err
		}
		switch {
		case o.persist:
			event = "persist"
			_, err = tx.SetDeadline(key, time.Time{}, epochdb.Always)
		case o.expires && o.at <= c.srv.now().UnixMilli():
			event = "del"
			err = tx.Delete(key)
		case o.expires:
			event = "expire"
			_, err = tx.SetDeadline(key, msTime(o.at), epochdb.Always)
		}
		return err
	})
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteNull()
	case err != nil:
		c.writeErr(err)
	default:
		if event != "" {
			c.notify(notifyGeneric, event, cmd.Args[1])
		}
		if c.replyBudget(int64(len(v))) {
			c.WriteBulk(v)
		}
	}
}

func cmdGetDel(c *Conn, cmd Command) {
	var old []byte
	found := false
	err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
		if !ok {
			return epochdb.Change{Action: epochdb.Keep}, nil
		}
		found, old = true, append([]byte{}, cur.Value...)
		return epochdb.Change{Action: epochdb.Remove}, nil
	})
	switch {
	case err != nil:
		c.writeErr(err)
	case !found:
		c.WriteNull()
	default:
		c.notify(notifyGeneric, "del", cmd.Args[1])
		c.WriteBulk(old)
	}
}

func cmdGetSet(c *Conn, cmd Command) {
	if c.memoryRefused(int64(len(cmd.Args[2]))) {
		return
	}
	var old []byte
	found := false
	err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
		if ok {
			found, old = true, append([]byte{}, cur.Value...)
		}
		return epochdb.Change{Action: epochdb.Put, Value: cmd.Args[2]}, nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyString, "set", cmd.Args[1])
	if !found {
		c.WriteNull()
		return
	}
	c.WriteBulk(old)
}

// cmdMGet reads every key from one snapshot (a read-only transaction).
func cmdMGet(c *Conn, cmd Command) {
	keys := cmd.Args[1:]
	vals := make([][]byte, len(keys))
	found := make([]bool, len(keys))
	var size int64 // of the values read so far
	refused := false
	err := c.kv().View(func(tx *epochdb.Tx) error {
		for i, k := range keys {
			v, err := tx.Get(c.key(k))
			switch {
			case err == nil:
				vals[i], found[i] = v, true
				// Checked as the values come, so that a refused reply
				// holds at most one value past the budget.
				if size += int64(len(v)); !c.replyBudget(size) {
					refused = true
					return errReplyRefused
				}
			case !errors.Is(err, epochdb.ErrNotFound):
				return err
			}
		}
		return nil
	})
	if refused {
		return // replyBudget answered
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteArray(len(keys))
	for i := range keys {
		if found[i] {
			c.writeBulkOwned(vals[i])
		} else {
			c.WriteNull()
		}
	}
}

// errReplyRefused ends a read whose reply replyBudget refused.
var errReplyRefused = errors.New("server: reply refused")

// cmdMSet writes every pair in one atomic batch: after a crash all or none
// are present.
func cmdMSet(c *Conn, cmd Command) {
	if len(cmd.Args)%2 == 0 {
		c.WriteError(wrongArgs("mset"))
		return
	}
	if c.memoryRefused(argBytes(cmd.Args[1:])) {
		return
	}
	var err error
	if c.execTx != nil {
		for i := 1; i < len(cmd.Args) && err == nil; i += 2 {
			err = c.execTx.Set(c.key(cmd.Args[i]), cmd.Args[i+1], 0)
		}
	} else {
		b := c.srv.DB.NewBatch()
		for i := 1; i < len(cmd.Args) && err == nil; i += 2 {
			err = b.Set(c.key(cmd.Args[i]), cmd.Args[i+1], 0)
		}
		if err == nil {
			err = b.Commit()
		}
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	for i := 1; i < len(cmd.Args); i += 2 {
		c.notify(notifyString, "set", cmd.Args[i])
	}
	c.WriteOK()
}

// cmdMSetNX checks and writes in one serializable transaction.
func cmdMSetNX(c *Conn, cmd Command) {
	if len(cmd.Args)%2 == 0 {
		c.WriteError(wrongArgs("msetnx"))
		return
	}
	if c.memoryRefused(argBytes(cmd.Args[1:])) {
		return
	}
	set := false
	err := c.kv().Update(func(tx *epochdb.Tx) error {
		set = false
		for i := 1; i < len(cmd.Args); i += 2 {
			if ok, err := txExists(tx, c.key(cmd.Args[i])); err != nil || ok {
				return err
			}
		}
		for i := 1; i < len(cmd.Args); i += 2 {
			if err := tx.Set(c.key(cmd.Args[i]), cmd.Args[i+1], 0); err != nil {
				return err
			}
		}
		set = true
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if set {
		for i := 1; i < len(cmd.Args); i += 2 {
			c.notify(notifyString, "set", cmd.Args[i])
		}
	}
	c.WriteBool(set)
}

// txExists reports whether key is live in tx's view, without counting an
// access.
func txExists(tx *epochdb.Tx, key []byte) (bool, error) {
	_, err := tx.TTL(key)
	if errors.Is(err, epochdb.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// checkLength is Redis's checkStringLength: a string of size bytes grown by
// add bytes (both non-negative) may not exceed proto-max-bulk-len. The sum
// is checked for overflow, so SETRANGE k 9223372036854775807 x is refused
// rather than wrapped around.
func (c *Conn) checkLength(size, add int64) error {
	if total := size + add; total > c.srv.cfg.protoMaxBulkLen.Load() || total < size || total < add {
		return replyError(errTooBig)
	}
	return nil
}

func cmdAppend(c *Conn, cmd Command) {
	if c.memoryRefused(int64(len(cmd.Args[2]))) {
		return
	}
	var n int
	err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
		if err := c.checkLength(int64(len(cur.Value)), int64(len(cmd.Args[2]))); err != nil {
			return epochdb.Change{}, err
		}
		v := make([]byte, 0, len(cur.Value)+len(cmd.Args[2]))
		v = append(append(v, cur.Value...), cmd.Args[2]...)
		n = len(v)
		return epochdb.Change{Action: epochdb.Put, Value: v, ExpiresAt: cur.ExpiresAt}, nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyString, "append", cmd.Args[1])
	c.WriteInt(int64(n))
}

// peek reads a key's value and deadline without counting an access. The
// value is a copy.
func (c *Conn) peek(key []byte) (value []byte, expiresAt time.Time, ok bool, err error) {
	err = c.kv().Modify(key, func(cur epochdb.Entry, exists bool) (epochdb.Change, error) {
		if exists {
			value, expiresAt, ok = append([]byte{}, cur.Value...), cur.ExpiresAt, true
		}
		return epochdb.Change{Action: epochdb.Keep}, nil
	})
	return value, expiresAt, ok, err
}

func cmdStrlen(c *Conn, cmd Command) {
	n := 0
	err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
		n = len(cur.Value)
		return epochdb.Change{Action: epochdb.Keep}, nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteInt(int64(n))
}

func cmdGetRange(c *Conn, cmd Command) {
	start, ok1 := parseInt(cmd.Args[2])
	end, ok2 := parseInt(cmd.Args[3])
	if !ok1 || !ok2 {
		c.WriteError(errNotInteger)
		return
	}
	v, err := c.kv().Get(c.key(cmd.Args[1]))
	if err != nil && !errors.Is(err, epochdb.ErrNotFound) {
		c.writeErr(err)
		return
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		c.WriteBulk(nil)
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.WriteBulk(nil)
		return
	}
	if c.replyBudget(end + 1 - start) {
		c.writeBulkOwned(v[start : end+1])
	}
}

func cmdSetRange(c *Conn, cmd Command) {
	off, ok := parseInt(cmd.Args[2])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	if off < 0 {
		c.WriteError(errOffset)
		return
	}
	patch := cmd.Args[3]
	// As Redis: the resulting size is checked before the key is looked up,
	// so an offset past proto-max-bulk-len costs no library call and no
	// allocation. An empty patch writes nothing, whatever the offset.
	if len(patch) > 0 {
		if err := c.checkLength(off, int64(len(patch))); err != nil {
			c.writeErr(err)
			return
		}
		if c.memoryRefused(off + int64(len(patch))) {
			return
		}
	}
	var n int64
	changed := false
	err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
		n = int64(len(cur.Value))
		if len(patch) == 0 {
			return epochdb.Change{Action: epochdb.Keep}, nil
		}
		size := max(n, off+int64(len(patch)))
		v := make([]byte, size)
		copy(v, cur.Value)
		copy(v[off:], patch)
		n, changed = size, true
		return epochdb.Change{Action: epochdb.Put, Value: v, ExpiresAt: cur.ExpiresAt}, nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if changed {
		c.notify(notifyString, "setrange", cmd.Args[1])
	}
	c.WriteInt(n)
}

// cmdIncr is INCR, DECR, INCRBY and DECRBY.
func cmdIncr(c *Conn, cmd Command) {
	delta := int64(1)
	if len(cmd.Args) == 3 {
		d, ok := parseInt(cmd.Args[2])
		if !ok {
			c.WriteError(errNotInteger)
			return
		}
		delta = d
	}
	if equalFold(cmd.Args[0], "decr") || equalFold(cmd.Args[0], "decrby") {
		if delta == math.MinInt64 {
			c.WriteError("ERR decrement would overflow")
			return
		}
		delta = -delta
	}
	op := &c.incr
	if op.fn == nil {
		op.fn = op.apply // bound once per connection: no closure per INCR
	}
	op.delta = delta
	if err := c.kv().Modify(c.key(cmd.Args[1]), op.fn); err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyString, "incrby", cmd.Args[1])
	c.WriteInt(op.result)
}

// incrOp is a connection's INCR family step: the Modify callback adding
// delta, and its result. The value it writes is formatted in buf, which the
// store copies before Modify returns.
type incrOp struct {
	delta, result int64
	buf           []byte
	fn            func(cur epochdb.Entry, ok bool) (epochdb.Change, error)
}

func (op *incrOp) apply(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
	var v int64
	if ok {
		var isInt bool
		if v, isInt = parseInt(cur.Value); !isInt {
			return epochdb.Change{}, replyError(errNotInteger)
		}
	}
	if op.delta > 0 && v > math.MaxInt64-op.delta || op.delta < 0 && v < math.MinInt64-op.delta {
		return epochdb.Change{}, replyError(errOverflow)
	}
	op.result = v + op.delta
	op.buf = strconv.AppendInt(op.buf[:0], op.result, 10)
	return epochdb.Change{Action: epochdb.Put, Value: op.buf, ExpiresAt: cur.ExpiresAt}, nil
}

func cmdIncrByFloat(c *Conn, cmd Command) {
	delta, ok := parseLongDouble(cmd.Args[2])
	if !ok {
		c.WriteError(errNotFloat)
		return
	}
	var result []byte
	err := c.kv().Modify(c.key(cmd.Args[1]), func(cur epochdb.Entry, ok bool) (epochdb.Change, error) {
		v, isFloat := parseLongDouble([]byte("0"))
		if ok {
			if v, isFloat = parseLongDouble(cur.Value); !isFloat {
				return epochdb.Change{}, replyError(errNotFloat)
			}
		}
		sum, finite := addLongDouble(v, delta)
		if !finite {
			return epochdb.Change{}, replyError(errNaNInf)
		}
		result = []byte(formatLongDouble(sum))
		return epochdb.Change{Action: epochdb.Put, Value: result, ExpiresAt: cur.ExpiresAt}, nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.notify(notifyString, "incrbyfloat", cmd.Args[1])
	c.WriteBulk(result)
}
