package epochdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/backupfmt"
	"github.com/epochdb/epochdb/internal/testutil"
)

// entries lists every key-value pair of db's store, as its image holds
// them.
func entries(t *testing.T, db *DB) []string {
	t.Helper()
	img, _ := imageOf(t, db)
	br, err := backupfmt.NewReader(bytes.NewReader(img))
	testutil.Must(t, err)
	defer br.Close()
	var out []string
	for {
		rec, err := br.Next()
		if err == io.EOF {
			return out
		}
		testutil.Must(t, err)
		out = append(out, fmt.Sprintf("%q=%x", rec.Key, rec.Value))
	}
}

// imageOf writes db's image into a buffer.
func imageOf(t testing.TB, db *DB) ([]byte, uint64) {
	t.Helper()
	im, err := db.Image()
	testutil.Must(t, err)
	defer im.Close()
	var buf bytes.Buffer
	n, err := im.WriteTo(&buf)
	testutil.Must(t, err)
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes(), im.AppliedIndex()
}

// A node installs the image of a replicated store and then follows the
// log from the image's applied index: it holds exactly what the leader
// holds (every keyspace, byte for byte: collections, deadlines, the event
// log, counters), and later batches — into a collection the image brought
// — apply the same way on it.
func TestDB_InstallImage_ThenFollows(t *testing.T) {
	clk := testutil.NewClock()
	repl := &logReplicator{isLeader: true}
	opts := func(r Replicator) *Options {
		return &Options{Clock: clk, Replicator: r, EventLog: true, ExpiryInterval: time.Hour}
	}
	leader, err := Open(t.TempDir(), opts(repl))
	testutil.Must(t, err)
	defer leader.Close()
	repl.leader = leader
	for i := range 300 {
		mustSet(t, leader, fmt.Sprintf("k%03d", i), fmt.Sprint("v", i), time.Duration(i%3)*time.Second)
	}
	h := leader.Hash([]byte("h"))
	_, err = h.Set([]byte("f1"), []byte("v1"))
	testutil.Must(t, err)
	_, err = h.Set([]byte("f2"), []byte("v2"))
	testutil.Must(t, err)
	testutil.Must(t, h.Expire([]byte("f2"), time.Hour))
	_, err = leader.SetOf([]byte("s")).Add([]byte("a"), []byte("b"))
	testutil.Must(t, err)
	_, err = leader.IncrementFrequency([]byte("k010"))
	testutil.Must(t, err)
	clk.Advance(1500 * time.Millisecond)
	_, err = leader.expireDue(nil) // expiry events in the event log
	testutil.Must(t, err)
	if leader.LastEventSeq() == 0 {
		t.Fatal("no events on the leader")
	}
	clk.Advance(time.Second) // keys due now, not swept yet: in the image as stored

	// The joining node has data of its own, which the image replaces.
	jdir := t.TempDir()
	joiner, err := Open(jdir, opts(followerRepl{}))
	testutil.Must(t, err)
	defer joiner.Close()
	testutil.Must(t, joiner.ApplyCommitted(1, mustBatchRepr(t, "stale"), false))
	w, err := joiner.Watch([]byte("k001"))
	testutil.Must(t, err)
	defer w.Close()

	img, applied := imageOf(t, leader)
	if applied != uint64(len(repl.log)) || applied == 0 {
		t.Fatalf("image at applied index %d, the log has %d entries", applied, len(repl.log))
	}
	info, err := joiner.InstallImage(bytes.NewReader(img))
	testutil.Must(t, err)
	if info.AppliedIndex != applied || info.Bytes != int64(len(img)) || info.Entries == 0 {
		t.Fatalf("InstallImage: %+v, want applied index %d and %d bytes", info, applied, len(img))
	}
	sameStores(t, leader, joiner)
	if !w.Changed() {
		t.Fatal("a watch on the joiner did not see the install")
	}
	if _, err := joiner.Get([]byte("stale")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the joiner's own key survived the install: %v", err)
	}

	// It follows the log from there: an entry it holds is skipped, later
	// ones apply, also to the hash whose version the image carried.
	testutil.Must(t, joiner.ApplyCommitted(applied, repl.log[applied-1], false))
	repl.mu.Lock()
	repl.followers = []*DB{joiner}
	repl.mu.Unlock()
	_, err = h.Set([]byte("f3"), []byte("v3"))
	testutil.Must(t, err)
	mustSet(t, leader, "k001", "changed", 0)
	_, err = leader.expireDue(nil)
	testutil.Must(t, err)
	_, err = leader.SetOf([]byte("s")).Remove([]byte("a"))
	testutil.Must(t, err)
	if n, err := joiner.Hash([]byte("h")).Len(); err != nil || n != 3 {
		t.Fatalf("the joiner's hash has %d fields (%v), want 3", n, err)
	}
	sameStores(t, leader, joiner)
	checkClean(t, joiner)

	// Reopened, it is where the install and the log left it.
	testutil.Must(t, joiner.Close())
	joiner, err = Open(jdir, opts(followerRepl{}))
	testutil.Must(t, err)
	defer joiner.Close()
	sameStores(t, leader, joiner)
}

