//go:build race

package epochdb

// raceEnabled reports whether the race detector is on; heavy tests scale
// down under it (make test also runs them at full size without it).
const raceEnabled = true
