package epochdb

import (
	"math/rand/v2"

	"github.com/epochdb/epochdb/internal/keyspace"
)

// Set is the set stored under a key: distinct byte-string members. Get one
// with DB.SetOf (each method is one atomic operation) or Tx.SetOf (inside
// the transaction); DB.Set is the string write. Like a Hash it is one key
// for the lifecycle, exists while it has a member, and a read of it counts
// as an access of the key. Every method returns ErrWrongType if the key
// holds a string or a hash.
type Set struct{ h collHandle }

// SetOf returns the set stored under key (it need not exist yet).
func (db *DB) SetOf(key []byte) *Set {
	return &Set{collHandle{db: db, key: append([]byte(nil), key...), typ: keyspace.TypeSet}}
}

// SetOf returns the set stored under key, as the transaction sees it.
func (tx *Tx) SetOf(key []byte) *Set {
	return &Set{collHandle{db: tx.db, tx: tx, key: append([]byte(nil), key...), typ: keyspace.TypeSet}}
}

// Add adds members, creating the set if needed, and returns how many were
// not members yet.
func (s *Set) Add(members ...[]byte) (int, error) {
	for _, m := range members {
		if err := checkMember(m); err != nil {
			return 0, err
		}
	}
	n := 0
	err := s.h.write(func(v *collView) error {
		n = 0
		for _, m := range members {
			ok, err := addMember(v, m)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, err
}

// Remove removes members and returns how many were members.
func (s *Set) Remove(members ...[]byte) (int, error) {
	n := 0
	err := s.h.write(func(v *collView) error {
		n = 0
		for _, m := range members {
			ok, err := v.del(m)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, err
}

// IsMember reports whether m is a member (false for a missing key).
func (s *Set) IsMember(m []byte) (bool, error) {
	r, err := s.AreMembers(m)
	if err != nil {
		return false, err
	}
	return r[0], nil
}

// AreMembers reports for each of ms whether it is a member, from one state
// of the set.
func (s *Set) AreMembers(ms ...[]byte) ([]bool, error) {
	out := make([]bool, len(ms))
	err := s.h.read(func(v *collView) error {
		for i, m := range ms {
			_, ok, err := v.get(m)
			if err != nil {
				return err
			}
			out[i] = ok
		}
		return nil
	})
	return out, err
}

// Card returns the number of members (0 for a missing key).
func (s *Set) Card() (int64, error) {
	return s.h.length()
}

// Members returns every member, in byte order.
func (s *Set) Members() ([][]byte, error) {
	var out [][]byte
	err := s.Scan(nil, func(m []byte) bool {
		out = append(out, append([]byte{}, m...))
		return true
	})
	return out, err
}

// Scan calls fn for each member after the member after (nil: from the
// first), in byte order, until fn returns false. m is valid during the
// call only.
func (s *Set) Scan(after []byte, fn func(m []byte) bool) error {
	return s.h.read(func(v *collView) error {
		return v.each(firstAfter(after), func(m, _ []byte, _ int64) bool { return fn(m) })
	})
}

// Random returns up to count distinct members (count > 0), or count
// members that may repeat (count < 0, as Redis's SRANDMEMBER). A set of
// up to 512 members is read whole and shuffled; a larger one is sampled by
// seeking to a random point between its first and last member (byte by
// byte within their range) and walking a random number (under 16) of
// members on: picks are spread, not uniform.
func (s *Set) Random(count int) ([][]byte, error) {
	var out [][]byte
	err := s.h.read(func(v *collView) error {
		var err error
		out, err = randomMembers(v, count)
		return err
	})
	return out, err
}

// Pop removes and returns up to count random members (as Random picks
// them).
func (s *Set) Pop(count int) ([][]byte, error) {
	var out [][]byte
	err := s.h.write(func(v *collView) error {
		var err error
		if out, err = randomMembers(v, max(count, 0)); err != nil {
			return err
		}
		for _, m := range out {
			if _, err := v.del(m); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Modify runs fn on the set atomically, as Hash.Modify does on a hash.
//
// IMPORTANT: with DB.SetOf, fn runs while a lock covering the key is held:
// it must be quick and must not call methods of the DB.
func (s *Set) Modify(fn func(v *SetView) error) error {
	return s.h.write(func(v *collView) error { return fn(&SetView{v: v}) })
}

// SetView is a set inside Set.Modify.
type SetView struct{ v *collView }

// Card is Set.Card.
func (sv *SetView) Card() int64 { return sv.v.length() }

// IsMember reports whether m is a member.
func (sv *SetView) IsMember(m []byte) (bool, error) {
	_, ok, err := sv.v.get(m)
	return ok, err
}

// Add adds m and reports whether it was not a member.
func (sv *SetView) Add(m []byte) (bool, error) { return addMember(sv.v, m) }

// addMember adds m to the set v and reports whether it was not a member.
// Adding a member changes nothing (as in Redis, a watch of the key is not
// broken): a set that clients keep adding the same members to is not
// rewritten each time.
func addMember(v *collView, m []byte) (bool, error) {
	if _, ok, err := v.get(m); err != nil || ok {
		return false, err
	}
	return v.set(keyspace.TypeSet, m, nil, 0)
}

// Remove removes m and reports whether it was a member.
func (sv *SetView) Remove(m []byte) (bool, error) { return sv.v.del(m) }

// Scan calls fn for each member at or after from in byte order until fn
// returns false.
func (sv *SetView) Scan(from []byte, fn func(m []byte) bool) error {
	return sv.v.each(from, func(m, _ []byte, _ int64) bool { return fn(m) })
}

// Random is Set.Random on the view.
func (sv *SetView) Random(count int) ([][]byte, error) { return randomMembers(sv.v, count) }

// randomMembers picks members of v: count > 0 distinct ones, count < 0
// -count ones that may repeat. A small collection is read whole; a larger
// one is sampled by seeking to random points of its member order.
func randomMembers(v *collView, count int) ([][]byte, error) {
	n := v.length()
	if n == 0 || count == 0 {
		return nil, nil
	}
	distinct := count > 0
	want := count
	if !distinct {
		want = -count
	}
	if distinct && (int64(want) >= n || n <= 512) {
		all := make([][]byte, 0, n)
		if err := v.each(nil, func(m, _ []byte, _ int64) bool {
			all = append(all, append([]byte{}, m...))
			return true
		}); err != nil {
			return nil, err
		}
		rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		return all[:min(want, len(all))], nil
	}
	lo, hi, err := v.bounds()
	if err != nil || lo == nil {
		return nil, err
	}
	var out [][]byte
	seen := make(map[string]bool)
	for tries := 0; len(out) < want && tries < 4*want+64; tries++ {
		// A random point between the first and the last member, byte by
		// byte within their range, then a few members on (wrapping
		// around).
		skip := rand.Int64N(min(n, 16))
		var got []byte
		pick := func(m, _ []byte, _ int64) bool {
			if skip > 0 {
				skip--
				return true
			}
			got = append([]byte{}, m...)
			return false
		}
		if err := v.each(probeBetween(lo, hi), pick); err != nil {
			return nil, err
		}
		for pass := 0; got == nil && pass < 2; pass++ {
			if err := v.each(nil, pick); err != nil {
				return nil, err
			}
		}
		if got == nil {
			break // every member expired
		}
		if distinct && seen[string(got)] {
			continue
		}
		seen[string(got)] = true
		out = append(out, got)
	}
	return out, nil
}

// probeBetween returns a random byte string between lo and hi (lo <= hi):
// their common prefix, then at each position a byte drawn between theirs
// (any byte past the end of one), so that members that share a prefix
// and an alphabet (digits, say) are reached about evenly.
func probeBetween(lo, hi []byte) []byte {
	i := 0
	for i < len(lo) && i < len(hi) && lo[i] == hi[i] {
		i++
	}
	n := max(len(lo), len(hi))
	out := append(make([]byte, 0, n), lo[:i]...)
	for j := i; j < n; j++ {
		a, b := 0, 0xff
		if j < len(lo) {
			a = int(lo[j])
		}
		if j < len(hi) {
			b = int(hi[j])
		}
		if a > b {
			a, b = b, a
		}
		out = append(out, byte(a+rand.IntN(b-a+1)))
	}
	return out
}
