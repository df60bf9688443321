package server

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CLIENT: ID GETNAME SETNAME SETINFO INFO LIST KILL PAUSE UNPAUSE UNBLOCK
// NO-EVICT NO-TOUCH HELP.

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
		clientSetInfo(c, args)
	case sub == "info" && n == 2:
		c.WriteVerbatim(c.info(time.Now()) + "\n")
	case sub == "list":
		clientList(c, args[2:])
	case sub == "kill" && n >= 3:
		clientKill(c, args[2:])
	case sub == "pause" && (n == 3 || n == 4):
		clientPause(c, args[2:])
	case sub == "unpause" && n == 2:
		c.srv.intro.pause.unpause()
		c.WriteOK()
	case sub == "unblock" && (n == 3 || n == 4):
		clientUnblock(c, args[2:])
	case sub == "no-evict" && n == 3:
		// Clients are never evicted: the mode only shows in CLIENT LIST.
		if on, ok := onOff(args[2]); ok {
			c.in.setFlag(connNoEvict, on)
			c.WriteOK()
		} else {
			c.WriteError(errSyntax)
		}
	case sub == "no-touch" && n == 3:
		if on, ok := onOff(args[2]); ok {
			c.in.noTouch = on
			c.in.setFlag(connNoTouch, on)
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
			"    Kill connections. Options are:",
			"    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
			"    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
			"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
			"    * USER <username>", "      Kill connections authenticated by <username>.",
			"    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
			"    * ID <client-id>", "      Kill connections by client id.",
			"    * MAXAGE <maxage>", "      Kill connections older than the specified age.",
			"LIST [options ...]", "    Return information about client connections. Options:",
			"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
			"    * ID <client-id> [<client-id> ...]", "      Return clients with the specified IDs.",
			"UNPAUSE", "    Stop the current client pause, resuming traffic.",
			"UNBLOCK <clientid> [TIMEOUT|ERROR]",
			"    Unblock the specified blocked client.",
			"PAUSE <timeout> [WRITE|ALL]",
			"    Suspend all, or just write, clients for <timeout> milliseconds.",
			"SETNAME <name>", "    Assign the name <name> to the current connection.",
			"SETINFO <option> <value>", "    Set client meta attr. Options are:",
			"    * LIB-NAME: the client lib name.", "    * LIB-VER: the client lib version.",
			"NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
			"NO-TOUCH (ON|OFF)",
			"    Will not touch LRU/LFU stats when this mode is on.",
		})
	case sub == "id" || sub == "getname" || sub == "setname" || sub == "setinfo" || sub == "info" ||
		sub == "kill" || sub == "pause" || sub == "unpause" || sub == "unblock" || sub == "no-evict" || sub == "no-touch" ||
		sub == "help":
		c.WriteError(wrongArgs("client|" + sub))
	default:
		c.WriteError(unknownSubcommand(args[1], "CLIENT"))
	}
}

func onOff(b []byte) (on, ok bool) {
	switch {
	case equalFold(b, "on"):
		return true, true
	case equalFold(b, "off"):
		return false, true
	}
	return false, false
}

func clientSetInfo(c *Conn, args [][]byte) {
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
}

// clientPause answers CLIENT PAUSE timeout [WRITE|ALL].
func clientPause(c *Conn, opts [][]byte) {
	d, all, errMsg := parsePause(opts)
	if errMsg != "" {
		c.WriteError(errMsg)
		return
	}
	c.srv.intro.pause.pause(d, all)
	c.WriteOK()
}

// parsePause parses CLIENT PAUSE's arguments: the timeout in milliseconds
// and the mode (ALL by default). It returns Redis's error for bad ones.
func parsePause(opts [][]byte) (d time.Duration, all bool, errMsg string) {
	ms, ok := parseInt(opts[0])
	if !ok {
		return 0, false, "ERR timeout is not an integer or out of range"
	}
	if ms < 0 {
		return 0, false, "ERR timeout is negative"
	}
	all = true
	if len(opts) == 2 {
		switch {
		case equalFold(opts[1], "write"):
			all = false
		case equalFold(opts[1], "all"):
		default:
			return 0, false, "ERR CLIENT PAUSE mode must be WRITE or ALL"
		}
	}
	return time.Duration(min(ms, int64(maxPause/time.Millisecond))) * time.Millisecond, all, ""
}

