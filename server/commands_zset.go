package server

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"slices"

	"github.com/epochdb/epochdb"
)

// Sorted set commands, on the library's ZSet (c.kv().zset): each command
// is one atomic library call (ZSet.Modify for read-modify-writes), or part
// of EXEC's transaction; the multi-key ones (ZUNIONSTORE, ZRANGESTORE,
// ZMPOP, ...) are one transaction. Replies, errors and keyspace events are
// Redis 7.0's; scores are written with "%.17g" (doubles in RESP3).

func zsetCommands() []command {
	const g = "sorted-set"
	k1 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: g, Summary: summary}
	}
	k2 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 2, Step: 1, Group: g, Summary: summary}
	}
	nk := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, Group: g, Summary: summary}
	}
	w, r := FlagWrite, FlagReadOnly
	return []command{
		{k1("zadd", -4, w, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."), cmdZAdd},
		{k1("zincrby", 4, w, "Increments the score of a member in a sorted set."), cmdZAdd},
		{k1("zrem", -3, w, "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."), cmdZRem},
		{k1("zcard", 2, r, "Returns the number of members in a sorted set."), cmdZCard},
		{k1("zscore", 3, r, "Returns the score of a member in a sorted set."), cmdZScore},
		{k1("zmscore", -3, r, "Returns the score of one or more members in a sorted set."), cmdZScore},
		{k1("zrank", -3, r, "Returns the index of a member in a sorted set ordered by ascending scores."), cmdZRank},
		{k1("zrevrank", -3, r, "Returns the index of a member in a sorted set ordered by descending scores."), cmdZRank},
		{k1("zcount", 4, r, "Returns the count of members in a sorted set that have scores within a range."), cmdZCount},
		{k1("zlexcount", 4, r, "Returns the number of members in a sorted set within a lexicographical range."), cmdZCount},
		{k1("zrange", -4, r, "Returns members in a sorted set within a range of indexes."), cmdZRange},
		{k2("zrangestore", -5, w, "Stores a range of members from sorted set in a key."), cmdZRange},
		{k1("zrevrange", -4, r, "Returns members in a sorted set within a range of indexes in reverse order."), cmdZRange},
		{k1("zrangebyscore", -4, r, "Returns members in a sorted set within a range of scores."), cmdZRange},
		{k1("zrevrangebyscore", -4, r, "Returns members in a sorted set within a range of scores in reverse order."), cmdZRange},
		{k1("zrangebylex", -4, r, "Returns members in a sorted set within a lexicographical range."), cmdZRange},
		{k1("zrevrangebylex", -4, r, "Returns members in a sorted set within a lexicographical range in reverse order."), cmdZRange},
		{k1("zremrangebyrank", 4, w, "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."), cmdZRemRange},
		{k1("zremrangebyscore", 4, w, "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."), cmdZRemRange},
		{k1("zremrangebylex", 4, w, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."), cmdZRemRange},
		{k1("zpopmin", -2, w, "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."), cmdZPop},
		{k1("zpopmax", -2, w, "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."), cmdZPop},
		{nk("zmpop", -4, w, "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."), cmdZMPop},
		{k1("zrandmember", -2, r, "Returns one or more random members from a sorted set."), cmdZRandMember},
		{nk("zunion", -3, r, "Returns the union of multiple sorted sets."), cmdZSetAlgebra},
		{nk("zinter", -3, r, "Returns the intersect of multiple sorted sets."), cmdZSetAlgebra},
		{nk("zdiff", -3, r, "Returns the difference between multiple sorted sets."), cmdZSetAlgebra},
		{k1("zunionstore", -4, w, "Stores the union of multiple sorted sets in a key."), cmdZSetAlgebra},
		{k1("zinterstore", -4, w, "Stores the intersect of multiple sorted sets in a key."), cmdZSetAlgebra},
		{k1("zdiffstore", -4, w, "Stores the difference of multiple sorted sets in a key."), cmdZSetAlgebra},
		{nk("zintercard", -3, r, "Returns the number of members of the intersect of multiple sorted sets."), cmdZSetAlgebra},
		{k1("zscan", -3, r, "Iterates over members and scores of a sorted set."), cmdZScan},
	}
}

// Redis's sorted set errors.
const (
	errZNaN        = "ERR resulting score is not a number (NaN)"
	errZRange      = "ERR min or max is not a float"
	errZLexRange   = "ERR min or max not valid string range item"
	errZNXXX       = "ERR XX and NX options at the same time are not compatible"
	errZGTLTNX     = "ERR GT, LT, and/or NX options at the same time are not compatible"
	errZIncrPair   = "ERR INCR option supports a single increment-element pair"
	errZLimitRank  = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	errZLexScores  = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
	errZWeight     = "ERR weight value is not a float"
	errZNumKeys    = "ERR numkeys should be greater than 0"
	errZCount      = "ERR count should be greater than 0"
	errZLimitNeg   = "ERR LIMIT can't be negative"
	errValueRange  = "ERR value is out of range"
	listpackMax    = 128 // zset-max-listpack-entries
	listpackMaxLen = 64  // zset-max-listpack-value
)

// zsetErr writes err, the NaN of an increment as Redis words it.
func (c *Conn) zsetErr(err error) {
	if errors.Is(err, epochdb.ErrNaNScore) {
		c.WriteError(errZNaN)
		return
	}
	c.writeErr(err)
}

// writeZMembers writes members as a range reply: with scores, a flat
// array of member, score in RESP2 and an array of [member, score] pairs in
// RESP3.
func (c *Conn) writeZMembers(ms []epochdb.ZMember, withScores bool) {
	c.writeZList(ms, withScores, withScores && c.resp >= 3)
}

// writeZList writes members (with their scores), each pair an array of
// its own if nested.
func (c *Conn) writeZList(ms []epochdb.ZMember, withScores, nested bool) {
	var size int64
	for _, m := range ms {
		size += int64(len(m.Member)) + 24
	}
	if !c.replyBudget(size) {
		return
	}
	if withScores && !nested {
		c.WriteArray(2 * len(ms))
	} else {
		c.WriteArray(len(ms))
	}
	for _, m := range ms {
		if nested {
			c.WriteArray(2)
		}
		c.WriteBulk(m.Member)
		if withScores {
			c.writeScore(m.Score)
		}
	}
}

// cmdZAdd is ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ... and
// ZINCRBY key increment member (ZADD INCR without options).
func cmdZAdd(c *Conn, cmd Command) {
	args := cmd.Args
	var opts epochdb.ZAddOptions
	var ch, incr bool
	i := 2
	if equalFold(args[0], "zincrby") {
		incr = true
	} else {
	options:
		for ; i < len(args); i++ {
			switch {
			case equalFold(args[i], "nx"):
				opts.NX = true
			case equalFold(args[i], "xx"):
				opts.XX = true
			case equalFold(args[i], "gt"):
				opts.GT = true
			case equalFold(args[i], "lt"):
				opts.LT = true
			case equalFold(args[i], "ch"):
				ch = true
			case equalFold(args[i], "incr"):
				incr = true
			default:
				break options
			}
		}
	}
	pairs := args[i:]
	switch {
	case len(pairs) == 0 || len(pairs)%2 != 0:
		c.WriteError(errSyntax)
		return
	case opts.NX && opts.XX:
		c.WriteError(errZNXXX)
		return
	case (opts.GT && opts.NX) || (opts.LT && opts.NX) || (opts.GT && opts.LT):
		c.WriteError(errZGTLTNX)
		return
	case incr && len(pairs) > 2:
		c.WriteError(errZIncrPair)
		return
	}
	members := make([]epochdb.ZMember, 0, len(pairs)/2)
	var size int64
	for j := 0; j < len(pairs); j += 2 {
		f, ok := parseScore(pairs[j])
		if !ok {
			c.WriteError(errNotFloat)
			return
		}
		members = append(members, epochdb.ZMember{Member: pairs[j+1], Score: f})
		size += int64(len(pairs[j+1]) + 8)
	}
	if c.memoryRefused(size) {
		return
	}
	z := c.kv().zset(c.key(args[1]))
	if incr {
		m := members[0]
		var score float64
		done, changed := false, false
		err := z.Modify(func(v *epochdb.ZSetView) error {
			old, existed, err := v.Score(m.Member)
			if err != nil {
				return err
			}
			score, done, err = v.IncrBy(m.Member, m.Score, opts)
			changed = done && (!existed || score != old)
			return err
		})
		if err != nil {
			c.zsetErr(err)
			return
		}
		if changed {
			c.notify(notifyZSet, "zincr", args[1])
		}
		if done {
			c.writeScore(score)
		} else {
			c.WriteNull()
		}
		return
	}
	added, changed, err := z.Add(opts, members...)
	if err != nil {
		c.zsetErr(err)
		return
	}
	if added+changed > 0 {
		c.notify(notifyZSet, "zadd", args[1])
	}
	if ch {
		added += changed
	}
	c.WriteInt(int64(added))
}

func cmdZRem(c *Conn, cmd Command) {
	n, gone := 0, false
	err := c.kv().zset(c.key(cmd.Args[1])).Modify(func(v *epochdb.ZSetView) error {
		var err error
		n, err = v.Remove(cmd.Args[2:]...)
		gone = n > 0 && v.Card() == 0
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.zsetRemoved(n > 0, gone, "zrem", cmd.Args[1])
	c.WriteInt(int64(n))
}

// zsetRemoved publishes the events of a removal from the sorted set key:
// the command's event if it removed members, then "del" if the key went.
func (c *Conn) zsetRemoved(removed, gone bool, event string, key []byte) {
	if removed {
		c.notify(notifyZSet, event, key)
	}
	if gone {
		c.notify(notifyGeneric, "del", key)
	}
}

func cmdZCard(c *Conn, cmd Command) {
	n, err := c.kv().zset(c.key(cmd.Args[1])).Card()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteInt(n)
}

// cmdZScore is ZSCORE and ZMSCORE.
func cmdZScore(c *Conn, cmd Command) {
	single := equalFold(cmd.Args[0], "zscore")
	if single && len(cmd.Args) != 3 {
		c.WriteError(wrongArgs("zscore"))
		return
	}
	scores, found, err := c.kv().zset(c.key(cmd.Args[1])).Scores(cmd.Args[2:]...)
	if err != nil {
		c.writeErr(err)
		return
	}
	if !single {
		c.WriteArray(len(scores))
	}
	for i := range scores {
		if found[i] {
			c.writeScore(scores[i])
		} else {
			c.WriteNull()
		}
	}
}

// cmdZRank is ZRANK and ZREVRANK key member [WITHSCORE] (WITHSCORE as in
// Redis 7.2).
func cmdZRank(c *Conn, cmd Command) {
	args := cmd.Args
	if len(args) > 4 {
		c.WriteError(wrongArgs(bstr(lower(nil, args[0]))))
		return
	}
	withScore := len(args) == 4
	if withScore && !equalFold(args[3], "withscore") {
		c.WriteError(errSyntax)
		return
	}
	rank, score, err := c.kv().zset(c.key(args[1])).Rank(args[2], equalFold(args[0], "zrevrank"))
	switch {
	case errors.Is(err, epochdb.ErrNotFound) && withScore:
		c.WriteNullArray()
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteNull()
	case err != nil:
		c.writeErr(err)
	case withScore:
		c.WriteArray(2)
		c.WriteInt(rank)
		c.writeScore(score)
	default:
		c.WriteInt(rank)
	}
}

// parseScoreRange parses min and max of a score range, writing the error
// if one is bad.
func (c *Conn) parseScoreRange(min, max []byte) (epochdb.ScoreBound, epochdb.ScoreBound, bool) {
	lo, ok1 := parseRangeScore(min)
	hi, ok2 := parseRangeScore(max)
	if !ok1 || !ok2 {
		c.WriteError(errZRange)
		return lo, hi, false
	}
	return lo, hi, true
}

// parseLexRange parses min and max of a lex range, writing the error if
// one is bad.
func (c *Conn) parseLexRange(min, max []byte) (epochdb.LexBound, epochdb.LexBound, bool) {
	lo, ok1 := parseLexBound(min)
	hi, ok2 := parseLexBound(max)
	if !ok1 || !ok2 {
		c.WriteError(errZLexRange)
		return lo, hi, false
	}
	return lo, hi, true
}

// cmdZCount is ZCOUNT and ZLEXCOUNT.
func cmdZCount(c *Conn, cmd Command) {
	z := c.kv().zset(c.key(cmd.Args[1]))
	var n int64
	var err error
	if equalFold(cmd.Args[0], "zcount") {
		lo, hi, ok := c.parseScoreRange(cmd.Args[2], cmd.Args[3])
		if !ok {
			return
		}
		n, err = z.Count(lo, hi)
	} else {
		lo, hi, ok := c.parseLexRange(cmd.Args[2], cmd.Args[3])
		if !ok {
			return
		}
		n, err = z.LexCount(lo, hi)
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteInt(n)
}

// zrangeArgs is a parsed ZRANGE-family command.
type zrangeArgs struct {
	r          epochdb.ZRange
	withScores bool
	limitZero  bool // LIMIT with a count of 0: nothing
}

// parseZRange parses "min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
// [WITHSCORES]" at args (args[0] the min) as Redis's zrangeGenericCommand:
// by, rev fixed by the command name unless auto. It writes the error and
// returns false on a bad one.
func (c *Conn) parseZRange(args [][]byte, by epochdb.ZRangeBy, autoBy, rev, autoRev, store bool) (zrangeArgs, bool) {
	var a zrangeArgs
	limit, offset := int64(-1), int64(0)
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		switch {
		case !store && equalFold(args[j], "withscores"):
			a.withScores = true
		case equalFold(args[j], "limit") && left >= 2:
			o, ok1 := parseInt(args[j+1])
			l, ok2 := parseInt(args[j+2])
			if !ok1 || !ok2 {
				c.WriteError(errNotInteger)
				return a, false
			}
			offset, limit = o, l
			j += 2
		case autoRev && equalFold(args[j], "rev"):
			rev, autoRev = true, false
		case autoBy && equalFold(args[j], "bylex"):
			by, autoBy = epochdb.ByLex, false
		case autoBy && equalFold(args[j], "byscore"):
			by, autoBy = epochdb.ByScore, false
		default:
			c.WriteError(errSyntax)
			return a, false
		}
	}
	if limit != -1 && by == epochdb.ByRank {
		c.WriteError(errZLimitRank)
		return a, false
	}
	if a.withScores && by == epochdb.ByLex {
		c.WriteError(errZLexScores)
		return a, false
	}
	min, max := args[0], args[1]
	if rev && by != epochdb.ByRank {
		min, max = max, min // given as max min
	}
	a.r = epochdb.ZRange{By: by, Rev: rev, Offset: offset}
	if limit > 0 {
		a.r.Count = limit
	}
	a.limitZero = limit == 0
	var ok bool
	switch by {
	case epochdb.ByRank:
		var ok1, ok2 bool
		a.r.Start, ok1 = parseInt(min)
		a.r.Stop, ok2 = parseInt(max)
		if !ok1 || !ok2 {
			c.WriteError(errNotInteger)
			return a, false
		}
		ok = true
	case epochdb.ByScore:
		a.r.Min, a.r.Max, ok = c.parseScoreRange(min, max)
	case epochdb.ByLex:
		a.r.LexMin, a.r.LexMax, ok = c.parseLexRange(min, max)
	}
	return a, ok
}

// cmdZRange is ZRANGE, ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE,
// ZREVRANGEBYSCORE, ZRANGEBYLEX and ZREVRANGEBYLEX.
func cmdZRange(c *Conn, cmd Command) {
	name := string(lower(nil, cmd.Args[0]))
	by, autoBy, rev, autoRev := epochdb.ByRank, false, false, false
	switch name {
	case "zrange", "zrangestore":
		autoBy, autoRev = true, true
	case "zrevrange":
		rev = true
	case "zrangebyscore":
		by = epochdb.ByScore
	case "zrevrangebyscore":
		by, rev = epochdb.ByScore, true
	case "zrangebylex":
		by = epochdb.ByLex
	case "zrevrangebylex":
		by, rev = epochdb.ByLex, true
	}
	store := name == "zrangestore"
	src := 1
	if store {
		src = 2
	}
	a, ok := c.parseZRange(cmd.Args[src+1:], by, autoBy, rev, autoRev, store)
	if !ok {
		return
	}
	if store {
		c.zrangeStore(cmd.Args[1], cmd.Args[2], a)
		return
	}
	var ms []epochdb.ZMember
	if !a.limitZero {
		var err error
		if ms, err = c.kv().zset(c.key(cmd.Args[1])).Range(a.r); err != nil {
			c.writeErr(err)
			return
		}
	} else if _, err := c.kv().zset(c.key(cmd.Args[1])).Card(); err != nil {
		c.writeErr(err) // the type is checked all the same
		return
	}
	c.writeZMembers(ms, a.withScores)
}

// zrangeStore stores the range a of the sorted set src in dst (replacing
// whatever dst held, or deleting it for an empty range), in one
// transaction.
func (c *Conn) zrangeStore(dstArg, srcArg []byte, a zrangeArgs) {
	dst, src := c.key(dstArg), c.key(srcArg)
	var ms []epochdb.ZMember
	existed := false
	err := c.kv().Update(func(tx *epochdb.Tx) error {
		var err error
		ms = nil
		if a.limitZero {
			_, err = tx.ZSet(src).Card()
		} else {
			ms, err = tx.ZSet(src).Range(a.r)
		}
		if err != nil {
			return err
		}
		existed, err = storeZMembers(tx, dst, ms)
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.zsetStored(len(ms), existed, "zrangestore", dstArg)
	c.WriteInt(int64(len(ms)))
}

// storeZMembers replaces whatever dst holds by a sorted set of ms (or
// deletes it if ms is empty) in tx, and reports whether dst existed.
func storeZMembers(tx *epochdb.Tx, dst []byte, ms []epochdb.ZMember) (bool, error) {
	existed, err := txExists(tx, dst)
	if err != nil {
		return false, err
	}
	if err := tx.Delete(dst); err != nil {
		return false, err
	}
	if len(ms) > 0 {
		_, _, err = tx.ZSet(dst).Add(epochdb.ZAddOptions{}, ms...)
	}
	return existed, err
}

// zsetStored publishes the events of a store into the sorted set key of n
// members: the command's event, or "del" if an empty result deleted it.
func (c *Conn) zsetStored(n int, existed bool, event string, key []byte) {
	switch {
	case n > 0:
		c.notify(notifyZSet, event, key)
	case existed:
		c.notify(notifyGeneric, "del", key)
	}
}

// cmdZRemRange is ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX.
func cmdZRemRange(c *Conn, cmd Command) {
	name := string(lower(nil, cmd.Args[0]))
	r := epochdb.ZRange{}
	var ok bool
	switch name {
	case "zremrangebyrank":
		var ok1, ok2 bool
		r.Start, ok1 = parseInt(cmd.Args[2])
		r.Stop, ok2 = parseInt(cmd.Args[3])
		if ok = ok1 && ok2; !ok {
			c.WriteError(errNotInteger)
		}
	case "zremrangebyscore":
		r.By = epochdb.ByScore
		r.Min, r.Max, ok = c.parseScoreRange(cmd.Args[2], cmd.Args[3])
	default:
		r.By = epochdb.ByLex
		r.LexMin, r.LexMax, ok = c.parseLexRange(cmd.Args[2], cmd.Args[3])
	}
	if !ok {
		return
	}
	event := name // Redis's events are the commands' names
	var n int64
	gone := false
	err := c.kv().zset(c.key(cmd.Args[1])).Modify(func(v *epochdb.ZSetView) error {
		var err error
		n, err = v.RemoveRange(r)
		gone = n > 0 && v.Card() == 0
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.zsetRemoved(n > 0, gone, event, cmd.Args[1])
	c.WriteInt(n)
}

// cmdZPop is ZPOPMIN and ZPOPMAX key [count].
func cmdZPop(c *Conn, cmd Command) {
	if len(cmd.Args) > 3 {
		c.WriteError(errSyntax)
		return
	}
	count := -1 // a single pop: a flat reply in RESP3 too
	if len(cmd.Args) == 3 {
		n, ok := parseInt(cmd.Args[2])
		if !ok || n < 0 {
			c.WriteError(errPositive)
			return
		}
		count = int(min(n, math.MaxInt32))
	}
	top := equalFold(cmd.Args[0], "zpopmax")
	var ms []epochdb.ZMember
	gone := false
	err := c.kv().zset(c.key(cmd.Args[1])).Modify(func(v *epochdb.ZSetView) error {
		var err error
		if top {
			ms, err = v.PopMax(abs1(count))
		} else {
			ms, err = v.PopMin(abs1(count))
		}
		gone = len(ms) > 0 && v.Card() == 0
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	event := "zpopmin"
	if top {
		event = "zpopmax"
	}
	c.zsetRemoved(len(ms) > 0, gone, event, cmd.Args[1])
	// A single pop (no count) is a flat member, score in RESP3 too.
	c.writeZList(ms, true, count != -1 && c.resp >= 3)
}

// abs1 is the count of a pop: -1 (a single pop) counts 1.
func abs1(n int) int {
	if n < 0 {
		return 1
	}
	return n
}

// cmdZMPop is ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: it pops
// from the first key that holds a sorted set (BZMPOP's try, commands_bzpop.go).
func cmdZMPop(c *Conn, cmd Command) {
	keys, where, count, msg := parseMultiPop(cmd.Args[1:], "min", "max")
	if msg != "" {
		c.WriteError(msg)
		return
	}
	if !c.tryKeys(keys, zsetPopTry(c.db, where == 1, count, true)) {
		c.WriteNullArray()
	}
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// cmdZRandMember is ZRANDMEMBER key [count [WITHSCORES]].
func cmdZRandMember(c *Conn, cmd Command) {
	args := cmd.Args
	z := c.kv().zset(c.key(args[1]))
	if len(args) == 2 {
		ms, err := z.Random(1)
		switch {
		case err != nil:
			c.writeErr(err)
		case len(ms) == 0:
			c.WriteNull()
		default:
			c.WriteBulk(ms[0].Member)
		}
		return
	}
	count, ok := parseInt(args[2])
	switch {
	case !ok:
		c.WriteError(errNotInteger)
		return
	case count == math.MinInt64:
		c.WriteError("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return
	}
	if len(args) > 4 || (len(args) == 4 && !equalFold(args[3], "withscores")) {
		c.WriteError(errSyntax)
		return
	}
	withScores := len(args) == 4
	if withScores && (count < -math.MaxInt64/2 || count > math.MaxInt64/2) {
		c.WriteError(errValueRange)
		return
	}
	var ms []epochdb.ZMember
	err := z.View(func(v *epochdb.ZSetView) error {
		var err error
		n := v.Card()
		switch {
		case count == 0 || n == 0:
		case count >= n:
			// The whole sorted set, from the highest score down, as
			// Redis replies.
			ms, err = v.Range(epochdb.ZRange{Start: 0, Stop: -1, Rev: true})
		default:
			ms, err = v.Random(int(max64(min(count, math.MaxInt32), -math.MaxInt32)))
		}
		return err
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.writeZMembers(ms, withScores)
}

// zsetInput is one input of ZUNION, ZINTER, ZDIFF and their STORE forms: a
// sorted set, or a set (every member scoring 1), with its weight.
type zsetInput struct {
	ms     []epochdb.ZMember
	scores map[string]float64
	weight float64
	key    string
}

// readZInputs reads the inputs keys in tx: a missing key is empty, a key
// of another type than sorted set or set is ErrWrongType.
func readZInputs(tx *epochdb.Tx, keys [][]byte) ([]*zsetInput, error) {
	in := make([]*zsetInput, len(keys))
	for i, k := range keys {
		in[i] = &zsetInput{weight: 1, key: string(k)}
		md, err := tx.Metadata(k)
		switch {
		case errors.Is(err, epochdb.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		}
		switch md.Type {
		case epochdb.TypeZSet:
			if in[i].ms, err = tx.ZSet(k).Range(epochdb.ZRange{Start: 0, Stop: -1}); err != nil {
				return nil, err
			}
		case epochdb.TypeSet:
			ms, err := tx.SetOf(k).Members()
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				in[i].ms = append(in[i].ms, epochdb.ZMember{Member: m, Score: 1})
			}
		default:
			return nil, epochdb.ErrWrongType
		}
	}
	return in, nil
}

// lookup returns member m's score in the input.
func (in *zsetInput) lookup(m []byte) (float64, bool) {
	if in.scores == nil {
		in.scores = make(map[string]float64, len(in.ms))
		for _, x := range in.ms {
			in.scores[string(x.Member)] = x.Score
		}
	}
	f, ok := in.scores[string(m)]
	return f, ok
}

// zaggregate folds val into *target as Redis's zunionInterAggregate: SUM
// makes +inf plus -inf 0.
func zaggregate(target *float64, val float64, agg string) {
	switch agg {
	case "min":
		if val < *target {
			*target = val
		}
	case "max":
		if val > *target {
			*target = val
		}
	default:
		if *target += val; math.IsNaN(*target) {
			*target = 0
		}
	}
}

// zsetAlgebra computes op ("union", "inter", "diff") of the inputs as
// Redis's zunionInterDiffGenericCommand, sorted by score then member.
// limit > 0 stops an intersection at that many members (ZINTERCARD).
func zsetAlgebra(op string, in []*zsetInput, agg string, limit int64) []epochdb.ZMember {
	acc := map[string]float64{}
	weighted := func(in *zsetInput, score float64) float64 {
		s := in.weight * score
		if math.IsNaN(s) {
			s = 0
		}
		return s
	}
	switch op {
	case "union":
		for _, src := range in {
			for _, x := range src.ms {
				s := weighted(src, x.Score)
				if cur, ok := acc[string(x.Member)]; ok {
					zaggregate(&cur, s, agg)
					s = cur
				}
				acc[string(x.Member)] = s
			}
		}
	case "inter":
		// From the smallest input, as Redis (which orders the sum).
		sorted := slices.Clone(in)
		slices.SortStableFunc(sorted, func(a, b *zsetInput) int { return cmp.Compare(len(a.ms), len(b.ms)) })
	members:
		for _, x := range sorted[0].ms {
			s := weighted(sorted[0], x.Score)
			for _, src := range sorted[1:] {
				v, ok := x.Score, src.key == sorted[0].key
				if !ok {
					if v, ok = src.lookup(x.Member); !ok {
						continue members
					}
				}
				zaggregate(&s, v*src.weight, agg)
			}
			acc[string(x.Member)] = s
			if limit > 0 && int64(len(acc)) >= limit {
				break
			}
		}
	case "diff":
	diff:
		for _, x := range in[0].ms {
			for _, src := range in[1:] {
				if _, ok := src.lookup(x.Member); ok {
					continue diff
				}
			}
			acc[string(x.Member)] = x.Score
		}
	}
	out := make([]epochdb.ZMember, 0, len(acc))
	for m, s := range acc {
		out = append(out, epochdb.ZMember{Member: []byte(m), Score: s})
	}
	slices.SortFunc(out, func(a, b epochdb.ZMember) int {
		return cmp.Or(cmp.Compare(a.Score, b.Score), bytes.Compare(a.Member, b.Member))
	})
	return out
}

// cmdZSetAlgebra is ZUNION, ZINTER, ZDIFF, their STORE forms and
// ZINTERCARD: numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE
// SUM|MIN|MAX] [WITHSCORES] | [LIMIT limit].
func cmdZSetAlgebra(c *Conn, cmd Command) {
	args := cmd.Args
	name := string(lower(nil, args[0]))
	store := len(name) > 5 && name[len(name)-5:] == "store"
	card := name == "zintercard"
	op := name[1:]
	switch {
	case store:
		op = op[:len(op)-5]
	case card:
		op = "inter"
	}
	numIdx := 1
	if store {
		numIdx = 2
	}
	n, ok := parseInt(args[numIdx])
	switch {
	case !ok:
		c.WriteError(errNotInteger)
		return
	case n < 1:
		c.WriteError("ERR at least 1 input key is needed for '" + name + "' command")
		return
	case n > int64(len(args)-numIdx-1):
		c.WriteError(errSyntax)
		return
	}
	keyArgs := args[numIdx+1 : numIdx+1+int(n)]
	// The options are checked after the keys' types, as Redis does: their
	// error waits.
	agg, withScores, limit := "sum", false, int64(0)
	var weights []float64
	optErr := ""
	for j := numIdx + 1 + int(n); j < len(args) && optErr == ""; j++ {
		left := len(args) - j
		switch {
		case op != "diff" && !card && left >= int(n)+1 && equalFold(args[j], "weights"):
			weights = weights[:0]
			for i := range int(n) {
				w, ok := parseScore(args[j+1+i])
				if !ok {
					optErr = errZWeight
					break
				}
				weights = append(weights, w)
			}
			j += int(n)
		case op != "diff" && !card && left >= 2 && equalFold(args[j], "aggregate"):
			switch a := args[j+1]; {
			case equalFold(a, "sum"), equalFold(a, "min"), equalFold(a, "max"):
				agg = string(lower(nil, a))
			default:
				optErr = errSyntax
			}
			j++
		case !store && !card && equalFold(args[j], "withscores"):
			withScores = true
		case card && left >= 2 && equalFold(args[j], "limit"):
			l, ok := parseInt(args[j+1])
			if !ok || l < 0 {
				optErr = errZLimitNeg
			}
			limit = l
			j++
		default:
			optErr = errSyntax
		}
	}
	keys := make([][]byte, len(keyArgs))
	for i, k := range keyArgs {
		keys[i] = c.key(k)
	}
	var result []epochdb.ZMember
	existed := false
	run := func(tx *epochdb.Tx) error {
		in, err := readZInputs(tx, keys)
		if err != nil {
			return err
		}
		if optErr != "" {
			return replyError(optErr)
		}
		for i, w := range weights {
			in[i].weight = w
		}
		result = zsetAlgebra(op, in, agg, limit)
		if store {
			existed, err = storeZMembers(tx, c.key(args[1]), result)
		}
		return err
	}
	var err error
	if store {
		err = c.kv().Update(run)
	} else {
		err = c.kv().View(run)
	}
	switch {
	case err != nil:
		c.writeErr(err)
	case store:
		c.zsetStored(len(result), existed, name, args[1])
		c.WriteInt(int64(len(result)))
	case card:
		c.WriteInt(int64(len(result)))
	default:
		c.writeZMembers(result, withScores)
	}
}

// zsetSmall reports whether Redis would keep the sorted set as a listpack:
// up to 128 members of up to 64 bytes (its defaults).
func zsetSmall(v *epochdb.ZSetView) (bool, error) {
	if v.Card() > listpackMax {
		return false, nil
	}
	small := true
	err := v.Scan(nil, func(m epochdb.ZMember) bool {
		small = len(m.Member) <= listpackMaxLen
		return small
	})
	return small, err
}

// zsetEncoding is the encoding Redis would report for the sorted set:
// listpack while it is small, skiplist beyond.
func zsetEncoding(z *epochdb.ZSet) string {
	small := false
	_ = z.View(func(v *epochdb.ZSetView) error {
		var err error
		small, err = zsetSmall(v)
		return err
	})
	if small {
		return "listpack"
	}
	return "skiplist"
}

// cmdZScan is ZSCAN key cursor [MATCH pattern] [COUNT count]. A sorted set
// Redis keeps as a listpack comes whole in one reply, in score order, as
// Redis answers; a larger one is paged in member order.
func cmdZScan(c *Conn, cmd Command) {
	s, ok := c.parseCollScan(cmd.Args, false)
	if !ok {
		return
	}
	var items [][]byte
	add := func(m epochdb.ZMember) {
		if s.pattern == nil || globMatch(s.pattern, m.Member) {
			items = append(items, bytes.Clone(m.Member), appendScore(nil, m.Score))
		}
	}
	last := make([]byte, 0, 32)
	more := false
	err := c.kv().zset(c.key(cmd.Args[1])).View(func(v *epochdb.ZSetView) error {
		items, more = nil, false
		if s.after == nil {
			small, err := zsetSmall(v)
			if err != nil || small {
				return errors.Join(err, v.Walk(epochdb.ZRange{Start: 0, Stop: -1}, func(m epochdb.ZMember) bool {
					add(m)
					return true
				}))
			}
		}
		seen := 0
		return v.Scan(firstAfter(s.after), func(m epochdb.ZMember) bool {
			if seen == s.count {
				more = true
				return false
			}
			seen++
			last = append(last[:0], m.Member...)
			add(m)
			return true
		})
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.writeCollScan(items, more, last)
}

// firstAfter returns the smallest byte string greater than after (nil for
// nil: the first).
func firstAfter(after []byte) []byte {
	if after == nil {
		return nil
	}
	return append(bytes.Clone(after), 0)
}

// copyZSet copies the sorted set src to dst (which the caller emptied) in
// tx, member by member.
func copyZSet(tx *epochdb.Tx, src, dst []byte) error {
	ms, err := tx.ZSet(src).Range(epochdb.ZRange{Start: 0, Stop: -1})
	if err != nil {
		return err
	}
	_, _, err = tx.ZSet(dst).Add(epochdb.ZAddOptions{}, ms...)
	return err
}
