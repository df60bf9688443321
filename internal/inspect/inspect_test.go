package inspect

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/testutil"
)

// openStore opens a store on disk (t.TempDir) with the manual clock, and
// keys k000…k(n-1) in database 0, key i with a TTL of i+1 minutes when i
// is even.
func openStore(t *testing.T, n int) (*epochdb.DB, time.Time) {
	t.Helper()
	clk := testutil.NewClock()
	db, err := epochdb.Open(t.TempDir(), &epochdb.Options{Clock: clk, NoWALPreallocation: true})
	testutil.Must(t, err)
	t.Cleanup(func() { _ = db.Close() })
	b := db.NewBatch()
	for i := range n {
		var ttl time.Duration
		if i%2 == 0 {
			ttl = time.Duration(i+1) * time.Minute
		}
		testutil.Must(t, b.Set(fmt.Appendf([]byte{0}, "k%03d", i), []byte("value"), ttl))
	}
	testutil.Must(t, b.Commit())
	return db, clk.Now()
}

func TestLiveAndExpiring(t *testing.T) {
	db, now := openStore(t, 50)
	testutil.Must(t, db.Set([]byte("raw"), []byte("x"), 0)) // not a server key: db -1
	for range 3 {
		_, err := db.Get([]byte("\x00k001"))
		testutil.Must(t, err)
	}
	res, err := Do(db, Request{Op: "live", DB: -1}, now, nil)
	testutil.Must(t, err)
	l := res.(*Live)
	if l.Keys != 51 || l.KeysWithTTL != 25 || l.Gets != 3 || len(l.Databases) != 2 ||
		l.Databases[0] != (DBCount{DB: -1, Keys: 1}) || l.Databases[1] != (DBCount{DB: 0, Keys: 50, KeysWithTTL: 25}) {
		t.Errorf("live: %+v", l)
	}
	var gets uint64
	for _, n := range l.Latency["get"] {
		gets += n
	}
	if gets != 3 {
		t.Errorf("get latency observations: %d", gets)
	}

	res, err = Do(db, Request{Op: "expiring", DB: 0, Limit: 3}, now, nil)
	testutil.Must(t, err)
	k := res.(*Keys)
	if k.Sampled || k.Matched != 25 || len(k.Keys) != 3 || k.Keys[0].Key != "k000" || k.Keys[1].Key != "k002" || k.Keys[0].TTLMs != 60_000 {
		t.Errorf("expiring: %+v", k)
	}
	// Above sample_above, a sample, and it says so.
	res, err = Do(db, Request{Op: "expiring", DB: 0, Limit: 3, SampleAbove: 10}, now, nil)
	testutil.Must(t, err)
	if k := res.(*Keys); !k.Sampled || k.Scanned < 10 || len(k.Keys) == 0 {
		t.Errorf("sampled expiring: %+v", k)
	}
}

func TestStatsSampled(t *testing.T) {
	db, now := openStore(t, 300)
	res, err := Do(db, Request{Op: "stats", DB: -1}, now, nil)
	testutil.Must(t, err)
	full := res.(*Stats)
	if full.Sampled || full.Scanned != 300 || full.Keys != 300 || full.KeysWithTTL != 150 {
		t.Errorf("full stats: %+v", full)
	}
	res, err = Do(db, Request{Op: "stats", DB: -1, SampleAbove: 100}, now, nil)
	testutil.Must(t, err)
	s := res.(*Stats)
	if !s.Sampled || s.Keys != 300 || s.KeysWithTTL != 150 || s.LiveBytes != full.LiveBytes || len(s.Databases) != 1 {
		t.Errorf("sampled stats: %+v", s)
	}
	var counted int64
	for _, b := range s.Histograms[0].Buckets {
		counted += b.Count
	}
	if counted != s.Scanned || s.Scanned < 100 || s.Scanned > 300 {
		t.Errorf("the ttl histogram counts %d keys, %d scanned", counted, s.Scanned)
	}
}

func TestGetValueMax(t *testing.T) {
	db, now := openStore(t, 0)
	v := []byte{0, 1, 0xfe, 0xff, 'a', 'b'}
	testutil.Must(t, db.Set([]byte("\x00bin"), v, 0))
	res, err := Do(db, Request{Op: "get", DB: 0, Key: "bin", ValueMax: 4}, now, nil)
	testutil.Must(t, err)
	ki := res.(*KeyInfo)
	got, err := base64.StdEncoding.DecodeString(*ki.ValueBase64)
	testutil.Must(t, err)
	if string(got) != string(v[:4]) || !ki.ValueTruncated || ki.Value != nil || ki.ValueBytes != 6 {
		t.Errorf("get value_max 4: %+v", ki)
	}
	res, err = Do(db, Request{Op: "get", DB: 0, Key: "bin", ValueMax: 6}, now, nil)
	testutil.Must(t, err)
	if ki := res.(*KeyInfo); ki.ValueTruncated {
		t.Errorf("get value_max 6: %+v", ki)
	}
}

func TestRetirement(t *testing.T) {
	now := testutil.Epoch
	exp := now.Add(-time.Second)
	r := Retirement(epochdb.Event{Kind: epochdb.EventExpired, Key: []byte("\x03sess"), Time: now, Seq: 9,
		Metadata: epochdb.Metadata{Frequency: 4, CreatedAt: now.Add(-time.Minute), ExpiresAt: exp}}, now)
	if r.DB != 3 || r.Key != "sess" || r.Kind != "expired" || r.Seq != 9 || r.AgeMs != 60_000 || r.TTLMs != -1 ||
		r.ExpiresAt == nil || !r.ExpiresAt.Equal(exp) || r.ValueBytes != -1 || r.Frequency != 4 {
		t.Errorf("%+v", r)
	}
}
