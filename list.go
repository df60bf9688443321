package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/epochdb/epochdb/internal/keyspace"
)

// Lists. A list is a collection whose members are its items, keyed by
// position (internal/keyspace/list.go): the items are at the dense
// positions Head … Head+Count-1 of its header, so that the i-th item is
// one point read, a push or a pop at either end one point write (plus the
// header), and a range of items one iteration. An insertion or removal in
// the middle moves the items on its shorter side by one position each.

// ErrIndexOutOfRange is returned by List.Set for an index outside the
// list.
var ErrIndexOutOfRange = errors.New("epochdb: list index out of range")

// List is the list stored under a key: a sequence of byte strings, which
// may repeat. Get one with DB.List (each method is one atomic operation)
// or Tx.List (inside the transaction). Like a Hash it is one key for the
// lifecycle (deadline, frequency, pruning, eviction, the budget), exists
// while it has an item (the last one popped or removed removes the key),
// and a read of it counts as an access of the key.
//
// Indexes count from 0 at the front; a negative index counts from the
// back (-1 is the last item), as in Redis.
//
// Costs: Len, Index and Set near either end, and pushes and pops, are
// O(1) Pebble operations (Index and Set anywhere are one point read or
// write); Range is one iteration over the items returned; InsertBefore,
// InsertAfter and Remove move the items between the change and the
// nearer end, one write each; Trim, and pops of many items, write one
// deletion per item removed and hold the removed items in memory while
// the operation runs. Deleting a list (Delete, expiry, eviction,
// overwriting it) costs the same whatever its length (a range deletion).
//
// Every method returns ErrWrongType if the key holds another type.
// Slices passed in may be reused once a method returns; slices returned
// are the caller's.
type List struct{ h collHandle }

// List returns the list stored under key (it need not exist yet).
func (db *DB) List(key []byte) *List {
	return &List{collHandle{db: db, key: bytes.Clone(key), typ: keyspace.TypeList}}
}

// List returns the list stored under key, as the transaction sees it.
func (tx *Tx) List(key []byte) *List {
	return &List{collHandle{db: tx.db, tx: tx, key: bytes.Clone(key), typ: keyspace.TypeList}}
}

// End is an end of a list.
type End uint8

// The ends of a list.
const (
	Front End = iota // the first item's end (index 0; Redis's LEFT)
	Back             // the last item's end (index -1; Redis's RIGHT)
)

// PosOptions select the matches List.Pos returns.
type PosOptions struct {
	// Rank is the first match returned: 1 (or 0) the first, 2 the
	// second, …; a negative rank counts matches from the back (-1 the
	// last), and the indexes are then returned from the back.
	Rank int64
	// Count is the most matches returned; 0 (or less) returns every
	// match.
	Count int64
	// MaxLen is the most items compared, from the end the search starts
	// at; 0 (or less) compares every item.
	MaxLen int64
}

// PushFront pushes values at the front one after the other (so the last
// ends up first, as Redis's LPUSH), creating the list if needed, and
// returns its new length.
func (l *List) PushFront(values ...[]byte) (int64, error) { return l.push(Front, false, values) }

// PushBack pushes values at the back in order, creating the list if
// needed, and returns its new length.
func (l *List) PushBack(values ...[]byte) (int64, error) { return l.push(Back, false, values) }

// PushFrontX is PushFront on an existing list only: it returns 0 and
// pushes nothing if the list does not exist.
func (l *List) PushFrontX(values ...[]byte) (int64, error) { return l.push(Front, true, values) }

// PushBackX is PushBack on an existing list only.
func (l *List) PushBackX(values ...[]byte) (int64, error) { return l.push(Back, true, values) }

func (l *List) push(end End, existing bool, values [][]byte) (int64, error) {
	for _, v := range values {
		if err := l.h.db.checkValue(v); err != nil {
			return 0, err
		}
	}
	var n int64
	err := l.h.write(func(v *collView) error {
		n = 0
		if existing && !(lview{v}).exists() {
			return nil
		}
		var err error
		n, err = lview{v}.push(end, values)
		return err
	})
	return n, err
}

// PopFront removes and returns up to count items from the front, in
// order (none for count <= 0 or a missing list).
func (l *List) PopFront(count int) ([][]byte, error) { return l.pop(Front, count) }

// PopBack removes and returns up to count items from the back, the last
// first.
func (l *List) PopBack(count int) ([][]byte, error) { return l.pop(Back, count) }

