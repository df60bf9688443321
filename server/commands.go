package server

import "slices"

// numDBs is the number of logical databases (SELECT 0..numDBs-1).
const numDBs = 16

// command is a built-in command: its spec and handler.
type command struct {
	spec CommandSpec
	fn   func(c *Conn, cmd Command)
}

// NewCommandMux returns a command table with every EpochDB command: the
// Redis commands the server supports, EpochDB's own (EPOCH.META,
// EPOCH.INCRFREQ, EPOCH.BACKUP, EPOCH.EVENTS, EPOCH.PRUNE, EPOCH.INSPECT,
// EPOCH.COMPACT) and the epoch-db
// 0.3 wire commands. Add commands to it
// with Handle to extend the server.
func NewCommandMux() *ServeMux { return newCommandMux() }

// newCommandMux is NewCommandMux without the excluded commands.
func newCommandMux(exclude ...string) *ServeMux {
	return filteredMux(func(name string) bool { return !slices.Contains(exclude, name) })
}

// connectionMux has the commands a server always answers itself, even with
// a custom Handler: authentication and the connection's lifetime.
func connectionMux() *ServeMux {
	return filteredMux(func(name string) bool {
		return name == "auth" || name == "hello" || name == "quit" || name == "reset"
	})
}

func filteredMux(keep func(name string) bool) *ServeMux {
	m := NewServeMux()
	for _, group := range [][]command{
		connCommands(), stringCommands(), keyCommands(), serverCommands(),
		epochCommands(), inspectCommands(), pubsubCommands(), txCommands(),
		introCommands(), dbCommands(), bitCommands(), hashCommands(), setCommands(),
		sortCommands(), zsetCommands(), listCommands(), bzpopCommands(),
	} {
		for _, cmd := range group {
			if keep(cmd.spec.Name) {
				m.HandleFunc(cmd.spec, cmd.fn)
			}
		}
	}
	return m
}
