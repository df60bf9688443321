package server

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// The differential test's list cases: the non-blocking list commands (and
// the blocking ones where they do not block) against redis-server, byte
// for byte. OBJECT ENCODING is left out: Redis 7.0 reports every list as
// quicklist.

var diffListCases = []string{
	// SORT over lists, and SORT … STORE (a list).
	`RPUSH l 3 1 2 10
	SORT l
	SORT l DESC
	SORT l ALPHA
	SORT l LIMIT 1 2
	SORT l BY nosort
	SORT l BY nosort DESC
	SET w_1 30
	SET w_2 20
	SORT l BY w_*
	SORT l BY w_* GET # GET w_*
	SORT l STORE d
	LRANGE d 0 -1
	SORT l BY w_* GET w_* STORE d2
	LRANGE d2 0 -1
	SORT nokey STORE d
	EXISTS d
	RPUSH x a b
	SORT x
	SORT x ALPHA STORE x
	LRANGE x 0 -1
	SORT_RO l DESC`,
	`RPUSH l a b c
	LPUSH l z y
	LRANGE l 0 -1
	LRANGE l -2 100
	LRANGE l 3 1
	LRANGE l -100 -50
	LRANGE l 9223372036854775807 -9223372036854775808
	LRANGE l x 1
	LRANGE nokey 0 -1
	LLEN l
	LLEN nokey
	LINDEX l 0
	LINDEX l -1
	LINDEX l -6
	LINDEX l 5
	LINDEX l x
	LINDEX nokey x
	LPUSHX nokey a
	RPUSHX l d e
	LPUSHX l w
	TYPE l
	LRANGE l 0 -1`,
	`RPUSH l a b c
	LSET l 1 B
	LSET l -1 C
	LSET l 3 x
	LSET l -4 x
	LSET nokey 0 x
	LSET nokey x x
	LSET l x x
	LINSERT l BEFORE a p
	LINSERT l AFTER C q
	LINSERT l after B r
	LINSERT l BEFORE nope x
	LINSERT nokey BEFORE a x
	LINSERT l MIDDLE a x
	LRANGE l 0 -1`,
	`RPUSH l a b c 1 2 3 c c
	LPOS l c
	LPOS l c RANK 2
	LPOS l c RANK -1
	LPOS l c RANK -3 COUNT 2
	LPOS l c COUNT 0
	LPOS l c COUNT 2
	LPOS l c MAXLEN 3
	LPOS l c RANK -1 MAXLEN 2 COUNT 0
	LPOS l c RANK 4
	LPOS l c RANK 4 COUNT 0
	LPOS l c RANK 0
	LPOS l c COUNT -1
	LPOS l c MAXLEN -1
	LPOS l c RANK x
	LPOS l c FOO 1
	LPOS l c RANK
	LPOS nokey c
	LPOS nokey c COUNT 1
	LPOS l nope COUNT 3`,
	`RPUSH l x a x b x c x
	LREM l 2 x
	LRANGE l 0 -1
	LREM l -1 x
	LRANGE l 0 -1
	LREM l 0 x
	LRANGE l 0 -1
	LREM l 0 nope
	LREM l x a
	LREM nokey 1 a
	LREM l 0 a
	LREM l 0 b
	LREM l 0 c
	EXISTS l`,
	`RPUSH l a b c d e
	LTRIM l 1 -2
	LRANGE l 0 -1
	LTRIM l -100 100
	LRANGE l 0 -1
	LTRIM l x 1
	LTRIM nokey 0 1
	LTRIM l 2 1
	EXISTS l`,
	`RPUSH l a b c d e
	LPOP l
	RPOP l
	LPOP l 2
	RPOP l 0
	LPOP l 10
	LPOP l
	LPOP l 2
	LPOP l 0
	RPOP nokey
	LPOP l -1
	LPOP l x
	LPOP l 1 2
	EXISTS l`,
	`RPUSH a 1 2 3
	LMOVE a b LEFT RIGHT
	LMOVE a b RIGHT LEFT
	LMOVE a a LEFT RIGHT
	LRANGE a 0 -1
	LRANGE b 0 -1
	RPOPLPUSH a b
	RPOPLPUSH a b
	EXISTS a
	LMOVE a b LEFT LEFT
	LMOVE b b UP LEFT
	SET s v
	LMOVE b s LEFT LEFT
	LMOVE s b LEFT LEFT
	LMOVE nokey s LEFT LEFT
	RPOPLPUSH b s
	LRANGE b 0 -1`,
	`RPUSH a 1 2 3
	LMPOP 2 nokey a LEFT
	LMPOP 2 nokey a RIGHT COUNT 10
	LMPOP 1 a LEFT
	LMPOP 0 a LEFT
	LMPOP -1 a LEFT
	LMPOP x a LEFT
	LMPOP 1 a MIDDLE
	LMPOP 2 a LEFT
	LMPOP 1 a LEFT COUNT 0
	LMPOP 1 a LEFT COUNT x
	LMPOP 1 a LEFT COUNT 1 COUNT 2
	LMPOP 1 a LEFT FOO
	SET s v
	RPUSH b 1
	LMPOP 2 s b LEFT
	LMPOP 2 b s LEFT`,
	`SET s v
	LPUSH s a
	RPUSH s a
	LPUSHX s a
	LRANGE s 0 -1
	LLEN s
	LINDEX s 0
	LSET s 0 a
	LINSERT s BEFORE a b
	LPOS s a
	LREM s 0 a
	LTRIM s 0 1
	LPOP s
	RPOP s 0
	RPUSH l a
	GET l
	INCR l
	HSET l f v
	SADD l m`,
	// The blocking commands where they do not block: something to pop,
	// bad arguments, and inside MULTI.
	`RPUSH a 1 2 3
	BLPOP nokey a 0
	BRPOP a 0
	BLMOVE a b LEFT RIGHT 0
	BRPOPLPUSH b a 0
	BLMPOP 0 2 nokey a RIGHT COUNT 5
	BLPOP a x
	BLPOP a -1
	BLPOP a inf
	BLPOP a nan
	BLPOP a 1e400
	BLMPOP 0 0 a LEFT
	BLMPOP -1 1 a LEFT
	BLMPOP 0 1 a LEFT COUNT 0
	BLMOVE a b UP LEFT 0
	SET s v
	BLPOP nokey s 0
	BRPOPLPUSH s a 0
	MULTI
	BLPOP nokey 0
	BRPOP nokey 0
	BLMOVE nokey b LEFT LEFT 0
	BRPOPLPUSH nokey b 0
	BLMPOP 0 1 nokey LEFT
	RPUSH nokey x
	BLPOP nokey 0
	EXEC`,
	`RPUSH a 1 2 3
	MULTI
	LPUSH a 0
	LPOP a 2
	LMOVE a b LEFT RIGHT
	LRANGE a 0 -1
	LRANGE b 0 -1
	EXEC
	RPUSH r 1 2
	RENAME r r2
	LRANGE r2 0 -1
	COPY r2 r3
	LRANGE r3 0 -1
	MOVE r3 1
	SELECT 1
	LRANGE r3 0 -1
	DEL r3
	EXPIRE a 100
	TTL a
	PERSIST a
	TTL a`,
}

