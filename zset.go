package epochdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/epochdb/epochdb/internal/keyspace"
)

// Sorted sets. A sorted set is a collection (coll.go) whose member records
// hold the members' scores, plus a score index of its own, (key, version,
// score, member) → empty, which orders the members by score and then by
// member. The flush of a view keeps the index in step with the members
// (stageScoreIndex), and dropping a sorted set drops its index range with
// its members. Ranges by score and by rank walk the index; ranges by
// member walk the member keyspace. A rank is found by walking from the
// nearer end: O(min(rank, count-rank)), where Redis's skiplist is
// O(log n).

// ErrNaNScore is returned when a sorted set score is, or an increment
// would make it, not a number (NaN).
var ErrNaNScore = errors.New("epochdb: sorted set score is not a number")

// ErrZAddOptions is returned by ZSet.Add and IncrBy for options that
// cannot go together: NX with XX, GT or LT, and GT with LT.
var ErrZAddOptions = errors.New("epochdb: incompatible sorted set add options")

// ZSet is the sorted set stored under a key: distinct byte-string members,
// each with a float64 score, ordered by score and then by member (byte
// order). Get one with DB.ZSet (each method is one atomic operation) or
// Tx.ZSet (inside the transaction). Like a Hash it is one key for the
// lifecycle, exists while it has a member, and a read of it counts as an
// access of the key. Every method returns ErrWrongType if the key holds
// another type. Slices passed in may be reused once a method returns;
// slices returned are the caller's.
type ZSet struct{ h collHandle }

// ZSet returns the sorted set stored under key (it need not exist yet).
func (db *DB) ZSet(key []byte) *ZSet {
	return &ZSet{collHandle{db: db, key: append([]byte(nil), key...), typ: keyspace.TypeZSet}}
}

// ZSet returns the sorted set stored under key, as the transaction sees it.
func (tx *Tx) ZSet(key []byte) *ZSet {
	return &ZSet{collHandle{db: tx.db, tx: tx, key: append([]byte(nil), key...), typ: keyspace.TypeZSet}}
}

// ZMember is a sorted set member and its score.
type ZMember struct {
	Member []byte
	Score  float64
}

// ZAddOptions are the conditions of ZSet.Add and IncrBy, as Redis's ZADD
// options (its CH is a matter of counting: Add reports both counts). The
// zero value adds and updates unconditionally.
type ZAddOptions struct {
	NX bool // only add new members, never update
	XX bool // only update members, never add
	GT bool // update a member only if its new score is greater
	LT bool // update a member only if its new score is less
}

func (o ZAddOptions) check() error {
	if (o.NX && (o.XX || o.GT || o.LT)) || (o.GT && o.LT) {
		return ErrZAddOptions
	}
	return nil
}

// ScoreBound is one end of a range of scores: Score itself is in the range
// unless Exclusive. Use math.Inf for an unbounded end.
type ScoreBound struct {
	Score     float64
	Exclusive bool
}

// LexBound is one end of a range of members in byte order (Redis's lex
// ranges): Member itself is in the range unless Exclusive. Inf -1 is the
// bound below every member (Redis's "-"), Inf 1 the bound above every
// member ("+"); Member is then ignored.
type LexBound struct {
	Member    []byte
	Exclusive bool
	Inf       int
}

// ZRangeBy says what a ZRange selects by.
type ZRangeBy uint8

// The kinds of range.
const (
	ByRank  ZRangeBy = iota // Start..Stop, ranks (0 the first)
	ByScore                 // Min..Max
	ByLex                   // LexMin..LexMax, members in byte order
)

// ZRange selects members of a sorted set. Results come in score order
// (members with the same score in byte order), or the reverse with Rev.
type ZRange struct {
	By ZRangeBy
	// Start and Stop are ranks for ByRank, both included; negative ones
	// count from the end (-1 is the last). With Rev, rank 0 is the member
	// with the highest score.
	Start, Stop int64
	// Min and Max bound the scores for ByScore.
	Min, Max ScoreBound
	// LexMin and LexMax bound the members for ByLex (whose scores should
	// all be equal, as Redis requires for its lex ranges).
	LexMin, LexMax LexBound
	// Rev walks from the highest score (or member) down; the bounds keep
	// their meaning (Min is still the lowest).
	Rev bool
	// Offset skips that many matches and Count (if > 0) keeps at most that
	// many (ByScore and ByLex: Redis's LIMIT).
	Offset, Count int64
}

