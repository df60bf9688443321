// Package glob is Redis's glob matcher (KEYS, SCAN MATCH, PSUBSCRIBE), shared by
// the server and the inspection commands.
package glob

// Match reports whether s matches the Redis glob pattern p (KEYS, SCAN
// MATCH, PSUBSCRIBE, CONFIG GET): '*' any run, '?' any byte, "[abc]",
// "[^a-c]" classes, '\' escapes the next byte. It follows Redis's
// stringmatchlen, including its nesting bound and its early exit once the
// rest of a pattern after a '*' matched nowhere, so that a hostile pattern
// cannot take exponential time.
func Match(p, s []byte) bool {
	skipLonger := false
	return globMatchAt(p, s, &skipLonger, 0)
}

func globMatchAt(p, s []byte, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if globMatchAt(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			// The rest of the pattern matches nowhere in the rest of s, so
			// no earlier '*' can help by matching more.
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			match := false
			for {
				if len(p) == 0 {
					break
				}
				if p[0] == '\\' && len(p) >= 2 {
					p = p[1:]
					if p[0] == s[0] {
						match = true
					}
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					lo, hi := p[0], p[2]
					if lo > hi {
						lo, hi = hi, lo
					}
					if lo <= s[0] && s[0] <= hi {
						match = true
					}
					p = p[2:]
				} else if p[0] == s[0] {
					match = true
				}
				p = p[1:]
			}
			if len(p) == 0 { // unterminated class: treat the end as ']'
				p = []byte{']'}
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	// As in Redis, an empty s matches only the empty pattern: its loop never
	// sees a '*' then (KEYS and SCAN treat the pattern "*" apart, so it
	// lists the empty key).
	return len(p) == 0 && len(s) == 0
}

// Prefix returns the literal prefix of pattern p: the bytes before its
// first special character. Every key matching p starts with it, so a scan
// can be restricted to that prefix.
func Prefix(p []byte) []byte {
	for i, c := range p {
		switch c {
		case '*', '?', '[', '\\':
			return p[:i]
		}
	}
	return p
}
