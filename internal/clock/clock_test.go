package clock

import (
	"testing"
	"time"
)

func TestOffset_MovesFromTheWallClock(t *testing.T) {
	var c Offset
	if d := c.Now().Sub(time.Now()); d > time.Minute || d < -time.Minute {
		t.Fatalf("the zero Offset reads %v from the wall clock", d)
	}
	c.SetOffset(48 * time.Hour)
	if got := c.Offset(); got != 48*time.Hour {
		t.Fatalf("Offset = %v", got)
	}
	if d := c.Now().Sub(time.Now()); d < 47*time.Hour || d > 49*time.Hour {
		t.Fatalf("with a 48h offset the clock reads %v from the wall clock", d)
	}
	c.SetOffset(-48 * time.Hour)
	if d := c.Now().Sub(time.Now()); d > -47*time.Hour || d < -49*time.Hour {
		t.Fatalf("with a -48h offset the clock reads %v from the wall clock", d)
	}
}
