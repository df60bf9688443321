package backupfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func records(n int) []Record {
	rs := make([]Record, n)
	for i := range rs {
		rs[i] = Record{
			Key:        []byte(fmt.Sprintf("k%06d", i)),
			Value:      bytes.Repeat([]byte{byte(i)}, i%300),
			CreatedAt:  int64(1000 + i),
			UpdatedAt:  int64(2000 + i),
			ExpiresAt:  int64(i % 2 * (9000 + i)),
			Frequency:  uint64(i * 7),
			LastAccess: int64(3000 + i),
			Heat:       float64(i) / 3,
		}
	}
	return rs
}

func write(t *testing.T, rs []Record) ([]byte, Trailer) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{CreatedAt: 42, SourceFormat: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		if err := w.Add(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if w.Written() != int64(buf.Len()) {
		t.Fatalf("Written %d, buffer %d", w.Written(), buf.Len())
	}
	return buf.Bytes(), tr
}

func readAll(t *testing.T, file []byte) ([]Record, *Reader, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, r, nil
		}
		if err != nil {
			return out, r, err
		}
		c := *rec
		c.Key, c.Value = bytes.Clone(rec.Key), bytes.Clone(rec.Value)
		if c.Value == nil {
			c.Value = []byte{}
		}
		out = append(out, c)
	}
}

func TestWriterReader_RoundTrip(t *testing.T) {
	rs := records(20000) // several blocks
	big := Record{Key: []byte("zz-big"), Value: bytes.Repeat([]byte("x"), 3*TargetBlockSize)}
	rs = append(rs, big, Record{Key: []byte("zz-small"), Value: []byte("after the big one")})
	for i := range rs {
		if rs[i].Value == nil {
			rs[i].Value = []byte{}
		}
	}
	file, tr := write(t, rs)
	if tr.Records != uint64(len(rs)) || tr.Blocks < 4 {
		t.Fatalf("trailer %+v", tr)
	}
	got, r, err := readAll(t, file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rs) {
		t.Fatalf("read %d records, wrote %d; first difference hidden in a deep compare", len(got), len(rs))
	}
	if h := r.Header(); h.CreatedAt != 42 || h.Version != Version || h.SourceFormat != 1 {
		t.Fatalf("header %+v", h)
	}
	if r.Trailer() != tr || r.Offset() != int64(len(file)) {
		t.Fatalf("trailer %+v (wrote %+v), offset %d of %d", r.Trailer(), tr, r.Offset(), len(file))
	}
}

func TestWriterReader_Empty(t *testing.T) {
	file, tr := write(t, nil)
	if len(file) != HeaderLen+TrailerLen || tr.Records != 0 || tr.Blocks != 0 {
		t.Fatalf("empty backup: %d bytes, %+v", len(file), tr)
	}
	if got, _, err := readAll(t, file); err != nil || len(got) != 0 {
		t.Fatalf("read %d records, %v", len(got), err)
	}
}

