package epochdb

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/epochdb/epochdb/internal/backupfmt"
	"github.com/epochdb/epochdb/internal/testutil"
)

var inf = math.Inf(1)

func zm(m string, score float64) ZMember { return ZMember{Member: []byte(m), Score: score} }

// addCounts formats the counts Add returns.
func addCounts(added, changed int, err error) (any, error) { return fmt.Sprint(added, changed), err }

// showZ formats members as "m:score ..." for comparisons.
func showZ(ms []ZMember) string {
	var b bytes.Buffer
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%v", m.Member, m.Score)
	}
	return b.String()
}

func TestZSet_Basics(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	z := db.ZSet([]byte("z"))
	all := ZRange{Start: 0, Stop: -1}
	for _, tc := range []struct {
		name string
		run  func() (any, error)
		want any
	}{
		{"add", func() (any, error) {
			return addCounts(z.Add(ZAddOptions{}, zm("b", 2), zm("a", 1), zm("c", 2), zm("a", 1.5)))
		}, "3 1"},
		{"range", func() (any, error) { r, err := z.Range(all); return showZ(r), err }, "a:1.5 b:2 c:2"},
		{"card", func() (any, error) { return z.Card() }, int64(3)},
		{"score", func() (any, error) { return z.Score([]byte("b")) }, 2.0},
		{"nx keeps", func() (any, error) { return addCounts(z.Add(ZAddOptions{NX: true}, zm("a", 9), zm("d", 4))) }, "1 0"},
		{"xx adds nothing", func() (any, error) { return addCounts(z.Add(ZAddOptions{XX: true}, zm("a", 0), zm("e", 4))) }, "0 1"},
		{"gt", func() (any, error) { return addCounts(z.Add(ZAddOptions{GT: true}, zm("a", -1), zm("b", 3))) }, "0 1"},
		{"lt adds new", func() (any, error) { return addCounts(z.Add(ZAddOptions{LT: true}, zm("b", 5), zm("f", -inf))) }, "1 0"},
		{"range after options", func() (any, error) { r, err := z.Range(all); return showZ(r), err }, "f:-Inf a:0 c:2 b:3 d:4"},
		{"incr", func() (any, error) {
			s, ok, err := z.IncrBy([]byte("a"), 2.5, ZAddOptions{})
			return fmt.Sprint(s, ok), err
		}, "2.5 true"},
		{"incr gt refused", func() (any, error) {
			s, ok, err := z.IncrBy([]byte("a"), -1, ZAddOptions{GT: true})
			return fmt.Sprint(s, ok), err
		}, "0 false"},
		{"incr new", func() (any, error) {
			s, ok, err := z.IncrBy([]byte("n"), 7, ZAddOptions{})
			return fmt.Sprint(s, ok), err
		}, "7 true"},
		{"incr xx on missing", func() (any, error) {
			s, ok, err := z.IncrBy([]byte("m"), 7, ZAddOptions{XX: true})
			return fmt.Sprint(s, ok), err
		}, "0 false"},
		{"rank", func() (any, error) { r, s, err := z.Rank([]byte("a"), false); return fmt.Sprint(r, s), err }, "2 2.5"},
		{"revrank", func() (any, error) { r, s, err := z.Rank([]byte("a"), true); return fmt.Sprint(r, s), err }, "3 2.5"},
		{"count", func() (any, error) { return z.Count(ScoreBound{Score: 2}, ScoreBound{Score: 4, Exclusive: true}) }, int64(3)},
		{"lexcount", func() (any, error) {
			return z.LexCount(LexBound{Member: []byte("b")}, LexBound{Inf: 1})
		}, int64(5)},
		{"scores", func() (any, error) {
			s, f, err := z.Scores([]byte("c"), []byte("nope"))
			return fmt.Sprint(s, f), err
		}, "[2 0] [true false]"},
		{"rev by score with limit", func() (any, error) {
			r, err := z.Range(ZRange{By: ByScore, Min: ScoreBound{Score: -inf}, Max: ScoreBound{Score: inf}, Rev: true, Offset: 1, Count: 2})
			return showZ(r), err
		}, "d:4 b:3"},
		{"rev ranks", func() (any, error) { r, err := z.Range(ZRange{Start: 0, Stop: 1, Rev: true}); return showZ(r), err }, "n:7 d:4"},
		{"by lex", func() (any, error) {
			r, err := z.Range(ZRange{By: ByLex, LexMin: LexBound{Member: []byte("b"), Exclusive: true}, LexMax: LexBound{Member: []byte("f")}})
			return showZ(r), err
		}, "c:2 d:4 f:-Inf"},
		{"remove", func() (any, error) { return z.Remove([]byte("c"), []byte("nope")) }, 1},
		{"popmin", func() (any, error) { r, err := z.PopMin(2); return showZ(r), err }, "f:-Inf a:2.5"},
		{"popmax", func() (any, error) { r, err := z.PopMax(1); return showZ(r), err }, "n:7"},
		{"remove range by score", func() (any, error) {
			return z.RemoveRange(ZRange{By: ByScore, Min: ScoreBound{Score: 3}, Max: ScoreBound{Score: 3}})
		}, int64(1)},
		{"left", func() (any, error) { r, err := z.Range(all); return showZ(r), err }, "d:4"},
		{"type", func() (any, error) { md, err := db.Metadata([]byte("z")); return md.Type.String(), err }, "zset"},
		{"nan", func() (any, error) {
			_, _, err := z.Add(ZAddOptions{}, zm("x", math.NaN()))
			return errors.Is(err, ErrNaNScore), nil
		}, true},
		{"inf - inf", func() (any, error) {
			_, _, err := z.Add(ZAddOptions{}, zm("i", inf))
			testutil.Must(t, err)
			_, _, err = z.IncrBy([]byte("i"), -inf, ZAddOptions{})
			return errors.Is(err, ErrNaNScore), nil
		}, true},
		{"bad options", func() (any, error) {
			_, _, err := z.Add(ZAddOptions{NX: true, GT: true}, zm("x", 1))
			return errors.Is(err, ErrZAddOptions), nil
		}, true},
		{"set op is wrong type", func() (any, error) {
			_, err := db.SetOf([]byte("z")).Add([]byte("m"))
			return errors.Is(err, ErrWrongType), nil
		}, true},
		{"zset op on a hash", func() (any, error) {
			_, err := db.Hash([]byte("h")).Set([]byte("f"), []byte("v"))
			testutil.Must(t, err)
			_, err = db.ZSet([]byte("h")).Card()
			return errors.Is(err, ErrWrongType), nil
		}, true},
		{"string get is wrong type", func() (any, error) { _, err := db.Get([]byte("z")); return errors.Is(err, ErrWrongType), nil }, true},
	} {
		got, err := tc.run()
		if err != nil || got != tc.want {
			t.Fatalf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := z.Score([]byte("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing member: %v", err)
	}
	if _, _, err := db.ZSet([]byte("none")).Rank([]byte("a"), false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rank in a missing key: %v", err)
	}
	mustCheck(t, db)
	// Removing the last members removes the key.
	if n, err := z.RemoveRange(ZRange{Start: 0, Stop: -1}); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	if _, err := db.Metadata([]byte("z")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty sorted set still there: %v", err)
	}
	if r := mustCheck(t, db); r.ScoreEntries != 0 || db.Stats().Keys != 1 {
		t.Fatalf("score entries %d, keys %d", r.ScoreEntries, db.Stats().Keys)
	}
}

// A sorted set read inside a transaction sees the transaction's own
// writes merged with the snapshot's members, in order; a write of the
// sorted set by someone else makes the transaction conflict.
func TestZSet_InTransaction(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	_, _, err := db.ZSet([]byte("z")).Add(ZAddOptions{}, zm("a", 1), zm("b", 2), zm("c", 3), zm("d", 4))
	testutil.Must(t, err)
	err = db.Update(func(tx *Tx) error {
		z := tx.ZSet([]byte("z"))
		if _, _, err := z.Add(ZAddOptions{}, zm("b", 10), zm("e", 2.5), zm("a0", 1)); err != nil {
			return err
		}
		if _, err := z.Remove([]byte("c")); err != nil {
			return err
		}
		for _, c := range []struct {
			r    ZRange
			want string
		}{
			{ZRange{Start: 0, Stop: -1}, "a:1 a0:1 e:2.5 d:4 b:10"},
			{ZRange{Start: 0, Stop: 1, Rev: true}, "b:10 d:4"},
			{ZRange{By: ByScore, Min: ScoreBound{Score: 1, Exclusive: true}, Max: ScoreBound{Score: 10}, Rev: true}, "b:10 d:4 e:2.5"},
			{ZRange{By: ByLex, LexMin: LexBound{Inf: -1}, LexMax: LexBound{Member: []byte("c")}}, "a:1 a0:1 b:10"},
		} {
			got, err := z.Range(c.r)
			if err != nil || showZ(got) != c.want {
				t.Errorf("in tx %+v: %s %v, want %s", c.r, showZ(got), err, c.want)
			}
		}
		if r, _, err := z.Rank([]byte("e"), false); r != 2 || err != nil {
			t.Errorf("rank of e in tx: %d %v", r, err)
		}
		if n, err := z.Card(); n != 5 || err != nil {
			t.Errorf("card in tx: %d %v", n, err)
		}
		popped, err := z.PopMin(1)
		if err != nil || showZ(popped) != "a:1" {
			t.Errorf("popmin in tx: %s %v", showZ(popped), err)
		}
		return err
	})
	testutil.Must(t, err)
	got, err := db.ZSet([]byte("z")).Range(ZRange{Start: 0, Stop: -1})
	if err != nil || showZ(got) != "a0:1 e:2.5 d:4 b:10" {
		t.Fatalf("after commit: %s %v", showZ(got), err)
	}
	mustCheck(t, db)

	tx, err := db.Begin(true)
	testutil.Must(t, err)
	if _, err := tx.ZSet([]byte("z")).Score([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tx.ZSet([]byte("other")).Add(ZAddOptions{}, zm("x", 1)); err != nil {
		t.Fatal(err)
	}
	_, _, err = db.ZSet([]byte("z")).IncrBy([]byte("zz"), 1, ZAddOptions{})
	testutil.Must(t, err)
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit after a concurrent write of a read sorted set: %v", err)
	}
	// A read-only view refuses writes.
	err = db.ZSet([]byte("z")).View(func(v *ZSetView) error {
		_, _, err := v.Add(ZAddOptions{}, zm("x", 1))
		return err
	})
	if !errors.Is(err, ErrTxReadOnly) {
		t.Fatalf("add in a view: %v", err)
	}
}

// Deleting, overwriting, expiring or emptying a large sorted set drops its
// members and score index with range deletions in the deleting batch; a
// small one's go one by one. Either way nothing of it remains, and a new
// sorted set under the key starts empty.
func TestZSet_DropLarge(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	for _, n := range []int{3, pointDropMax + 50} {
		for _, how := range []string{"delete", "string", "batch", "expire", "remove all", "pop all"} {
			t.Run(fmt.Sprint(n, how), func(t *testing.T) {
				z := db.ZSet([]byte("z"))
				var ms []ZMember
				for i := range n {
					ms = append(ms, zm(fmt.Sprintf("m%04d", i), float64(i%7)))
				}
				_, _, err := z.Add(ZAddOptions{}, ms...)
				testutil.Must(t, err)
				if r := mustCheck(t, db); r.ScoreEntries != int64(n) {
					t.Fatalf("score entries %d", r.ScoreEntries)
				}
				drops := db.Stats().CollectionRangeDrops
				switch how {
				case "delete":
					_, err = db.Delete([]byte("z"))
				case "string":
					err = db.Set([]byte("z"), []byte("s"), 0)
				case "batch":
					bt := db.NewBatch()
					testutil.Must(t, bt.Set([]byte("z"), []byte("s"), 0))
					testutil.Must(t, bt.Set([]byte("other"), []byte("o"), 0))
					err = bt.Commit()
				case "expire":
					testutil.Must(t, db.Expire([]byte("z"), time.Second))
					clk.Advance(time.Second)
					_, err = db.expireDue(nil)
				case "remove all":
					_, err = z.RemoveRange(ZRange{By: ByScore, Min: ScoreBound{Score: -inf}, Max: ScoreBound{Score: inf}})
				case "pop all":
					_, err = z.PopMax(n + 1)
				}
				testutil.Must(t, err)
				if got, want := db.Stats().CollectionRangeDrops-drops, uint64(n/(pointDropMax+1)); got != want {
					t.Fatalf("range drops %d, want %d", got, want)
				}
				if r := mustCheck(t, db); r.ScoreEntries != 0 {
					t.Fatalf("score entries %d after the drop", r.ScoreEntries)
				}
				_, _ = db.Delete([]byte("z"))
				_, _, err = z.Add(ZAddOptions{}, zm("new", 1))
				testutil.Must(t, err)
				if got, err := z.Range(ZRange{Start: 0, Stop: -1}); err != nil || showZ(got) != "new:1" {
					t.Fatalf("recreated: %s %v", showZ(got), err)
				}
				_, err = db.Delete([]byte("z"))
				testutil.Must(t, err)
			})
		}
	}
	// FLUSHDB's range deletions cover the score index.
	_, _, err := db.ZSet([]byte("\x05z")).Add(ZAddOptions{}, zm("a", 1), zm("b", 2))
	testutil.Must(t, err)
	_, err = db.DropNamespace(5)
	testutil.Must(t, err)
	if r := mustCheck(t, db); r.ScoreEntries != 0 {
		t.Fatalf("score entries %d after the namespace drop", r.ScoreEntries)
	}
}

// Ranks are found from the nearer end; windows of ranks near either end,
// forward and reverse, come out in order.
func TestZSet_RankWindows(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	z := db.ZSet([]byte("z"))
	const n = 300
	var ms []ZMember
	for i := range n {
		ms = append(ms, zm(fmt.Sprintf("m%03d", i), float64(i/3)))
	}
	_, _, err := z.Add(ZAddOptions{}, ms...)
	testutil.Must(t, err)
	for _, i := range []int{0, 1, 149, 150, 298, 299} {
		r, _, err := z.Rank(ms[i].Member, false)
		if err != nil || r != int64(i) {
			t.Fatalf("rank of %s: %d %v", ms[i].Member, r, err)
		}
		r, _, err = z.Rank(ms[i].Member, true)
		if err != nil || r != int64(n-1-i) {
			t.Fatalf("revrank of %s: %d %v", ms[i].Member, r, err)
		}
	}
	for _, w := range [][2]int64{{0, 2}, {5, 9}, {290, 299}, {-3, -1}, {150, 1000}, {-1000, 1}, {10, 5}} {
		for _, rev := range []bool{false, true} {
			got, err := z.Range(ZRange{Start: w[0], Stop: w[1], Rev: rev})
			testutil.Must(t, err)
			want := modelRanks(ms, w[0], w[1], rev)
			if showZ(got) != showZ(want) {
				t.Fatalf("ranks %v rev %v: %s, want %s", w, rev, showZ(got), showZ(want))
			}
		}
	}
}

// modelRanks is ranks start..stop of the sorted members ms.
func modelRanks(ms []ZMember, start, stop int64, rev bool) []ZMember {
	start, stop, ok := rankWindow(start, stop, int64(len(ms)))
	if !ok {
		return nil
	}
	src := ms
	if rev {
		src = slices.Clone(ms)
		slices.Reverse(src)
	}
	return src[start : stop+1]
}

func TestZSet_BackupRoundTrip(t *testing.T) {
	db, clk := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	z := db.ZSet([]byte("z"))
	_, _, err := z.Add(ZAddOptions{}, zm("a", -inf), zm("b", 0.1), zm("c", 0.1), zm("d", inf), zm("e", math.Copysign(0, -1)))
	testutil.Must(t, err)
	testutil.Must(t, db.Expire([]byte("z"), time.Hour))
	var big []ZMember
	for i := range 300 {
		big = append(big, zm(fmt.Sprint("m", i), float64(300-i)))
	}
	_, _, err = db.ZSet([]byte("big")).Add(ZAddOptions{}, big...)
	testutil.Must(t, err)
	var buf bytes.Buffer
	_, err = db.Backup(&buf)
	testutil.Must(t, err)
	dir := t.TempDir() + "/restored"
	info, err := Restore(&buf, dir, &RestoreOptions{Options: &Options{Clock: clk}})
	testutil.Must(t, err)
	if info.Keys != 2 || info.Backup.Version != backupfmt.Version {
		t.Fatalf("restored %d keys from a version %d backup", info.Keys, info.Backup.Version)
	}
	rdb, err := Open(dir, &Options{Clock: clk, ExpiryInterval: time.Hour})
	testutil.Must(t, err)
	defer rdb.Close()
	for _, k := range []string{"z", "big"} {
		want, err := db.ZSet([]byte(k)).Range(ZRange{Start: 0, Stop: -1})
		testutil.Must(t, err)
		got, err := rdb.ZSet([]byte(k)).Range(ZRange{Start: 0, Stop: -1})
		if err != nil || showZ(got) != showZ(want) {
			t.Fatalf("%s restored as %s, want %s", k, showZ(got), showZ(want))
		}
		// The restored score index answers ranges by score.
		got, err = rdb.ZSet([]byte(k)).Range(ZRange{By: ByScore, Min: ScoreBound{Score: 0}, Max: ScoreBound{Score: 2}})
		testutil.Must(t, err)
		want, err = db.ZSet([]byte(k)).Range(ZRange{By: ByScore, Min: ScoreBound{Score: 0}, Max: ScoreBound{Score: 2}})
		if err != nil || showZ(got) != showZ(want) {
			t.Fatalf("%s by score: %s, want %s", k, showZ(got), showZ(want))
		}
	}
	if md, err := rdb.Metadata([]byte("z")); err != nil || md.Type != TypeZSet || md.ExpiresAt.IsZero() {
		t.Fatalf("restored metadata %+v %v", md, err)
	}
	if r := mustCheck(t, rdb); r.ScoreEntries != 305 {
		t.Fatalf("restored score entries %d", r.ScoreEntries)
	}
	if s, rs := db.Stats(), rdb.Stats(); s.LiveBytes != rs.LiveBytes || rs.Keys != 2 {
		t.Fatalf("live bytes %d, restored %d", s.LiveBytes, rs.LiveBytes)
	}
}

// A follower that applies the leader's batches holds the same sorted sets,
// score index included, and answers ranges from them.
func TestReplicated_ZSet(t *testing.T) {
	clk := testutil.NewClock()
	repl := &logReplicator{isLeader: true}
	leader, err := Open(t.TempDir(), &Options{Clock: clk, Replicator: repl, ExpiryInterval: time.Hour})
	testutil.Must(t, err)
	defer leader.Close()
	follower, err := Open(t.TempDir(), &Options{Clock: clk, Replicator: followerRepl{}, ExpiryInterval: time.Hour})
	testutil.Must(t, err)
	defer follower.Close()
	repl.leader, repl.followers = leader, []*DB{follower}

	z := leader.ZSet([]byte("z"))
	_, _, err = z.Add(ZAddOptions{}, zm("a", 1), zm("b", 2), zm("c", 3))
	testutil.Must(t, err)
	if got, err := follower.ZSet([]byte("z")).Range(ZRange{Start: 0, Stop: -1}); err != nil || showZ(got) != "a:1 b:2 c:3" {
		t.Fatalf("follower: %s %v", showZ(got), err)
	}
	_, _, err = z.IncrBy([]byte("a"), 5, ZAddOptions{})
	testutil.Must(t, err)
	_, err = z.PopMax(1)
	testutil.Must(t, err)
	var big []ZMember
	for i := range 200 {
		big = append(big, zm(fmt.Sprint("m", i), float64(i)))
	}
	_, _, err = leader.ZSet([]byte("big")).Add(ZAddOptions{}, big...)
	testutil.Must(t, err)
	_, err = leader.Delete([]byte("big"))
	testutil.Must(t, err)
	got, err := follower.ZSet([]byte("z")).Range(ZRange{By: ByScore, Min: ScoreBound{Score: -inf}, Max: ScoreBound{Score: inf}})
	if err != nil || showZ(got) != "b:2 c:3" {
		t.Fatalf("follower after changes: %s %v", showZ(got), err)
	}
	if r := mustCheck(t, follower); r.ScoreEntries != 2 {
		t.Fatalf("follower score entries %d", r.ScoreEntries)
	}
	if _, _, err := follower.ZSet([]byte("z")).Add(ZAddOptions{}, zm("x", 1)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a write on the follower: %v", err)
	}
}

// zmodel is a sorted set as the model test keeps it.
type zmodel struct {
	members map[string]float64
	exp     int64 // the key's deadline (Unix ms), 0 none
}

func (m *zmodel) sorted() []ZMember {
	out := make([]ZMember, 0, len(m.members))
	for k, s := range m.members {
		out = append(out, zm(k, s))
	}
	slices.SortFunc(out, func(a, b ZMember) int {
		return cmp.Or(cmp.Compare(a.Score, b.Score), bytes.Compare(a.Member, b.Member))
	})
	return out
}

// selectModel returns the members of ms (sorted) that r selects, in r's
// order.
func selectModel(ms []ZMember, r ZRange) []ZMember {
	if r.By == ByRank {
		return modelRanks(ms, r.Start, r.Stop, r.Rev)
	}
	var out []ZMember
	for _, m := range ms {
		var in bool
		if r.By == ByScore {
			in = (m.Score > r.Min.Score || (!r.Min.Exclusive && m.Score == r.Min.Score)) &&
				(m.Score < r.Max.Score || (!r.Max.Exclusive && m.Score == r.Max.Score))
		} else {
			in = lexAbove(m.Member, r.LexMin) && lexBelow(m.Member, r.LexMax)
		}
		if in {
			out = append(out, m)
		}
	}
	if r.By == ByLex { // lex order, whatever the scores
		slices.SortFunc(out, func(a, b ZMember) int { return bytes.Compare(a.Member, b.Member) })
	}
	if r.Rev {
		slices.Reverse(out)
	}
	if r.Offset < 0 {
		return nil
	}
	out = out[min(int(r.Offset), len(out)):]
	if r.Count > 0 {
		out = out[:min(int(r.Count), len(out))]
	}
	return out
}

func lexAbove(m []byte, b LexBound) bool {
	switch {
	case b.Inf != 0:
		return b.Inf < 0
	case b.Exclusive:
		return bytes.Compare(m, b.Member) > 0
	}
	return bytes.Compare(m, b.Member) >= 0
}

func lexBelow(m []byte, b LexBound) bool {
	switch {
	case b.Inf != 0:
		return b.Inf > 0
	case b.Exclusive:
		return bytes.Compare(m, b.Member) < 0
	}
	return bytes.Compare(m, b.Member) <= 0
}

// TestZSet_Model runs random operations against the DB and a model (a map
// per key, sorted on demand): adds with every option, increments, removals,
// ranges of every kind, pops, range removals, key deadlines on the manual
// clock with sweeps, transactions, and power losses and reopens, checking
// the whole state and Check regularly. EPOCH_ZSET_SEED varies the seed.
func TestZSet_Model(t *testing.T) {
	seed := uint64(1)
	if s := os.Getenv("EPOCH_ZSET_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		testutil.Must(t, err)
		seed = n
	}
	t.Logf("seed %d (set EPOCH_ZSET_SEED to vary)", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	fs := vfs.NewCrashableMem()
	clk := testutil.NewClock()
	opts := Options{Clock: clk, ExpiryInterval: time.Hour, SyncWrites: true}
	db := openCrashable(t, fs, opts)
	defer func() { _ = db.Close() }()

	keys := []string{"a", "b", "c\x00"}
	members := []string{"", "m1", "m2", "m\x00", "m3", "x", "y", "zz"}
	scores := []float64{-inf, -2.5, -1, 0, 0, 1, 1, 1, 2, 3.5, 1e300, inf}
	model := map[string]*zmodel{}
	now := func() int64 { return clk.Now().UnixMilli() }
	live := func(k string) *zmodel {
		e := model[k]
		if e == nil || (e.exp != 0 && now() >= e.exp) || len(e.members) == 0 {
			return nil
		}
		return e
	}
	ensure := func(k string) *zmodel {
		if e := live(k); e != nil {
			return e
		}
		e := &zmodel{members: map[string]float64{}}
		model[k] = e
		return e
	}
	randRange := func() ZRange {
		r := ZRange{By: ZRangeBy(rng.IntN(3)), Rev: rng.IntN(2) == 0}
		switch r.By {
		case ByRank:
			r.Start, r.Stop = int64(rng.IntN(12)-6), int64(rng.IntN(12)-6)
		case ByScore:
			r.Min = ScoreBound{Score: scores[rng.IntN(len(scores))], Exclusive: rng.IntN(3) == 0}
			r.Max = ScoreBound{Score: scores[rng.IntN(len(scores))], Exclusive: rng.IntN(3) == 0}
		case ByLex:
			bound := func() LexBound {
				if rng.IntN(5) == 0 {
					return LexBound{Inf: rng.IntN(2)*2 - 1}
				}
				return LexBound{Member: []byte(members[rng.IntN(len(members))]), Exclusive: rng.IntN(2) == 0}
			}
			r.LexMin, r.LexMax = bound(), bound()
		}
		if r.By != ByRank && rng.IntN(3) == 0 {
			r.Offset, r.Count = int64(rng.IntN(4)-1), int64(rng.IntN(4))
		}
		return r
	}
	verify := func(step int) {
		t.Helper()
		for _, k := range keys {
			want := []ZMember(nil)
			if e := live(k); e != nil {
				want = e.sorted()
			}
			got, err := db.ZSet([]byte(k)).Range(ZRange{Start: 0, Stop: -1})
			if err != nil || showZ(got) != showZ(want) {
				t.Fatalf("step %d: %q is %s (%v), want %s", step, k, showZ(got), err, showZ(want))
			}
			if n, err := db.ZSet([]byte(k)).Card(); err != nil || n != int64(len(want)) {
				t.Fatalf("step %d: %q card %d %v", step, k, n, err)
			}
		}
		r := mustCheck(t, db)
		n := 0
		for _, k := range keys {
			if e := live(k); e != nil {
				n += len(e.members)
			}
		}
		if r.ScoreEntries < int64(n) {
			t.Fatalf("step %d: %d score entries for %d members", step, r.ScoreEntries, n)
		}
	}
	// apply runs one random operation on z (a DB's or a transaction's
	// handle) and on the model entry of k, checking what it returns.
	apply := func(step int, z *ZSet, k string) error {
		m := []byte(members[rng.IntN(len(members))])
		score := scores[rng.IntN(len(scores))]
		e := live(k)
		var sorted []ZMember
		if e != nil {
			sorted = e.sorted()
		}
		switch op := rng.IntN(9); op {
		case 0, 1: // Add with options
			var o ZAddOptions
			switch rng.IntN(6) {
			case 1:
				o.NX = true
			case 2:
				o.XX = true
			case 3:
				o.GT = true
			case 4:
				o.LT, o.XX = true, rng.IntN(2) == 0
			}
			m2 := []byte(members[rng.IntN(len(members))])
			s2 := scores[rng.IntN(len(scores))]
			added, changed, err := z.Add(o, ZMember{Member: m, Score: score}, ZMember{Member: m2, Score: s2})
			if err != nil {
				return err
			}
			wantAdded, wantChanged := 0, 0
			for _, x := range []ZMember{{m, score}, {m2, s2}} {
				var cur float64
				ok := false
				if e != nil {
					cur, ok = e.members[string(x.Member)]
				}
				switch {
				case !ok && !o.XX:
					e = ensure(k)
					e.members[string(x.Member)] = x.Score
					wantAdded++
				case ok && !o.NX && !(o.GT && x.Score <= cur) && !(o.LT && x.Score >= cur) && x.Score != cur:
					e.members[string(x.Member)] = x.Score
					wantChanged++
				}
			}
			if added != wantAdded || changed != wantChanged {
				t.Fatalf("step %d: add %+v %q %v %q %v = %d %d, want %d %d", step, o, m, score, m2, s2, added, changed, wantAdded, wantChanged)
			}
		case 2: // IncrBy
			o := ZAddOptions{GT: rng.IntN(4) == 0}
			got, done, err := z.IncrBy(m, score, o)
			var cur float64
			ok := false
			if e != nil {
				cur, ok = e.members[string(m)]
			}
			sum := cur + score
			switch {
			case math.IsNaN(sum):
				if !errors.Is(err, ErrNaNScore) {
					t.Fatalf("step %d: incr to NaN: %v", step, err)
				}
			case err != nil:
				return err
			case ok && o.GT && sum <= cur:
				if done {
					t.Fatalf("step %d: incr GT done from %v by %v", step, cur, score)
				}
			default:
				if !done || got != sum {
					t.Fatalf("step %d: incr %q from %v by %v = %v %v", step, m, cur, score, got, done)
				}
				ensure(k).members[string(m)] = sum
			}
		case 3: // Remove
			n, err := z.Remove(m)
			if err != nil {
				return err
			}
			want := 0
			if e != nil {
				if _, ok := e.members[string(m)]; ok {
					want = 1
					delete(e.members, string(m))
				}
			}
			if n != want {
				t.Fatalf("step %d: remove %q = %d, want %d", step, m, n, want)
			}
		case 4, 5: // a range, a count and a rank
			r := randRange()
			got, err := z.Range(r)
			if err != nil {
				return err
			}
			if want := selectModel(sorted, r); showZ(got) != showZ(want) {
				t.Fatalf("step %d: range %+v = %s, want %s (of %s)", step, r, showZ(got), showZ(want), showZ(sorted))
			}
			r.Offset, r.Count = 0, 0
			if r.By == ByScore {
				n, err := z.Count(r.Min, r.Max)
				if err != nil || n != int64(len(selectModel(sorted, r))) {
					t.Fatalf("step %d: count %+v = %d %v", step, r, n, err)
				}
			}
			rank, sc, err := z.Rank(m, r.Rev)
			i := slices.IndexFunc(sorted, func(x ZMember) bool { return bytes.Equal(x.Member, m) })
			switch {
			case i < 0 && !errors.Is(err, ErrNotFound):
				t.Fatalf("step %d: rank of missing %q: %v", step, m, err)
			case i >= 0 && r.Rev:
				i = len(sorted) - 1 - i
				fallthrough
			case i >= 0:
				if err != nil || rank != int64(i) || sc != e.members[string(m)] {
					t.Fatalf("step %d: rank of %q = %d %v %v, want %d", step, m, rank, sc, err, i)
				}
			}
		case 6: // RemoveRange
			r := randRange()
			r.Offset, r.Count = 0, 0
			n, err := z.RemoveRange(r)
			if err != nil {
				return err
			}
			want := selectModel(sorted, r)
			for _, x := range want {
				delete(e.members, string(x.Member))
			}
			if n != int64(len(want)) {
				t.Fatalf("step %d: remove range %+v = %d, want %d", step, r, n, len(want))
			}
		case 7: // PopMin, PopMax
			count, top := rng.IntN(4), rng.IntN(2) == 0
			var want []ZMember
			if count > 0 {
				want = modelRanks(sorted, 0, int64(count)-1, top)
			}
			pop := z.PopMin
			if top {
				pop = z.PopMax
			}
			got, err := pop(count)
			if err != nil {
				return err
			}
			if showZ(got) != showZ(want) {
				t.Fatalf("step %d: pop %d (max %v) = %s, want %s", step, count, top, showZ(got), showZ(want))
			}
			for _, x := range want {
				delete(e.members, string(x.Member))
			}
		case 8: // Scan in member order
			var got []string
			err := z.Scan(nil, func(x ZMember) bool { got = append(got, string(x.Member)); return true })
			if err != nil {
				return err
			}
			var want []string
			for _, x := range sorted {
				want = append(want, string(x.Member))
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: scan %q, want %q", step, got, want)
			}
		}
		return nil
	}
	for step := range 1500 {
		k := keys[rng.IntN(len(keys))]
		switch op := rng.IntN(20); {
		case op < 12:
			testutil.Must(t, apply(step, db.ZSet([]byte(k)), k))
		case op == 12: // a transaction of a few operations on two keys
			saved := map[string]*zmodel{}
			for key, e := range model {
				c := *e
				c.members = maps.Clone(e.members)
				saved[key] = &c
			}
			k2 := keys[rng.IntN(len(keys))]
			abort := rng.IntN(4) == 0
			err := db.Update(func(tx *Tx) error {
				for i := range 4 {
					kk := k
					if i%2 == 1 {
						kk = k2
					}
					if err := apply(step, tx.ZSet([]byte(kk)), kk); err != nil {
						return err
					}
				}
				if abort {
					return errors.New("abort")
				}
				return nil
			})
			if abort {
				model = saved
			} else {
				testutil.Must(t, err)
			}
		case op == 13:
			_, err := db.Delete([]byte(k))
			testutil.Must(t, err)
			delete(model, k)
		case op == 14: // key deadline
			if e := live(k); e != nil {
				d := time.Duration(1+rng.IntN(3000)) * time.Millisecond
				testutil.Must(t, db.Expire([]byte(k), d))
				e.exp = ceilMs(clk.Now().Add(d))
			}
		case op == 15: // time passes, sometimes with a sweep
			clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
			if rng.IntN(2) == 0 {
				_, err := db.expireDue(nil)
				testutil.Must(t, err)
			}
		case op == 16: // another type takes the key over, and goes
			testutil.Must(t, db.Set([]byte(k), []byte("s"), 0))
			if _, err := db.ZSet([]byte(k)).Card(); !errors.Is(err, ErrWrongType) {
				t.Fatalf("step %d: card of a string: %v", step, err)
			}
			_, err := db.Delete([]byte(k))
			testutil.Must(t, err)
			delete(model, k)
		case op == 17: // a big add, so that drops go by range
			var ms []ZMember
			for i := range pointDropMax + 10 {
				ms = append(ms, zm(fmt.Sprint("big", i), float64(rng.IntN(5))))
			}
			if e := live(k); e == nil {
				_, _, err := db.ZSet([]byte(k)).Add(ZAddOptions{}, ms...)
				testutil.Must(t, err)
				e = ensure(k)
				for _, x := range ms {
					e.members[string(x.Member)] = x.Score
				}
			}
		case op == 18: // a power loss: every acknowledged write (SyncWrites) survives
			crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
			testutil.Must(t, db.Close())
			fs = crashed
			db = openCrashable(t, fs, opts)
		case op == 19: // a clean reopen
			testutil.Must(t, db.Close())
			db = openCrashable(t, fs, opts)
		}
		if step%50 == 0 {
			verify(step)
		}
	}
	verify(-1)
}

// Pops narrow the walks of the next pops to the live part of the score
// index; every other write that adds an entry outside those bounds (a
// plain add, a transaction, a recreated sorted set) widens them again, so
// that no member is ever missed.
func TestZSet_PopBounds(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour})
	z := db.ZSet([]byte("z"))
	var ms []ZMember
	for i := range 1000 {
		ms = append(ms, zm(fmt.Sprintf("m%04d", i), float64(i)))
	}
	_, _, err := z.Add(ZAddOptions{}, ms...)
	testutil.Must(t, err)
	pop := func(max bool, want string) {
		t.Helper()
		var got []ZMember
		var err error
		if max {
			got, err = z.PopMax(1)
		} else {
			got, err = z.PopMin(1)
		}
		if err != nil || showZ(got) != want {
			t.Fatalf("pop (max %v) = %s %v, want %s", max, showZ(got), err, want)
		}
	}
	for i := range 500 {
		pop(false, fmt.Sprintf("m%04d:%d", i, i))
	}
	pop(true, "m0999:999")
	if h := db.shardFor([]byte("z")).zhints["z"]; h.lo == nil || h.hi == nil {
		t.Fatalf("no bounds kept after pops: %+v", h)
	}
	_, _, err = z.Add(ZAddOptions{}, zm("low", -1))
	testutil.Must(t, err)
	pop(false, "low:-1")
	testutil.Must(t, db.Update(func(tx *Tx) error {
		_, _, err := tx.ZSet([]byte("z")).Add(ZAddOptions{}, zm("txlow", -2), zm("txhigh", 5000))
		return err
	}))
	pop(false, "txlow:-2")
	pop(true, "txhigh:5000")
	_, _, err = z.IncrBy([]byte("m0700"), -1000, ZAddOptions{})
	testutil.Must(t, err)
	pop(false, "m0700:-300")
	pop(false, "m0500:500")
	// A sorted set deleted and created again starts without bounds.
	_, err = db.Delete([]byte("z"))
	testutil.Must(t, err)
	_, _, err = z.Add(ZAddOptions{}, zm("a", 1), zm("b", 2))
	testutil.Must(t, err)
	pop(false, "a:1")
	pop(true, "b:2")
	mustCheck(t, db)
}

// A read of a sorted set is an access of the key (as a hash's); a write is
// not. Its members and scores count toward MaxDiskBytes, and a write that
// would grow the store over it fails with ErrFull under NoEviction.
func TestZSet_AccessesAndBudget(t *testing.T) {
	db, _ := mustOpen(t, &Options{ExpiryInterval: time.Hour, MaxDiskBytes: 4096})
	z := db.ZSet([]byte("z"))
	_, _, err := z.Add(ZAddOptions{}, zm("a", 1), zm("b", 2))
	testutil.Must(t, err)
	_, err = z.Score([]byte("a"))
	testutil.Must(t, err)
	_, err = z.Range(ZRange{Start: 0, Stop: -1})
	testutil.Must(t, err)
	_, _, err = z.Rank([]byte("b"), true)
	testutil.Must(t, err)
	md, err := db.Metadata([]byte("z"))
	if err != nil || md.Frequency != 3 {
		t.Fatalf("frequency after three reads: %d %v", md.Frequency, err)
	}
	// the key, the collection header, and each member with its 8-byte
	// score
	want := int64(len("z") + 24 + 2*(1+8))
	if s := db.Stats(); s.LiveBytes != want {
		t.Fatalf("live bytes %d, want %d", s.LiveBytes, want)
	}
	var big []ZMember
	for i := range 400 {
		big = append(big, zm(fmt.Sprintf("member-%04d", i), float64(i)))
	}
	if _, _, err := z.Add(ZAddOptions{}, big...); !errors.Is(err, ErrFull) {
		t.Fatalf("an add over the budget: %v, want ErrFull", err)
	}
	if n, err := z.Card(); err != nil || n != 2 {
		t.Fatalf("card after a refused add: %d %v", n, err)
	}
	mustCheck(t, db)
}
