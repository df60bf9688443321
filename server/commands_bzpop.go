package server

import (
	"github.com/epochdb/epochdb"
)

// The blocking sorted set pops, BZPOPMIN, BZPOPMAX and BZMPOP, on the
// machinery of blocking.go: a try function that pops from a sorted set,
// and the commands that parse their arguments and block.

func bzpopCommands() []command {
	const g = "sorted-set"
	b := FlagWrite | FlagBlocking | FlagKeyspace
	return []command{
		{CommandSpec{Name: "bzpopmin", Arity: -3, Flags: b, FirstKey: 1, LastKey: -2, Step: 1, Group: g, Summary: "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."}, cmdBZPop},
		{CommandSpec{Name: "bzpopmax", Arity: -3, Flags: b, FirstKey: 1, LastKey: -2, Step: 1, Group: g, Summary: "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."}, cmdBZPop},
		{CommandSpec{Name: "bzmpop", Arity: -5, Flags: b, Group: g, Summary: "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last member was popped."}, cmdBZMPop},
	}
}

// zsetPopTry is the tryFunc of BZPOPMIN and BZPOPMAX (one member: the
// reply is [key, member, score]) and of BZMPOP (mpop: [key, [[member,
// score] …]]), for database db; top pops the highest scores.
func zsetPopTry(db int, top bool, count int, mpop bool) tryFunc {
	return func(s kv, key []byte) (*popped, error) {
		var ms []epochdb.ZMember
		gone := false
		err := s.zset(libKey(db, key)).Modify(func(v *epochdb.ZSetView) error {
			var err error
			if top {
				ms, err = v.PopMax(count)
			} else {
				ms, err = v.PopMin(count)
			}
			gone = len(ms) > 0 && v.Card() == 0
			return err
		})
		if err != nil || len(ms) == 0 {
			return nil, err
		}
		key = append([]byte{}, key...)
		event := "zpopmin"
		if top {
			event = "zpopmax"
		}
		notes := []note{{db: db, class: notifyZSet, event: event, key: key}}
		if gone {
			notes = append(notes, note{db: db, class: notifyGeneric, event: "del", key: key})
		}
		return &popped{
			reply: func(c *Conn) {
				if mpop {
					c.WriteArray(2)
					c.WriteBulk(key)
					c.writeZList(ms, true, true)
					return
				}
				c.WriteArray(3)
				c.WriteBulk(key)
				c.WriteBulk(ms[0].Member)
				c.writeScore(ms[0].Score)
			},
			notes: notes,
		}, nil
	}
}

// cmdBZPop is BZPOPMIN and BZPOPMAX key [key ...] timeout.
func cmdBZPop(c *Conn, cmd Command) {
	c.blockingPopKeys(cmd.Args, zsetPopTry(c.db, equalFold(cmd.Args[0], "bzpopmax"), 1, false))
}

// cmdBZMPop is BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count].
func cmdBZMPop(c *Conn, cmd Command) {
	args := cmd.Args
	keys, where, count, msg := parseMultiPop(args[2:], "min", "max")
	if msg != "" {
		c.WriteError(msg)
		return
	}
	timeout, msg := parseTimeout(args[1])
	if msg != "" {
		c.WriteError(msg)
		return
	}
	c.blockingPop(keys, timeout, zsetPopTry(c.db, where == 1, count, true), (*Conn).WriteNullArray)
}