func (l *List) pop(end End, count int) ([][]byte, error) {
	var out [][]byte
	err := l.h.write(func(v *collView) error {
		var err error
		out, err = lview{v}.pop(end, int64(count))
		return err
	})
	return out, err
}

// Len returns the number of items (0 for a missing list).
func (l *List) Len() (int64, error) {
	return l.h.length()
}

// Index returns the item at index i, or ErrNotFound if the list does not
// exist or i is outside it.
func (l *List) Index(i int64) ([]byte, error) {
	var out []byte
	err := l.h.read(func(v *collView) error {
		item, ok, err := lview{v}.index(i)
		if err == nil && !ok {
			err = ErrNotFound
		}
		out = bytes.Clone(item)
		return err
	})
	return out, err
}

// Range returns the items from index start to index stop, both included,
// as Redis's LRANGE: negative indexes count from the back, and the range
// is clipped to the list (empty if nothing of it is inside).
func (l *List) Range(start, stop int64) ([][]byte, error) {
	var out [][]byte
	err := l.h.read(func(v *collView) error {
		var err error
		out, err = lview{v}.rangeOf(start, stop)
		return err
	})
	return out, err
}

// Set replaces the item at index i. It returns ErrNotFound if the list
// does not exist and ErrIndexOutOfRange if i is outside it.
func (l *List) Set(i int64, value []byte) error {
	if err := l.h.db.checkValue(value); err != nil {
		return err
	}
	return l.h.write(func(v *collView) error { return lview{v}.set(i, value) })
}

// InsertBefore inserts value before the first item equal to pivot and
// returns the new length, -1 if no item equals pivot, 0 if the list does
// not exist (as Redis's LINSERT).
func (l *List) InsertBefore(pivot, value []byte) (int64, error) { return l.insert(pivot, value, 0) }

// InsertAfter inserts value after the first item equal to pivot, as
// InsertBefore.
func (l *List) InsertAfter(pivot, value []byte) (int64, error) { return l.insert(pivot, value, 1) }

func (l *List) insert(pivot, value []byte, after int64) (int64, error) {
	if err := l.h.db.checkValue(value); err != nil {
		return 0, err
	}
	var n int64
	err := l.h.write(func(v *collView) error {
		var err error
		n, err = lview{v}.insert(pivot, value, after)
		return err
	})
	return n, err
}

// Remove removes items equal to value and returns how many it removed:
// the first count from the front (count > 0), the last -count from the
// back (count < 0), or all (count 0), as Redis's LREM.
func (l *List) Remove(count int64, value []byte) (int64, error) {
	var n int64
	err := l.h.write(func(v *collView) error {
		var err error
		n, err = lview{v}.remove(count, value)
		return err
	})
	return n, err
}

// Trim keeps the items from index start to index stop (both included,
// with Range's rules) and removes the others; a range with nothing inside
// removes the list.
func (l *List) Trim(start, stop int64) error {
	return l.h.write(func(v *collView) error { return lview{v}.trim(start, stop) })
}

// Pos returns the indexes of the items equal to value that o selects, in
// the order they were found (as Redis's LPOS): from the front, or from
// the back for a negative Rank.
func (l *List) Pos(value []byte, o PosOptions) ([]int64, error) {
	var out []int64
	err := l.h.read(func(v *collView) error {
		var err error
		out, err = lview{v}.pos(value, o)
		return err
	})
	return out, err
}

// Move pops an item from the from end of the list and pushes it at the to
// end of the list dst (created if needed), atomically, as Redis's LMOVE;
// dst may be the list itself (a rotation). It returns the item and the
// length of the list after (0: it was removed). It returns ErrNotFound if
// the list is empty, and ErrWrongType if dst holds another type (only
// checked when there is an item to move, as Redis does).
func (l *List) Move(from End, dst []byte, to End) (item []byte, left int64, err error) {
	if err := checkKey(dst); err != nil {
		return nil, 0, err
	}
	err = l.h.write2(dst, func(src, dv *collView) error {
		var err error
		item, err = lview{src}.move(from, dv, to)
		left = src.length()
		return err
	})
	return item, left, err
}

// Modify runs fn on the list atomically, as Hash.Modify does on a hash.
//
// IMPORTANT: with DB.List, fn runs while a lock covering the key is held:
// it must be quick and must not call methods of the DB. The view is valid
// during fn only.
func (l *List) Modify(fn func(v *ListView) error) error {
	return l.h.write(func(v *collView) error { return fn(&ListView{l: lview{v}}) })
}

