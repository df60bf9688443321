package server

import (
	"bytes"
	"math"
	"slices"

	"github.com/epochdb/epochdb"
)

// Set commands, on the library's Set (c.kv().set). Multi-key commands read
// one snapshot (View) or run as one transaction (Update); inside EXEC both
// are EXEC's transaction.

func setCommands() []command {
	const g = "set"
	k1 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: g, Summary: summary}
	}
	kn := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: -1, Step: 1, Group: g, Summary: summary}
	}
	w, r := FlagWrite, FlagReadOnly
	return []command{
		{k1("sadd", -3, w, "Adds one or more members to a set. Creates the key if it doesn't exist."), cmdSAdd},
		{k1("srem", -3, w, "Removes one or more members from a set. Deletes the set if the last member was removed."), cmdSRem},
		{k1("sismember", 3, r, "Determines whether a member belongs to a set."), cmdSIsMember},
		{k1("smismember", -3, r, "Determines whether multiple members belong to a set."), cmdSIsMember},
		{k1("scard", 2, r, "Returns the number of members in a set."), cmdSCard},
		{k1("smembers", 2, r, "Returns all members of a set."), cmdSMembers},
		{k1("srandmember", -2, r, "Get one or multiple random members from a set"), cmdSRandMember},
		{k1("spop", -2, w, "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."), cmdSPop},
		{CommandSpec{Name: "smove", Arity: 4, Flags: w | FlagKeyspace, FirstKey: 1, LastKey: 2, Step: 1, Group: g, Summary: "Moves a member from one set to another."}, cmdSMove},
		{kn("sinter", -2, r, "Returns the intersect of multiple sets."), cmdSetAlgebra},
		{kn("sunion", -2, r, "Returns the union of multiple sets."), cmdSetAlgebra},
		{kn("sdiff", -2, r, "Returns the difference of multiple sets."), cmdSetAlgebra},
		{kn("sinterstore", -3, w, "Stores the intersect of multiple sets in a key."), cmdSetAlgebra},
		{kn("sunionstore", -3, w, "Stores the union of multiple sets in a key."), cmdSetAlgebra},
		{kn("sdiffstore", -3, w, "Stores the difference of multiple sets in a key."), cmdSetAlgebra},
		{CommandSpec{Name: "sintercard", Arity: -3, Flags: r | FlagKeyspace, Group: g, Summary: "Returns the number of members of the intersect of multiple sets."}, cmdSInterCard},
		{k1("sscan", -3, r, "Iterates over members of a set."), cmdSScan},
	}
}

func cmdSAdd(c *Conn, cmd Command) {
	var size int64
	for _, m := range cmd.Args[2:] {
		size += int64(len(m))
	}
	if c.memoryRefused(size) {
		return
	}
	n, err := c.kv().set(c.key(cmd.Args[1])).Add(cmd.Args[2:]...)
	if err != nil {
		c.writeErr(err)
		return
	}
	if n > 0 {
		c.notify(notifySet, "sadd", cmd.Args[1])
	}
	c.WriteInt(int64(n))
}