// diffBZPopCases are the blocking sorted set pops where they do not block.
var diffBZPopCases = []string{
	`ZADD z 1 a 2 b 3 c 4 d 5 e
	BZPOPMIN nokey z 0
	BZPOPMAX z 0
	BZMPOP 0 2 nokey z MIN COUNT 2
	BZMPOP 0 1 z MAX COUNT 10
	EXISTS z
	ZADD z 1.5 a
	BZPOPMIN z x
	BZPOPMIN z -1
	BZPOPMIN z inf
	BZMPOP 0 0 z MIN
	BZMPOP 0 1 z MIDDLE
	BZMPOP 0 1 z MIN COUNT 0
	BZMPOP -1 1 z MIN
	BZMPOP 0 2 z MIN
	SET s v
	BZPOPMIN s 0
	BZMPOP 0 1 s MIN
	MULTI
	BZPOPMIN nokey 0
	BZMPOP 0 1 nokey MAX
	BZPOPMAX z 0
	EXEC
	ZMPOP 1 nokey MIN
	ZMPOP 0 z MIN`,
}

// genListCommands generates random list commands over the differential
// test's keys.
func genListCommands() []genCmd {
	k := func(r *rand.Rand) string { return pick(r, genKeys) }
	v := func(r *rand.Rand) string { return pick(r, []string{"x", "y", "z", "", "1"}) }
	i := func(r *rand.Rand) string { return strconv.Itoa(r.IntN(12) - 6) }
	end := func(r *rand.Rand) string { return pick(r, []string{"LEFT", "RIGHT"}) }
	return []genCmd{
		func(r *rand.Rand) []string {
			a := []string{pick(r, []string{"LPUSH", "RPUSH", "LPUSHX", "RPUSHX"}), k(r)}
			for range 1 + r.IntN(3) {
				a = append(a, v(r))
			}
			return a
		},
		func(r *rand.Rand) []string {
			a := []string{pick(r, []string{"LPOP", "RPOP"}), k(r)}
			if r.IntN(2) == 0 {
				a = append(a, pick(r, []string{"0", "1", "2", "5", "-1"}))
			}
			return a
		},
		func(r *rand.Rand) []string { return []string{"LLEN", k(r)} },
		func(r *rand.Rand) []string { return []string{"LRANGE", k(r), i(r), i(r)} },
		func(r *rand.Rand) []string { return []string{"LINDEX", k(r), i(r)} },
		func(r *rand.Rand) []string { return []string{"LSET", k(r), i(r), v(r)} },
		func(r *rand.Rand) []string {
			return []string{"LINSERT", k(r), pick(r, []string{"BEFORE", "AFTER"}), v(r), v(r)}
		},
		func(r *rand.Rand) []string { return []string{"LREM", k(r), i(r), v(r)} },
		func(r *rand.Rand) []string { return []string{"LTRIM", k(r), i(r), i(r)} },
		func(r *rand.Rand) []string {
			a := []string{"LPOS", k(r), v(r)}
			if r.IntN(2) == 0 {
				a = append(a, "RANK", pick(r, []string{"1", "2", "-1", "-2"}))
			}
			if r.IntN(2) == 0 {
				a = append(a, "COUNT", pick(r, []string{"0", "1", "2"}))
			}
			if r.IntN(3) == 0 {
				a = append(a, "MAXLEN", pick(r, []string{"0", "1", "3"}))
			}
			return a
		},
		func(r *rand.Rand) []string { return []string{"LMOVE", k(r), k(r), end(r), end(r)} },
		func(r *rand.Rand) []string { return []string{"RPOPLPUSH", k(r), k(r)} },
		func(r *rand.Rand) []string {
			a := []string{"LMPOP", "2", k(r), k(r), end(r)}
			if r.IntN(2) == 0 {
				a = append(a, "COUNT", pick(r, []string{"1", "3"}))
			}
			return a
		},
		func(r *rand.Rand) []string { return []string{pick(r, []string{"BLPOP", "BRPOP"}), k(r), k(r), "0.01"} },
		func(r *rand.Rand) []string { return []string{"SET", k(r), v(r)} },
		func(r *rand.Rand) []string { return []string{"DEL", k(r)} },
		func(r *rand.Rand) []string { return []string{"TYPE", k(r)} },
		func(r *rand.Rand) []string { return []string{pick(r, []string{"MULTI", "EXEC"})} },
	}
}

