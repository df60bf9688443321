package cluster

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/epochdb/epochdb/internal/testutil"
)

// Many writers at once: every write applies on every node, and raft
// carries them in fewer entries than writes (concurrent proposals merge).
func TestCluster_ConcurrentWritesMergeIntoEntries(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	before, err := strconv.ParseUint(l.Stats()["last_log_index"], 10, 64)
	testutil.Must(t, err)
	const writers, each = 32, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.DB().Set(fmt.Appendf(nil, "w%d-%d", w, i), []byte("v"), 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	after, err := strconv.ParseUint(l.Stats()["last_log_index"], 10, 64)
	testutil.Must(t, err)
	if l.DB().Len() != writers*each {
		t.Fatalf("%d keys on the leader, want %d", l.DB().Len(), writers*each)
	}
	if entries := after - before; entries >= writers*each {
		t.Fatalf("%d writes took %d log entries: none merged", writers*each, entries)
	}
	c.converged(l)
}

// The merged entry's encoding reads back as written; anything else is
// refused, never a panic.
func FuzzDecodeBatches(f *testing.F) {
	f.Add(encodeBatches("n1", []proposal{{seq: 1, repr: []byte("abc")}, {seq: 2, repr: nil}})[1:])
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, rest, ok := readString(b)
		if !ok {
			return
		}
		q, ok := decodeBatches(rest)
		if !ok {
			return
		}
		// Varints have more than one encoding: compare what decodes.
		proposer, _, _ := readString(b)
		_, rest2, _ := readString(encodeBatches(proposer, q)[1:])
		q2, ok := decodeBatches(rest2)
		if !ok || len(q2) != len(q) {
			t.Fatalf("%d batches re-encoded decode to %d (%v)", len(q), len(q2), ok)
		}
		for i := range q {
			if q[i].seq != q2[i].seq || !bytes.Equal(q[i].repr, q2[i].repr) {
				t.Fatalf("batch %d: %d %x, re-encoded %d %x", i, q[i].seq, q[i].repr, q2[i].seq, q2[i].repr)
			}
		}
	})
}
