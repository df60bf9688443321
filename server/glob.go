package server

import "github.com/epochdb/epochdb/internal/glob"

// globMatch reports whether s matches the Redis glob pattern p (KEYS, SCAN
// MATCH, PSUBSCRIBE, CONFIG GET); see glob.Match.
func globMatch(p, s []byte) bool { return glob.Match(p, s) }

// globPrefix returns the literal prefix of pattern p; see glob.Prefix.
func globPrefix(p []byte) []byte { return glob.Prefix(p) }
