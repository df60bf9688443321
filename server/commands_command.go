package server

import "strings"

// COMMAND, COMMAND COUNT/LIST/INFO/DOCS/GETKEYS/GETKEYSANDFLAGS/HELP: all
// derived from the command table, so a command registered with a
// CommandSpec is listed and documented without more work.

func cmdCommand(c *Conn, cmd Command) {
	args := cmd.Args
	mux := c.srv.mux
	if len(args) == 1 {
		specs := mux.Specs()
		c.WriteArray(len(specs))
		for i := range specs {
			writeCommandInfo(c, &specs[i])
		}
		return
	}
	sub := bstr(lower(nil, args[1]))
	switch {
	case sub == "count" && len(args) == 2:
		c.WriteInt(int64(len(mux.m)))
	case sub == "list":
		keep, errMsg := parseCommandFilter(args[2:])
		if errMsg != "" {
			c.WriteError(errMsg)
			return
		}
		var names []string
		for _, s := range mux.Specs() {
			if keep(&s) {
				names = append(names, s.Name)
			}
		}
		c.WriteArray(len(names))
		for _, n := range names {
			c.WriteBulkString(n)
		}
	case sub == "info":
		specs := specsNamed(mux, args[2:])
		c.WriteArray(len(specs))
		for _, s := range specs {
			if s == nil {
				c.WriteNull()
			} else {
				writeCommandInfo(c, s)
			}
		}
	case sub == "docs":
		var specs []*CommandSpec
		for _, s := range specsNamed(mux, args[2:]) {
			if s != nil {
				specs = append(specs, s)
			}
		}
		c.WriteMap(len(specs))
		for _, s := range specs {
			c.WriteBulkString(s.Name)
			c.WriteMap(3)
			c.WriteBulkString("summary")
			c.WriteBulkString(s.Summary)
			c.WriteBulkString("since")
			c.WriteBulkString("1.0.0")
			c.WriteBulkString("group")
			c.WriteBulkString(s.Group)
		}
	case (sub == "getkeys" || sub == "getkeysandflags") && len(args) >= 3:
		commandGetKeys(c, args[2:], sub == "getkeysandflags")
	case sub == "help" && len(args) == 2:
		writeHelp(c, "COMMAND", []string{
			"(no subcommand)", "    Return details about all commands.",
			"COUNT", "    Return the total number of commands in this server.",
			"LIST", "    Return a list of all commands in this server.",
			"INFO [<command-name> ...]",
			"    Return details about multiple commands.",
			"    If no command names are given, documentation details for all",
			"    commands are returned.",
			"DOCS [<command-name> ...]",
			"    Return documentation details about multiple commands.",
			"    If no command names are given, documentation details for all",
			"    commands are returned.",
			"GETKEYS <full-command>", "    Return the keys from a full command.",
			"GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full command.",
		})
	case sub == "count" || sub == "getkeys" || sub == "getkeysandflags" || sub == "help":
		c.WriteError(wrongArgs("command|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "COMMAND"))
	}
}

// parseCommandFilter parses COMMAND LIST's [FILTERBY MODULE name | ACLCAT
// category | PATTERN pattern].
func parseCommandFilter(opts [][]byte) (func(*CommandSpec) bool, string) {
	switch {
	case len(opts) == 0:
		return func(*CommandSpec) bool { return true }, ""
	case len(opts) != 3 || !equalFold(opts[0], "filterby"):
		return nil, errSyntax
	}
	arg := lower(nil, opts[2])
	switch {
	case equalFold(opts[1], "module"):
		return func(*CommandSpec) bool { return false }, "" // no modules
	case equalFold(opts[1], "aclcat"):
		cat := "@" + string(arg)
		return func(s *CommandSpec) bool {
			for _, c := range aclCategories(s) {
				if c == cat {
					return true
				}
			}
			return false
		}, ""
	case equalFold(opts[1], "pattern"):
		return func(s *CommandSpec) bool { return globMatch(arg, []byte(s.Name)) }, ""
	}
	return nil, errSyntax
}

// commandGetKeys answers COMMAND GETKEYS and GETKEYSANDFLAGS.
func commandGetKeys(c *Conn, full [][]byte, withFlags bool) {
	e := c.srv.mux.lookup(lower(nil, full[0]))
	switch {
	case e == nil:
		c.WriteError("ERR Invalid command specified")
		return
	case e.spec.FirstKey == 0:
		c.WriteError("ERR The command has no key arguments")
		return
	case !e.spec.arityOK(len(full)):
		c.WriteError("ERR Invalid number of arguments specified for command")
		return
	}
	first, last, step := e.spec.keyRange(len(full))
	var keys [][]byte
	for i := first; i >= 1 && i <= last; i += step {
		keys = append(keys, full[i])
	}
	if len(keys) == 0 {
		c.WriteError("ERR Invalid arguments specified for command")
		return
	}
	flags := []string{"RW", "access", "update"}
	switch {
	case e.spec.Flags&FlagReadOnly != 0:
		flags = []string{"RO", "access"}
	case e.spec.Flags&FlagWrite == 0:
		flags = []string{"RO"}
	}
	c.WriteArray(len(keys))
	for _, k := range keys {
		if !withFlags {
			c.WriteBulk(k)
			continue
		}
		c.WriteArray(2)
		c.WriteBulk(k)
		c.WriteSet(len(flags))
		for _, f := range flags {
			c.WriteString(f)
		}
	}
}

// specsNamed returns the specs of the named commands (nil for unknown
// names), or all specs when names is empty.
func specsNamed(mux *ServeMux, names [][]byte) []*CommandSpec {
	var out []*CommandSpec
	if len(names) == 0 {
		for _, s := range mux.Specs() {
			out = append(out, &s)
		}
		return out
	}
	for _, n := range names {
		if e := mux.lookup(lower(nil, n)); e != nil {
			out = append(out, &e.spec)
		} else {
			out = append(out, nil)
		}
	}
	return out
}

// aclCategories derives a command's ACL categories from its spec: @read
// or @write, its group's category, @admin and @dangerous for admin
// commands, @blocking for blocking ones.
func aclCategories(s *CommandSpec) []string {
	var cats []string
	switch {
	case s.Flags&FlagWrite != 0:
		cats = append(cats, "@write")
	case s.Flags&FlagReadOnly != 0:
		cats = append(cats, "@read")
	}
	switch s.Group {
	case "generic":
		cats = append(cats, "@keyspace")
	case "transactions":
		cats = append(cats, "@transaction")
	case "server", "":
	default:
		cats = append(cats, "@"+strings.ToLower(s.Group))
	}
	if s.Flags&FlagAdmin != 0 {
		cats = append(cats, "@admin", "@dangerous")
	}
	if s.Flags&FlagBlocking != 0 {
		cats = append(cats, "@blocking")
	}
	return cats
}

// writeCommandInfo writes one entry of COMMAND / COMMAND INFO in Redis 7's
// layout: name, arity, flags, first key, last key, step, ACL categories,
// tips, key specs, subcommands.
func writeCommandInfo(c *Conn, s *CommandSpec) {
	var flags []string
	for _, f := range []struct {
		bit  Flags
		name string
	}{{FlagWrite, "write"}, {FlagReadOnly, "readonly"}, {FlagAdmin, "admin"}, {FlagNoAuth, "no_auth"},
		{FlagPubSub, "pubsub"}, {FlagNoMulti, "no_multi"}, {FlagBlocking, "blocking"}} {
		if s.Flags&f.bit != 0 {
			flags = append(flags, f.name)
		}
	}
	cats := aclCategories(s)
	c.WriteArray(10)
	c.WriteBulkString(s.Name)
	c.WriteInt(int64(s.Arity))
	c.WriteSet(len(flags))
	for _, f := range flags {
		c.WriteString(f)
	}
	c.WriteInt(int64(s.FirstKey))
	c.WriteInt(int64(s.LastKey))
	c.WriteInt(int64(s.Step))
	c.WriteSet(len(cats))
	for _, cat := range cats {
		c.WriteString(cat)
	}
	c.WriteArray(0)
	c.WriteArray(0)
	c.WriteArray(0)
}
