package server

import (
	"errors"
	"time"

	"github.com/epochdb/epochdb"
)

// kv is what command handlers read and write keys through: the DB itself,
// or, inside EXEC, the one library transaction that all of EXEC's commands
// share (see cmdExec). Every method is atomic on its own; Update and View
// group several steps (in a transaction they run inside it).
type kv interface {
	Get(key []byte) ([]byte, error)
	Set(key, value []byte, ttl time.Duration) error
	Modify(key []byte, fn func(cur epochdb.Entry, exists bool) (epochdb.Change, error)) error
	Metadata(key []byte) (epochdb.Metadata, error)
	TTL(key []byte) (time.Duration, error)
	IncrementFrequency(key []byte) (uint64, error)
	SetDeadline(key []byte, t time.Time, cond epochdb.DeadlineCond) (bool, error)
	Update(fn func(tx *epochdb.Tx) error) error
	View(fn func(tx *epochdb.Tx) error) error
	// remove deletes key and reports whether it was live.
	remove(key []byte) (bool, error)
	// hash, set, zset and list are the collections stored under key.
	hash(key []byte) *epochdb.Hash
	set(key []byte) *epochdb.Set
	zset(key []byte) *epochdb.ZSet
	list(key []byte) *epochdb.List
}

// dbKV is kv on the DB.
type dbKV struct{ *epochdb.DB }

func (d dbKV) remove(key []byte) (bool, error) { return d.Delete(key) }
func (d dbKV) hash(key []byte) *epochdb.Hash   { return d.DB.Hash(key) }
func (d dbKV) set(key []byte) *epochdb.Set     { return d.DB.SetOf(key) }
func (d dbKV) zset(key []byte) *epochdb.ZSet   { return d.DB.ZSet(key) }
func (d dbKV) list(key []byte) *epochdb.List   { return d.DB.List(key) }

// txKV is kv inside a transaction: Update and View run in it.
type txKV struct{ *epochdb.Tx }

func (t txKV) Update(fn func(tx *epochdb.Tx) error) error { return fn(t.Tx) }
func (t txKV) View(fn func(tx *epochdb.Tx) error) error   { return fn(t.Tx) }
func (t txKV) hash(key []byte) *epochdb.Hash              { return t.Tx.Hash(key) }
func (t txKV) set(key []byte) *epochdb.Set                { return t.Tx.SetOf(key) }
func (t txKV) zset(key []byte) *epochdb.ZSet              { return t.Tx.ZSet(key) }
func (t txKV) list(key []byte) *epochdb.List              { return t.Tx.List(key) }

func (t txKV) remove(key []byte) (bool, error) {
	ok, err := txExists(t.Tx, key)
	if err == nil && ok {
		err = t.Delete(key)
	}
	return ok, err
}

// kv returns the store the connection's commands use now.
func (c *Conn) kv() kv {
	if c.execTx != nil {
		if c.in.noTouch {
			c.execTx.SetNoTouch(true)
		}
		return txKV{c.execTx}
	}
	if c.in.noTouch {
		return noTouchKV{dbKV{c.srv.DB}}
	}
	return dbKV{c.srv.DB}
}

// exists reports whether key is live in s, without counting an access.
func exists(s kv, key []byte) (bool, error) {
	_, err := s.TTL(key)
	if errors.Is(err, epochdb.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
