package epochdb

import (
	"errors"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
)

// TestAddReads: reads made elsewhere count as reads of live keys (their
// latest time never past this node's clock); reads of a missing or
// expired key are ignored and leave no metadata behind.
func TestAddReads(t *testing.T) {
	db, clk := mustOpen(t, nil)
	mustSet(t, db, "live", "v", 0)
	mustSet(t, db, "short", "v", time.Second)
	clk.Advance(2 * time.Second)
	n, err := db.AddReads([]TrackedRead{
		{Key: []byte("live"), Count: 5, Last: clk.Now().Add(time.Hour)},
		{Key: []byte("short"), Count: 3, Last: clk.Now()},
		{Key: []byte("missing"), Count: 2, Last: clk.Now()},
		{Key: []byte("live"), Count: 0},
	})
	if n != 1 || err != nil {
		t.Fatalf("AddReads = %d, %v; want 1 key counted", n, err)
	}
	md, err := db.Metadata([]byte("live"))
	testutil.Must(t, err)
	if md.Frequency != 5 || !md.LastAccess.Equal(clk.Now()) {
		t.Fatalf("after 5 reads from elsewhere: frequency %d, last access %v (now %v)", md.Frequency, md.LastAccess, clk.Now())
	}
	testutil.Must(t, db.flushTracked())
	if md, err := db.Metadata([]byte("live")); err != nil || md.Frequency != 5 {
		t.Fatalf("after the flush: %+v %v", md, err)
	}
	mustCheck(t, db)

	off, _ := mustOpen(t, &Options{DisableReadTracking: true})
	if _, err := off.AddReads([]TrackedRead{{Key: []byte("k"), Count: 1}}); !errors.Is(err, ErrReadTrackingOff) {
		t.Fatalf("AddReads with tracking off: %v", err)
	}
}