func cmdSRem(c *Conn, cmd Command) {
	n, gone := 0, false
	err := c.kv().set(c.key(cmd.Args[1])).Modify(func(v *epochdb.SetView) error {
		n = 0
		for _, m := range cmd.Args[2:] {
			ok, err := v.Remove(m)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		gone = n > 0 && v.Card() == 0
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if n > 0 {
		c.notify(notifySet, "srem", cmd.Args[1])
	}
	if gone {
		c.notify(notifyGeneric, "del", cmd.Args[1])
	}
	c.WriteInt(int64(n))
}

// cmdSIsMember is SISMEMBER and SMISMEMBER.
func cmdSIsMember(c *Conn, cmd Command) {
	r, err := c.kv().set(c.key(cmd.Args[1])).AreMembers(cmd.Args[2:]...)
	if err != nil {
		c.writeErr(err)
		return
	}
	if equalFold(cmd.Args[0], "sismember") {
		c.WriteBool(r[0])
		return
	}
	c.WriteArray(len(r))
	for _, ok := range r {
		if ok {
			c.WriteInt(1)
		} else {
			c.WriteInt(0)
		}
	}
}

func cmdSCard(c *Conn, cmd Command) {
	n, err := c.kv().set(c.key(cmd.Args[1])).Card()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteInt(n)
}

// writeMembers writes members as a set reply (an array in RESP2).
func (c *Conn) writeMembers(ms [][]byte) {
	var size int64
	for _, m := range ms {
		size += int64(len(m))
	}
	if !c.replyBudget(size) {
		return
	}
	c.WriteSet(len(ms))
	for _, m := range ms {
		c.WriteBulk(m)
	}
}

func cmdSMembers(c *Conn, cmd Command) {
	ms, err := c.kv().set(c.key(cmd.Args[1])).Members()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.writeMembers(ms)
}

// randomCount parses the count of SRANDMEMBER and SPOP.
func randomCount(arg []byte, positive bool) (int, string) {
	n, ok := parseInt(arg)
	if !ok {
		return 0, errNotInteger
	}
	if positive && n < 0 {
		return 0, errPositive
	}
	if n < -math.MaxInt32 || n > math.MaxInt32 {
		return 0, "ERR value is out of range"
	}
	return int(n), ""
}

func cmdSRandMember(c *Conn, cmd Command) {
	if len(cmd.Args) > 3 {
		c.WriteError(errSyntax)
		return
	}
	count := 1
	if len(cmd.Args) == 3 {
		n, msg := randomCount(cmd.Args[2], false)
		if msg != "" {
			c.WriteError(msg)
			return
		}
		count = n
	}
	ms, err := c.kv().set(c.key(cmd.Args[1])).Random(count)
	if err != nil {
		c.writeErr(err)
		return
	}
	if len(cmd.Args) == 2 {
		if len(ms) == 0 {
			c.WriteNull()
		} else {
			c.WriteBulk(ms[0])
		}
		return
	}
	c.WriteArray(len(ms))
	for _, m := range ms {
		c.WriteBulk(m)
	}
}

func cmdSPop(c *Conn, cmd Command) {
	if len(cmd.Args) > 3 {
		c.WriteError(errSyntax)
		return
	}
	count := 1
	if len(cmd.Args) == 3 {
		n, msg := randomCount(cmd.Args[2], true)
		if msg != "" {
			c.WriteError(msg)
			return
		}
		count = n
	}
	var ms [][]byte
	gone := false
	err := c.kv().set(c.key(cmd.Args[1])).Modify(func(v *epochdb.SetView) error {
		var err error
		if ms, err = v.Random(count); err != nil {
			return err
		}
		for _, m := range ms {
			if _, err := v.Remove(m); err != nil {
				return err
			}
		}
		gone = len(ms) > 0 && v.Card() == 0
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if len(ms) > 0 {
		c.notify(notifySet, "spop", cmd.Args[1])
	}
	if gone {
		c.notify(notifyGeneric, "del", cmd.Args[1])
	}
	if len(cmd.Args) == 2 {
		if len(ms) == 0 {
			c.WriteNull()
		} else {
			c.WriteBulk(ms[0])
		}
		return
	}
	c.writeMembers(ms)
}

// cmdSMove is one transaction: both keys' types are checked first, as
// Redis does.
func cmdSMove(c *Conn, cmd Command) {
	src, dst, m := c.key(cmd.Args[1]), c.key(cmd.Args[2]), cmd.Args[3]
	moved, gone := false, false
	err := c.kv().Update(func(tx *epochdb.Tx) error {
		moved, gone = false, false
		if _, err := tx.SetOf(dst).Card(); err != nil {
			return err
		}
		s := tx.SetOf(src)
		ok, err := s.IsMember(m)
		if err != nil || !ok {
			return err
		}
		moved = true
		if bytes.Equal(src, dst) {
			return nil
		}
		if _, err := s.Remove(m); err != nil {
			return err
		}
		n, err := s.Card()
		if err != nil {
			return err
		}
		gone = n == 0
		_, err = tx.SetOf(dst).Add(m)
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	if moved && !bytes.Equal(src, dst) {
		c.notify(notifySet, "srem", cmd.Args[1])
		if gone {
			c.notify(notifyGeneric, "del", cmd.Args[1])
		}
		c.notify(notifySet, "sadd", cmd.Args[2])
	}
	c.WriteBool(moved)
}

// setAlgebra computes the intersection ("inter"), union or difference of
// the sets under keys in tx (a missing key is an empty set), sorted.
func setAlgebra(tx *epochdb.Tx, op string, keys [][]byte) ([][]byte, error) {
	var acc map[string]bool
	for i, k := range keys {
		ms, err := tx.SetOf(k).Members()
		if err != nil {
			return nil, err
		}
		cur := make(map[string]bool, len(ms))
		for _, m := range ms {
			cur[string(m)] = true
		}
		if i == 0 {
			acc = cur
			continue
		}
		switch op {
		case "inter":
			for m := range acc {
				if !cur[m] {
					delete(acc, m)
				}
			}
		case "union":
			for m := range cur {
				acc[m] = true
			}
		case "diff":
			for m := range cur {
				delete(acc, m)
			}
		}
	}
	out := make([][]byte, 0, len(acc))
	for m := range acc {
		out = append(out, []byte(m))
	}
	slices.SortFunc(out, bytes.Compare)
	return out, nil
}

// cmdSetAlgebra is SINTER SUNION SDIFF and their STORE forms.
func cmdSetAlgebra(c *Conn, cmd Command) {
	name := bstr(lower(nil, cmd.Args[0]))
	store := len(name) > 5 && name[len(name)-5:] == "store"
	op := name[1:]
	if store {
		op = op[:len(op)-5]
	}
	first := 1
	if store {
		first = 2
	}
	keys := make([][]byte, 0, len(cmd.Args)-first)
	for _, k := range cmd.Args[first:] {
		keys = append(keys, c.key(k))
	}
	var result [][]byte
	if !store {
		err := c.kv().View(func(tx *epochdb.Tx) error {
			var err error
			result, err = setAlgebra(tx, op, keys)
			return err
		})
		if err != nil {
			c.writeErr(err)
			return
		}
		c.writeMembers(result)
		return
	}
	dst := c.key(cmd.Args[1])
	existed := false
	err := c.kv().Update(func(tx *epochdb.Tx) error {
		var err error
		if result, err = setAlgebra(tx, op, keys); err != nil {
			return err
		}
		if existed, err = txExists(tx, dst); err != nil {
			return err
		}
		if err := tx.Delete(dst); err != nil {
			return err
		}
		if len(result) > 0 {
			_, err = tx.SetOf(dst).Add(result...)
		}
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	switch {
	case len(result) > 0:
		c.notify(notifySet, name, cmd.Args[1])
	case existed:
		c.notify(notifyGeneric, "del", cmd.Args[1])
	}
	c.WriteInt(int64(len(result)))
}

// cmdSInterCard is SINTERCARD numkeys key... [LIMIT limit].
func cmdSInterCard(c *Conn, cmd Command) {
	args := cmd.Args
	n, ok := parseInt(args[1])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	if n <= 0 {
		c.WriteError("ERR numkeys should be greater than 0")
		return
	}
	if n > int64(len(args)-2) {
		c.WriteError("ERR Number of keys can't be greater than number of args")
		return
	}
	limit := int64(0)
	rest := args[2+n:]
	for i := 0; i < len(rest); i++ {
		if !equalFold(rest[i], "limit") || i+1 >= len(rest) {
			c.WriteError(errSyntax)
			return
		}
		l, ok := parseInt(rest[i+1])
		if !ok {
			c.WriteError(errNotInteger)
			return
		}
		if l < 0 {
			c.WriteError("ERR LIMIT can't be negative")
			return
		}
		limit = l
		i++
	}
	keys := make([][]byte, 0, n)
	for _, k := range args[2 : 2+n] {
		keys = append(keys, c.key(k))
	}
	var result [][]byte
	err := c.kv().View(func(tx *epochdb.Tx) error {
		var err error
		result, err = setAlgebra(tx, "inter", keys)
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	card := int64(len(result))
	if limit > 0 {
		card = min(card, limit)
	}
	c.WriteInt(card)
}

func cmdSScan(c *Conn, cmd Command) {
	s, ok := c.parseCollScan(cmd.Args, false)
	if !ok {
		return
	}
	var items [][]byte
	last := make([]byte, 0, 32)
	seen, more := 0, false
	err := c.kv().set(c.key(cmd.Args[1])).Scan(s.after, func(m []byte) bool {
		if seen == s.count {
			more = true
			return false
		}
		seen++
		last = append(last[:0], m...)
		if s.pattern == nil || globMatch(s.pattern, m) {
			items = append(items, append([]byte{}, m...))
		}
		return true
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.writeCollScan(items, more, last)
}