// mustBatchRepr returns the encoding of a batch that sets key, as a
// leader's Replicate would hand it over.
func mustBatchRepr(t *testing.T, key string) []byte {
	t.Helper()
	repl := &logReplicator{isLeader: true}
	db, err := Open("", &Options{InMemory: true, Replicator: repl})
	testutil.Must(t, err)
	defer db.Close()
	repl.leader = db
	mustSet(t, db, key, "v", 0)
	return repl.log[0]
}

// sameStores fails unless a and b hold the same entries in every keyspace,
// the same live keys with their metadata, counters, event log and applied
// index.
func sameStores(t *testing.T, a, b *DB) {
	t.Helper()
	if ea, eb := entries(t, a), entries(t, b); !slices.Equal(ea, eb) {
		for i := range min(len(ea), len(eb)) {
			if ea[i] != eb[i] {
				t.Fatalf("stores differ at entry %d: %s vs %s (%d and %d entries)", i, ea[i], eb[i], len(ea), len(eb))
			}
		}
		t.Fatalf("stores differ: %d and %d entries", len(ea), len(eb))
	}
	if ca, cb := contents(t, a), contents(t, b); !slices.Equal(ca, cb) {
		t.Fatalf("live keys differ:\n%v\n%v", ca, cb)
	}
	sa, sb := a.Stats(), b.Stats()
	if a.Len() != b.Len() || sa.KeysWithTTL != sb.KeysWithTTL || sa.LiveBytes != sb.LiveBytes {
		t.Fatalf("counters differ: %d %+v vs %d %+v", a.Len(), sa, b.Len(), sb)
	}
	if a.LastEventSeq() != b.LastEventSeq() || a.AppliedIndex() != b.AppliedIndex() {
		t.Fatalf("event log at %d vs %d, applied index %d vs %d", a.LastEventSeq(), b.LastEventSeq(),
			a.AppliedIndex(), b.AppliedIndex())
	}
	ea, _, err := a.ReadEvents(0, 100000)
	testutil.Must(t, err)
	eb, _, err := b.ReadEvents(0, 100000)
	testutil.Must(t, err)
	if len(ea) != len(eb) {
		t.Fatalf("event logs of %d and %d events", len(ea), len(eb))
	}
	for i := range ea {
		if ea[i].Seq != eb[i].Seq || ea[i].Kind != eb[i].Kind || !bytes.Equal(ea[i].Key, eb[i].Key) {
			t.Fatalf("event %d differs: %+v vs %+v", i, ea[i], eb[i])
		}
	}
}

