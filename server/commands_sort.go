package server

import (
	"bytes"
	"errors"
	"slices"

	"github.com/epochdb/epochdb"
)

// SORT and SORT_RO sort the elements of a list, a set or a sorted set, as
// numbers or (ALPHA) as byte strings, by the elements themselves or by
// keys the elements name (BY pattern), and return them or what they name
// (GET pattern), or store the result as a list (STORE). Everything is read
// from one snapshot (View), or, with STORE, done in one transaction.

func sortCommands() []command {
	spec := func(name string, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: -2, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: "generic", Summary: summary}
	}
	return []command{
		{spec("sort", FlagWrite, "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."), cmdSort},
		{spec("sort_ro", FlagReadOnly, "Returns the sorted elements of a list, a set, or a sorted set."), cmdSort},
	}
}

// sortRequest is a parsed SORT.
type sortRequest struct {
	by       []byte // nil: by the elements themselves
	dontSort bool   // BY a pattern without '*': the elements' own order
	get      [][]byte
	desc     bool
	alpha    bool
	offset   int64
	count    int64 // -1: all
	store    []byte
}

// parseSort parses SORT's options (args after the key) as Redis does: in
// any order, the last of ASC and DESC winning.
func parseSort(args [][]byte, readOnly bool) (sortRequest, string) {
	r := sortRequest{count: -1}
	for i := 0; i < len(args); i++ {
		left := len(args) - i - 1
		switch {
		case equalFold(args[i], "asc"):
			r.desc = false
		case equalFold(args[i], "desc"):
			r.desc = true
		case equalFold(args[i], "alpha"):
			r.alpha = true
		case equalFold(args[i], "limit") && left >= 2:
			off, ok1 := parseInt(args[i+1])
			n, ok2 := parseInt(args[i+2])
			if !ok1 || !ok2 {
				return r, errNotInteger
			}
			r.offset, r.count = off, n
			i += 2
		case equalFold(args[i], "store") && left >= 1 && !readOnly:
			r.store = args[i+1]
			i++
		case equalFold(args[i], "by") && left >= 1:
			r.by = args[i+1]
			r.dontSort = bytes.IndexByte(r.by, '*') < 0
			i++
		case equalFold(args[i], "get") && left >= 1:
			r.get = append(r.get, args[i+1])
			i++
		default:
			return r, errSyntax
		}
	}
	return r, ""
}

// window returns the [start, end] range of n sorted elements that LIMIT
// selects (end < start: none), as Redis computes it.
func (r sortRequest) window(n int64) (start, end int64) {
	start = min(max(r.offset, 0), n)
	count := min(max(r.count, -1), n)
	end = start + count - 1
	if count < 0 {
		end = n - 1
	}
	if start >= n {
		start, end = n-1, n-2
	}
	return start, min(end, n-1)
}

// sortItem is an element and what it sorts by.
type sortItem struct {
	elem  []byte
	score float64
	by    []byte // ALPHA BY: the value looked up, nil if none
}

// errSortScore is Redis's reply when a weight is not a number.
const errSortScore = "ERR One or more scores can't be converted into double"

