package server

import (
	"bufio"
	"errors"
	"io"
	"slices"
)

// The request reader. redcon's Reader cannot bound what a client makes the
// server buffer (it grows its buffer to whatever length a client announces
// and re-scans it on every read), so the server parses requests itself,
// with Redis's limits and Redis's protocol error strings, straight from a
// bufio.Reader: a command is read and executed before the next one is, so a
// client can make the server hold at most one command.

const (
	// inlineMax is the longest inline command line and the longest
	// multibulk or bulk header line (Redis's PROTO_INLINE_MAX_SIZE).
	inlineMax = 64 << 10
	// unauthMultiBulkMax and unauthBulkMax bound a command sent before AUTH
	// when a password is required, as Redis does.
	unauthMultiBulkMax = 10
	unauthBulkMax      = 16384
	// arenaMax is the arena size kept between commands; a command with more
	// argument bytes allocates, and the large arena is dropped afterwards.
	arenaMax = 64 << 10
	// bulkChunk is how much of a bulk argument is allocated ahead of the data
	// arriving, so that a client announcing a huge length it never sends
	// cannot make the server allocate it.
	bulkChunk = 1 << 20
)

// protocolError is a malformed request. The server replies with it and
// closes the connection, as Redis does.
type protocolError string

func (e protocolError) Error() string { return "Protocol error: " + string(e) }

// errQueryBufferLimit is returned when one command's arguments exceed the
// query buffer limit; the connection is closed without a reply.
var errQueryBufferLimit = errors.New("query buffer limit reached")

// errSecurity is returned for a request that looks like HTTP: the
// connection is closed without a reply (Redis's cross-protocol defence).
var errSecurity = errors.New("possible cross-protocol attack (HTTP request on the RESP port)")

// limits are the request limits a reader enforces.
type limits struct {
	maxBulk      int64 // proto-max-bulk-len
	maxMultiBulk int64 // arguments per command
	maxQuery     int64 // client-query-buffer-limit: argument bytes per command
	unauth       bool  // the client must authenticate: tighter limits apply
}

// reader parses client requests.
type reader struct {
	br    *bufio.Reader
	arena []byte   // argument bytes of the current command
	args  [][]byte // arguments of the current command
	line  []byte   // scratch for inline lines longer than the bufio buffer
}

func newReader(r io.Reader) *reader {
	return &reader{br: bufio.NewReaderSize(r, 16<<10)}
}

// buffered reports whether more input is already buffered, so that the
// caller can delay flushing replies until a pipeline is consumed.
func (r *reader) buffered() bool { return r.br.Buffered() > 0 }

// readCommand reads the next non-empty command. The returned arguments are
// valid until the next call.
func (r *reader) readCommand(lim limits) ([][]byte, error) {
	for {
		if len(r.arena) > arenaMax || cap(r.arena) > arenaMax {
			r.arena = nil
		}
		r.arena = r.arena[:0]
		clear(r.args)
		r.args = r.args[:0]
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == '*' {
			err = r.readMultiBulk(lim)
		} else {
			_ = r.br.UnreadByte()
			err = r.readInline()
		}
		if err != nil {
			return nil, err
		}
		if len(r.args) > 0 {
			return r.args, nil
		}
	}
}

// readLine reads a header line (after its type byte) and returns it
// without its "\r\n". A line without '\r' before '\n' is returned with
// ok=false. It never buffers more than inlineMax bytes.
func (r *reader) readHeaderLine(tooBig string) (line []byte, ok bool, err error) {
	line, err = r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, false, protocolError(tooBig)
	}
	if err != nil {
		return nil, false, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return line, false, nil
	}
	return line[:len(line)-2], true, nil
}

func (r *reader) readMultiBulk(lim limits) error {
	line, ok, err := r.readHeaderLine("too big mbulk count string")
	if err != nil {
		return err
	}
	n, ok2 := parseInt(line)
	if !ok || !ok2 || n > lim.maxMultiBulk {
		return protocolError("invalid multibulk length")
	}
	if lim.unauth && n > unauthMultiBulkMax {
		return protocolError("unauthenticated multibulk length")
	}
	if n <= 0 {
		return nil // "*0" and "*-1" are empty commands, as in Redis
	}
	if cap(r.args) < int(min(n, 64)) {
		r.args = make([][]byte, 0, min(n, 64))
	}
	var total int64
	for range n {
		c, err := r.br.ReadByte()
		if err != nil {
			return err
		}
		if c != '$' {
			return protocolError("expected '$', got '" + printable(c) + "'")
		}
		line, ok, err := r.readHeaderLine("too big bulk count string")
		if err != nil {
			return err
		}
		size, ok2 := parseInt(line)
		if !ok || !ok2 || size < 0 || size > lim.maxBulk {
			return protocolError("invalid bulk length")
		}
		if lim.unauth && size > unauthBulkMax {
			return protocolError("unauthenticated bulk length")
		}
		if total += size; total > lim.maxQuery {
			return errQueryBufferLimit
		}
		arg, err := r.readBulk(int(size))
		if err != nil {
			return err
		}
		r.args = append(r.args, arg)
	}
	return nil
}

