package epochdb

import (
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Set([]byte("a"), []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	v, err := db.Get([]byte("a"))
	t.Log(string(v), err)
	n, err := db.IncrementFrequency([]byte("a"))
	t.Log(n, err)
	md, err := db.Metadata([]byte("a"))
	t.Logf("%+v %v", md, err)
	t.Log(db.TTL([]byte("a")))
	t.Logf("%+v", db.Stats())
}