// genListSequence returns n random list commands, then the lists' final
// contents.
func genListSequence(r *rand.Rand, n int) [][][]byte {
	gens := genListCommands()
	cmds := make([][][]byte, 0, n+1+len(genKeys))
	for range n {
		strs := gens[r.IntN(len(gens))](r)
		args := make([][]byte, len(strs))
		for j, s := range strs {
			args[j] = []byte(s)
		}
		cmds = append(cmds, args)
	}
	cmds = append(cmds, [][]byte{[]byte("DISCARD")})
	for _, key := range genKeys {
		cmds = append(cmds, [][]byte{[]byte("LRANGE"), []byte(key), []byte("0"), []byte("-1")})
	}
	return cmds
}

func TestDifferentialRedis_Lists(t *testing.T) {
	env := startDiffEnv(t)
	t.Run("HandWritten", func(t *testing.T) { env.runCases(t, diffListCases) })
	t.Run("BlockingSortedSets", func(t *testing.T) { env.runCases(t, diffBZPopCases) })
	t.Run("BlockingSortedSetsRESP3", func(t *testing.T) { env.runCases(t, diffBZPopCases, hello(t, "3")) })
	t.Run("RESP3", func(t *testing.T) { env.runCases(t, diffListCases[:3], hello(t, "3")) })
	t.Run("Random", func(t *testing.T) { env.runRandom(t, genListSequence, 0x2545f4914f6cdd1d, 60, 40) })
}
