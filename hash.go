package epochdb

import (
	"time"

	"github.com/epochdb/epochdb/internal/keyspace"
)

// Hash is the hash stored under a key: a map of fields to values, each
// field with an optional deadline of its own. Get one with DB.Hash (each
// method is one atomic operation) or Tx.Hash (inside the transaction).
//
// The whole hash is one key for the lifecycle: DB.Expire, Persist, TTL,
// Delete and Metadata apply to it, and pruning, eviction and the budget
// treat it as one key (its fields' bytes count toward MaxDiskBytes). A read
// of a field counts as an access of the key. A hash exists while it has a
// field: the last one removed (or expired) removes the key.
//
// Every method returns ErrWrongType if the key holds a string or a set.
// Slices passed in may be reused once a method returns; slices returned
// are the caller's.
type Hash struct{ h collHandle }

// Hash returns the hash stored under key (it need not exist yet).
func (db *DB) Hash(key []byte) *Hash {
	return &Hash{collHandle{db: db, key: append([]byte(nil), key...), typ: keyspace.TypeHash}}
}

// Hash returns the hash stored under key, as the transaction sees it.
func (tx *Tx) Hash(key []byte) *Hash {
	return &Hash{collHandle{db: tx.db, tx: tx, key: append([]byte(nil), key...), typ: keyspace.TypeHash}}
}

// FieldValue is a hash field and its value.
type FieldValue struct {
	Field, Value []byte
	// ExpiresAt is the field's deadline (zero: none). Hash.Scan and
	// HashView report it; the Set methods take it from their arguments.
	ExpiresAt time.Time
}

// Get returns the value of field, or ErrNotFound if the hash or the field
// does not exist (a field whose deadline passed does not).
func (h *Hash) Get(field []byte) (value []byte, err error) {
	err = h.h.read(func(v *collView) error {
		s, ok, err := v.get(field)
		if err == nil && !ok {
			err = ErrNotFound
		}
		if err == nil {
			value = append([]byte{}, s.value...)
		}
		return err
	})
	return value, err
}

// GetMany returns the values of fields, nil for those that do not exist,
// from one state of the hash.
func (h *Hash) GetMany(fields ...[]byte) ([][]byte, error) {
	out := make([][]byte, len(fields))
	err := h.h.read(func(v *collView) error {
		for i, f := range fields {
			s, ok, err := v.get(f)
			if err != nil {
				return err
			}
			if ok {
				out[i] = append([]byte{}, s.value...)
			}
		}
		return nil
	})
	return out, err
}

// Set sets field to value (removing any deadline the field had, as Redis's
// HSET does), creating the hash if needed, and reports whether the field
// is new.
func (h *Hash) Set(field, value []byte) (bool, error) {
	n, err := h.SetFields(FieldValue{Field: field, Value: value})
	return n == 1, err
}

// SetFields sets several fields at once (each without deadline) and
// returns how many are new. A field given twice takes its last value.
func (h *Hash) SetFields(fields ...FieldValue) (int, error) {
	if err := checkFields(h.h.db, fields); err != nil {
		return 0, err
	}
	added := 0
	err := h.h.write(func(v *collView) error {
		added = 0
		for _, f := range fields {
			ok, err := v.set(keyspace.TypeHash, f.Field, f.Value, 0)
			if err != nil {
				return err
			}
			if ok {
				added++
			}
		}
		return nil
	})
	return added, err
}

// checkFields validates fields before anything is changed.
func checkFields(db *DB, fields []FieldValue) error {
	for _, f := range fields {
		if err := checkMember(f.Field); err != nil {
			return err
		}
		if err := db.checkValue(f.Value); err != nil {
			return err
		}
	}
	return nil
}