// View runs fn on the list as of one state, without writing.
func (l *List) View(fn func(v *ListView) error) error {
	return l.h.read(func(v *collView) error { return fn(&ListView{l: lview{v}, ro: true}) })
}

// ListView is a list inside List.Modify or List.View. Its methods are the
// List's; slices it returns are valid during fn only.
type ListView struct {
	l  lview
	ro bool
}

// Exists reports whether the list exists (it has an item).
func (lv *ListView) Exists() bool { return lv.l.exists() }

// Len is List.Len.
func (lv *ListView) Len() int64 { return lv.l.v.length() }

// Index returns the item at index i; ok is false if i is outside the list.
func (lv *ListView) Index(i int64) (item []byte, ok bool, err error) { return lv.l.index(i) }

// Range is List.Range.
func (lv *ListView) Range(start, stop int64) ([][]byte, error) { return lv.l.rangeOf(start, stop) }

// Pos is List.Pos.
func (lv *ListView) Pos(value []byte, o PosOptions) ([]int64, error) { return lv.l.pos(value, o) }

// Push pushes values at end (as PushFront or PushBack) and returns the
// new length.
func (lv *ListView) Push(end End, values ...[]byte) (int64, error) {
	if lv.ro {
		return 0, ErrTxReadOnly
	}
	return lv.l.push(end, values)
}

// Pop removes and returns up to count items from end.
func (lv *ListView) Pop(end End, count int) ([][]byte, error) {
	if lv.ro {
		return nil, ErrTxReadOnly
	}
	return lv.l.pop(end, int64(count))
}

// Set is List.Set.
func (lv *ListView) Set(i int64, value []byte) error {
	if lv.ro {
		return ErrTxReadOnly
	}
	return lv.l.set(i, value)
}

// InsertBefore is List.InsertBefore.
func (lv *ListView) InsertBefore(pivot, value []byte) (int64, error) {
	if lv.ro {
		return 0, ErrTxReadOnly
	}
	return lv.l.insert(pivot, value, 0)
}

// InsertAfter is List.InsertAfter.
func (lv *ListView) InsertAfter(pivot, value []byte) (int64, error) {
	if lv.ro {
		return 0, ErrTxReadOnly
	}
	return lv.l.insert(pivot, value, 1)
}

// Remove is List.Remove.
func (lv *ListView) Remove(count int64, value []byte) (int64, error) {
	if lv.ro {
		return 0, ErrTxReadOnly
	}
	return lv.l.remove(count, value)
}

// Trim is List.Trim.
func (lv *ListView) Trim(start, stop int64) error {
	if lv.ro {
		return ErrTxReadOnly
	}
	return lv.l.trim(start, stop)
}

// lview is the list operations on a collection view.
type lview struct{ v *collView }

// exists reports whether the view holds a list with an item (one it
// emptied is gone).
func (l lview) exists() bool { return l.v.live && l.v.length() > 0 }

// posKey is the member of position p.
func posKey(p int64) []byte { return keyspace.AppendPosition(make([]byte, 0, keyspace.PositionLen), p) }

// errGap reports a list whose header promises an item its members lack.
func (l lview) errGap(i int64) error {
	return corruptErr(l.v.key, fmt.Errorf("list item %d of %d is missing: %w", i, l.v.length(), keyspace.ErrCorrupt))
}

// item returns the item at index i (0 <= i < length). It aliases the
// view's state of the member.
func (l lview) item(i int64) ([]byte, error) {
	s, ok, err := l.v.get(posKey(l.v.coll.Head + i))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, l.errGap(i)
	}
	return s.value, nil
}

// blank records that position p holds no item: a position outside the
// list is stored nowhere, except one the view emptied (whose state it has).
func (l lview) blank(p int64) {
	k := posKey(p)
	if l.v.mem[string(k)] == nil {
		l.v.mem[string(k)] = &memberState{}
	}
}

// load reads the items at indexes [i, j) into the view's member states
// with one iteration, so that moving or removing them reads nothing more.
func (l lview) load(i, j int64) error {
	v := l.v
	if j-i < 2 || v.fresh || !v.live {
		return nil // a point read is as good, or nothing is stored
	}
	return l.scan(i, j, func(k int64, value []byte) bool {
		m := posKey(v.coll.Head + k)
		if v.mem[string(m)] == nil {
			v.mem[string(m)] = &memberState{baseOK: true, ok: true, value: append([]byte{}, value...)}
		}
		return true
	})
}

