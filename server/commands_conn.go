package server

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT.

func connCommands() []command {
	const g = "connection"
	return []command{
		{CommandSpec{Name: "ping", Arity: -1, Flags: FlagPubSub, Group: g, Summary: "Returns the server's liveliness response."}, cmdPing},
		{CommandSpec{Name: "echo", Arity: 2, Group: g, Summary: "Returns the given string."}, cmdEcho},
		{CommandSpec{Name: "hello", Arity: -1, Flags: FlagNoAuth, Group: g, Summary: "Handshakes with the server: protocol version, authentication, client name."}, cmdHello},
		{CommandSpec{Name: "auth", Arity: -2, Flags: FlagNoAuth, Group: g, Summary: "Authenticates the connection."}, cmdAuth},
		{CommandSpec{Name: "select", Arity: 2, Group: g, Summary: "Changes the selected database."}, cmdSelect},
		{CommandSpec{Name: "quit", Arity: -1, Flags: FlagNoAuth | FlagPubSub | FlagTx, Group: g, Summary: "Closes the connection."}, cmdQuit},
		{CommandSpec{Name: "reset", Arity: 1, Flags: FlagNoAuth | FlagPubSub | FlagTx, Group: g, Summary: "Resets the connection."}, cmdReset},
		{CommandSpec{Name: "client", Arity: -2, Flags: FlagLoose, Group: g, Summary: "A container for client connection commands."}, cmdClient},
	}
}

func cmdPing(c *Conn, cmd Command) {
	if len(cmd.Args) > 2 {
		c.WriteError(wrongArgs("ping"))
		return
	}
	if c.resp == 2 && len(c.subs)+len(c.psubs) > 0 {
		c.WriteArray(2)
		c.WriteBulkString("pong")
		if len(cmd.Args) == 2 {
			c.WriteBulk(cmd.Args[1])
		} else {
			c.WriteBulkString("")
		}
		return
	}
	if len(cmd.Args) == 2 {
		c.WriteBulk(cmd.Args[1])
		return
	}
	c.WriteString("PONG")
}

func cmdEcho(c *Conn, cmd Command) { c.WriteBulk(cmd.Args[1]) }

func cmdSelect(c *Conn, cmd Command) {
	n, ok := parseInt(cmd.Args[1])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	if n < 0 || n >= numDBs {
		c.WriteError(errDBIndex)
		return
	}
	c.selectDB(int(n))
	c.WriteOK()
}

func cmdQuit(c *Conn, cmd Command) {
	c.WriteOK()
	c.quit = true
}

func cmdReset(c *Conn, cmd Command) {
	c.endTx()
	c.unwatchAll()
	c.srv.hub.unsubscribeAll(c)
	c.db = 0
	c.shared.db.Store(0)
	c.setProtocol(2)
	c.authed = false
	c.WriteString("RESET")
}

func (c *Conn) setProtocol(v int) {
	c.resp = v
	c.shared.resp.Store(int32(v))
}

// authenticate checks a username and password against the default user.
func (c *Conn) authenticate(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	if !c.srv.cfg.hasPassword() { // the default user has no password
		return true
	}
	return c.srv.cfg.checkPassword(pass)
}

func cmdAuth(c *Conn, cmd Command) {
	args := cmd.Args
	var user, pass []byte
	switch len(args) {
	case 2:
		if !c.srv.cfg.hasPassword() {
			c.WriteError(errNoPassConfig)
			return
		}
		user, pass = []byte("default"), args[1]
	case 3:
		user, pass = args[1], args[2]
	default:
		c.WriteError(errSyntax)
		return
	}
	if !c.checkAuth(user, pass) {
		return
	}
	c.authed = true
	c.WriteOK()
}

func cmdHello(c *Conn, cmd Command) {
	args := cmd.Args
	ver := c.resp
	if len(args) >= 2 {
		v, ok := parseInt(args[1])
		if !ok {
			c.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.WriteError("NOPROTO unsupported protocol version")
			return
		}
		ver = int(v)
	}
	var user, pass, name []byte
	for i := 2; i < len(args); i++ {
		more := len(args) - 1 - i
		switch {
		case equalFold(args[i], "auth") && more >= 2:
			user, pass = args[i+1], args[i+2]
			i += 2
		case equalFold(args[i], "setname") && more >= 1:
			name = args[i+1]
			i++
		default:
			c.WriteError("ERR Syntax error in HELLO option '" + truncate(args[i], 128) + "'")
			return
		}
	}
	if user != nil {
		if !c.checkAuth(user, pass) {
			return
		}
		c.authed = true
	}
	if !c.authed && c.srv.cfg.hasPassword() {
		c.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
			"HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select " +
			"the RESP protocol version at the same time")
		return
	}
	if name != nil && !c.setName(name) {
		return
	}
	c.setProtocol(ver)
	c.WriteMap(8)
	c.WriteBulkString("server")
	c.WriteBulkString("redis")
	c.WriteBulkString("version")
	c.WriteBulkString(RedisVersion)
	c.WriteBulkString("proto")
	c.WriteInt(int64(ver))
	c.WriteBulkString("id")
	c.WriteInt(c.id)
	c.WriteBulkString("mode")
	c.WriteBulkString("standalone")
	c.WriteBulkString("role")
	c.WriteBulkString("master")
	c.WriteBulkString("modules")
	c.WriteArray(0)
	c.WriteBulkString("epochdb_version")
	c.WriteBulkString(Version)
}

