package server

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/epochdb/epochdb"
)

// Key commands, and the commands that iterate a database: SCAN KEYS
// RANDOMKEY DBSIZE FLUSHDB FLUSHALL.

func keyCommands() []command {
	const g = "generic"
	k1 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 1, Step: 1, Group: g, Summary: summary}
	}
	kn := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: -1, Step: 1, Group: g, Summary: summary}
	}
	k2 := func(name string, arity int, flags Flags, summary string) CommandSpec {
		return CommandSpec{Name: name, Arity: arity, Flags: flags | FlagKeyspace, FirstKey: 1, LastKey: 2, Step: 1, Group: g, Summary: summary}
	}
	w, r := FlagWrite, FlagReadOnly
	return []command{
		{kn("del", -2, w, "Deletes one or more keys."), cmdDel},
		{kn("unlink", -2, w, "Asynchronously deletes one or more keys."), cmdDel},
		{kn("exists", -2, r, "Determines whether one or more keys exist."), cmdExists},
		{k1("type", 2, r, "Determines the type of value stored at a key."), cmdType},
		{k2("rename", 3, w, "Renames a key and overwrites the destination."), cmdRename},
		{k2("renamenx", 3, w, "Renames a key only when the target key name doesn't exist."), cmdRename},
		{k2("copy", -3, w, "Copies the value of a key to a new key."), cmdCopy},
		{k1("expire", -3, w, "Sets the expiration time of a key in seconds."), cmdExpire},
		{k1("pexpire", -3, w, "Sets the expiration time of a key in milliseconds."), cmdExpire},
		{k1("expireat", -3, w, "Sets the expiration time of a key to a Unix timestamp."), cmdExpire},
		{k1("pexpireat", -3, w, "Sets the expiration time of a key to a Unix milliseconds timestamp."), cmdExpire},
		{k1("ttl", 2, r, "Returns the expiration time in seconds of a key."), cmdTTL},
		{k1("pttl", 2, r, "Returns the expiration time in milliseconds of a key."), cmdTTL},
		{k1("expiretime", 2, r, "Returns the expiration time of a key as a Unix timestamp."), cmdTTL},
		{k1("pexpiretime", 2, r, "Returns the expiration time of a key as a Unix milliseconds timestamp."), cmdTTL},
		{k1("persist", 2, w, "Removes the expiration time of a key."), cmdPersist},
		{kn("touch", -2, r, "Returns the number of existing keys out of those specified after updating the time they were last accessed."), cmdTouch},
		{k1("object", -2, r|FlagLoose, "A container for object introspection commands."), cmdObject},
		{CommandSpec{Name: "scan", Arity: -2, Flags: r, Group: g, Summary: "Iterates over the key names in the database."}, cmdScan},
		{CommandSpec{Name: "keys", Arity: 2, Flags: r, Group: g, Summary: "Returns all key names that match a pattern."}, cmdKeys},
		{CommandSpec{Name: "randomkey", Arity: 1, Flags: r, Group: g, Summary: "Returns a random key name from the database."}, cmdRandomKey},
		{CommandSpec{Name: "dbsize", Arity: 1, Flags: r, Group: "server", Summary: "Returns the number of keys in the database."}, cmdDBSize},
		{CommandSpec{Name: "flushdb", Arity: -1, Flags: w, Group: "server", Summary: "Removes all keys from the current database."}, cmdFlush},
		{CommandSpec{Name: "flushall", Arity: -1, Flags: w, Group: "server", Summary: "Removes all keys from all databases."}, cmdFlush},
	}
}