// Add adds members or updates their scores, creating the sorted set if
// needed, under the conditions of opts, and returns how many members it
// added and how many existing ones had their score changed. A member given
// twice takes its last score. A NaN score is ErrNaNScore.
func (z *ZSet) Add(opts ZAddOptions, members ...ZMember) (added, changed int, err error) {
	if err := checkZMembers(opts, members); err != nil {
		return 0, 0, err
	}
	err = z.h.write(func(v *collView) error {
		var err error
		added, changed, err = (&ZSetView{v: v}).Add(opts, members...)
		return err
	})
	return added, changed, err
}

// checkZMembers validates options and members before anything is changed.
func checkZMembers(opts ZAddOptions, members []ZMember) error {
	if err := opts.check(); err != nil {
		return err
	}
	for _, m := range members {
		if err := checkMember(m.Member); err != nil {
			return err
		}
		if math.IsNaN(m.Score) {
			return ErrNaNScore
		}
	}
	return nil
}

// IncrBy adds delta to member's score (a new member starts at 0) under the
// conditions of opts, as Redis's ZINCRBY and ZADD INCR, and returns the new
// score; done is false if a condition kept the member unchanged (and the
// score is then meaningless). An increment that makes the score NaN
// (+inf plus -inf) is ErrNaNScore.
func (z *ZSet) IncrBy(member []byte, delta float64, opts ZAddOptions) (score float64, done bool, err error) {
	if err := checkZMembers(opts, []ZMember{{Member: member, Score: delta}}); err != nil {
		return 0, false, err
	}
	err = z.h.write(func(v *collView) error {
		var err error
		score, done, err = (&ZSetView{v: v}).IncrBy(member, delta, opts)
		return err
	})
	return score, done, err
}

// Remove removes members and returns how many were members.
func (z *ZSet) Remove(members ...[]byte) (int, error) {
	n := 0
	err := z.h.write(func(v *collView) error {
		var err error
		n, err = (&ZSetView{v: v}).Remove(members...)
		return err
	})
	return n, err
}

// Card returns the number of members (0 for a missing key).
func (z *ZSet) Card() (int64, error) {
	return z.h.length()
}

