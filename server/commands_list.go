package server

import (
	"errors"
	"math"
	"slices"

	"github.com/epochdb/epochdb"
)

// List commands, on the library's List (c.kv().list), with Redis 7's
// replies, errors and keyspace events. Each command is one atomic library
// operation (LMOVE too: one write over both keys); inside EXEC they run in
// EXEC's transaction. The blocking ones (BLPOP BRPOP BLMOVE BRPOPLPUSH
// BLMPOP) try the same operation first and otherwise wait on blocking.go's
// registry.

func listCommands() []command {
	const g = "list"
	k1 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: g, Summary: summary}
	}
	k2 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 2, Step: 1, Group: g, Summary: summary}
	}
	w, r, b := FlagWrite, FlagReadOnly, FlagWrite|FlagBlocking
	return []command{
		{k1("lpush", -3, w, "Prepends one or more elements to a list. Creates the key if it doesn't exist."), cmdPush},
		{k1("rpush", -3, w, "Appends one or more elements to a list. Creates the key if it doesn't exist."), cmdPush},
		{k1("lpushx", -3, w, "Prepends one or more elements to a list only when the list exists."), cmdPush},
		{k1("rpushx", -3, w, "Appends an element to a list only when the list exists."), cmdPush},
		{k1("lpop", -2, w, "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."), cmdPop},
		{k1("rpop", -2, w, "Returns and removes the last elements of a list. Deletes the list if the last element was popped."), cmdPop},
		{k1("llen", 2, r, "Returns the length of a list."), cmdLLen},
		{k1("lrange", 4, r, "Returns a range of elements from a list."), cmdLRange},
		{k1("lindex", 3, r, "Returns an element from a list by its index."), cmdLIndex},
		{k1("lset", 4, w, "Sets the value of an element in a list by its index."), cmdLSet},
		{k1("linsert", 5, w, "Inserts an element before or after another element in a list."), cmdLInsert},
		{k1("lrem", 4, w, "Removes elements from a list. Deletes the list if the last element was removed."), cmdLRem},
		{k1("ltrim", 4, w, "Removes elements from both ends a list. Deletes the list if all elements were trimmed."), cmdLTrim},
		{k1("lpos", -3, r, "Returns the index of matching elements in a list."), cmdLPos},
		{k2("lmove", 5, w, "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."), cmdLMove},
		{k2("rpoplpush", 3, w, "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."), cmdLMove},
		{CommandSpec{Name: "lmpop", Arity: -4, Flags: w | FlagKeyspace, Group: g, Summary: "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."}, cmdLMPop},
		{CommandSpec{Name: "blpop", Arity: -3, Flags: b | FlagKeyspace, FirstKey: 1, LastKey: -2, Step: 1, Group: g, Summary: "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."}, cmdBPop},
		{CommandSpec{Name: "brpop", Arity: -3, Flags: b | FlagKeyspace, FirstKey: 1, LastKey: -2, Step: 1, Group: g, Summary: "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."}, cmdBPop},
		{k2("blmove", 6, b, "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."), cmdLMove},
		{k2("brpoplpush", 4, b, "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."), cmdLMove},
		{CommandSpec{Name: "blmpop", Arity: -5, Flags: b | FlagKeyspace, Group: g, Summary: "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."}, cmdLMPop},
	}
}

// libKey is the library key of client key k in database db (Conn.keyIn,
// for code that runs on another goroutine than the connection's).
func libKey(db int, k []byte) []byte { return append([]byte{byte(db)}, k...) }

// parseEnd parses LEFT or RIGHT.
func parseEnd(b []byte) (epochdb.End, bool) {
	switch {
	case equalFold(b, "left"):
		return epochdb.Front, true
	case equalFold(b, "right"):
		return epochdb.Back, true
	}
	return 0, false
}

// popEvent is the keyspace event of a pop at end, pushEvent of a push.
func popEvent(end epochdb.End) string {
	if end == epochdb.Front {
		return "lpop"
	}
	return "rpop"
}

