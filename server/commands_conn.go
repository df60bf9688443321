package server

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
	c.resetIntro()
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

// selectDB makes db the connection's database.
func (c *Conn) selectDB(db int) {
	c.db = db
	c.shared.db.Store(int32(db))
}
