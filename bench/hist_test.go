package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistIndex_Monotonic(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 7, 1<<63 - 1, 1 << 63} {
		i := histIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d after %d", v, i, prev)
		}
		prev = i
	}
	for v := uint64(0); v < 1<<16; v++ {
		got := histValue(histIndex(v))
		if d := float64(got) - float64(v); d > 0.04*float64(v)+1 || -d > 0.04*float64(v)+1 {
			t.Fatalf("value %d lands in a bucket reading %d", v, got)
		}
	}
}

func TestHist_Quantile(t *testing.T) {
	var h hist
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100000)
	for i := range vals {
		vals[i] = time.Duration(r.ExpFloat64() * 50000)
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := vals[int(q*float64(len(vals)))]
		got := h.quantile(q)
		if rel := float64(got-want) / float64(want); rel > 0.04 || rel < -0.04 {
			t.Errorf("q%.2f = %v, want about %v", q, got, want)
		}
	}
}