// Score returns member's score, or ErrNotFound if the sorted set or the
// member does not exist.
func (z *ZSet) Score(member []byte) (float64, error) {
	var f float64
	err := z.View(func(v *ZSetView) error {
		var ok bool
		var err error
		if f, ok, err = v.Score(member); err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return f, err
}

// Scores returns the scores of members, from one state of the sorted set;
// found[i] is false for a member that does not exist.
func (z *ZSet) Scores(members ...[]byte) (scores []float64, found []bool, err error) {
	scores, found = make([]float64, len(members)), make([]bool, len(members))
	err = z.View(func(v *ZSetView) error {
		for i, m := range members {
			var err error
			if scores[i], found[i], err = v.Score(m); err != nil {
				return err
			}
		}
		return nil
	})
	return scores, found, err
}

// Rank returns member's rank (0 for the lowest score; for the highest with
// rev) and its score, or ErrNotFound if the sorted set or the member does
// not exist.
func (z *ZSet) Rank(member []byte, rev bool) (rank int64, score float64, err error) {
	err = z.View(func(v *ZSetView) error {
		var ok bool
		var err error
		if rank, score, ok, err = v.Rank(member, rev); err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return rank, score, err
}

// Count returns the number of members whose score is between min and max.
func (z *ZSet) Count(min, max ScoreBound) (int64, error) {
	var n int64
	err := z.View(func(v *ZSetView) error {
		var err error
		n, err = v.Count(ZRange{By: ByScore, Min: min, Max: max})
		return err
	})
	return n, err
}

// LexCount returns the number of members between min and max in byte
// order.
func (z *ZSet) LexCount(min, max LexBound) (int64, error) {
	var n int64
	err := z.View(func(v *ZSetView) error {
		var err error
		n, err = v.Count(ZRange{By: ByLex, LexMin: min, LexMax: max})
		return err
	})
	return n, err
}

// Range returns the members r selects, with their scores, in r's order.
func (z *ZSet) Range(r ZRange) ([]ZMember, error) {
	var out []ZMember
	err := z.View(func(v *ZSetView) error {
		var err error
		out, err = v.Range(r)
		return err
	})
	return out, err
}

// RemoveRange removes the members r selects and returns how many it
// removed (Redis's ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX).
func (z *ZSet) RemoveRange(r ZRange) (int64, error) {
	var n int64
	err := z.h.write(func(v *collView) error {
		var err error
		n, err = (&ZSetView{v: v}).RemoveRange(r)
		return err
	})
	return n, err
}

// PopMin removes and returns up to count members with the lowest scores,
// lowest first.
func (z *ZSet) PopMin(count int) ([]ZMember, error) { return z.pop(count, false) }

// PopMax removes and returns up to count members with the highest scores,
// highest first.
func (z *ZSet) PopMax(count int) ([]ZMember, error) { return z.pop(count, true) }

func (z *ZSet) pop(count int, top bool) ([]ZMember, error) {
	var out []ZMember
	err := z.h.write(func(v *collView) error {
		var err error
		out, err = (&ZSetView{v: v}).pop(count, top)
		return err
	})
	return out, err
}

// Random returns up to count distinct members with their scores (count >
// 0), or count members that may repeat (count < 0), picked as Set.Random
// picks members.
func (z *ZSet) Random(count int) ([]ZMember, error) {
	var out []ZMember
	err := z.View(func(v *ZSetView) error {
		var err error
		out, err = v.Random(count)
		return err
	})
	return out, err
}

// Scan calls fn for each member after the member after (nil: from the
// first), in byte order of the members, until fn returns false. The
// member is valid during the call only.
func (z *ZSet) Scan(after []byte, fn func(m ZMember) bool) error {
	return z.View(func(v *ZSetView) error { return v.Scan(firstAfter(after), fn) })
}

// Modify runs fn on the sorted set atomically, as Hash.Modify does on a
// hash: its changes are one write when fn returns nil, none if it returns
// an error (which Modify returns).
//
// IMPORTANT: with DB.ZSet, fn runs while a lock covering the key is held:
// it must be quick and must not call methods of the DB. The view is valid
// during fn only.
func (z *ZSet) Modify(fn func(v *ZSetView) error) error {
	return z.h.write(func(v *collView) error { return fn(&ZSetView{v: v}) })
}

// View runs fn on the sorted set as of one state, without writing.
func (z *ZSet) View(fn func(v *ZSetView) error) error {
	return z.h.read(func(v *collView) error { return fn(&ZSetView{v: v, ro: true}) })
}

// ZSetView is a sorted set inside ZSet.Modify or ZSet.View. Its methods
// are those of ZSet, on the view.
type ZSetView struct {
	v  *collView
	ro bool
}

// Exists reports whether the sorted set exists.
func (zv *ZSetView) Exists() bool { return zv.v.live }

// Card is ZSet.Card.
func (zv *ZSetView) Card() int64 { return zv.v.length() }

// Score returns member's score; ok is false if it is not a member.
func (zv *ZSetView) Score(member []byte) (score float64, ok bool, err error) {
	s, ok, err := zv.v.get(member)
	if err != nil || !ok {
		return 0, false, err
	}
	if score, err = keyspace.DecodeScore(s.value); err != nil {
		return 0, false, corruptErr(zv.v.key, err)
	}
	return score, true, nil
}

// put stores member with score (not NaN) and reports whether it is new.
func (zv *ZSetView) put(member []byte, score float64) (bool, error) {
	return zv.v.set(keyspace.TypeZSet, member, keyspace.AppendScore(nil, score), 0)
}

// Add is ZSet.Add.
func (zv *ZSetView) Add(opts ZAddOptions, members ...ZMember) (added, changed int, err error) {
	if zv.ro {
		return 0, 0, ErrTxReadOnly
	}
	if err := checkZMembers(opts, members); err != nil {
		return 0, 0, err
	}
	for _, m := range members {
		_, a, c, _, err := zv.add(m.Member, m.Score, false, opts)
		if err != nil {
			return added, changed, err
		}
		if a {
			added++
		}
		if c {
			changed++
		}
	}
	return added, changed, nil
}

// IncrBy is ZSet.IncrBy.
func (zv *ZSetView) IncrBy(member []byte, delta float64, opts ZAddOptions) (score float64, done bool, err error) {
	if zv.ro {
		return 0, false, ErrTxReadOnly
	}
	if err := checkZMembers(opts, []ZMember{{Member: member, Score: delta}}); err != nil {
		return 0, false, err
	}
	score, _, _, done, err = zv.add(member, delta, true, opts)
	return score, done, err
}

// add is ZADD's step for one member, as Redis's zsetAdd: it returns the
// member's new score, whether it was added or its score changed, and
// whether the conditions let the operation through (done).
func (zv *ZSetView) add(member []byte, score float64, incr bool, opts ZAddOptions) (newScore float64, added, changed, done bool, err error) {
	cur, ok, err := zv.Score(member)
	if err != nil {
		return 0, false, false, false, err
	}
	if !ok {
		if opts.XX {
			return 0, false, false, false, nil
		}
		if _, err := zv.put(member, score); err != nil {
			return 0, false, false, false, err
		}
		return score, true, false, true, nil
	}
	if opts.NX {
		return 0, false, false, false, nil
	}
	if incr {
		if score += cur; math.IsNaN(score) {
			return 0, false, false, false, ErrNaNScore
		}
	}
	if (opts.LT && score >= cur) || (opts.GT && score <= cur) {
		return 0, false, false, false, nil
	}
	if score != cur {
		if _, err := zv.put(member, score); err != nil {
			return 0, false, false, false, err
		}
		changed = true
	}
	return score, false, changed, true, nil
}

// Remove is ZSet.Remove.
func (zv *ZSetView) Remove(members ...[]byte) (int, error) {
	if zv.ro {
		return 0, ErrTxReadOnly
	}
	n := 0
	for _, m := range members {
		ok, err := zv.v.del(m)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	zv.v.emptied()
	return n, nil
}

// Rank is ZSet.Rank; ok is false if member is not a member. The walk goes
// from both ends at once and stops at whichever meets the member first.
func (zv *ZSetView) Rank(member []byte, rev bool) (rank int64, score float64, ok bool, err error) {
	score, ok, err = zv.Score(member)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	at := keyspace.AppendScore(nil, score)
	at = append(at, member...)
	below, err := zv.v.walk(true, false, nil, at)
	if err != nil {
		return 0, 0, false, err
	}
	defer below.close()
	above, err := zv.v.walk(true, true, append(at, 0), nil)
	if err != nil {
		return 0, 0, false, err
	}
	defer above.close()
	var nBelow, nAbove int64
	for {
		_, _, more, err := below.next()
		if err != nil {
			return 0, 0, false, err
		}
		if !more {
			break
		}
		nBelow++
		_, _, more, err = above.next()
		if err != nil {
			return 0, 0, false, err
		}
		if !more {
			nBelow = zv.v.length() - 1 - nAbove
			break
		}
		nAbove++
	}
	if rev {
		return zv.v.length() - 1 - nBelow, score, true, nil
	}
	return nBelow, score, true, nil
}

// Count returns how many members r selects (its Offset and Count apply).
func (zv *ZSetView) Count(r ZRange) (int64, error) {
	if r.By == ByScore && r.Offset <= 0 && r.Count <= 0 && r.Min == (ScoreBound{Score: math.Inf(-1)}) && r.Max == (ScoreBound{Score: math.Inf(1)}) {
		return zv.v.length(), nil
	}
	var n int64
	err := zv.walkRange(r, func([]byte, float64) bool { n++; return true })
	return n, err
}

// Range is ZSet.Range.
func (zv *ZSetView) Range(r ZRange) ([]ZMember, error) {
	var out []ZMember
	err := zv.walkRange(r, func(m []byte, score float64) bool {
		out = append(out, ZMember{Member: bytes.Clone(m), Score: score})
		return true
	})
	return out, err
}

// Walk calls fn for each member r selects, in r's order, until fn returns
// false. The member is valid during the call only.
func (zv *ZSetView) Walk(r ZRange, fn func(m ZMember) bool) error {
	return zv.walkRange(r, func(m []byte, score float64) bool { return fn(ZMember{Member: m, Score: score}) })
}

// RemoveRange is ZSet.RemoveRange. Removing every member drops the sorted
// set as a deletion does (one range deletion for a large one).
func (zv *ZSetView) RemoveRange(r ZRange) (int64, error) {
	if zv.ro {
		return 0, ErrTxReadOnly
	}
	var ms [][]byte
	if err := zv.walkRange(r, func(m []byte, _ float64) bool {
		ms = append(ms, bytes.Clone(m))
		return true
	}); err != nil {
		return 0, err
	}
	if int64(len(ms)) == zv.v.length() && len(ms) > 0 {
		zv.v.clearAll()
		return int64(len(ms)), nil
	}
	n, err := zv.Remove(ms...)
	return int64(n), err
}

// PopMin is ZSet.PopMin.
func (zv *ZSetView) PopMin(count int) ([]ZMember, error) { return zv.pop(count, false) }

// PopMax is ZSet.PopMax.
func (zv *ZSetView) PopMax(count int) ([]ZMember, error) { return zv.pop(count, true) }

func (zv *ZSetView) pop(count int, top bool) ([]ZMember, error) {
	if zv.ro {
		return nil, ErrTxReadOnly
	}
	if count <= 0 {
		return nil, nil
	}
	out, err := zv.Range(ZRange{By: ByRank, Start: 0, Stop: int64(count) - 1, Rev: top})
	if err != nil {
		return nil, err
	}
	if int64(len(out)) == zv.v.length() {
		zv.v.clearAll()
		return out, nil
	}
	for _, m := range out {
		if _, err := zv.v.del(m.Member); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	// Nothing is left beyond the last member popped.
	last := out[len(out)-1]
	end := append(keyspace.AppendScore(nil, last.Score), last.Member...)
	if top {
		zv.v.zhi = end
	} else {
		zv.v.zlo = append(end, 0)
	}
	return out, nil
}

// Random is ZSet.Random.
func (zv *ZSetView) Random(count int) ([]ZMember, error) {
	ms, err := randomMembers(zv.v, count)
	if err != nil {
		return nil, err
	}
	out := make([]ZMember, 0, len(ms))
	for _, m := range ms {
		score, ok, err := zv.Score(m)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, ZMember{Member: m, Score: score})
		}
	}
	return out, nil
}

// Scan calls fn for each member at or after from (nil: the first), in byte
// order, until fn returns false. The member is valid during the call.
func (zv *ZSetView) Scan(from []byte, fn func(m ZMember) bool) error {
	var derr error
	err := zv.v.each(from, func(m, value []byte, _ int64) bool {
		score, err := keyspace.DecodeScore(value)
		if err != nil {
			derr = corruptErr(zv.v.key, err)
			return false
		}
		return fn(ZMember{Member: m, Score: score})
	})
	return errors.Join(err, derr)
}

// walkRange calls fn for each member r selects, in r's order, until fn
// returns false.
func (zv *ZSetView) walkRange(r ZRange, fn func(m []byte, score float64) bool) error {
	if r.By == ByRank {
		return zv.walkRanks(r, fn)
	}
	var lo, hi []byte
	var empty bool
	switch r.By {
	case ByScore:
		if math.IsNaN(r.Min.Score) || math.IsNaN(r.Max.Score) {
			return ErrNaNScore
		}
		lo, hi, empty = scoreSpan(r.Min, r.Max)
	case ByLex:
		lo, hi, empty = lexSpan(r.LexMin, r.LexMax)
	default:
		return fmt.Errorf("epochdb: sorted set range by %d", r.By)
	}
	if empty || r.Offset < 0 {
		return nil
	}
	w, err := zv.v.walk(r.By == ByScore, r.Rev, lo, hi)
	if err != nil {
		return err
	}
	defer w.close()
	skip, left := r.Offset, r.Count
	for {
		m, score, ok, err := w.next()
		if err != nil || !ok {
			return err
		}
		if skip > 0 {
			skip--
			continue
		}
		if !fn(m, score) {
			return nil
		}
		if left--; left == 0 {
			return nil
		}
	}
}

// walkRanks calls fn for the members of ranks r.Start..r.Stop, in r's
// order. The walk starts from the end nearer to the ranks: a window near
// the top is read backward and handed out in order.
func (zv *ZSetView) walkRanks(r ZRange, fn func(m []byte, score float64) bool) error {
	n := zv.v.length()
	start, stop, ok := rankWindow(r.Start, r.Stop, n)
	if !ok {
		return nil
	}
	// The window in forward ranks, and whether it is handed out backward.
	lo, hi, backward := start, stop, r.Rev
	if r.Rev {
		lo, hi = n-1-stop, n-1-start
	}
	fromTop := n-1-hi < lo
	w, err := zv.v.walk(true, fromTop, nil, nil)
	if err != nil {
		return err
	}
	defer w.close()
	skip := lo
	if fromTop {
		skip = n - 1 - hi
	}
	var buf []ZMember
	for taken := int64(0); taken <= hi-lo; {
		m, score, ok, err := w.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if skip > 0 {
			skip--
			continue
		}
		taken++
		if fromTop == backward {
			if !fn(m, score) {
				return nil
			}
			continue
		}
		buf = append(buf, ZMember{Member: bytes.Clone(m), Score: score})
	}
	for i := len(buf) - 1; i >= 0; i-- {
		if !fn(buf[i].Member, buf[i].Score) {
			return nil
		}
	}
	return nil
}

// rankWindow resolves the ranks start..stop (negative ones from the end)
// of n members as Redis does: clipped to 0..n-1, ok false if empty.
func rankWindow(start, stop, n int64) (int64, int64, bool) {
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	start = max(start, 0)
	if start > stop || start >= n {
		return 0, 0, false
	}
	return start, min(stop, n-1), true
}

// scoreSpan returns the score-index suffixes [lo, hi) of the members
// whose score lies between min and max, or empty.
func scoreSpan(min, max ScoreBound) (lo, hi []byte, empty bool) {
	if min.Score > max.Score || (min.Score == max.Score && (min.Exclusive || max.Exclusive)) {
		return nil, nil, true
	}
	lo = keyspace.AppendScore(nil, min.Score)
	if min.Exclusive {
		lo = keyspace.PrefixEnd(lo)
	}
	hi = keyspace.AppendScore(nil, max.Score)
	if !max.Exclusive {
		hi = keyspace.PrefixEnd(hi)
	}
	return lo, hi, false
}

// lexSpan returns the member suffixes [lo, hi) (nil: unbounded) of the
// members between min and max, or empty.
func lexSpan(min, max LexBound) (lo, hi []byte, empty bool) {
	switch {
	case min.Inf > 0 || max.Inf < 0:
		return nil, nil, true
	case min.Inf < 0:
	case min.Exclusive:
		lo = append(bytes.Clone(min.Member), 0)
	default:
		lo = append([]byte{}, min.Member...)
	}
	switch {
	case max.Inf > 0:
	case max.Exclusive:
		hi = append([]byte{}, max.Member...)
	default:
		hi = append(bytes.Clone(max.Member), 0)
	}
	if lo != nil && hi != nil && bytes.Compare(lo, hi) >= 0 {
		return nil, nil, true
	}
	return lo, hi, false
}

// clearAll removes every member: the collection is gone, and flushing the
// view drops its members as a deletion does (a range deletion for a large
// collection) and deletes the key. A member added afterwards starts a new
// collection, as in Redis, where the key was deleted in between.
func (v *collView) clearAll() {
	if !v.live {
		return
	}
	clear(v.mem)
	v.live, v.fresh, v.dirty, v.touched = false, true, true, true
	v.coll.Count, v.coll.Bytes = 0, 0
}

// emptied ends the collection if its last member was removed: the key is
// deleted when the view is flushed, and a member added afterwards starts a
// new collection (create), as in Redis.
func (v *collView) emptied() {
	if v.live && v.coll.Count == 0 {
		v.live = false
	}
}

// zwalk walks the members of a sorted-set view in score order (its score
// index) or in member order (the member keyspace), forward or backward,
// over the suffixes [lo, hi) of the walked keys (after the prefix of the
// collection's version; nil: unbounded), merging the members the view
// changed with those the base holds.
type zwalk struct {
	v       *collView
	byScore bool
	rev     bool
	plen    int
	it      *pebble.Iterator // nil when the base holds nothing of the view
	itOK    bool
	stepped bool     // the iterator's entry was handed out: step before reading
	over    [][]byte // the suffixes of the changed members in range, in walk order
	m       []byte   // the member handed out last (an overlay one)
}

// walk starts a walk of v.
func (v *collView) walk(byScore, rev bool, lo, hi []byte) (*zwalk, error) {
	w := &zwalk{v: v, byScore: byScore, rev: rev}
	if !v.live {
		return w, nil
	}
	for m, s := range v.mem {
		if !s.changed || !s.visible(v.now) {
			continue
		}
		suf := []byte(m)
		if byScore {
			suf = append(bytes.Clone(s.value), m...)
		}
		if (lo == nil || bytes.Compare(suf, lo) >= 0) && (hi == nil || bytes.Compare(suf, hi) < 0) {
			w.over = append(w.over, suf)
		}
	}
	slices.SortFunc(w.over, bytes.Compare)
	if rev {
		slices.Reverse(w.over)
	}
	if v.fresh {
		return w, nil
	}
	var prefix []byte
	if byScore {
		prefix = keyspace.ScorePrefix(nil, v.key, v.coll.Version)
	} else {
		prefix = keyspace.MemberPrefix(nil, v.key, v.coll.Version)
	}
	if byScore {
		// The base holds no live entry outside the view's bounds.
		if v.zlo != nil && bytes.Compare(v.zlo, lo) > 0 {
			lo = v.zlo
		}
		if v.zhi != nil && (hi == nil || bytes.Compare(v.zhi, hi) < 0) {
			hi = v.zhi
		}
	}
	opts := &pebble.IterOptions{LowerBound: append(bytes.Clone(prefix), lo...), UpperBound: keyspace.PrefixEnd(prefix)}
	if hi != nil {
		opts.UpperBound = append(bytes.Clone(prefix), hi...)
	}
	it, err := v.r.NewIter(opts)
	if err != nil {
		return nil, fmt.Errorf("epochdb: iterate %q: %w", v.key, err)
	}
	w.it, w.plen = it, len(prefix)
	if rev {
		w.itOK = it.Last()
	} else {
		w.itOK = it.First()
	}
	return w, nil
}

// step moves the iterator on.
func (w *zwalk) step() {
	if w.rev {
		w.itOK = w.it.Prev()
	} else {
		w.itOK = w.it.Next()
	}
}

// next returns the next member and its score; ok is false at the end. m is
// valid until the next call.
func (w *zwalk) next() (m []byte, score float64, ok bool, err error) {
	if w.stepped {
		w.stepped = false
		w.step()
	}
	for {
		var base, bm []byte
		if w.it != nil && w.itOK {
			base = w.it.Key()[w.plen:]
			bm = base
			if w.byScore {
				if len(base) < keyspace.ScoreLen {
					return nil, 0, false, corruptErr(w.v.key, fmt.Errorf("score index entry %x: %w", base, keyspace.ErrCorrupt))
				}
				bm = base[keyspace.ScoreLen:]
			}
			if s := w.v.mem[string(bm)]; s != nil && s.changed {
				w.step() // the view's state of it is in the overlay
				continue
			}
		}
		if len(w.over) > 0 && (base == nil || (bytes.Compare(w.over[0], base) < 0) != w.rev) {
			suf := w.over[0]
			w.over = w.over[1:]
			w.m = suf
			if w.byScore {
				w.m = suf[keyspace.ScoreLen:]
			}
			score, err := keyspace.DecodeScore(w.v.mem[string(w.m)].value)
			if err != nil {
				return nil, 0, false, corruptErr(w.v.key, err)
			}
			return w.m, score, true, nil
		}
		if base == nil {
			if w.it != nil {
				if err := w.it.Error(); err != nil {
					return nil, 0, false, fmt.Errorf("epochdb: iterate %q: %w", w.v.key, err)
				}
			}
			return nil, 0, false, nil
		}
		raw := base[:min(len(base), keyspace.ScoreLen)]
		if !w.byScore {
			v, err := w.it.ValueAndErr()
			if err != nil {
				return nil, 0, false, fmt.Errorf("epochdb: iterate %q: %w", w.v.key, err)
			}
			mr, err := keyspace.DecodeMember(v)
			if err != nil {
				return nil, 0, false, corruptErr(w.v.key, err)
			}
			raw = mr.Value
		}
		if score, err = keyspace.DecodeScore(raw); err != nil {
			return nil, 0, false, corruptErr(w.v.key, err)
		}
		w.stepped = true
		return bm, score, true, nil
	}
}

// close releases the walk's iterator.
func (w *zwalk) close() {
	if w.it != nil {
		_ = w.it.Close()
		w.it = nil
	}
}

// stageScoreIndex stages in b the score-index changes of member m of the
// view's sorted set, whose state is s: the entry of its old score goes,
// the entry of its new score comes, and the bounds known of the live
// entries (the view's, the shard's) widen to take it in. The caller holds
// the key's shard lock.
func (v *collView) stageScoreIndex(b *pebble.Batch, m []byte, s *memberState) {
	key, ver := v.key, v.coll.Version
	same := s.baseOK && s.ok && bytes.Equal(s.value, s.baseVal)
	if s.baseOK && !same {
		_ = dropScoreEntry(b, key, ver, m, s.baseVal)
	}
	if !s.ok || same {
		return
	}
	k := keyspace.ScorePrefix(nil, key, ver)
	plen := len(k)
	k = append(append(k, s.value...), m...)
	_ = b.Set(k, nil, nil)
	suf := k[plen:]
	v.zlo, v.zhi = widen(v.zlo, v.zhi, suf)
	sh := v.db.shardFor(key)
	if h, ok := sh.zhints[string(key)]; ok && h.ver == ver {
		h.lo, h.hi = widen(h.lo, h.hi, suf)
		sh.zhints[string(key)] = h
	}
}

// Score-index bounds. Pops delete the entries at one end of a sorted set's
// score index, and the tombstones they leave stay in the memtable until a
// flush and a compaction: a walk from the end would skip all of them, so
// that n pops in a row would cost O(n²). The shard therefore remembers,
// for sorted sets popped recently, bounds [lo, hi) of the suffixes of their
// live entries, and the DB's writes (which hold the shard lock) start
// their walks there. Bounds are only narrowed once the batch that popped
// is applied (writeOp.applied), widened by any write that adds an entry
// outside them (stageScoreIndex, before the apply: widening is always
// safe), and forgotten when the sorted set goes, on a replicated write
// (forgetRecord) and when the engine is reopened (resetShard).
// Transactions and reads, which run on snapshots, do without.

// zsetHint is a sorted set's score-index bounds: every live entry of
// version ver has a suffix in [lo, hi) (nil: unbounded).
type zsetHint struct {
	ver    uint64
	lo, hi []byte
}

// maxZSetHints bounds the hints a shard keeps (it starts over when full).
const maxZSetHints = 64

// widen returns the bounds [lo, hi) widened to take in suf.
func widen(lo, hi, suf []byte) ([]byte, []byte) {
	if lo != nil && bytes.Compare(suf, lo) < 0 {
		lo = bytes.Clone(suf)
	}
	if hi != nil && bytes.Compare(suf, hi) >= 0 {
		hi = nil
	}
	return lo, hi
}

// loadZSetHint gives the view of a sorted set the bounds its shard knows.
// The caller holds the key's shard lock and the view's base is the store.
func (v *collView) loadZSetHint() {
	if !v.live || v.hdr.Type != keyspace.TypeZSet {
		return
	}
	if h, ok := v.db.shardFor(v.key).zhints[string(v.key)]; ok && h.ver == v.coll.Version {
		v.zlo, v.zhi = h.lo, h.hi
	}
}

// keepZSetHint makes the view's bounds the shard's once w is applied (or
// forgets the shard's, if the sorted set goes or starts over).
func (v *collView) keepZSetHint(w *writeOp) {
	if v.hdr.Type != keyspace.TypeZSet && v.baseHdr.Type != keyspace.TypeZSet {
		return
	}
	key, h := v.key, zsetHint{ver: v.coll.Version, lo: v.zlo, hi: v.zhi}
	keep := v.live && !v.fresh && (h.lo != nil || h.hi != nil)
	sh := w.db.shardFor(key)
	w.applied = append(w.applied, func() {
		switch {
		case !keep:
			delete(sh.zhints, string(key))
		default:
			if sh.zhints == nil || len(sh.zhints) >= maxZSetHints {
				sh.zhints = make(map[string]zsetHint)
			}
			sh.zhints[string(key)] = h
		}
	})
}

// dropScoreEntry stages the deletion of the score-index entry of member m
// of the sorted set (key, ver) whose member record's value is value.
func dropScoreEntry(b *pebble.Batch, key []byte, ver uint64, m, value []byte) error {
	if _, err := keyspace.DecodeScore(value); err != nil {
		return err
	}
	k := keyspace.ScorePrefix(nil, key, ver)
	k = append(append(k, value...), m...)
	return b.Delete(k, nil)
}

// dropScoreIndex stages the deletion of the whole score index of the
// sorted set (key, ver) with one range deletion.
func dropScoreIndex(b *pebble.Batch, key []byte, ver uint64) {
	prefix := keyspace.ScorePrefix(nil, key, ver)
	_ = b.DeleteRange(prefix, keyspace.PrefixEnd(prefix), nil)
}

// backupScore converts a stored score to the backup format's (the
// float64's IEEE 754 bits, big-endian).
func backupScore(stored []byte) ([]byte, error) {
	f, err := keyspace.DecodeScore(stored)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)), nil
}

// restoredScore converts a backup's score to the stored encoding.
func restoredScore(b []byte) ([]byte, error) {
	if len(b) != 8 {
		return nil, fmt.Errorf("%w: a sorted set score of %d bytes", ErrCorrupt, len(b))
	}
	f := math.Float64frombits(binary.BigEndian.Uint64(b))
	if math.IsNaN(f) {
		return nil, fmt.Errorf("%w: a NaN sorted set score", ErrCorrupt)
	}
	return keyspace.AppendScore(nil, f), nil
}