func pushEvent(end epochdb.End) string {
	if end == epochdb.Front {
		return "lpush"
	}
	return "rpush"
}

// cmdPush is LPUSH RPUSH LPUSHX RPUSHX.
func cmdPush(c *Conn, cmd Command) {
	if c.memoryRefused(argBytes(cmd.Args[2:])) {
		return
	}
	name := cmd.Args[0]
	end := epochdb.Back
	if name[0] == 'l' || name[0] == 'L' {
		end = epochdb.Front
	}
	l := c.kv().list(c.key(cmd.Args[1]))
	var n int64
	var err error
	switch {
	case len(name) == 6 && end == epochdb.Front:
		n, err = l.PushFrontX(cmd.Args[2:]...)
	case len(name) == 6:
		n, err = l.PushBackX(cmd.Args[2:]...)
	case end == epochdb.Front:
		n, err = l.PushFront(cmd.Args[2:]...)
	default:
		n, err = l.PushBack(cmd.Args[2:]...)
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	if n > 0 {
		c.notify(notifyList, pushEvent(end), cmd.Args[1])
	}
	c.WriteInt(n)
}

// popItems pops up to count items from end of the list key through s, and
// reports whether the list existed and whether the pop removed it.
func popItems(s kv, key []byte, end epochdb.End, count int) (items [][]byte, existed, gone bool, err error) {
	err = s.list(key).Modify(func(v *epochdb.ListView) error {
		existed = v.Exists()
		var err error
		items, err = v.Pop(end, count)
		gone = existed && v.Len() == 0
		return err
	})
	return items, existed, gone, err
}

// cmdPop is LPOP and RPOP key [count].
func cmdPop(c *Conn, cmd Command) {
	if len(cmd.Args) > 3 {
		c.WriteError(wrongArgs(bstr(lower(nil, cmd.Args[0]))))
		return
	}
	end := epochdb.Back
	if equalFold(cmd.Args[0], "lpop") {
		end = epochdb.Front
	}
	count, hasCount := 1, len(cmd.Args) == 3
	if hasCount {
		n, ok := parseInt(cmd.Args[2])
		if !ok || n < 0 {
			c.WriteError(errPositive)
			return
		}
		count = int(min(n, math.MaxInt32))
	}
	items, existed, gone, err := popItems(c.kv(), c.key(cmd.Args[1]), end, count)
	switch {
	case err != nil:
		c.writeErr(err)
		return
	case !existed && hasCount:
		c.WriteNullArray()
		return
	case !existed:
		c.WriteNull()
		return
	}
	if len(items) > 0 {
		c.publish(&popped{notes: popNotes(nil, c.db, cmd.Args[1], end, gone)})
	}
	if !hasCount {
		c.WriteBulk(items[0])
		return
	}
	c.writeItems(items)
}

// writeItems writes items as an array, within the reply budget.
func (c *Conn) writeItems(items [][]byte) {
	if !c.replyBudget(argBytes(items)) {
		return
	}
	c.WriteArray(len(items))
	for _, it := range items {
		c.WriteBulk(it)
	}
}

func cmdLLen(c *Conn, cmd Command) {
	n, err := c.kv().list(c.key(cmd.Args[1])).Len()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteInt(n)
}

// parseInts parses integer arguments, writing Redis's error for a bad one.
func (c *Conn) parseInts(args ...[]byte) ([]int64, bool) {
	out := make([]int64, len(args))
	for i, a := range args {
		n, ok := parseInt(a)
		if !ok {
			c.WriteError(errNotInteger)
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

func cmdLRange(c *Conn, cmd Command) {
	r, ok := c.parseInts(cmd.Args[2], cmd.Args[3])
	if !ok {
		return
	}
	items, err := c.kv().list(c.key(cmd.Args[1])).Range(r[0], r[1])
	if err != nil {
		c.writeErr(err)
		return
	}
	c.writeItems(items)
}

// cmdLIndex checks the key before the index, as Redis does.
func cmdLIndex(c *Conn, cmd Command) {
	var item []byte
	found := false
	err := c.kv().list(c.key(cmd.Args[1])).View(func(v *epochdb.ListView) error {
		if !v.Exists() {
			return nil
		}
		i, ok := parseInt(cmd.Args[2])
		if !ok {
			return replyError(errNotInteger)
		}
		it, ok, err := v.Index(i)
		item, found = append([]byte{}, it...), ok
		return err
	})
	switch {
	case err != nil:
		c.writeErr(err)
	case !found:
		c.WriteNull()
	default:
		c.WriteBulk(item)
	}
}

// cmdLSet checks the key before the index, as Redis does.
func cmdLSet(c *Conn, cmd Command) {
	if c.memoryRefused(int64(len(cmd.Args[3]))) {
		return
	}
	err := c.kv().list(c.key(cmd.Args[1])).Modify(func(v *epochdb.ListView) error {
		if !v.Exists() {
			return replyError(errNoSuchKey)
		}
		i, ok := parseInt(cmd.Args[2])
		if !ok {
			return replyError(errNotInteger)
		}
		return v.Set(i, cmd.Args[3])
	})
	switch {
	case errors.Is(err, epochdb.ErrIndexOutOfRange):
		c.WriteError("ERR index out of range")
	case err != nil:
		c.writeErr(err)
	default:
		c.notify(notifyList, "lset", cmd.Args[1])
		c.WriteOK()
	}
}

// cmdLInsert is LINSERT key BEFORE|AFTER pivot element.
func cmdLInsert(c *Conn, cmd Command) {
	after := equalFold(cmd.Args[2], "after")
	if !after && !equalFold(cmd.Args[2], "before") {
		c.WriteError(errSyntax)
		return
	}
	if c.memoryRefused(int64(len(cmd.Args[4]))) {
		return
	}
	l := c.kv().list(c.key(cmd.Args[1]))
	var n int64
	var err error
	if after {
		n, err = l.InsertAfter(cmd.Args[3], cmd.Args[4])
	} else {
		n, err = l.InsertBefore(cmd.Args[3], cmd.Args[4])
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	if n > 0 {
		c.notify(notifyList, "linsert", cmd.Args[1])
	}
	c.WriteInt(n)
}

func cmdLRem(c *Conn, cmd Command) {
	count, ok := parseInt(cmd.Args[2])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	var n int64
	gone := false
	err := c.kv().list(c.key(cmd.Args[1])).Modify(func(v *epochdb.ListView) error {
		var err error
		n, err = v.Remove(count, cmd.Args[3])
		gone = n > 0 && v.Len() == 0
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if n > 0 {
		c.notify(notifyList, "lrem", cmd.Args[1])
	}
	if gone {
		c.notify(notifyGeneric, "del", cmd.Args[1])
	}
	c.WriteInt(n)
}

func cmdLTrim(c *Conn, cmd Command) {
	r, ok := c.parseInts(cmd.Args[2], cmd.Args[3])
	if !ok {
		return
	}
	existed, gone := false, false
	err := c.kv().list(c.key(cmd.Args[1])).Modify(func(v *epochdb.ListView) error {
		if existed = v.Exists(); !existed {
			return nil
		}
		err := v.Trim(r[0], r[1])
		gone = v.Len() == 0
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if existed {
		c.notify(notifyList, "ltrim", cmd.Args[1])
	}
	if gone {
		c.notify(notifyGeneric, "del", cmd.Args[1])
	}
	c.WriteOK()
}

// cmdLPos is LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
func cmdLPos(c *Conn, cmd Command) {
	o, hasCount, msg := parsePos(cmd.Args[3:])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	at, err := c.kv().list(c.key(cmd.Args[1])).Pos(cmd.Args[2], o)
	switch {
	case err != nil:
		c.writeErr(err)
	case hasCount:
		c.WriteArray(len(at))
		for _, i := range at {
			c.WriteInt(i)
		}
	case len(at) == 0:
		c.WriteNull()
	default:
		c.WriteInt(at[0])
	}
}

// parsePos parses LPOS's options; hasCount says COUNT was given.
func parsePos(opts [][]byte) (o epochdb.PosOptions, hasCount bool, msg string) {
	o = epochdb.PosOptions{Rank: 1, Count: 1}
	for i := 0; i < len(opts); i += 2 {
		if i+1 >= len(opts) {
			return o, false, errSyntax
		}
		n, ok := parseInt(opts[i+1])
		switch {
		case equalFold(opts[i], "rank"):
			switch {
			case !ok:
				return o, false, errNotInteger
			case n == 0:
				return o, false, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
			case n == math.MinInt64:
				return o, false, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
			}
			o.Rank = n
		case equalFold(opts[i], "count"):
			switch {
			case !ok:
				return o, false, errNotInteger
			case n < 0:
				return o, false, "ERR COUNT can't be negative"
			}
			o.Count, hasCount = n, true
		case equalFold(opts[i], "maxlen"):
			switch {
			case !ok:
				return o, false, errNotInteger
			case n < 0:
				return o, false, "ERR MAXLEN can't be negative"
			}
			o.MaxLen = n
		default:
			return o, false, errSyntax
		}
	}
	return o, hasCount, ""
}

// listPopTry is the tryFunc of BLPOP, BRPOP (count 1) and BLMPOP (mpop:
// the reply is [key, [items]]), and of LMPOP's attempts, for database db.
func listPopTry(db int, end epochdb.End, count int, mpop bool) tryFunc {
	return func(s kv, key []byte) (*popped, error) {
		items, _, gone, err := popItems(s, libKey(db, key), end, count)
		if err != nil || len(items) == 0 {
			return nil, err
		}
		key = append([]byte{}, key...)
		return &popped{
			reply: func(c *Conn) {
				c.WriteArray(2)
				c.WriteBulk(key)
				if mpop {
					c.writeItems(items)
				} else {
					c.WriteBulk(items[0])
				}
			},
			notes: popNotes(nil, db, key, end, gone),
		}, nil
	}
}

// popNotes appends the notifications of a pop at end from the client key
// key of database db.
func popNotes(dst []note, db int, key []byte, end epochdb.End, gone bool) []note {
	dst = append(dst, note{db: db, class: notifyList, event: popEvent(end), key: key})
	if gone {
		dst = append(dst, note{db: db, class: notifyGeneric, event: "del", key: key})
	}
	return dst
}

// listMoveTry is the tryFunc of LMOVE, RPOPLPUSH, BLMOVE and BRPOPLPUSH
// from a source key (the key tried) to dst, of database db.
func listMoveTry(db int, dst []byte, from, to epochdb.End) tryFunc {
	dst = append([]byte{}, dst...)
	return func(s kv, key []byte) (*popped, error) {
		src := libKey(db, key)
		item, left, err := s.list(src).Move(from, libKey(db, dst), to)
		switch {
		case errors.Is(err, epochdb.ErrNotFound):
			return nil, nil
		case errors.Is(err, epochdb.ErrWrongType):
			if _, lerr := s.list(src).Len(); lerr != nil {
				return nil, lerr // the source's type
			}
			// The destination's: the source keeps its item.
			return &popped{reply: func(c *Conn) { c.WriteError(errWrongType) }}, nil
		case err != nil:
			return nil, err
		}
		key = append([]byte{}, key...)
		notes := []note{{db: db, class: notifyList, event: pushEvent(to), key: dst}}
		return &popped{
			reply: func(c *Conn) { c.WriteBulk(item) },
			notes: popNotes(notes, db, key, from, left == 0),
		}, nil
	}
}

// cmdLMove is LMOVE, RPOPLPUSH, BLMOVE and BRPOPLPUSH.
func cmdLMove(c *Conn, cmd Command) {
	args := cmd.Args
	name := bstr(lower(nil, args[0]))
	blocking := name[0] == 'b'
	from, to := epochdb.Back, epochdb.Front // RPOPLPUSH
	if name == "lmove" || name == "blmove" {
		var ok1, ok2 bool
		from, ok1 = parseEnd(args[3])
		to, ok2 = parseEnd(args[4])
		if !ok1 || !ok2 {
			c.WriteError(errSyntax)
			return
		}
	}
	try := listMoveTry(c.db, args[2], from, to)
	if !blocking {
		if !c.tryKeys(args[1:2], try) {
			c.WriteNull()
		}
		return
	}
	timeout, msg := parseTimeout(args[len(args)-1])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	c.blockingPop(args[1:2], timeout, try, (*Conn).WriteNull)
}

// cmdBPop is BLPOP and BRPOP key [key ...] timeout.
func cmdBPop(c *Conn, cmd Command) {
	end := epochdb.Back
	if equalFold(cmd.Args[0], "blpop") {
		end = epochdb.Front
	}
	c.blockingPopKeys(cmd.Args, listPopTry(c.db, end, 1, false))
}

// cmdLMPop is LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] and
// BLMPOP timeout numkeys ...
func cmdLMPop(c *Conn, cmd Command) {
	args := cmd.Args
	blocking := equalFold(args[0], "blmpop")
	at := 1
	if blocking {
		at = 2
	}
	keys, end, count, msg := parseMPop(args[at:])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	try := listPopTry(c.db, end, count, true)
	if !blocking {
		if !c.tryKeys(keys, try) {
			c.WriteNullArray()
		}
		return
	}
	timeout, msg := parseTimeout(args[1])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	c.blockingPop(keys, timeout, try, (*Conn).WriteNullArray)
}

// parseMPop parses numkeys key [key ...] LEFT|RIGHT [COUNT count], as
// Redis's LMPOP does.
func parseMPop(args [][]byte) (keys [][]byte, end epochdb.End, count int, msg string) {
	keys, where, count, msg := parseMultiPop(args, "left", "right")
	return keys, epochdb.End(where), count, msg
}

// parseMultiPop parses numkeys key [key ...] WHERE [COUNT count], WHERE
// being one of the (lower-case) words where, whose index it returns, as
// Redis's LMPOP and ZMPOP do. count is 1 without COUNT.
func parseMultiPop(args [][]byte, where ...string) (keys [][]byte, at int, count int, msg string) {
	n, ok := parseInt(args[0])
	if !ok || n <= 0 {
		return nil, 0, 0, "ERR numkeys should be greater than 0"
	}
	if n >= int64(len(args))-1 {
		return nil, 0, 0, errSyntax
	}
	keys, rest := args[1:1+n], args[1+n:]
	at = slices.IndexFunc(where, func(w string) bool { return equalFold(rest[0], w) })
	if at < 0 {
		return nil, 0, 0, errSyntax
	}
	count = 1
	switch {
	case len(rest) == 1:
	case len(rest) == 3 && equalFold(rest[1], "count"):
		c, ok := parseInt(rest[2])
		if !ok || c <= 0 {
			return nil, 0, 0, "ERR count should be greater than 0"
		}
		count = int(min(c, math.MaxInt32))
	default:
		return nil, 0, 0, errSyntax
	}
	return keys, at, count, ""
}

// copyList copies the list src to dst (empty) in tx, item by item.
func copyList(tx *epochdb.Tx, src, dst []byte) error {
	items, err := tx.List(src).Range(0, -1)
	if err == nil {
		_, err = tx.List(dst).PushBack(items...)
	}
	return err
}

// listEncoding is the encoding Redis 7.2 reports for a list of key's
// size: listpack up to 128 items of 8 KiB together (its default
// list-max-listpack-size -2), quicklist beyond.
func (c *Conn) listEncoding(key []byte) string {
	l := c.kv().list(key)
	if n, err := l.Len(); err != nil || n > 128 {
		return "quicklist"
	}
	items, err := l.Range(0, -1)
	if err != nil || argBytes(items) > 8<<10 {
		return "quicklist"
	}
	return "listpack"
}