func cmdSort(c *Conn, cmd Command) {
	readOnly := equalFold(cmd.Args[0], "sort_ro")
	req, msg := parseSort(cmd.Args[2:], readOnly)
	if msg != "" {
		c.WriteError(msg)
		return
	}
	key := c.key(cmd.Args[1])
	var out [][]byte // nil entries: GET found nothing
	existed := false // STORE's destination
	run := func(tx *epochdb.Tx) error {
		var err error
		out, err = c.sortTx(tx, key, req)
		if err != nil || req.store == nil {
			return err
		}
		dst := c.key(req.store)
		if existed, err = txExists(tx, dst); err != nil {
			return err
		}
		return storeSorted(tx, dst, out)
	}
	var err error
	if req.store == nil {
		err = c.kv().View(run)
	} else {
		err = c.kv().Update(run)
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	if req.store == nil {
		c.WriteArray(len(out))
		for _, v := range out {
			if v == nil {
				c.WriteNull()
			} else {
				c.WriteBulk(v)
			}
		}
		return
	}
	switch {
	case len(out) > 0:
		c.notify(notifyList, "sortstore", req.store)
	case existed:
		c.notify(notifyGeneric, "del", req.store)
	}
	c.WriteInt(int64(len(out)))
}

// sortTx returns SORT's result in tx: the selected elements, or for each
// the values of the GET patterns.
func (c *Conn) sortTx(tx *epochdb.Tx, key []byte, req sortRequest) ([][]byte, error) {
	elems, ordered, err := sortElements(tx, key)
	if err != nil {
		return nil, err
	}
	items := make([]sortItem, len(elems))
	for i, e := range elems {
		items[i].elem = e
	}
	start, end := req.window(int64(len(items)))
	if req.dontSort && !ordered {
		// A set has no order of its own: Redis sorts it ALPHA when it
		// must be deterministic (STORE, scripts), and so does EpochDB
		// always.
		req.dontSort, req.alpha, req.by = false, true, nil
	}
	if req.dontSort && req.desc {
		slices.Reverse(items)
	}
	if !req.dontSort {
		if err := c.sortWeights(tx, items, req); err != nil {
			return nil, err
		}
		slices.SortStableFunc(items, func(a, b sortItem) int { return compareSortItems(a, b, req) })
	}
	if end < start {
		return [][]byte{}, nil
	}
	items = items[start : end+1]
	if len(req.get) == 0 {
		out := make([][]byte, len(items))
		for i, it := range items {
			out[i] = it.elem
		}
		return out, nil
	}
	out := make([][]byte, 0, len(items)*len(req.get))
	for _, it := range items {
		for _, p := range req.get {
			v, err := c.sortLookup(tx, p, it.elem)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// sortElements returns the elements of the list, set or sorted set under
// key (none for a missing key), and whether their order is the type's own
// (a list's, a sorted set's), which BY without '*' keeps. A set's members
// come in byte order.
func sortElements(tx *epochdb.Tx, key []byte) ([][]byte, bool, error) {
	md, err := tx.Metadata(key)
	if errors.Is(err, epochdb.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	switch md.Type {
	case epochdb.TypeSet:
		ms, err := tx.SetOf(key).Members()
		return ms, false, err
	case epochdb.TypeList:
		items, err := tx.List(key).Range(0, -1)
		return items, true, err
	case epochdb.TypeZSet:
		zs, err := tx.ZSet(key).Range(epochdb.ZRange{By: epochdb.ByRank, Start: 0, Stop: -1})
		if err != nil {
			return nil, false, err
		}
		ms := make([][]byte, len(zs))
		for i, z := range zs {
			ms[i] = z.Member
		}
		return ms, true, nil
	}
	return nil, false, epochdb.ErrWrongType
}

// sortWeights sets what each item sorts by: its number (or, with ALPHA
// BY, the value looked up). An element BY finds nothing for keeps weight
// 0 (ALPHA: sorts first).
func (c *Conn) sortWeights(tx *epochdb.Tx, items []sortItem, req sortRequest) error {
	for i := range items {
		it := &items[i]
		val := it.elem
		if req.by != nil {
			v, err := c.sortLookup(tx, req.by, it.elem)
			if err != nil {
				return err
			}
			if v == nil {
				continue
			}
			val = v
		}
		if req.alpha {
			if req.by != nil {
				it.by = val
			}
			continue
		}
		f, ok := parseStrtod(val)
		if !ok {
			return replyError(errSortScore)
		}
		it.score = f
	}
	return nil
}

// compareSortItems orders two items as Redis's SORT does: by number (ties
// by element bytes), or ALPHA by the looked-up values (missing first) or
// the elements; DESC reverses.
func compareSortItems(a, b sortItem, req sortRequest) int {
	var cmp int
	switch {
	case !req.alpha:
		cmp = 0
		if a.score < b.score {
			cmp = -1
		} else if a.score > b.score {
			cmp = 1
		}
		if cmp == 0 {
			cmp = bytes.Compare(a.elem, b.elem)
		}
	case req.by != nil:
		switch {
		case a.by == nil && b.by == nil:
			cmp = 0
		case a.by == nil:
			cmp = -1
		case b.by == nil:
			cmp = 1
		default:
			cmp = bytes.Compare(a.by, b.by)
		}
	default:
		cmp = bytes.Compare(a.elem, b.elem)
	}
	if req.desc {
		return -cmp
	}
	return cmp
}

// sortLookup returns what pattern names for elem: elem itself for "#";
// the string under the pattern with its first '*' replaced by elem; with
// "->field" after the '*', that field of the hash there. It is nil when
// there is no such string or field (another type included), or the
// pattern has no '*'.
func (c *Conn) sortLookup(tx *epochdb.Tx, pattern, elem []byte) ([]byte, error) {
	if string(pattern) == "#" {
		return elem, nil
	}
	star := bytes.IndexByte(pattern, '*')
	if star < 0 {
		return nil, nil
	}
	keyPat, field := pattern, []byte(nil)
	if f := bytes.Index(pattern[star+1:], []byte("->")); f >= 0 && star+1+f+2 < len(pattern) {
		keyPat, field = pattern[:star+1+f], pattern[star+1+f+2:]
	}
	name := make([]byte, 0, len(keyPat)-1+len(elem))
	name = append(append(append(name, keyPat[:star]...), elem...), keyPat[star+1:]...)
	key := c.key(name)
	var v []byte
	var err error
	if field == nil {
		v, err = tx.Get(key)
	} else {
		v, err = tx.Hash(key).Get(field)
	}
	if errors.Is(err, epochdb.ErrNotFound) || errors.Is(err, epochdb.ErrWrongType) {
		return nil, nil
	}
	return v, err
}

// storeSorted replaces dst with the list of out (a value GET found nothing
// for stored as the empty string), or deletes it if out is empty.
func storeSorted(tx *epochdb.Tx, dst []byte, out [][]byte) error {
	if err := tx.Delete(dst); err != nil {
		return err
	}
	if len(out) == 0 {
		return nil
	}
	items := make([][]byte, len(out))
	for i, v := range out {
		if items[i] = v; v == nil {
			items[i] = []byte{}
		}
	}
	_, err := tx.List(dst).PushBack(items...)
	return err
}