// cmdDel deletes its keys; several in one transaction, so atomically.
func cmdDel(c *Conn, cmd Command) {
	keys := cmd.Args[1:]
	var deleted []bool
	var err error
	if len(keys) == 1 {
		var ok bool
		ok, err = c.kv().remove(c.key(keys[0]))
		deleted = []bool{ok}
	} else {
		err = c.kv().Update(func(tx *epochdb.Tx) error {
			deleted = make([]bool, len(keys))
			seen := map[string]bool{}
			for i, k := range keys {
				key := c.key(k)
				if seen[string(key)] {
					continue
				}
				seen[string(key)] = true
				ok, err := txExists(tx, key)
				if err == nil && ok {
					err = tx.Delete(key)
				}
				if err != nil {
					return err
				}
				deleted[i] = ok
			}
			return nil
		})
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	n := 0
	for i, ok := range deleted {
		if ok {
			n++
			c.notify(notifyGeneric, "del", keys[i])
		}
	}
	c.WriteInt(int64(n))
}

// cmdExists counts the live keys among its arguments (repeats count
// repeatedly), several from one snapshot.
func cmdExists(c *Conn, cmd Command) {
	keys := cmd.Args[1:]
	n := 0
	var err error
	if len(keys) == 1 {
		var ok bool
		if ok, err = exists(c.kv(), c.key(keys[0])); ok {
			n = 1
		}
	} else {
		err = c.kv().View(func(tx *epochdb.Tx) error {
			for _, k := range keys {
				ok, err := txExists(tx, c.key(k))
				if err != nil {
					return err
				}
				if ok {
					n++
				}
			}
			return nil
		})
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteInt(int64(n))
}

func cmdType(c *Conn, cmd Command) {
	md, err := c.kv().Metadata(c.key(cmd.Args[1]))
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteString("none")
	case err != nil:
		c.writeErr(err)
	default:
		c.WriteString(md.Type.String())
	}
}

// Outcomes of copyKey.
const (
	copyDone = iota
	copyNoSource
	copyTargetExists
)

// copyKey copies library key src to library key dst in one transaction,
// with its value, deadline and lifecycle history (frequency, heat,
// created, updated, last access: Tx.Copy); move deletes src too. Unless
// replace, an existing dst is left alone.
func (c *Conn) copyKey(src, dst []byte, move, replace bool) (int, error) {
	outcome := copyDone
	err := c.kv().Update(func(tx *epochdb.Tx) error {
		outcome = copyDone
		if ok, err := txExists(tx, src); err != nil || !ok {
			outcome = copyNoSource
			return err
		}
		if !replace {
			taken, err := txExists(tx, dst)
			if err != nil {
				return err
			}
			if taken {
				outcome = copyTargetExists
				return nil
			}
		}
		md, err := tx.Metadata(src)
		if err != nil {
			return err
		}
		if md.Type != epochdb.TypeString {
			if err := copyCollection(tx, src, dst, md); err != nil {
				return err
			}
			if move {
				return tx.Delete(src)
			}
			return nil
		}
		if err := tx.Copy(src, dst); err != nil {
			return err
		}
		if move {
			return tx.Delete(src)
		}
		return nil
	})
	return outcome, err
}

// copyCollection copies the hash, set, sorted set or list src (metadata md)
// to dst, which starts afresh, in tx: member by member (O(members)), with
// the fields' deadlines and the key's.
func copyCollection(tx *epochdb.Tx, src, dst []byte, md epochdb.Metadata) error {
	if err := tx.Delete(dst); err != nil {
		return err
	}
	switch md.Type {
	case epochdb.TypeHash:
		var fields []epochdb.FieldValue
		err := tx.Hash(src).Scan(nil, func(f epochdb.FieldValue) bool {
			fields = append(fields, epochdb.FieldValue{Field: bytes.Clone(f.Field), Value: bytes.Clone(f.Value), ExpiresAt: f.ExpiresAt})
			return true
		})
		if err != nil {
			return err
		}
		err = tx.Hash(dst).Modify(func(v *epochdb.HashView) error {
			for _, f := range fields {
				if _, err := v.Set(f.Field, f.Value, f.ExpiresAt); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	case epochdb.TypeSet:
		ms, err := tx.SetOf(src).Members()
		if err != nil {
			return err
		}
		if _, err := tx.SetOf(dst).Add(ms...); err != nil {
			return err
		}
	case epochdb.TypeZSet:
		if err := copyZSet(tx, src, dst); err != nil {
			return err
		}
	case epochdb.TypeList:
		if err := copyList(tx, src, dst); err != nil {
			return err
		}
	}
	if md.ExpiresAt.IsZero() {
		return nil
	}
	_, err := tx.SetDeadline(dst, md.ExpiresAt, epochdb.Always)
	return err
}

// cmdRename is RENAME and RENAMENX, each one transaction.
func cmdRename(c *Conn, cmd Command) {
	nx := equalFold(cmd.Args[0], "renamenx")
	src, dst := c.key(cmd.Args[1]), c.key(cmd.Args[2])
	if bytes.Equal(src, dst) {
		ok, err := exists(c.kv(), src)
		switch {
		case err != nil:
			c.writeErr(err)
		case !ok:
			c.WriteError(errNoSuchKey)
		case nx:
			c.WriteInt(0)
		default:
			c.WriteOK()
		}
		return
	}
	outcome, err := c.copyKey(src, dst, true, !nx)
	switch {
	case err != nil:
		c.writeErr(err)
	case outcome == copyNoSource:
		c.WriteError(errNoSuchKey)
	case outcome == copyTargetExists:
		c.WriteInt(0)
	default:
		c.notify(notifyGeneric, "rename_from", cmd.Args[1])
		c.notify(notifyGeneric, "rename_to", cmd.Args[2])
		if nx {
			c.WriteInt(1)
		} else {
			c.WriteOK()
		}
	}
}

func cmdCopy(c *Conn, cmd Command) {
	dstDB, replace := c.db, false
	for i := 3; i < len(cmd.Args); i++ {
		switch {
		case equalFold(cmd.Args[i], "replace"):
			replace = true
		case equalFold(cmd.Args[i], "db") && i+1 < len(cmd.Args):
			n, ok := parseInt(cmd.Args[i+1])
			if !ok {
				c.WriteError(errNotInteger)
				return
			}
			if n < 0 || n >= numDBs {
				c.WriteError(errDBIndex)
				return
			}
			dstDB = int(n)
			i++
		default:
			c.WriteError(errSyntax)
			return
		}
	}
	src, dst := c.key(cmd.Args[1]), c.keyIn(dstDB, cmd.Args[2])
	if bytes.Equal(src, dst) {
		c.WriteError(errSameObject)
		return
	}
	outcome, err := c.copyKey(src, dst, false, replace)
	switch {
	case err != nil:
		c.writeErr(err)
	case outcome != copyDone:
		c.WriteInt(0)
	default:
		c.notifyIn(dstDB, notifyGeneric, "copy_to", cmd.Args[2])
		c.WriteInt(1)
	}
}

// cmdExpire is EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT with Redis's NX XX GT
// LT conditions: one library SetDeadline, which checks the condition and
// sets the deadline atomically.
func cmdExpire(c *Conn, cmd Command) {
	name := bstr(lower(nil, cmd.Args[0]))
	var nx, xx, gt, lt bool
	for _, o := range cmd.Args[3:] {
		switch {
		case equalFold(o, "nx"):
			nx = true
		case equalFold(o, "xx"):
			xx = true
		case equalFold(o, "gt"):
			gt = true
		case equalFold(o, "lt"):
			lt = true
		default:
			c.WriteError("ERR Unsupported option " + truncate(o, 128))
			return
		}
	}
	if nx && (xx || gt || lt) {
		c.WriteError("ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if gt && lt {
		c.WriteError("ERR GT and LT options at the same time are not compatible")
		return
	}
	when, ok := parseInt(cmd.Args[2])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	if name == "expire" || name == "expireat" {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.WriteError(string(errInvalidExpire(name)))
			return
		}
		when *= 1000
	}
	now := c.srv.now().UnixMilli()
	if name == "expire" || name == "pexpire" {
		if when > 0 && now > math.MaxInt64-when {
			c.WriteError(string(errInvalidExpire(name)))
			return
		}
		when += now
	}
	cond := epochdb.Always
	switch {
	case nx:
		cond = epochdb.IfNone
	case gt: // never holds without a deadline, so it covers XX too
		cond = epochdb.IfLater
	case lt:
		cond = epochdb.IfEarlier
	case xx:
		cond = epochdb.IfSet
	}
	// LT counts no deadline as an infinite one; with XX the key must have
	// a deadline too: both conditions checked in one transaction.
	needDeadline := xx && lt
	key := c.key(cmd.Args[1])
	if when <= now || needDeadline {
		// A deadline in the past deletes the key (if the condition holds),
		// as Redis does: one transaction for the check and the delete.
		changed, deleted := false, false
		err := c.kv().Update(func(tx *epochdb.Tx) error {
			changed, deleted = false, false
			if needDeadline {
				if d, err := tx.TTL(key); err != nil || d == epochdb.NoTTL {
					return err
				}
			}
			ok, err := tx.SetDeadline(key, msTime(max(when, 1)), cond)
			if !ok || err != nil {
				return err
			}
			changed = true
			if when <= now {
				deleted = true
				return tx.Delete(key)
			}
			return nil
		})
		switch {
		case errors.Is(err, epochdb.ErrNotFound):
			c.WriteInt(0)
		case err != nil:
			c.writeErr(err)
		default:
			if deleted {
				c.notify(notifyGeneric, "del", cmd.Args[1])
			} else if changed {
				c.notify(notifyGeneric, "expire", cmd.Args[1])
			}
			c.WriteBool(changed)
		}
		return
	}
	ok, err := c.kv().SetDeadline(key, msTime(when), cond)
	switch {
	case errors.Is(err, epochdb.ErrNotFound):
		c.WriteInt(0)
	case err != nil:
		c.writeErr(err)
	case !ok:
		c.WriteInt(0)
	default:
		c.notify(notifyGeneric, "expire", cmd.Args[1])
		c.WriteInt(1)
	}
}

// cmdTTL is TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing key, -1
// for a key without deadline.
func cmdTTL(c *Conn, cmd Command) {
	md, err := c.kv().Metadata(c.key(cmd.Args[1]))
	if errors.Is(err, epochdb.ErrNotFound) {
		c.WriteInt(-2)
		return
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	if md.ExpiresAt.IsZero() {
		c.WriteInt(-1)
		return
	}
	at := md.ExpiresAt.UnixMilli()
	left := max(at-c.srv.now().UnixMilli(), 0)
	switch bstr(lower(c.nameBuf[:0], cmd.Args[0])) {
	case "ttl":
		c.WriteInt((left + 500) / 1000)
	case "pttl":
		c.WriteInt(left)
	case "expiretime":
		c.WriteInt(at / 1000)
	default:
		c.WriteInt(at)
	}
}

func cmdPersist(c *Conn, cmd Command) {
	ok, err := c.kv().SetDeadline(c.key(cmd.Args[1]), time.Time{}, epochdb.IfSet)
	switch {
	case errors.Is(err, epochdb.ErrNotFound) || err == nil && !ok:
		c.WriteInt(0)
	case err != nil:
		c.writeErr(err)
	default:
		c.notify(notifyGeneric, "persist", cmd.Args[1])
		c.WriteInt(1)
	}
}

// cmdTouch counts an access of each existing key (frequency and last
// access, as EpochDB tracks them) and returns how many exist.
func cmdTouch(c *Conn, cmd Command) {
	n := 0
	for _, k := range cmd.Args[1:] {
		_, err := c.kv().IncrementFrequency(c.key(k))
		switch {
		case err == nil:
			n++
		case !errors.Is(err, epochdb.ErrNotFound):
			c.writeErr(err)
			return
		}
	}
	c.WriteInt(int64(n))
}

func cmdObject(c *Conn, cmd Command) {
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	switch {
	case sub == "help" && len(args) == 2:
		writeHelp(c, "OBJECT", []string{
			"ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
			"    associated with a <key>.",
			"FREQ <key>", "    Return the access frequency of the key <key>: EpochDB's access count.",
			"IDLETIME <key>", "    Return the idle time of the key <key>, in seconds.",
			"REFCOUNT <key>", "    Return the reference count of the object stored at <key>.",
		})
		return
	case (sub == "encoding" || sub == "freq" || sub == "idletime" || sub == "refcount") && len(args) == 3:
	case sub == "encoding" || sub == "freq" || sub == "idletime" || sub == "refcount" || sub == "help":
		c.WriteError(wrongArgs("object|" + sub))
		return
	default:
		c.WriteError(unknownSubcommand(args[1], "OBJECT"))
		return
	}
	key := c.key(args[2])
	if sub == "encoding" || sub == "refcount" {
		if md, err := c.kv().Metadata(key); err == nil && md.Type != epochdb.TypeString {
			if sub == "refcount" {
				c.WriteInt(1)
			} else {
				c.WriteBulkString(c.collEncoding(key, md.Type))
			}
			return
		}
	}
	if sub == "encoding" || sub == "refcount" {
		v, _, ok, err := c.peek(key)
		switch {
		case err != nil:
			c.writeErr(err)
		case !ok:
			c.WriteNull()
		case sub == "refcount":
			c.WriteInt(refcount(v))
		default:
			c.WriteBulkString(encoding(v))
		}
		return
	}
	md, err := c.kv().Metadata(key)
	if errors.Is(err, epochdb.ErrNotFound) {
		c.WriteNull()
		return
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	switch sub {
	case "freq":
		c.WriteUint(md.Frequency)
	case "idletime":
		c.WriteInt(max(int64(c.srv.now().Sub(md.LastAccess)/time.Second), 0))
	default:
		c.WriteInt(1)
	}
}

// refcount is the reference count Redis would report for a string value:
// its shared integers 0..9999 answer INT_MAX, any other value 1.
func refcount(v []byte) int64 {
	if n, ok := parseInt(v); ok && n >= 0 && n < 10000 {
		return math.MaxInt32
	}
	return 1
}

// collEncoding is the encoding Redis would report for a hash or set of
// its size (listpack up to 128 members, with its default settings); sets
// of integers (intset) are not told apart.
func (c *Conn) collEncoding(key []byte, t epochdb.Type) string {
	if t == epochdb.TypeZSet {
		return zsetEncoding(c.kv().zset(key))
	}
	var n int64
	switch t {
	case epochdb.TypeHash:
		n, _ = c.kv().hash(key).Len()
	case epochdb.TypeList:
		return c.listEncoding(key)
	default:
		n, _ = c.kv().set(key).Card()
	}
	if n <= 128 {
		return "listpack"
	}
	return "hashtable"
}

// encoding is the encoding Redis would report for a string value.
func encoding(v []byte) string {
	if _, ok := parseInt(v); ok {
		return "int"
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}

// scanDB calls fn for each live key of database db whose client key starts
// with prefix, in byte order, starting after the client key after (nil:
// from the start). key is the client key, valid during the call. limit 0
// means no limit.
func (c *Conn) scanDB(db int, prefix, after []byte, limit int, fn func(key []byte, md epochdb.Metadata) error) error {
	p := append([]byte{byte(db)}, prefix...)
	opts := epochdb.ScanOptions{Prefix: p, Limit: limit}
	if after != nil {
		a := append([]byte{byte(db)}, after...)
		switch {
		case bytes.HasPrefix(a, p):
			opts.After = a
		case bytes.Compare(a, p) > 0:
			return nil // already past every key with the prefix
		}
	}
	scan := c.srv.DB.Scan
	if c.execTx != nil {
		scan = c.execTx.Scan // inside EXEC: what its earlier commands wrote
	}
	return scan(opts, func(k, _ []byte, md epochdb.Metadata) error {
		return fn(k[1:], md)
	})
}

func cmdScan(c *Conn, cmd Command) {
	args := cmd.Args
	cur, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		c.WriteError("ERR invalid cursor")
		return
	}
	count := 10
	var pattern []byte
	var typ []byte // SCAN TYPE: only keys of this type
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.WriteError(errSyntax)
			return
		}
		v := args[i+1]
		switch {
		case equalFold(args[i], "count"):
			n, ok := parseInt(v)
			if !ok {
				c.WriteError(errNotInteger)
				return
			}
			if n < 1 {
				c.WriteError(errSyntax)
				return
			}
			count = int(min(n, 1<<20))
		case equalFold(args[i], "match"):
			pattern = v
			if len(v) == 1 && v[0] == '*' {
				pattern = nil
			}
		case equalFold(args[i], "type"):
			typ = v
		default:
			c.WriteError(errSyntax)
			return
		}
	}
	var after []byte
	if cur != 0 {
		pos, ok := c.srv.cursors.get(cur)
		if !ok || pos.db != c.db {
			c.WriteError("ERR invalid cursor")
			return
		}
		after = pos.after
	}
	var keys [][]byte
	last := make([]byte, 0, 64) // never nil: the empty key is a position too
	seen := 0
	err = c.scanDB(c.db, globPrefix(pattern), after, count+1, func(k []byte, md epochdb.Metadata) error {
		seen++
		if seen > count {
			return epochdb.ErrStopScan
		}
		last = append(last[:0], k...)
		if (typ == nil || equalFold(typ, md.Type.String())) && (pattern == nil || globMatch(pattern, k)) {
			keys = append(keys, append([]byte{}, k...))
		}
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	next := uint64(0)
	if seen > count {
		next = c.srv.cursors.put(cursorPos{db: c.db, after: last})
	}
	c.WriteArray(2)
	c.WriteBulkString(strconv.FormatUint(next, 10))
	c.WriteArray(len(keys))
	for _, k := range keys {
		c.WriteBulk(k)
	}
}

func cmdKeys(c *Conn, cmd Command) {
	pattern := cmd.Args[1]
	all := len(pattern) == 1 && pattern[0] == '*'
	var keys [][]byte
	err := c.scanDB(c.db, globPrefix(pattern), nil, 0, func(k []byte, _ epochdb.Metadata) error {
		if all || globMatch(pattern, k) {
			keys = append(keys, append([]byte{}, k...))
		}
		return nil
	})
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteArray(len(keys))
	for _, k := range keys {
		c.WriteBulk(k)
	}
}

// cmdRandomKey returns the first key after a random printable string, or
// the first key. Keys are not equally likely: one after a long gap in the
// key space is picked more often.
func cmdRandomKey(c *Conn, cmd Command) {
	var probe [8]byte
	for i := range probe {
		probe[i] = byte(0x20 + rand.IntN(0x7f-0x20))
	}
	var found []byte
	pick := func(k []byte, _ epochdb.Metadata) error {
		found = append([]byte{}, k...)
		return epochdb.ErrStopScan
	}
	err := c.scanDB(c.db, nil, probe[:], 1, pick)
	if err == nil && found == nil {
		err = c.scanDB(c.db, nil, nil, 1, pick)
	}
	switch {
	case err != nil:
		c.writeErr(err)
	case found == nil:
		c.WriteNull()
	default:
		c.WriteBulk(found)
	}
}

// cmdDBSize is O(1): the database's counters, which include keys whose
// deadline passed but that the sweeper has not removed yet (at most about
// one expiry interval old), as Redis's DBSIZE does.
func cmdDBSize(c *Conn, cmd Command) {
	if c.execTx != nil {
		// Inside EXEC the counters do not show its earlier commands'
		// writes yet: count the keys its transaction sees.
		n := int64(0)
		err := c.scanDB(c.db, nil, nil, 0, func([]byte, epochdb.Metadata) error { n++; return nil })
		if err != nil {
			c.writeErr(err)
			return
		}
		c.WriteInt(n)
		return
	}
	c.WriteInt(c.srv.DB.Namespace(byte(c.db)).Keys)
}

// cmdFlush is FLUSHDB and FLUSHALL [ASYNC|SYNC]. Either way the keys are
// gone when it replies, in O(1) (the library drops the database's key
// range), and the space is reclaimed in the background. Inside EXEC it
// deletes the keys in EXEC's transaction instead.
func cmdFlush(c *Conn, cmd Command) {
	all := equalFold(cmd.Args[0], "flushall")
	if len(cmd.Args) > 2 || len(cmd.Args) == 2 && !equalFold(cmd.Args[1], "async") && !equalFold(cmd.Args[1], "sync") {
		c.WriteError(errSyntax)
		return
	}
	dbs := []int{c.db}
	if all {
		dbs = dbs[:0]
		for i := range numDBs {
			dbs = append(dbs, i)
		}
	}
	var err error
	if c.execTx != nil {
		err = flushInTx(c.execTx, dbs)
	} else {
		err = c.srv.flushDBs(dbs)
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.WriteOK()
}

// flushDBs drops every key of the given databases.
func (s *Server) flushDBs(dbs []int) error {
	for _, db := range dbs {
		if _, err := s.DB.DropNamespace(byte(db)); err != nil {
			return err
		}
	}
	return nil
}

// flushInTx deletes every key of the given databases in tx.
func flushInTx(tx *epochdb.Tx, dbs []int) error {
	for _, db := range dbs {
		var keys [][]byte
		err := tx.Scan(epochdb.ScanOptions{Prefix: []byte{byte(db)}}, func(k, _ []byte, _ epochdb.Metadata) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
		for _, k := range keys {
			if err == nil {
				err = tx.Delete(k)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// cursorTable maps SCAN cursors to the key they continue after. Cursors are
// random numbers, valid on any connection (client libraries spread one
// iteration over pooled connections), until the table evicts them: it keeps
// the newest maxCursors, within maxCursorBytes of keys.
type cursorTable struct {
	mu    sync.Mutex // guards all fields
	m     map[uint64]cursorPos
	order []uint64 // ids, oldest first
	bytes int
}

type cursorPos struct {
	db    int
	after []byte
}

const (
	maxCursors     = 10000
	maxCursorBytes = 16 << 20
)

func (t *cursorTable) init() { t.m = make(map[uint64]cursorPos) }

func (t *cursorTable) get(id uint64) (cursorPos, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.m[id]
	return p, ok
}

func (t *cursorTable) put(p cursorPos) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var id uint64
	for {
		id = rand.Uint64() >> 1 // fits a signed 64-bit integer too
		if _, taken := t.m[id]; id != 0 && !taken {
			break
		}
	}
	t.m[id] = p
	t.order = append(t.order, id)
	t.bytes += len(p.after)
	for len(t.order) > maxCursors || t.bytes > maxCursorBytes {
		old := t.order[0]
		t.order = t.order[1:]
		t.bytes -= len(t.m[old].after)
		delete(t.m, old)
	}
	return id
}
