package server

import (
	"bytes"
	"strings"
	"testing"
)

// Fuzz tests of the introspection commands' parsers.

// fuzzArgs splits s at NUL bytes into arguments.
func fuzzArgs(s string) [][]byte {
	var out [][]byte
	for _, a := range strings.Split(s, "\x00") {
		out = append(out, []byte(a))
	}
	return out
}

// FuzzClientFilters: the CLIENT LIST/KILL filter parsers, CLIENT PAUSE's
// and COMMAND LIST's never panic, and either accept or answer one of
// Redis's error lines (one line, starting with ERR).
func FuzzClientFilters(f *testing.F) {
	for _, s := range []string{
		"TYPE\x00normal", "ID\x001\x002\x00-3", "ID", "type\x00SLAVE", "ID\x00abc",
		"ID\x005\x00SKIPME\x00no", "ADDR\x001.2.3.4:5\x00LADDR\x00x", "MAXAGE\x0010", "MAXAGE\x00-1",
		"USER\x00default", "USER\x00x", "SKIPME", "skipme\x00maybe", "100\x00WRITE", "-1", "9223372036854775807\x00all",
		"FILTERBY\x00PATTERN\x00*[", "FILTERBY\x00ACLCAT\x00read", "FILTERBY\x00module\x00x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := fuzzArgs(s)
		checkErr := func(what, msg string) {
			if msg != "" && (!strings.HasPrefix(msg, "ERR ") || strings.ContainsAny(msg, "\r\n")) {
				t.Fatalf("%s(%q) error %q", what, s, msg)
			}
		}
		lf, msg := parseListFilter(args)
		checkErr("parseListFilter", msg)
		if msg == "" && lf.ids != nil && len(lf.ids) != len(args)-1 {
			t.Fatalf("parseListFilter(%q) ids %v", s, lf.ids)
		}
		if len(args) >= 2 {
			kf, msg := parseKillFilter(args)
			checkErr("parseKillFilter", msg)
			if msg == "" && (len(args)%2 != 0 || kf.id < 0 || kf.maxAge < 0) {
				t.Fatalf("parseKillFilter(%q) accepted %+v", s, kf)
			}
		}
		if len(args) <= 2 {
			d, _, msg := parsePause(args)
			checkErr("parsePause", msg)
			if msg == "" && (d < 0 || d > maxPause) {
				t.Fatalf("parsePause(%q) = %v", s, d)
			}
		}
		keep, msg := parseCommandFilter(args)
		checkErr("parseCommandFilter", msg)
		if msg == "" {
			spec := CommandSpec{Name: "get", Flags: FlagReadOnly, Group: "string"}
			keep(&spec)
		}
		if ps, err := parsePercentiles(s); err == nil {
			for _, p := range ps {
				if p < 0 || p > 100 {
					t.Fatalf("parsePercentiles(%q) = %v", s, ps)
				}
			}
		}
	})
}

// FuzzMonitorLine: a MONITOR line is one line, and its quoted arguments
// read back (with the inline parser, which unquotes as Redis does) as the
// arguments sent, but for the redacted ones.
func FuzzMonitorLine(f *testing.F) {
	for _, s := range []string{"SET\x00k\x00v", "AUTH\x00secret", "HELLO\x003\x00AUTH\x00u\x00p\x00SETNAME\x00n",
		"hello\x002\x00auth\x00u", "SET\x00a\"\x00x\n\x01y\\", "GET\x00\xff\xfe\t\a\b\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := fuzzArgs(s)
		line := monitorLine(nil, 1700000000123456, 3, "127.0.0.1:1", args)
		if !bytes.HasPrefix(line, []byte("+1700000000.123456 [3 127.0.0.1:1] ")) || !bytes.HasSuffix(line, []byte("\r\n")) ||
			bytes.Count(line, []byte("\n")) != 1 || bytes.Count(line, []byte("\r")) != 1 {
			t.Fatalf("monitor line %q", line)
		}
		body := line[len("+1700000000.123456 [3 127.0.0.1:1] ") : len(line)-2]
		got, ok := splitArgs(body, nil)
		if !ok || len(got) != len(args) {
			t.Fatalf("line %q reads back as %q (ok %v), want %d args", line, got, ok, len(args))
		}
		redact := redactedArgs(args)
		for i := range args {
			if redact(i) {
				if string(got[i]) != "(redacted)" {
					t.Fatalf("argument %d of %q not redacted: %q", i, s, got[i])
				}
				continue
			}
			if !bytes.Equal(got[i], args[i]) {
				t.Fatalf("argument %d of %q reads back as %q", i, s, got[i])
			}
		}
	})
}