// scan calls fn for the items at indexes [i, j) in order, until fn
// returns false. value is valid during the call.
func (l lview) scan(i, j int64, fn func(i int64, value []byte) bool) error {
	if i >= j {
		return nil
	}
	v := l.v
	head := v.coll.Head
	next, stopped := i, false
	var perr error
	err := v.each(posKey(head+i), func(m, value []byte, _ int64) bool {
		p, err := keyspace.DecodePosition(m)
		if err != nil {
			perr = corruptErr(v.key, err)
			return false
		}
		if p >= head+j {
			return false
		}
		if p != head+next {
			perr = l.errGap(next)
			return false
		}
		next++
		if !fn(p-head, value) {
			stopped = true
			return false
		}
		return true
	})
	if err = errors.Join(err, perr); err == nil && !stopped && next < j {
		err = l.errGap(next)
	}
	return err
}

// scanBack calls fn for the items at indexes [i, j) from the last, until
// fn returns false: forward scans of growing chunks from the back.
func (l lview) scanBack(i, j int64, fn func(i int64, value []byte) bool) error {
	chunk := int64(32)
	for j > i {
		lo := max(i, j-chunk)
		var vals [][]byte
		err := l.scan(lo, j, func(_ int64, value []byte) bool {
			vals = append(vals, append([]byte{}, value...))
			return true
		})
		if err != nil {
			return err
		}
		for k := len(vals) - 1; k >= 0; k-- {
			if !fn(lo+int64(k), vals[k]) {
				return nil
			}
		}
		j, chunk = lo, min(chunk*2, 4096)
	}
	return nil
}

// errListFull is returned by a write that would need a position beyond
// the int64 range: about 2^63 pushes at one end.
func (l lview) errListFull() error {
	return fmt.Errorf("epochdb: list %q has no free position left at that end", l.v.key)
}

// push pushes values at end, creating the list, and returns the length.
func (l lview) push(end End, values [][]byte) (int64, error) {
	v := l.v
	for _, value := range values {
		v.create(keyspace.TypeList)
		c := &v.coll
		var p int64
		switch {
		case end == Front && c.Head == math.MinInt64, end == Back && c.Head > math.MaxInt64-c.Count:
			return 0, l.errListFull()
		case end == Front:
			p = c.Head - 1
		default:
			p = c.Head + c.Count
		}
		l.blank(p)
		if _, err := v.set(keyspace.TypeList, posKey(p), value, 0); err != nil {
			return 0, err
		}
		if end == Front {
			c.Head = p
		}
	}
	return v.length(), nil
}

// pop removes and returns up to count items from end.
func (l lview) pop(end End, count int64) ([][]byte, error) {
	v := l.v
	n := min(count, v.length())
	if n <= 0 {
		return nil, nil
	}
	var err error
	if end == Front {
		err = l.load(0, n)
	} else {
		err = l.load(v.length()-n, v.length())
	}
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, n)
	for range n {
		item, err := l.popOne(end)
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

// popOne removes and returns the item at end of a non-empty list.
func (l lview) popOne(end End) ([]byte, error) {
	v := l.v
	i := int64(0)
	if end == Back {
		i = v.length() - 1
	}
	item, err := l.item(i)
	if err != nil {
		return nil, err
	}
	if _, err := v.del(posKey(v.coll.Head + i)); err != nil {
		return nil, err
	}
	if end == Front {
		v.coll.Head++
	}
	return item, nil
}

// index returns the item at index i (negative: from the back).
func (l lview) index(i int64) ([]byte, bool, error) {
	n := l.v.length()
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return nil, false, nil
	}
	item, err := l.item(i)
	return item, err == nil, err
}

// clip converts Redis's start and stop indexes (both included, negative
// from the back) to the indexes [i, j) inside a list of n items.
func clip(start, stop, n int64) (i, j int64) {
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	start = max(start, 0)
	if start > stop || start >= n {
		return 0, 0
	}
	return start, min(stop, n-1) + 1
}

func (l lview) rangeOf(start, stop int64) ([][]byte, error) {
	i, j := clip(start, stop, l.v.length())
	if i >= j {
		return [][]byte{}, nil
	}
	out := make([][]byte, 0, min(j-i, 1024))
	err := l.scan(i, j, func(_ int64, value []byte) bool {
		out = append(out, append([]byte{}, value...))
		return true
	})
	return out, err
}