func TestWriter_RejectsBadRecords(t *testing.T) {
	w, err := NewWriter(io.Discard, Header{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add(&Record{Key: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		{Key: []byte("a")},                // out of order
		{Key: []byte("b")},                // duplicate
		{Key: nil},                        // empty
		{Key: []byte("c"), CreatedAt: -1}, // negative time
		{Key: []byte("c"), Heat: -1},      // negative heat
		{Key: bytes.Repeat([]byte("k"), MaxKeyLen+1)},
	} {
		if err := w.Add(&r); err == nil {
			t.Errorf("Add(%q, %+v) accepted", r.Key, r)
		}
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriter_ReportsWriteErrors(t *testing.T) {
	w, err := NewWriter(&failingWriter{n: HeaderLen + 100}, Header{})
	if err != nil {
		t.Fatal(err)
	}
	rs := records(20000)
	var addErr error
	for i := range rs {
		if addErr = w.Add(&rs[i]); addErr != nil {
			break
		}
	}
	_, cerr := w.Close()
	if cerr == nil || !strings.Contains(cerr.Error(), "disk full") {
		t.Fatalf("Close after a failed write: %v (Add: %v)", cerr, addErr)
	}
}

func TestReader_RecordCountMismatch(t *testing.T) {
	file, _ := write(t, records(10))
	// Claim 9 records in the (only) block: the header CRC then fails, which
	// is what a reader must report before trusting the count.
	bad := bytes.Clone(file)
	bad[HeaderLen+12]--
	_, _, err := readAll(t, bad)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "block 0") {
		t.Fatalf("err = %v", err)
	}
}

// TestReader_Version1 reads a file of format version 1 (strings only, no
// type byte), as written before collections.
func TestReader_Version1(t *testing.T) {
	var buf bytes.Buffer
	w, err := newWriter(&buf, Header{CreatedAt: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if err := w.Add(&Record{Key: []byte(k), Value: []byte("v" + k), CreatedAt: 1, LastAccess: 1, Heat: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(rec.Key)+"="+string(rec.Value))
	}
	if r.Header().Version != 1 || r.Keys() != 2 || fmt.Sprint(got) != "[a=va b=vb]" {
		t.Fatalf("version %d, %d keys: %v", r.Header().Version, r.Keys(), got)
	}
}

// TestWriter_Collections round-trips key and member records and rejects
// members out of place.
func TestWriter_Collections(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{})
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{
		{Type: TypeHash, Key: []byte("h"), CreatedAt: 1},
		{Member: true, Key: []byte("f1"), Value: []byte("v1"), ExpiresAt: 99},
		{Member: true, Key: []byte("f2"), Value: []byte("v2")},
		{Key: []byte("s0"), Value: []byte("str")},
		{Type: TypeSet, Key: []byte("set"), CreatedAt: 1},
		{Member: true, Key: []byte("")},
	}
	for i := range recs {
		if err := w.Add(&recs[i]); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := w.Add(&Record{Member: true, Key: []byte("")}); err == nil {
		t.Fatal("a member not after the previous one was accepted")
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err == io.EOF {
			if i != len(recs) || r.Keys() != 3 {
				t.Fatalf("%d records, %d keys", i, r.Keys())
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := recs[i]
		if rec.Member != want.Member || rec.Type != want.Type || string(rec.Key) != string(want.Key) ||
			string(rec.Value) != string(want.Value) || rec.ExpiresAt != want.ExpiresAt {
			t.Fatalf("record %d: %+v, want %+v", i, rec, want)
		}
	}
	// A collection without members is refused.
	w, _ = NewWriter(io.Discard, Header{})
	_ = w.Add(&Record{Type: TypeSet, Key: []byte("s")})
	if _, err := w.Close(); err == nil {
		t.Fatal("an empty collection was written")
	}
}

// A store image holds entry records only, ascending; it reads back as
// written, and a backup and an image refuse each other's records.
func TestWriterReader_Image(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{CreatedAt: 7, SourceFormat: 1, Image: true})
	if err != nil {
		t.Fatal(err)
	}
	var want []Record
	for i := range 3000 {
		r := Record{Type: TypeEntry, Key: []byte(fmt.Sprintf("%c%06d", "dmst"[i%4], i)), Value: bytes.Repeat([]byte{byte(i)}, i%700)}
		want = append(want, r)
	}
	slices.SortFunc(want, func(a, b Record) int { return bytes.Compare(a.Key, b.Key) })
	for i := range want {
		if err := w.Add(&want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Add(&Record{Type: TypeEntry, Key: []byte("a")}); err == nil {
		t.Fatal("an entry out of order was accepted")
	}
	if err := w.Add(&records(1)[0]); err == nil {
		t.Fatal("a key record was accepted in an image")
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, r, err := readAll(t, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Header().Image || len(got) != len(want) {
		t.Fatalf("image header %+v, %d records, want %d", r.Header(), len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) || got[i].Type != TypeEntry {
			t.Fatalf("record %d: %q=%d bytes, want %q", i, got[i].Key, len(got[i].Value), want[i].Key)
		}
	}

	// An entry in a backup is refused by the writer and by the reader.
	bw, err := NewWriter(io.Discard, Header{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.Add(&Record{Type: TypeEntry, Key: []byte("k")}); err == nil {
		t.Fatal("an entry record was accepted in a backup")
	}
	_, _ = bw.Close()
	img := buf.Bytes()
	forged := bytes.Clone(img)
	forged[11] = 0 // the image flag cleared: the header CRC no longer matches
	if _, _, err := readAll(t, forged); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("an image with its flag cleared: %v", err)
	}
	forged[11] = 0x02 // an unknown flag, with its CRC right
	binary.BigEndian.PutUint32(forged[HeaderLen-4:], crc32.Checksum(forged[:HeaderLen-4], castagnoli))
	if _, _, err := readAll(t, forged); !errors.Is(err, ErrVersion) {
		t.Fatalf("an unknown header flag: %v", err)
	}
}
