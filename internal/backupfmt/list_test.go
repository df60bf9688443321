package backupfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
)

// TestVersions_Lists: version 4 files carry lists; a version 3 file (as
// builds before lists wrote) is still read, and a list record in it is
// corrupt, as the writer of that version refuses to write one.
func TestVersions_Lists(t *testing.T) {
	list := []Record{
		{Type: TypeList, Key: []byte("l"), CreatedAt: 1},
		{Member: true, Key: []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, Value: []byte("a")},
		{Member: true, Key: []byte{0x80, 0, 0, 0, 0, 0, 0, 1}, Value: []byte("b")},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list {
		if err := w.Add(&list[i]); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, r, err := readAll(t, buf.Bytes())
	if err != nil || r.Header().Version != 4 || len(got) != 3 || got[0].Type != TypeList || string(got[2].Value) != "b" {
		t.Fatalf("version %d: %+v %v", r.Header().Version, got, err)
	}

	var old bytes.Buffer
	w2, err := newWriter(&old, Header{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Add(&list[0]); err == nil {
		t.Fatal("a version 3 writer wrote a list")
	}
	set := []Record{{Type: TypeSet, Key: []byte("s"), CreatedAt: 1}, {Member: true, Key: []byte("m")}}
	for i := range set {
		if err := w2.Add(&set[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	got, r, err = readAll(t, old.Bytes())
	if err != nil || r.Header().Version != 3 || len(got) != 2 || got[0].Type != TypeSet {
		t.Fatalf("version 3 file: %+v %v", got, err)
	}

	// The version 4 file's blocks under a version 3 header: the list
	// record is refused by the reader.
	forged := bytes.Clone(buf.Bytes())
	forged[9] = 3
	rehash(forged)
	rd, err := NewReader(bytes.NewReader(forged))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, err := rd.Next(); !errors.Is(err, ErrCorrupt) && err != io.EOF {
		t.Fatalf("a list in a version 3 file: %v", err)
	} else if err == io.EOF {
		t.Fatal("a list in a version 3 file was read")
	}
}

// rehash recomputes the header checksum of file f.
func rehash(f []byte) {
	n := HeaderLen - 4
	binary.BigEndian.PutUint32(f[n:], crc32.Checksum(f[:n], castagnoli))
}
