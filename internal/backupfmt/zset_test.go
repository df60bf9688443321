package backupfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func scoreBytes(f float64) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)) }

// writeVersion writes recs as a file of format version v; with raw, the
// writer's own checks of types and scores are bypassed (to make files a
// reader must refuse).
func writeVersion(t *testing.T, v uint16, raw bool, recs []Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newWriter(&buf, Header{CreatedAt: 1}, v)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if raw {
			w.version, w.collType = Version, TypeString
		}
		if err := w.Add(&recs[i]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if raw {
			w.version = v
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestZSet_Version3 round-trips sorted sets, reads a version 2 file as
// before, and refuses a sorted set in a version 2 file or a member
// without a valid score, in the writer and in the reader.
func TestZSet_Version3(t *testing.T) {
	zset := []Record{
		{Type: TypeZSet, Key: []byte("z"), CreatedAt: 1},
		{Member: true, Key: []byte("a"), Value: scoreBytes(1.5)},
		{Member: true, Key: []byte("b"), Value: scoreBytes(math.Inf(-1))},
	}
	got, r, err := readAll(t, writeVersion(t, Version, false, zset))
	if err != nil || r.Header().Version != Version || len(got) != 3 || got[0].Type != TypeZSet || !bytes.Equal(got[1].Value, scoreBytes(1.5)) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	hash := []Record{{Type: TypeHash, Key: []byte("h")}, {Member: true, Key: []byte("f"), Value: []byte("v")}}
	if got, r, err := readAll(t, writeVersion(t, 2, false, hash)); err != nil || r.Header().Version != 2 || len(got) != 2 {
		t.Fatalf("version 2 file: %+v %v", got, err)
	}
	// The writer refuses what the format cannot hold.
	for name, recs := range map[string][]Record{
		"zset in version 2": zset[:1],
		"short score":       {zset[0], {Member: true, Key: []byte("a"), Value: []byte{1}}},
		"NaN score":         {zset[0], {Member: true, Key: []byte("a"), Value: scoreBytes(math.NaN())}},
	} {
		v := uint16(Version)
		if name == "zset in version 2" {
			v = 2
		}
		w, err := newWriter(&bytes.Buffer{}, Header{}, v)
		if err != nil {
			t.Fatal(err)
		}
		var addErr error
		for i := range recs {
			if addErr = w.Add(&recs[i]); addErr != nil {
				break
			}
		}
		_, _ = w.Close()
		if addErr == nil {
			t.Errorf("%s: written", name)
		}
	}
	// The reader refuses them too.
	for name, file := range map[string][]byte{
		"zset in version 2": writeVersion(t, 2, true, zset),
		"short score":       writeVersion(t, Version, true, []Record{zset[0], {Member: true, Key: []byte("a"), Value: []byte{1}}}),
		"NaN score":         writeVersion(t, Version, true, []Record{zset[0], {Member: true, Key: []byte("a"), Value: scoreBytes(math.NaN())}}),
	} {
		if _, _, err := readAll(t, file); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: read with %v, want ErrCorrupt", name, err)
		}
	}
}
