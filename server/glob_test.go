package server

import "testing"

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", false}, // as Redis: KEYS and SCAN treat "*" apart
		{"*", "anything", true},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h*llo", "heeeello", true},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hbllo", true},
		{"h\\*llo", "h*llo", true},
		{"h\\*llo", "hello", false},
		{"user:*", "user:1", true},
		{"user:*", "use", false},
		{"a*", "a", true},
		{"[abc", "a", true},
		{"*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	} {
		if got := globMatch([]byte(tc.pattern), []byte(tc.s)); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
	eq(t, "globPrefix", string(globPrefix([]byte("user:1*x"))), "user:1")
	eq(t, "globPrefix escape", string(globPrefix([]byte(`a\*`))), "a")
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-1", -1, true}, {"9223372036854775807", 1<<63 - 1, true},
		{"-9223372036854775808", -1 << 63, true}, {"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false}, {"01", 0, false}, {"-0", 0, false}, {"+1", 0, false},
		{" 1", 0, false}, {"1 ", 0, false}, {"", 0, false}, {"-", 0, false}, {"1a", 0, false},
	} {
		got, ok := parseInt([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{"512mb": 512 << 20, "1k": 1000, "1kb": 1024, "2GB": 2 << 30, "100": 100, "3m": 3e6} {
		got, err := ParseMemory(in)
		if err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1mb", "1tb"} {
		if _, err := ParseMemory(bad); err == nil {
			t.Errorf("ParseMemory(%q) succeeded", bad)
		}
	}
}
