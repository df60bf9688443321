package epochdb

import (
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/clock"
	"github.com/epochdb/epochdb/internal/testutil"
)

// mustOpen opens a DB in a fresh temporary directory with a manual clock at
// testutil.Epoch (unless opts sets a clock) and closes it at the end of the
// test.
func mustOpen(t testing.TB, opts *Options) (*DB, *clock.Manual) {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	clk, _ := o.Clock.(*clock.Manual)
	if o.Clock == nil {
		clk = testutil.NewClock()
		o.Clock = clk
	}
	db, err := Open(t.TempDir(), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db, clk
}

func mustSet(t testing.TB, db *DB, key, value string, ttl time.Duration) {
	t.Helper()
	if err := db.Set([]byte(key), []byte(value), ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func mustGet(t testing.TB, db *DB, key string) string {
	t.Helper()
	v, err := db.Get([]byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(v)
}

// scanCounts scans db, calling visit (if not nil) for each key, and checks
// that the persistent counters (keys, keys with a ttl, live bytes) equal
// what the scan found. It returns the keys and the keys with a ttl.
func scanCounts(t testing.TB, db *DB, visit func(k, v []byte, md Metadata)) (keys, withTTL int64) {
	t.Helper()
	var nbytes int64
	testutil.Must(t, db.Scan(ScanOptions{}, func(k, v []byte, md Metadata) error {
		if visit != nil {
			visit(k, v, md)
		}
		keys++
		nbytes += int64(len(k) + len(v))
		if !md.ExpiresAt.IsZero() {
			withTTL++
		}
		return nil
	}))
	if s := db.Stats(); s.Keys != keys || s.KeysWithTTL != withTTL || s.LiveBytes != nbytes {
		t.Fatalf("counters say %d keys (%d with ttl, %d bytes), scan found %d (%d, %d)", s.Keys, s.KeysWithTTL, s.LiveBytes, keys, withTTL, nbytes)
	}
	return keys, withTTL
}

// storeSettings changes db's settings without waking the background work
// (as Reconfigure does), for tests that look at a state the background
// work would change within a second.
func storeSettings(db *DB, edit func(s *Settings)) {
	s := db.Settings()
	edit(&s)
	db.settings.Store(&s)
}