// readBulk reads size bytes and the "\r\n" after them. Small arguments go in
// the arena; large ones get their own slice, grown as the data arrives.
func (r *reader) readBulk(size int) ([]byte, error) {
	var arg []byte
	if size <= 4096 {
		if cap(r.arena)-len(r.arena) < size {
			r.arena = slices.Grow(r.arena, max(size, 4096))
		}
		start := len(r.arena)
		r.arena = r.arena[:start+size]
		arg = r.arena[start : start+size : start+size]
		if _, err := io.ReadFull(r.br, arg); err != nil {
			return nil, unexpected(err)
		}
	} else {
		// The buffer doubles as the data arrives (never more than twice
		// what was received, and about one extra copy of the argument in
		// all, where append's growth would copy it several times over).
		arg = make([]byte, 0, min(size, bulkChunk))
		for len(arg) < size {
			if len(arg) == cap(arg) {
				grown := make([]byte, len(arg), min(size, 2*cap(arg)))
				copy(grown, arg)
				arg = grown
			}
			n := min(size-len(arg), cap(arg)-len(arg))
			if _, err := io.ReadFull(r.br, arg[len(arg):len(arg)+n]); err != nil {
				return nil, unexpected(err)
			}
			arg = arg[:len(arg)+n]
		}
	}
	var crlf [2]byte
	if _, err := io.ReadFull(r.br, crlf[:]); err != nil {
		return nil, unexpected(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return nil, protocolError("invalid bulk length")
	}
	return arg, nil
}

// readInline reads an inline command: one line of space-separated
// arguments with Redis's quoting rules.
func (r *reader) readInline() error {
	r.line = r.line[:0]
	for {
		part, err := r.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return unexpectedIfPartial(err, len(r.line)+len(part))
		}
		if err == nil && len(r.line) == 0 {
			return r.splitInline(part)
		}
		// Like Redis, refuse once 64 KiB arrived without a line end.
		if len(r.line)+len(part) > inlineMax || err != nil && len(r.line)+len(part) >= inlineMax {
			return protocolError("too big inline request")
		}
		r.line = append(r.line, part...)
		if err == nil {
			return r.splitInline(r.line)
		}
	}
}

func (r *reader) splitInline(line []byte) error {
	line = line[:len(line)-1] // '\n'
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	args, ok := splitArgs(line, r.arena)
	if !ok {
		return protocolError("unbalanced quotes in request")
	}
	r.args = append(r.args, args...)
	if len(r.args) > 0 && (equalFold(r.args[0], "post") || equalFold(r.args[0], "host:")) {
		return errSecurity
	}
	return nil
}

// splitArgs splits an inline line as Redis's sdssplitargs does: arguments
// are separated by blanks; "double quotes" allow \n \r \t \b \a \\ \" and
// \xHH escapes; 'single quotes' allow \'. A closing quote must be followed
// by a blank or the end of the line.
func splitArgs(line, arena []byte) ([][]byte, bool) {
	var args [][]byte
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return args, true
		}
		start := len(arena)
		inDouble, inSingle := false, false
	arg:
		for {
			switch {
			case inDouble:
				if i == len(line) {
					return nil, false
				}
				c := line[i]
				switch {
				case c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					arena = append(arena, unhex(line[i+2])<<4|unhex(line[i+3]))
					i += 3
				case c == '\\' && i+1 < len(line):
					i++
					switch e := line[i]; e {
					case 'n':
						arena = append(arena, '\n')
					case 'r':
						arena = append(arena, '\r')
					case 't':
						arena = append(arena, '\t')
					case 'b':
						arena = append(arena, '\b')
					case 'a':
						arena = append(arena, '\a')
					default:
						arena = append(arena, e)
					}
				case c == '"':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, false
					}
					i++
					break arg
				default:
					arena = append(arena, c)
				}
			case inSingle:
				if i == len(line) {
					return nil, false
				}
				c := line[i]
				switch {
				case c == '\\' && i+1 < len(line) && line[i+1] == '\'':
					arena = append(arena, '\'')
					i++
				case c == '\'':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, false
					}
					i++
					break arg
				default:
					arena = append(arena, c)
				}
			default:
				if i == len(line) {
					break arg
				}
				switch c := line[i]; c {
				case ' ', '\n', '\r', '\t':
					break arg
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					arena = append(arena, c)
				}
			}
			i++
		}
		args = append(args, arena[start:len(arena):len(arena)])
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func printable(c byte) string {
	if c < 0x20 || c > 0x7e {
		return "\\x" + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
	}
	return string(c)
}

// unexpected turns an EOF in the middle of a command into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func unexpectedIfPartial(err error, have int) error {
	if have > 0 {
		return unexpected(err)
	}
	return err
}