func (l lview) set(i int64, value []byte) error {
	v := l.v
	if !l.exists() {
		return ErrNotFound
	}
	if i < 0 {
		i += v.length()
	}
	if i < 0 || i >= v.length() {
		return ErrIndexOutOfRange
	}
	_, err := v.set(keyspace.TypeList, posKey(v.coll.Head+i), value, 0)
	return err
}

// find returns the index of the first item equal to value, -1 if none.
func (l lview) find(value []byte) (int64, error) {
	at := int64(-1)
	err := l.scan(0, l.v.length(), func(i int64, item []byte) bool {
		if bytes.Equal(item, value) {
			at = i
			return false
		}
		return true
	})
	return at, err
}

// shift moves the items at indexes [i, j) by d (±1) positions.
func (l lview) shift(i, j, d int64) error {
	if err := l.load(i, j); err != nil {
		return err
	}
	head := l.v.coll.Head
	move := func(k int64) error {
		item, err := l.item(k)
		if err == nil {
			_, err = l.v.set(keyspace.TypeList, posKey(head+k+d), item, 0)
		}
		return err
	}
	if d > 0 {
		for k := j - 1; k >= i; k-- {
			if err := move(k); err != nil {
				return err
			}
		}
		return nil
	}
	for k := i; k < j; k++ {
		if err := move(k); err != nil {
			return err
		}
	}
	return nil
}

// insert inserts value at offset after (0 before, 1 after) the first item
// equal to pivot; it returns the length, -1 without pivot, 0 without list.
func (l lview) insert(pivot, value []byte, after int64) (int64, error) {
	v := l.v
	if !l.exists() {
		return 0, nil
	}
	at, err := l.find(pivot)
	if err != nil || at < 0 {
		return -1, err
	}
	at += after // the new item's index
	c := &v.coll
	n := c.Count
	if at < n-at {
		// The items before move one position to the front.
		if c.Head == math.MinInt64 {
			return 0, l.errListFull()
		}
		l.blank(c.Head - 1)
		if err := l.shift(0, at, -1); err != nil {
			return 0, err
		}
		if _, err := v.set(keyspace.TypeList, posKey(c.Head+at-1), value, 0); err != nil {
			return 0, err
		}
		c.Head--
		return v.length(), nil
	}
	if c.Head > math.MaxInt64-n {
		return 0, l.errListFull()
	}
	l.blank(c.Head + n)
	if err := l.shift(at, n, 1); err != nil {
		return 0, err
	}
	if _, err := v.set(keyspace.TypeList, posKey(c.Head+at), value, 0); err != nil {
		return 0, err
	}
	return v.length(), nil
}

// remove removes items equal to value, as List.Remove.
func (l lview) remove(count int64, value []byte) (int64, error) {
	v := l.v
	n := v.length()
	limit := count
	if count < 0 {
		limit = -count
		if limit < 0 { // -MinInt64
			limit = math.MaxInt64
		}
	}
	var at []int64 // ascending
	match := func(i int64, item []byte) bool {
		if bytes.Equal(item, value) {
			at = append(at, i)
		}
		return count == 0 || int64(len(at)) < limit
	}
	var err error
	if count >= 0 {
		err = l.scan(0, n, match)
	} else {
		err = l.scanBack(0, n, match)
		for a, b := 0, len(at)-1; a < b; a, b = a+1, b-1 {
			at[a], at[b] = at[b], at[a]
		}
	}
	if err != nil || len(at) == 0 {
		return 0, err
	}
	return int64(len(at)), l.removeAt(at)
}

// removeAt removes the items at the ascending indexes at in one pass,
// moving the items on the side that moves fewer.
func (l lview) removeAt(at []int64) error {
	v := l.v
	c := &v.coll
	n, k := c.Count, int64(len(at))
	first, last := at[0], at[k-1]
	head := c.Head
	if last+1 < n-first {
		// Close the gaps toward the back; the first k positions empty.
		if err := l.load(0, last+1); err != nil {
			return err
		}
		w, r := last, k-1
		for i := last; i >= 0; i-- {
			if r >= 0 && at[r] == i {
				r--
				continue
			}
			if err := l.moveItem(i, w); err != nil {
				return err
			}
			w--
		}
		for p := head; p < head+k; p++ {
			if _, err := v.del(posKey(p)); err != nil {
				return err
			}
		}
		c.Head += k
		return nil
	}
	// Close the gaps toward the front; the last k positions empty.
	if err := l.load(first, n); err != nil {
		return err
	}
	w, r := first, int64(0)
	for i := first; i < n; i++ {
		if r < k && at[r] == i {
			r++
			continue
		}
		if err := l.moveItem(i, w); err != nil {
			return err
		}
		w++
	}
	for p := head + n - k; p < head+n; p++ {
		if _, err := v.del(posKey(p)); err != nil {
			return err
		}
	}
	return nil
}

