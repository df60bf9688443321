//go:build race

package jepsen

// raceEnabled: the test runs under the race detector, and builds the epoch
// binary with it too.
const raceEnabled = true