// Del removes fields and returns how many existed.
func (h *Hash) Del(fields ...[]byte) (int, error) {
	n := 0
	err := h.h.write(func(v *collView) error {
		n = 0
		for _, f := range fields {
			ok, err := v.del(f)
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

// Len returns the number of fields, including fields whose deadline passed
// but that the sweeper has not removed yet (at most about ExpiryInterval
// old), as Redis's HLEN. It is 0 for a missing key.
func (h *Hash) Len() (int64, error) {
	return h.h.length()
}

// Scan calls fn for each field after the field after (nil: from the
// first), in byte order, until fn returns false. The arguments are valid
// during the call only.
func (h *Hash) Scan(after []byte, fn func(f FieldValue) bool) error {
	return h.h.read(func(v *collView) error {
		return v.each(firstAfter(after), func(m, value []byte, exp int64) bool {
			return fn(FieldValue{Field: m, Value: value, ExpiresAt: msToTime(exp)})
		})
	})
}

// firstAfter returns the smallest byte string greater than after (nil for
// nil: the first).
func firstAfter(after []byte) []byte {
	if after == nil {
		return nil
	}
	return append(append([]byte{}, after...), 0)
}

// FieldTTL returns the time left until field expires (at least 1ms), NoTTL
// if it has no deadline, or ErrNotFound if the hash or field does not
// exist.
func (h *Hash) FieldTTL(field []byte) (time.Duration, error) {
	var exp, now int64
	err := h.h.read(func(v *collView) error {
		s, ok, err := v.get(field)
		if err == nil && !ok {
			err = ErrNotFound
		}
		if err == nil {
			exp, now = s.exp, v.now
		}
		return err
	})
	switch {
	case err != nil:
		return 0, err
	case exp == 0:
		return NoTTL, nil
	}
	return max(time.Duration(exp-now)*time.Millisecond, time.Millisecond), nil
}

// Expire sets field's deadline to now+ttl (ttl > 0). It returns
// ErrNotFound if the hash or the field does not exist.
func (h *Hash) Expire(field []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	var exp int64
	var derr error
	_, err := h.setFieldDeadline(field, func(now int64) int64 {
		exp, derr = deadline(time.UnixMilli(now), ttl)
		return exp
	}, Always)
	if derr != nil {
		return derr
	}
	return err
}

// ExpireAt sets field's deadline to t, rounded up to the millisecond. A t
// at or before now removes the field, as Redis's HEXPIREAT does.
func (h *Hash) ExpireAt(field []byte, t time.Time) error {
	exp, err := deadlineMs(t)
	if err != nil {
		return err
	}
	if exp == 0 {
		return ErrInvalidTTL
	}
	_, err = h.SetFieldDeadline(field, t, Always)
	return err
}

// Persist removes field's deadline. It returns ErrNotFound if the hash or
// field does not exist.
func (h *Hash) Persist(field []byte) error {
	_, err := h.SetFieldDeadline(field, time.Time{}, Always)
	return err
}

// SetFieldDeadline sets field's deadline to t (zero: none) if cond holds
// for its current one (as SetDeadline does for keys), and reports whether
// it did. A t at or before now removes the field. It returns ErrNotFound
// if the hash or field does not exist.
func (h *Hash) SetFieldDeadline(field []byte, t time.Time, cond DeadlineCond) (bool, error) {
	exp, err := deadlineMs(t)
	if err != nil {
		return false, err
	}
	return h.setFieldDeadline(field, func(int64) int64 { return exp }, cond)
}

func (h *Hash) setFieldDeadline(field []byte, expAt func(now int64) int64, cond DeadlineCond) (bool, error) {
	done := false
	err := h.h.write(func(v *collView) error {
		s, ok, err := v.get(field)
		if err == nil && !ok {
			err = ErrNotFound
		}
		if err != nil {
			return err
		}
		exp := expAt(v.now)
		if done = deadlineHolds(cond, s.exp, exp); !done {
			return nil
		}
		if exp != 0 && exp <= v.now {
			_, err = v.del(field)
			return err
		}
		_, err = v.setMemberDeadline(field, exp)
		return err
	})
	return done, err
}

// Modify runs fn on the hash atomically: no other write of the key comes
// between its reads and its writes, which are applied as one write when fn
// returns nil (nothing is written if it returns an error, which Modify
// returns). It is the building block of multi-field read-modify-writes
// (increment a field, set fields only if none exists, get and delete).
//
// IMPORTANT: with DB.Hash, fn runs while a lock covering the key is held:
// it must be quick and must not call methods of the DB. The view is valid
// during fn only.
func (h *Hash) Modify(fn func(v *HashView) error) error {
	return h.h.write(func(v *collView) error { return fn(&HashView{v: v}) })
}

// View runs fn on the hash as of one state, without writing.
func (h *Hash) View(fn func(v *HashView) error) error {
	return h.h.read(func(v *collView) error { return fn(&HashView{v: v, ro: true}) })
}

// HashView is a hash inside Hash.Modify or Hash.View.
type HashView struct {
	v  *collView
	ro bool
}

// Exists reports whether the hash exists.
func (hv *HashView) Exists() bool { return hv.v.live }

// Now is the time (Unix ms) deadlines are judged at.
func (hv *HashView) Now() time.Time { return time.UnixMilli(hv.v.now) }

// Len is Hash.Len.
func (hv *HashView) Len() int64 { return hv.v.length() }

// Get returns field's value and deadline; ok is false if it does not
// exist.
func (hv *HashView) Get(field []byte) (f FieldValue, ok bool, err error) {
	s, ok, err := hv.v.get(field)
	if err != nil || !ok {
		return FieldValue{}, false, err
	}
	return FieldValue{Field: field, Value: s.value, ExpiresAt: msToTime(s.exp)}, true, nil
}

// Set sets field to value with deadline expiresAt (zero: none), creating
// the hash if needed, and reports whether the field is new.
func (hv *HashView) Set(field, value []byte, expiresAt time.Time) (bool, error) {
	if hv.ro {
		return false, ErrTxReadOnly
	}
	exp, err := deadlineMs(expiresAt)
	if err != nil {
		return false, err
	}
	return hv.v.set(keyspace.TypeHash, field, value, exp)
}

// Del removes field and reports whether it existed.
func (hv *HashView) Del(field []byte) (bool, error) {
	if hv.ro {
		return false, ErrTxReadOnly
	}
	return hv.v.del(field)
}

// SetDeadline sets field's deadline (zero: none); a deadline at or before
// Now removes the field. It reports whether the field exists.
func (hv *HashView) SetDeadline(field []byte, t time.Time) (bool, error) {
	if hv.ro {
		return false, ErrTxReadOnly
	}
	exp, err := deadlineMs(t)
	if err != nil {
		return false, err
	}
	if exp != 0 && exp <= hv.v.now {
		return hv.v.del(field)
	}
	return hv.v.setMemberDeadline(field, exp)
}

// Scan calls fn for each field at or after from (nil: the first), in byte
// order, until fn returns false. The arguments are valid during the call.
func (hv *HashView) Scan(from []byte, fn func(f FieldValue) bool) error {
	return hv.v.each(from, func(m, value []byte, exp int64) bool {
		return fn(FieldValue{Field: m, Value: value, ExpiresAt: msToTime(exp)})
	})
}

// Random returns up to count distinct fields with their values (count >
// 0), or count fields that may repeat (count < 0), picked as Set.Random
// picks members.
func (h *Hash) Random(count int) ([]FieldValue, error) {
	var out []FieldValue
	err := h.h.read(func(v *collView) error {
		ms, err := randomMembers(v, count)
		if err != nil {
			return err
		}
		for _, m := range ms {
			s, ok, err := v.get(m)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, FieldValue{Field: m, Value: append([]byte{}, s.value...), ExpiresAt: msToTime(s.exp)})
			}
		}
		return nil
	})
	return out, err
}