// setName sets the client name, or writes Redis's error for a bad one.
func (c *Conn) setName(name []byte) bool {
	for _, b := range name {
		if b < '!' || b > '~' {
			c.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return false
		}
	}
	c.shared.mu.Lock()
	c.shared.name = string(name)
	c.shared.mu.Unlock()
	return true
}

func cmdClient(c *Conn, cmd Command) {
	args := cmd.Args
	sub := bstr(lower(nil, args[1]))
	n := len(args)
	switch {
	case sub == "id" && n == 2:
		c.WriteInt(c.id)
	case sub == "getname" && n == 2:
		c.shared.mu.Lock()
		name := c.shared.name
		c.shared.mu.Unlock()
		if name == "" {
			c.WriteNull()
		} else {
			c.WriteBulkString(name)
		}
	case sub == "setname" && n == 3:
		if c.setName(args[2]) {
			c.WriteOK()
		}
	case sub == "setinfo" && n == 4:
		attr := bstr(lower(nil, args[2]))
		for _, b := range args[3] {
			if b < '!' || b > '~' {
				c.WriteError("ERR " + attr + " cannot contain spaces, newlines or special characters.")
				return
			}
		}
		c.shared.mu.Lock()
		switch attr {
		case "lib-name":
			c.shared.libName = string(args[3])
		case "lib-ver":
			c.shared.libVer = string(args[3])
		default:
			c.shared.mu.Unlock()
			c.WriteError("ERR Unrecognized option '" + truncate(args[2], 128) + "'")
			return
		}
		c.shared.mu.Unlock()
		c.WriteOK()
	case sub == "info" && n == 2:
		c.WriteVerbatim(c.info(time.Now()) + "\n")
	case sub == "list":
		clientList(c, args[2:])
	case sub == "kill" && n >= 3:
		clientKill(c, args[2:])
	case sub == "no-evict" && n == 3:
		// Clients are never evicted, so there is nothing to exempt.
		if equalFold(args[2], "on") || equalFold(args[2], "off") {
			c.WriteOK()
		} else {
			c.WriteError(errSyntax)
		}
	case sub == "help" && n == 2:
		writeHelp(c, "CLIENT", []string{
			"GETNAME", "    Return the name of the current connection.",
			"ID", "    Return the ID of the current connection.",
			"INFO", "    Return information about the current client connection.",
			"KILL <ip:port>", "    Kill connection made from <ip:port>.",
			"KILL <option> <value> [<option> <value> [...]]",
			"    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
			"    TYPE (NORMAL|PUBSUB), USER <username>, SKIPME (YES|NO).",
			"LIST [TYPE (NORMAL|PUBSUB)] [ID <client-id> [...]]", "    Return information about client connections.",
			"SETNAME <name>", "    Assign the name <name> to the current connection.",
			"SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
			"NO-EVICT (ON|OFF)", "    Accepted; clients are never evicted.",
		})
	case sub == "id" || sub == "getname" || sub == "setname" || sub == "setinfo" || sub == "info" ||
		sub == "kill" || sub == "no-evict" || sub == "help":
		c.WriteError(wrongArgs("client|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "CLIENT"))
	}
}

// info is the connection's CLIENT LIST line, without the newline.
func (c *Conn) info(now time.Time) string {
	sh := &c.shared
	sh.mu.Lock()
	name, libName, libVer := sh.name, sh.libName, sh.libVer
	sh.mu.Unlock()
	flags := "N"
	if sh.nsub.Load()+sh.npsub.Load() > 0 {
		flags = "P"
	}
	if sh.multi.Load() >= 0 {
		flags += "x"
	}
	if sh.blocked.Load() {
		flags += "b"
	}
	cmd := "NULL"
	if e := c.lastCmd.Load(); e != nil {
		cmd = e.spec.Name
	}
	idle := now.Sub(time.Unix(0, c.lastActive.Load()))
	var b strings.Builder
	b.WriteString("id=" + strconv.FormatInt(c.id, 10))
	b.WriteString(" addr=" + c.raddr)
	b.WriteString(" laddr=" + c.laddr)
	b.WriteString(" name=" + name)
	b.WriteString(" age=" + strconv.FormatInt(int64(now.Sub(c.created)/time.Second), 10))
	b.WriteString(" idle=" + strconv.FormatInt(int64(max(idle, 0)/time.Second), 10))
	b.WriteString(" flags=" + flags)
	b.WriteString(" db=" + strconv.Itoa(int(sh.db.Load())))
	b.WriteString(" sub=" + strconv.Itoa(int(sh.nsub.Load())))
	b.WriteString(" psub=" + strconv.Itoa(int(sh.npsub.Load())))
	b.WriteString(" ssub=0")
	b.WriteString(" multi=" + strconv.Itoa(int(sh.multi.Load())))
	b.WriteString(" obl=0 oll=0 omem=" + strconv.Itoa(c.push.pendingBytes()))
	b.WriteString(" events=r cmd=" + cmd)
	b.WriteString(" user=default redir=-1 resp=" + strconv.Itoa(int(sh.resp.Load())))
	b.WriteString(" lib-name=" + libName + " lib-ver=" + libVer)
	return b.String()
}

// clientList answers CLIENT LIST [TYPE normal|pubsub] [ID id ...].
func clientList(c *Conn, opts [][]byte) {
	var typ string
	var ids map[int64]bool
	for i := 0; i < len(opts); i++ {
		switch {
		case equalFold(opts[i], "type") && i+1 < len(opts):
			typ = bstr(lower(nil, opts[i+1]))
			if typ != "normal" && typ != "pubsub" && typ != "master" && typ != "replica" && typ != "slave" {
				c.WriteError("ERR Unknown client type '" + truncate(opts[i+1], 64) + "'")
				return
			}
			i++
		case equalFold(opts[i], "id") && i+1 < len(opts):
			ids = make(map[int64]bool)
			for i++; i < len(opts); i++ {
				id, ok := parseInt(opts[i])
				if !ok || id <= 0 {
					c.WriteError("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.WriteError(errSyntax)
			return
		}
	}
	conns := c.srv.snapshotConns()
	sortConns(conns)
	now := time.Now()
	var b strings.Builder
	for _, o := range conns {
		if ids != nil && !ids[o.id] || typ != "" && o.clientType() != typ {
			continue
		}
		b.WriteString(o.info(now))
		b.WriteByte('\n')
	}
	c.WriteVerbatim(b.String())
}

func sortConns(cs []*Conn) {
	slices.SortFunc(cs, func(a, b *Conn) int { return cmp.Compare(a.id, b.id) })
}

func (c *Conn) clientType() string {
	if c.shared.nsub.Load()+c.shared.npsub.Load() > 0 {
		return "pubsub"
	}
	return "normal"
}

// clientKill answers CLIENT KILL addr and CLIENT KILL <filter> <value> ....
func clientKill(c *Conn, opts [][]byte) {
	conns := c.srv.snapshotConns()
	if len(opts) == 1 { // the old form: CLIENT KILL addr
		for _, o := range conns {
			if o.raddr == string(opts[0]) {
				c.WriteOK()
				c.killClient(o)
				return
			}
		}
		c.WriteError("ERR No such client")
		return
	}
	if len(opts)%2 != 0 {
		c.WriteError(errSyntax)
		return
	}
	var id int64
	var addr, laddr, typ string
	skipMe := true
	for i := 0; i < len(opts); i += 2 {
		v := opts[i+1]
		switch {
		case equalFold(opts[i], "id"):
			n, ok := parseInt(v)
			if !ok || n <= 0 {
				c.WriteError("ERR client-id should be greater than 0")
				return
			}
			id = n
		case equalFold(opts[i], "addr"):
			addr = string(v)
		case equalFold(opts[i], "laddr"):
			laddr = string(v)
		case equalFold(opts[i], "type"):
			typ = bstr(lower(nil, v))
			if typ != "normal" && typ != "pubsub" && typ != "master" && typ != "replica" && typ != "slave" {
				c.WriteError("ERR Unknown client type '" + truncate(v, 64) + "'")
				return
			}
		case equalFold(opts[i], "user"):
			if string(v) != "default" {
				c.WriteError("ERR No such user '" + truncate(v, 64) + "'")
				return
			}
		case equalFold(opts[i], "skipme"):
			switch {
			case equalFold(v, "yes"):
				skipMe = true
			case equalFold(v, "no"):
				skipMe = false
			default:
				c.WriteError(errSyntax)
				return
			}
		default:
			c.WriteError(errSyntax)
			return
		}
	}
	var victims []*Conn
	for _, o := range conns {
		if id != 0 && o.id != id || addr != "" && o.raddr != addr || laddr != "" && o.laddr != laddr ||
			typ != "" && o.clientType() != typ || skipMe && o == c {
			continue
		}
		victims = append(victims, o)
	}
	c.WriteInt(int64(len(victims)))
	for _, o := range victims {
		c.killClient(o)
	}
}

// killClient closes o; the connection itself is closed after its reply.
func (c *Conn) killClient(o *Conn) {
	if o == c {
		c.quit = true
		return
	}
	o.kill()
}

// selectDB makes db the connection's database.
func (c *Conn) selectDB(db int) {
	c.db = db
	c.shared.db.Store(int32(db))
}
