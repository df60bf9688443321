// Package clock provides the time sources EpochDB reads: the wall clock, and
// a manual clock that tests advance explicitly instead of sleeping.
package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Real reads the system wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Manual is a clock that only moves when told to. It is safe for concurrent
// use.
type Manual struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewManual returns a manual clock that reads start until advanced.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now returns the clock's current time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Manual) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *Manual) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Offset reads the system wall clock shifted by an offset that can be moved
// at run time, forward or back: a fault-injection hook that makes one
// process's clock jump (epoch serve --debug-clock, EPOCH.DEBUG CLOCK). It is
// safe for concurrent use; the zero value reads the wall clock.
type Offset struct {
	off atomic.Int64 // nanoseconds added to time.Now()
}

// Now returns the wall clock plus the offset.
func (c *Offset) Now() time.Time { return time.Now().Add(c.Offset()) }

// Offset returns the current offset.
func (c *Offset) Offset() time.Duration { return time.Duration(c.off.Load()) }

// SetOffset moves the clock to the wall clock plus d.
func (c *Offset) SetOffset(d time.Duration) { c.off.Store(int64(d)) }