// clientUnblock answers CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client
// was blocked and is no longer (it answers as on a timeout, or with an
// UNBLOCKED error), 0 otherwise.
func clientUnblock(c *Conn, opts [][]byte) {
	id, ok := parseInt(opts[0])
	if !ok {
		c.WriteError(errNotInteger)
		return
	}
	reason := unblockTimeout
	if len(opts) == 2 {
		switch {
		case equalFold(opts[1], "timeout"):
		case equalFold(opts[1], "error"):
			reason = unblockError
		default:
			c.WriteError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	}
	for _, o := range c.srv.snapshotConns() {
		if o.id == id && o != c && o.unblockBy(reason) {
			c.WriteInt(1)
			return
		}
	}
	c.WriteInt(0)
}

// maxPause bounds a pause (Go durations end near 292 years).
const maxPause = 100 * 365 * 24 * time.Hour

// info is the connection's CLIENT LIST line, without the newline, with
// Redis 7.2's fields. The input and output buffer fields not kept by this
// server (qbuf, qbuf-free, argv-mem, multi-mem, rbs, rbp, obl, oll) are 0.
func (c *Conn) info(now time.Time) string {
	sh := &c.shared
	sh.mu.Lock()
	name, libName, libVer := sh.name, sh.libName, sh.libVer
	sh.mu.Unlock()
	cmd := "NULL"
	if e := c.lastCmd.Load(); e != nil {
		cmd = e.spec.Name
	}
	idle := now.Sub(time.Unix(0, c.lastActive.Load()))
	omem := strconv.Itoa(c.push.pendingBytes())
	var b strings.Builder
	b.WriteString("id=" + strconv.FormatInt(c.id, 10))
	b.WriteString(" addr=" + c.raddr)
	b.WriteString(" laddr=" + c.laddr)
	b.WriteString(" fd=" + strconv.FormatInt(c.fd(), 10))
	b.WriteString(" name=" + name)
	b.WriteString(" age=" + strconv.FormatInt(int64(now.Sub(c.created)/time.Second), 10))
	b.WriteString(" idle=" + strconv.FormatInt(int64(max(idle, 0)/time.Second), 10))
	b.WriteString(" flags=" + c.flagString())
	b.WriteString(" db=" + strconv.Itoa(int(sh.db.Load())))
	b.WriteString(" sub=" + strconv.Itoa(int(sh.nsub.Load())))
	b.WriteString(" psub=" + strconv.Itoa(int(sh.npsub.Load())))
	b.WriteString(" ssub=0")
	b.WriteString(" multi=" + strconv.Itoa(int(sh.multi.Load())))
	b.WriteString(" qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0")
	b.WriteString(" obl=0 oll=0 omem=" + omem + " tot-mem=" + omem)
	b.WriteString(" events=r cmd=" + cmd)
	b.WriteString(" user=default redir=-1 resp=" + strconv.Itoa(int(sh.resp.Load())))
	b.WriteString(" lib-name=" + libName + " lib-ver=" + libVer)
	return b.String()
}

// flagString is CLIENT LIST's flags, in Redis's order: O monitor, P
// subscriber, x in MULTI, b blocked, e no-evict, T no-touch; N for none.
func (c *Conn) flagString() string {
	var f []byte
	if c.in.has(connMonitor) {
		f = append(f, 'O')
	}
	if c.shared.nsub.Load()+c.shared.npsub.Load() > 0 {
		f = append(f, 'P')
	}
	if c.shared.multi.Load() >= 0 {
		f = append(f, 'x')
	}
	if c.shared.blocked.Load() {
		f = append(f, 'b')
	}
	if c.in.has(connNoEvict) {
		f = append(f, 'e')
	}
	if c.in.has(connNoTouch) {
		f = append(f, 'T')
	}
	if len(f) == 0 {
		return "N"
	}
	return string(f)
}

// fd is the connection's file descriptor, -1 when it has none (or is
// closed).
func (c *Conn) fd() int64 {
	if v := c.in.fd.Load(); v != 0 {
		return v - 1
	}
	fd := int64(-1)
	if sc, ok := c.raw.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(f uintptr) { fd = int64(f) })
		}
	}
	if fd >= 0 {
		c.in.fd.Store(fd + 1)
	}
	return fd
}

// clientType is the connection's type for CLIENT LIST and KILL's TYPE
// filter: monitors are normal clients, as in Redis.
func (c *Conn) clientType() string {
	if c.shared.nsub.Load()+c.shared.npsub.Load() > 0 {
		return "pubsub"
	}
	return "normal"
}

// clientFilter selects connections for CLIENT LIST and CLIENT KILL.
type clientFilter struct {
	ids    []int64 // LIST's ID: in the order given; nil = any
	id     int64   // KILL's ID; 0 = any
	addr   string
	laddr  string
	typ    string // normal, pubsub, master, replica; "" = any
	skipMe bool
	maxAge int64 // seconds; 0 = any
}