// moveItem copies the item at index i to index w (nothing if equal).
func (l lview) moveItem(i, w int64) error {
	if i == w {
		return nil
	}
	item, err := l.item(i)
	if err == nil {
		_, err = l.v.set(keyspace.TypeList, posKey(l.v.coll.Head+w), item, 0)
	}
	return err
}

func (l lview) trim(start, stop int64) error {
	n := l.v.length()
	i, j := clip(start, stop, n)
	if _, err := l.pop(Front, i); err != nil {
		return err
	}
	_, err := l.pop(Back, n-max(j, i))
	return err
}

func (l lview) pos(value []byte, o PosOptions) ([]int64, error) {
	n := l.v.length()
	rank := max(o.Rank, 1)
	scan := l.scan
	lo, hi := int64(0), n
	if o.Rank < 0 {
		rank = -o.Rank
		if rank < 0 { // -MinInt64
			rank = math.MaxInt64
		}
		scan = l.scanBack
		if o.MaxLen > 0 {
			lo = max(0, n-o.MaxLen)
		}
	} else if o.MaxLen > 0 {
		hi = min(n, o.MaxLen)
	}
	var out []int64
	matches := int64(0)
	err := scan(lo, hi, func(i int64, item []byte) bool {
		if !bytes.Equal(item, value) {
			return true
		}
		if matches++; matches < rank {
			return true
		}
		out = append(out, i)
		return o.Count <= 0 || int64(len(out)) < o.Count
	})
	return out, err
}

// move pops an item from end from of l and pushes it at to of dst (the
// same view for the same key).
func (l lview) move(from End, dst *collView, to End) ([]byte, error) {
	if l.v.length() == 0 {
		return nil, ErrNotFound
	}
	if err := dst.check(keyspace.TypeList); err != nil {
		return nil, err
	}
	item, err := l.popOne(from)
	if err != nil {
		return nil, err
	}
	if _, err := (lview{dst}).push(to, [][]byte{item}); err != nil {
		return nil, err
	}
	return item, nil
}

// write2 runs fn on the views of the handle's key and of other (the same
// view if they are the same key), both checked against the handle's type,
// and makes what it changes one atomic write or part of the transaction.
func (h collHandle) write2(other []byte, fn func(a, b *collView) error) error {
	if h.tx == nil {
		return h.db.collWrite2(h.key, other, func(a, b *collView) error {
			if err := a.check(h.typ); err != nil {
				return err
			}
			return fn(a, b)
		})
	}
	a, err := h.tx.txColl(h.key, true)
	if err != nil {
		return err
	}
	if err := a.check(h.typ); err != nil {
		return err
	}
	b := a
	if !bytes.Equal(h.key, other) {
		if b, err = h.tx.txColl(other, true); err != nil {
			return err
		}
	}
	if err := fn(a, b); err != nil {
		return err
	}
	h.tx.keepColl(a)
	h.tx.keepColl(b)
	return nil
}

// collWrite2 is collWrite over two keys (one view if they are equal),
// under both keys' shard locks, committed as one writeOp.
func (db *DB) collWrite2(k1, k2 []byte, fn func(a, b *collView) error) error {
	if err := checkKey(k1); err != nil {
		return err
	}
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	var w writeOp
	db.startWrite(&w, db.nowMs(), k1, k2)
	defer w.release()
	a, err := w.collView(k1)
	if err != nil {
		return err
	}
	b := a
	if !bytes.Equal(k1, k2) {
		if b, err = w.collView(k2); err != nil {
			return err
		}
	}
	views := []*collView{a, b}
	if b == a {
		views = views[:1]
	}
	for _, v := range views {
		v.loadZSetHint()
	}
	if err := fn(a, b); err != nil {
		return err
	}
	if !a.dirty && !b.dirty {
		return nil
	}
	for _, v := range views {
		v.flush(&w)
		v.keepZSetHint(&w)
	}
	return w.commit(nil)
}
