package server

import (
	"slices"
	"strings"
)

// Command is one client request: the command name and its arguments, as
// sent (Args[0] is the name, in the client's case).
//
// The argument slices are valid only until ServeRESP returns: copy what you
// keep.
type Command struct {
	Args [][]byte
}

// A Handler answers one command. ServeRESP writes exactly one reply to c
// (an array of replies counts as one).
type Handler interface {
	ServeRESP(c *Conn, cmd Command)
}

// HandlerFunc adapts an ordinary function to a Handler.
type HandlerFunc func(c *Conn, cmd Command)

// ServeRESP calls f(c, cmd).
func (f HandlerFunc) ServeRESP(c *Conn, cmd Command) { f(c, cmd) }

// Flags describe how the server treats a command before and around its
// handler.
type Flags uint32

const (
	// FlagWrite marks a command that may change the keyspace.
	FlagWrite Flags = 1 << iota
	// FlagReadOnly marks a command that reads keys without changing them.
	FlagReadOnly
	// FlagNoAuth lets a command run before the client authenticated.
	FlagNoAuth
	// FlagPubSub lets a command run while a RESP2 client is subscribed.
	FlagPubSub
	// FlagKeyspace marks a command that names keys (FirstKey, LastKey,
	// Step say where). No command holds a server-wide lock: a handler that
	// needs several steps to be atomic uses a library transaction.
	FlagKeyspace
	// FlagNoMulti refuses the command inside MULTI.
	FlagNoMulti
	// FlagTx marks the transaction commands MULTI, EXEC, DISCARD: never
	// queued.
	FlagTx
	// FlagAdmin marks administrative commands (COMMAND INFO shows "admin").
	FlagAdmin
	// FlagLoose skips the exact arity check for commands that check their
	// own (the subcommand containers CLIENT, CONFIG, OBJECT): a positive
	// arity is not enforced, but a negative arity's minimum still is, so a
	// container's handler always gets its subcommand argument.
	FlagLoose
	// FlagBlocking marks a command that may block the client (COMMAND INFO
	// shows "blocking").
	FlagBlocking
)

// CommandSpec describes a command to a ServeMux.
type CommandSpec struct {
	// Name is the command's name; matching is case-insensitive.
	Name string
	// Arity follows Redis: N means exactly N arguments including the name,
	// -N means at least N.
	Arity int
	Flags Flags
	// FirstKey, LastKey and Step locate the key arguments as in Redis's
	// COMMAND reply: indexes into Args, LastKey negative counting from the
	// end, 0 for commands without keys.
	FirstKey, LastKey, Step int
	// Group and Summary document the command (COMMAND DOCS).
	Group, Summary string
}

// arityOK reports whether n arguments (including the name) satisfy the
// spec's arity.
func (s *CommandSpec) arityOK(n int) bool {
	switch {
	case s.Arity < 0:
		return n >= -s.Arity
	case s.Flags&FlagLoose != 0:
		return true
	}
	return n == s.Arity
}

// keys returns the indexes of the key arguments of args.
func (s *CommandSpec) keyRange(n int) (first, last, step int) {
	if s.FirstKey == 0 || n <= s.FirstKey {
		return 0, -1, 1
	}
	last = s.LastKey
	if last < 0 {
		last = n + last
	}
	last = min(last, n-1)
	step = max(s.Step, 1)
	return s.FirstKey, last, step
}

// entry is a registered command.
type entry struct {
	spec CommandSpec
	h    Handler
	idx  int // registration order: the index of its statistics (cmdstats.go)
}

// ServeMux is a command table: it finds a command's handler by name, checks
// its arity and answers unknown commands, with Redis's error messages.
// Register commands before serving; a ServeMux is not safe for concurrent
// registration and use.
type ServeMux struct {
	m map[string]*entry
}

// NewServeMux returns an empty command table.
func NewServeMux() *ServeMux { return &ServeMux{m: make(map[string]*entry)} }

// Handle registers h for spec.Name. It panics if the name is empty, already
// registered, or the arity is 0.
func (m *ServeMux) Handle(spec CommandSpec, h Handler) {
	name := strings.ToLower(spec.Name)
	switch {
	case name == "":
		panic("server: Handle: empty command name")
	case spec.Arity == 0:
		panic("server: Handle: arity 0 for " + name)
	case h == nil:
		panic("server: Handle: nil handler for " + name)
	}
	if _, dup := m.m[name]; dup {
		panic("server: Handle: command registered twice: " + name)
	}
	spec.Name = name
	m.m[name] = &entry{spec: spec, h: h, idx: len(m.m)}
}

// HandleFunc registers f for spec.Name.
func (m *ServeMux) HandleFunc(spec CommandSpec, f func(c *Conn, cmd Command)) {
	m.Handle(spec, HandlerFunc(f))
}

// lookup finds the command named by name, which must be lower case.
func (m *ServeMux) lookup(name []byte) *entry { return m.m[bstr(name)] }

// Lookup returns the spec of the named command (any case).
func (m *ServeMux) Lookup(name string) (CommandSpec, bool) {
	e := m.m[strings.ToLower(name)]
	if e == nil {
		return CommandSpec{}, false
	}
	return e.spec, true
}

// Specs returns the specs of all commands, sorted by name.
func (m *ServeMux) Specs() []CommandSpec {
	specs := make([]CommandSpec, 0, len(m.m))
	for _, e := range m.m {
		specs = append(specs, e.spec)
	}
	slices.SortFunc(specs, func(a, b CommandSpec) int { return strings.Compare(a.Name, b.Name) })
	return specs
}

// ServeRESP dispatches cmd to its handler after checking its arity, or
// answers that the command is unknown.
func (m *ServeMux) ServeRESP(c *Conn, cmd Command) {
	e := m.lookup(lower(c.nameBuf[:0], cmd.Args[0]))
	if e == nil {
		c.WriteError(unknownCommand(cmd.Args))
		return
	}
	if !e.spec.arityOK(len(cmd.Args)) {
		c.WriteError(wrongArgs(e.spec.Name))
		return
	}
	e.h.ServeRESP(c, cmd)
}

// unknownCommand is Redis's reply to an unknown command: the name and the
// first arguments, quoted, at most about 128 bytes of them.
func unknownCommand(args [][]byte) string {
	var list []byte
	for _, a := range args[1:] {
		if len(list) >= 128 {
			break
		}
		a = a[:min(len(a), 128-len(list))]
		list = append(list, '\'')
		list = append(list, a...)
		list = append(list, '\'', ' ')
	}
	return sanitize("ERR unknown command '" + truncate(args[0], 128) + "', with args beginning with: " + string(list))
}

// wrongArgs is Redis's arity error for the named command.
func wrongArgs(name string) string {
	return "ERR wrong number of arguments for '" + name + "' command"
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// sanitize replaces the line breaks an error reply must not contain.
func sanitize(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}