// clientTypeName validates a TYPE argument: normal, pubsub, master,
// replica (slave is its old name).
func clientTypeName(b []byte) (string, bool) {
	switch t := bstr(lower(nil, b)); t {
	case "normal", "pubsub", "master", "replica":
		return t, true
	case "slave":
		return "replica", true
	}
	return "", false
}

// parseListFilter parses CLIENT LIST's options: none, TYPE type, or ID id
// [id ...], as Redis does.
func parseListFilter(opts [][]byte) (clientFilter, string) {
	var f clientFilter
	switch {
	case len(opts) == 0:
	case len(opts) == 2 && equalFold(opts[0], "type"):
		t, ok := clientTypeName(opts[1])
		if !ok {
			return f, "ERR Unknown client type '" + sanitize(truncate(opts[1], 128)) + "'"
		}
		f.typ = t
	case len(opts) >= 2 && equalFold(opts[0], "id"):
		f.ids = make([]int64, 0, len(opts)-1)
		for _, a := range opts[1:] {
			id, ok := parseInt(a)
			if !ok {
				return f, "ERR Invalid client ID"
			}
			f.ids = append(f.ids, id)
		}
	default:
		return f, errSyntax
	}
	return f, ""
}

// parseKillFilter parses CLIENT KILL's filters (at least two arguments):
// <option> <value> pairs.
func parseKillFilter(opts [][]byte) (clientFilter, string) {
	f := clientFilter{skipMe: true}
	for i := 0; i < len(opts); i += 2 {
		if i+1 >= len(opts) {
			return f, errSyntax
		}
		v := opts[i+1]
		switch {
		case equalFold(opts[i], "id"):
			n, ok := parseInt(v)
			if !ok || n <= 0 {
				return f, "ERR client-id should be greater than 0"
			}
			f.id = n
		case equalFold(opts[i], "addr"):
			f.addr = string(v)
		case equalFold(opts[i], "laddr"):
			f.laddr = string(v)
		case equalFold(opts[i], "type"):
			t, ok := clientTypeName(v)
			if !ok {
				return f, "ERR Unknown client type '" + sanitize(truncate(v, 128)) + "'"
			}
			f.typ = t
		case equalFold(opts[i], "user"):
			if string(v) != "default" {
				return f, "ERR No such user '" + sanitize(truncate(v, 128)) + "'"
			}
		case equalFold(opts[i], "skipme"):
			switch {
			case equalFold(v, "yes"):
				f.skipMe = true
			case equalFold(v, "no"):
				f.skipMe = false
			default:
				return f, errSyntax
			}
		case equalFold(opts[i], "maxage"):
			n, ok := parseInt(v)
			if !ok {
				return f, errNotInteger
			}
			if n <= 0 {
				return f, "ERR maxage should be greater than 0"
			}
			f.maxAge = n
		default:
			return f, errSyntax
		}
	}
	return f, ""
}

// matches reports whether o passes the filter, judged by c at now.
func (f *clientFilter) matches(c, o *Conn, now time.Time) bool {
	switch {
	case f.id != 0 && o.id != f.id,
		f.addr != "" && o.raddr != f.addr,
		f.laddr != "" && o.laddr != f.laddr,
		f.typ != "" && o.clientType() != f.typ,
		f.skipMe && o == c,
		f.maxAge > 0 && int64(now.Sub(o.created)/time.Second) < f.maxAge:
		return false
	}
	return true
}

// clientList answers CLIENT LIST [TYPE type] [ID id ...].
func clientList(c *Conn, opts [][]byte) {
	f, errMsg := parseListFilter(opts)
	if errMsg != "" {
		c.WriteError(errMsg)
		return
	}
	conns := c.srv.snapshotConns()
	sortConns(conns)
	now := time.Now()
	var b strings.Builder
	if f.ids != nil { // in the order asked, as Redis
		for _, id := range f.ids {
			i, ok := slices.BinarySearchFunc(conns, id, func(o *Conn, id int64) int { return cmp.Compare(o.id, id) })
			if ok {
				b.WriteString(conns[i].info(now))
				b.WriteByte('\n')
			}
		}
		c.WriteVerbatim(b.String())
		return
	}
	for _, o := range conns {
		if f.typ != "" && o.clientType() != f.typ {
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
	f, errMsg := parseKillFilter(opts)
	if errMsg != "" {
		c.WriteError(errMsg)
		return
	}
	now := time.Now()
	var victims []*Conn
	for _, o := range conns {
		if f.matches(c, o, now) {
			victims = append(victims, o)
		}
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