// A damaged image — a flipped byte anywhere, a truncation — is refused
// with a backup error, and the store keeps its contents exactly, with no
// file left behind; a logical backup is refused as well. The intact image
// then installs.
func TestDB_InstallImage_RefusesDamage(t *testing.T) {
	src, err := Open("", &Options{InMemory: true})
	testutil.Must(t, err)
	defer src.Close()
	for i := range 3000 {
		mustSet(t, src, fmt.Sprintf("src%05d", i), strings.Repeat("x", i%200), 0)
	}
	img, _ := imageOf(t, src)
	var backup bytes.Buffer
	_, err = src.Backup(&backup)
	testutil.Must(t, err)

	dir := t.TempDir()
	db, err := Open(dir, nil)
	testutil.Must(t, err)
	defer db.Close()
	for i := range 50 {
		mustSet(t, db, fmt.Sprint("mine", i), "keep", 0)
	}
	before := entries(t, db)
	files := func() []string {
		des, err := os.ReadDir(dir)
		testutil.Must(t, err)
		var out []string
		for _, de := range des {
			if strings.HasPrefix(de.Name(), "epochdb-image") {
				out = append(out, de.Name())
			}
		}
		return out
	}
	damaged := map[string][]byte{"logical backup": backup.Bytes(), "empty": nil}
	for _, off := range []int{3, backupfmt.HeaderLen - 1, backupfmt.HeaderLen + 5, backupfmt.HeaderLen + 40, len(img) / 2, len(img) - 20, len(img) - 1} {
		b := bytes.Clone(img)
		b[off] ^= 0x10
		damaged[fmt.Sprint("byte ", off, " flipped")] = b
	}
	for _, n := range []int{backupfmt.HeaderLen, len(img) / 3, len(img) - 1} {
		damaged[fmt.Sprint("truncated to ", n)] = img[:n]
	}
	damaged["a byte appended"] = append(bytes.Clone(img), 0)
	for name, b := range damaged {
		_, err := db.InstallImage(bytes.NewReader(b))
		if !errors.Is(err, ErrBackupCorrupt) && !errors.Is(err, ErrNotBackup) && !errors.Is(err, ErrBackupVersion) {
			t.Fatalf("%s: InstallImage = %v, want a backup error", name, err)
		}
		if got := entries(t, db); !slices.Equal(got, before) || db.Len() != 50 {
			t.Fatalf("%s: the store changed after a refused image (%d keys)", name, db.Len())
		}
		if f := files(); len(f) > 0 {
			t.Fatalf("%s: left %v behind", name, f)
		}
	}
	if v := mustGet(t, db, "mine7"); v != "keep" {
		t.Fatalf("mine7 = %q", v)
	}

	_, err = db.InstallImage(bytes.NewReader(img))
	testutil.Must(t, err)
	if db.Len() != 3000 || !slices.Equal(entries(t, db), entries(t, src)) {
		t.Fatalf("after the install: %d keys", db.Len())
	}
	if f := files(); len(f) > 0 {
		t.Fatalf("the install left %v behind", f)
	}
	checkClean(t, db)
}

// FuzzInstallImage feeds arbitrary bytes to InstallImage on a store with
// data: it never panics, and whatever it refuses leaves the store as it
// was.
func FuzzInstallImage(f *testing.F) {
	src, err := Open("", &Options{InMemory: true})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 30 {
		if err := src.Set([]byte(fmt.Sprint("k", i)), bytes.Repeat([]byte{byte(i)}, i), 0); err != nil {
			f.Fatal(err)
		}
	}
	good, _ := imageOf(f, src)
	_ = src.Close()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:backupfmt.HeaderLen])
	f.Add([]byte(backupfmt.Magic))
	db, err := Open("", &Options{InMemory: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := db.Set([]byte("mine"), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		n := db.Len()
		_, err := db.InstallImage(bytes.NewReader(data))
		if err == nil {
			if _, err := db.Check(); err != nil {
				t.Fatalf("an installed image does not check: %v", err)
			}
			return
		}
		if db.Len() != n {
			t.Fatalf("a refused image changed the key count from %d to %d: %v", n, db.Len(), err)
		}
		if v, gerr := db.Get([]byte("mine")); gerr != nil || string(v) != "v" {
			t.Fatalf("a refused image lost a key: %q %v (%v)", v, gerr, err)
		}
	})
}

// Restore, which reads logical backups, refuses a store image.
func TestRestore_RefusesImage(t *testing.T) {
	src, err := Open("", &Options{InMemory: true})
	testutil.Must(t, err)
	defer src.Close()
	mustSet(t, src, "k", "v", 0)
	img, _ := imageOf(t, src)
	dir := t.TempDir() + "/restored"
	if _, err := Restore(bytes.NewReader(img), dir, nil); !errors.Is(err, ErrBackupVersion) {
		t.Fatalf("Restore of an image: %v, want ErrBackupVersion", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused restore created %s: %v", dir, err)
	}
}
