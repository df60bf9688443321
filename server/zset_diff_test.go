package server

import (
	"math/rand/v2"
	"testing"
)

// The differential test of the sorted set commands: hand-written sequences
// in RESP2 and RESP3 and random sequences over a few keys, against a real
// redis-server, byte for byte (see diff_test.go). Redis answers ZRANDMEMBER
// and ZSCAN of large sorted sets in an order of its own, so those appear
// only where the reply is determined (one member, a count above the size,
// a small sorted set).

var zsetDiffCases = []string{
	// ZADD and its options, ZINCRBY, ZSCORE, ZMSCORE, ZCARD.
	`ZADD z 1 a 2 b 3 c
	ZADD z 1 a 2 b 3 c
	ZADD z CH 1 a 5 b 3 c 0 d
	ZADD z NX 9 a 9 e
	ZADD z XX 9 a 9 f
	ZADD z XX CH 8 a 9 g
	ZADD z GT CH 1 a 10 b
	ZADD z LT CH 100 a 0 c
	ZADD z GT LT 1 a
	ZADD z NX GT 1 a
	ZADD z NX LT 1 a
	ZADD z NX XX 1 a
	ZADD z XX GT CH 100 a 100 nope
	ZADD z xx lt ch -1 a
	ZADD z INCR 1 a
	ZADD z INCR 1 a 2 b
	ZADD z INCR NX 1 a
	ZADD z INCR XX 1 nope
	ZADD z INCR GT -5 a
	ZADD z INCR LT -5 a
	ZADD z INCR 0 a
	ZADD z
	ZADD z 1
	ZADD z 1 a 2
	ZADD z FOO 1 a
	ZADD z 1 a INCR
	ZADD z CH
	ZADD z x a
	ZADD z nan a
	ZADD z 1 a x b
	ZRANGE z 0 -1 WITHSCORES
	ZCARD z
	ZCARD nokey
	ZSCORE z a
	ZSCORE z nope
	ZSCORE nokey a
	ZSCORE z
	ZMSCORE z a nope b
	ZMSCORE nokey a b
	ZMSCORE z
	ZINCRBY z 2.5 a
	ZINCRBY z 1 newm
	ZINCRBY z x a
	ZINCRBY z 1
	ZINCRBY z inf a
	ZINCRBY z -inf a
	ZADD z INCR -inf a
	ZSCORE z a`,
	// Score syntax and formatting: %.17g, inf, hex, exponents, limits.
	`ZADD s 0.1 a 0.2 b 1e20 c 1.5e-7 d 123456789012345678 e -0 f 3 g
	ZADD s 1e300 h 4.9e-324 i 0x10 j 0x1p3 k 0X1.8P1 l +inf m -INF n infinity o
	ZADD s 1e400 x
	ZADD s 1e-400 x
	ZADD s " 1" x
	ZADD s "1 " x
	ZADD s "" x
	ZADD s 1_0 x
	ZADD s 0x x
	ZADD s 1e x
	ZADD s .5 p 5. q -.5e1 r +7 t
	ZADD s 9007199254740993 u 0.30000000000000004 v
	ZRANGE s 0 -1 WITHSCORES
	ZSCORE s a
	ZINCRBY s 0.2 a
	ZINCRBY s 1e308 h
	ZINCRBY s 1e308 h
	ZMSCORE s m n o`,
	// ZREM, ZRANK, ZREVRANK, and a key emptied.
	`ZADD z 1 a 2 b 3 c 3 d
	ZRANK z a
	ZRANK z d
	ZREVRANK z a
	ZREVRANK z d
	ZRANK z nope
	ZRANK nokey a
	ZRANK z
	ZREM z a nope
	ZREM z
	ZREM nokey a
	ZRANK z b
	ZREM z b c d
	EXISTS z
	TYPE z`,
	// ZCOUNT, ZLEXCOUNT and their bounds.
	`ZADD z 0 a 1 b 2 c 3 d inf e -inf f
	ZCOUNT z -inf +inf
	ZCOUNT z 1 2
	ZCOUNT z (1 2
	ZCOUNT z (1 (2
	ZCOUNT z 2 1
	ZCOUNT z (1 (1
	ZCOUNT z 1 1
	ZCOUNT z "" ""
	ZCOUNT z ( 5
	ZCOUNT z " 1" 5
	ZCOUNT z "1 " 5
	ZCOUNT z 1e400 inf
	ZCOUNT z -1e400 1e-400
	ZCOUNT z "   " 5
	ZCOUNT z nan 5
	ZCOUNT z x 5
	ZCOUNT z 0x1 5
	ZCOUNT z ((1 2
	ZCOUNT z (-inf (inf
	ZCOUNT nokey 0 1
	ZCOUNT z 0
	ZADD l 0 a 0 b 0 c 0 d 0 e
	ZLEXCOUNT l - +
	ZLEXCOUNT l [b [d
	ZLEXCOUNT l (b (d
	ZLEXCOUNT l (b [d
	ZLEXCOUNT l + -
	ZLEXCOUNT l [d [b
	ZLEXCOUNT l [ +
	ZLEXCOUNT l - (
	ZLEXCOUNT l a b
	ZLEXCOUNT l -a +
	ZLEXCOUNT l - ++
	ZLEXCOUNT l "" +
	ZLEXCOUNT nokey - +`,
	// ZRANGE and its options; the old range commands.
	`ZADD z 1 a 2 b 3 c 4 d 5 e 5 f
	ZRANGE z 0 -1
	ZRANGE z 0 -1 WITHSCORES
	ZRANGE z 1 2 WITHSCORES
	ZRANGE z -2 -1
	ZRANGE z -100 100
	ZRANGE z 5 1
	ZRANGE z 10 20
	ZRANGE z 0 0 REV
	ZRANGE z 0 1 REV WITHSCORES
	ZRANGE z 2 4 BYSCORE
	ZRANGE z (2 4 BYSCORE WITHSCORES
	ZRANGE z 4 2 BYSCORE REV
	ZRANGE z -inf +inf BYSCORE LIMIT 1 2
	ZRANGE z -inf +inf BYSCORE LIMIT 1 -1
	ZRANGE z -inf +inf BYSCORE LIMIT -1 2
	ZRANGE z -inf +inf BYSCORE LIMIT 1 0
	ZRANGE z -inf +inf BYSCORE LIMIT 10 1
	ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES
	ZRANGE z 0 -1 LIMIT 1 2
	ZRANGE z - + BYLEX
	ZRANGE z - + BYLEX WITHSCORES
	ZRANGE z [b (e BYLEX
	ZRANGE z (e [b BYLEX REV
	ZRANGE z - + BYLEX LIMIT 2 2
	ZRANGE z 0 -1 BYSCORE BYLEX
	ZRANGE z 0 -1 REV REV
	ZRANGE z 0 -1 FOO
	ZRANGE z 0 -1 LIMIT 1
	ZRANGE z 0 -1 LIMIT x 1 BYSCORE
	ZRANGE z x 1
	ZRANGE z x 1 BYSCORE
	ZRANGE z a b BYLEX
	ZRANGE nokey 0 -1
	ZRANGE nokey 0 -1 BYSCORE x
	ZRANGE z 0
	ZREVRANGE z 0 1 WITHSCORES
	ZREVRANGE z 0 -1 REV
	ZREVRANGE z 0 -1 BYSCORE
	ZRANGEBYSCORE z 2 4
	ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 0 2 WITHSCORES
	ZRANGEBYSCORE z -inf +inf LIMIT 1
	ZRANGEBYSCORE z -inf +inf FOO
	ZRANGEBYSCORE z x +inf FOO
	ZRANGEBYSCORE z x +inf
	ZRANGEBYSCORE z 0 10 REV
	ZREVRANGEBYSCORE z +inf -inf LIMIT 1 2 WITHSCORES
	ZREVRANGEBYSCORE z (4 -inf
	ZREVRANGEBYSCORE z 1 4
	ZRANGEBYLEX z - +
	ZRANGEBYLEX z [c +
	ZRANGEBYLEX z - + LIMIT 1 1
	ZRANGEBYLEX z - + WITHSCORES
	ZRANGEBYLEX z a +
	ZREVRANGEBYLEX z + -
	ZREVRANGEBYLEX z (d [a
	ZREVRANGEBYLEX z - +`,
	// ZRANGESTORE.
	`ZADD src 1 a 2 b 3 c
	SET dst x
	EXPIRE dst 100
	ZRANGESTORE dst src 0 1
	TYPE dst
	TTL dst
	ZRANGE dst 0 -1 WITHSCORES
	ZRANGESTORE dst src 2 3 BYSCORE REV
	ZRANGESTORE dst src (3 [a BYLEX REV LIMIT 0 1
	ZRANGE dst 0 -1 WITHSCORES
	ZRANGESTORE dst src 5 10
	EXISTS dst
	ZRANGESTORE dst nokey 0 -1
	ZRANGESTORE dst src 0 -1 WITHSCORES
	ZRANGESTORE dst src 0 -1 LIMIT 0 1
	ZRANGESTORE src src 1 -1
	ZRANGE src 0 -1 WITHSCORES
	SET str x
	ZRANGESTORE dst str 0 -1
	ZRANGESTORE dst src
	ZRANGESTORE str src 0 -1
	TYPE str`,
	// ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.
	`ZADD z 1 a 2 b 3 c 4 d 5 e 6 f
	ZREMRANGEBYRANK z 0 0
	ZREMRANGEBYRANK z -1 -1
	ZREMRANGEBYRANK z 5 10
	ZREMRANGEBYRANK z x 1
	ZREMRANGEBYRANK nokey 0 -1
	ZRANGE z 0 -1
	ZREMRANGEBYSCORE z (2 3
	ZREMRANGEBYSCORE z x 1
	ZREMRANGEBYSCORE z 10 1
	ZRANGE z 0 -1
	ZADD l 0 a 0 b 0 c 0 d
	ZREMRANGEBYLEX l [b (d
	ZREMRANGEBYLEX l a b
	ZREMRANGEBYLEX l + -
	ZRANGE l 0 -1
	ZREMRANGEBYLEX l - +
	EXISTS l
	ZREMRANGEBYRANK z 0 -1
	EXISTS z`,
	// ZPOPMIN, ZPOPMAX, ZMPOP.
	`ZADD z 1 a 2 b 3 c 4 d 5 e
	ZPOPMIN z
	ZPOPMAX z
	ZPOPMIN z 2
	ZPOPMIN z 0
	ZPOPMIN z -1
	ZPOPMIN z x
	ZPOPMIN z 1 2
	ZPOPMAX z 10
	EXISTS z
	ZPOPMIN z
	ZPOPMIN z 3
	ZPOPMAX nokey
	ZADD a 1 x 2 y 3 z
	ZADD b 10 p
	ZMPOP 2 nokey a MIN
	ZMPOP 2 a b MAX COUNT 10
	ZMPOP 2 a b MAX COUNT 10
	ZMPOP 2 a b MIN
	ZMPOP 1 nokey MIN
	ZMPOP 0 a MIN
	ZMPOP -1 a MIN
	ZMPOP x a MIN
	ZMPOP 2 a MIN
	ZMPOP 1 a FOO
	ZMPOP 1 a MIN COUNT 0
	ZMPOP 1 a MIN COUNT x
	ZMPOP 1 a MIN COUNT 1 COUNT 1
	ZMPOP 1 a MIN FOO
	ZMPOP 1 a MIN COUNT
	ZMPOP 9223372036854775807 a MIN
	ZMPOP 1 a MIN COUNT 9223372036854775807
	SET s x
	ZMPOP 2 nokey s MIN
	ZPOPMIN s`,
	// ZRANDMEMBER where the reply is determined.
	`ZRANDMEMBER nokey
	ZRANDMEMBER nokey 5
	ZRANDMEMBER nokey 5 WITHSCORES
	ZADD one 1.5 m
	ZRANDMEMBER one
	ZRANDMEMBER one 1
	ZRANDMEMBER one -3 WITHSCORES
	ZRANDMEMBER one 0
	ZADD z 1 a 2 b 3 c 3 d
	ZRANDMEMBER z 4
	ZRANDMEMBER z 10 WITHSCORES
	ZRANDMEMBER z 0 WITHSCORES
	ZRANDMEMBER z x
	ZRANDMEMBER z 1 FOO
	ZRANDMEMBER z 1 WITHSCORES x
	ZRANDMEMBER z 9223372036854775807 WITHSCORES
	ZRANDMEMBER z -9223372036854775808
	SET s x
	ZRANDMEMBER s
	ZRANDMEMBER s 0`,
	// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD; sets as inputs.
	`ZADD a 1 x 2 y 3 z
	ZADD b 10 y 20 z 30 w
	SADD s y w q
	ZUNION 2 a b
	ZUNION 2 a b WITHSCORES
	ZUNION 3 a b s WITHSCORES
	ZUNION 2 a b WEIGHTS 2 0.5 WITHSCORES
	ZUNION 2 a b AGGREGATE MIN WITHSCORES
	ZUNION 2 a b AGGREGATE max WITHSCORES
	ZUNION 2 a b AGGREGATE foo
	ZUNION 2 a b WEIGHTS 1
	ZUNION 2 a b WEIGHTS 1 x
	ZUNION 2 a nokey WITHSCORES
	ZINTER 2 a b WITHSCORES
	ZINTER 3 a b s WITHSCORES
	ZINTER 2 a b WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES
	ZINTER 2 a a WITHSCORES
	ZINTER 2 a nokey
	ZDIFF 2 a b WITHSCORES
	ZDIFF 2 b s WITHSCORES
	ZDIFF 1 a
	ZDIFF 2 a b WEIGHTS 1 1
	ZDIFF 2 a b AGGREGATE MIN
	ZINTERCARD 2 a b
	ZINTERCARD 2 a b LIMIT 1
	ZINTERCARD 2 a b LIMIT 0
	ZINTERCARD 2 a b LIMIT -1
	ZINTERCARD 2 a b LIMIT x
	ZINTERCARD 2 a b WITHSCORES
	ZINTERCARD 0 a
	ZINTERCARD 3 a b
	ZINTERCARD x a
	ZUNIONSTORE d 2 a b
	ZRANGE d 0 -1 WITHSCORES
	ZINTERSTORE d 2 a b WEIGHTS 1 2 AGGREGATE MAX
	ZRANGE d 0 -1 WITHSCORES
	ZDIFFSTORE d 2 a b
	ZRANGE d 0 -1 WITHSCORES
	ZINTERSTORE d 2 a nokey
	EXISTS d
	ZUNIONSTORE d 2 a b WITHSCORES
	ZUNIONSTORE d 0 a
	ZUNIONSTORE d -1 a
	ZUNIONSTORE d 3 a b
	ZUNION 0 a
	ZINTER 5 a
	SET str x
	ZUNION 2 a str
	ZUNION 2 a str FOO
	ZUNIONSTORE str 1 a
	TYPE str
	ZUNIONSTORE a 2 a b
	ZRANGE a 0 -1 WITHSCORES`,
	// Infinities and NaN in the set algebra.
	`ZADD a inf x -inf y 1 z
	ZADD b -inf x inf y inf z
	ZUNION 2 a b WITHSCORES
	ZINTER 2 a b WITHSCORES
	ZUNION 2 a b WEIGHTS 0 1 WITHSCORES
	ZUNION 2 a b AGGREGATE MIN WITHSCORES
	ZINTER 2 a b AGGREGATE MAX WITHSCORES
	ZUNION 1 a WEIGHTS nan
	ZUNION 1 a WEIGHTS inf WITHSCORES`,
	// ZSCAN of a small sorted set (Redis answers it whole).
	`ZADD z 1 a 2 b 3 c 0.5 dd
	ZSCAN z 0
	ZSCAN z 0 COUNT 1
	ZSCAN z 0 MATCH ?
	ZSCAN z 0 MATCH * COUNT 100
	ZSCAN nokey 0
	ZSCAN z x
	ZSCAN z 0 COUNT 0
	ZSCAN z 0 NOVALUES
	ZSCAN z 0 FOO
	SET s x
	ZSCAN s 0`,
	// Types and generic commands on sorted sets.
	`ZADD z 1 a 2 b
	TYPE z
	OBJECT ENCODING z
	EXISTS z
	SCAN 0 TYPE zset
	SET s v
	ZADD s 1 a
	ZCARD s
	ZRANGE s 0 -1
	ZSCORE s a
	GET z
	HSET h f v
	ZADD h 1 a
	SADD st m
	ZADD st 1 a
	EXPIRE z 100
	TTL z
	PERSIST z
	TTL z
	RENAME z z2
	ZRANGE z2 0 -1 WITHSCORES
	COPY z2 z3
	ZRANGE z3 0 -1 WITHSCORES
	MOVE z3 1
	SELECT 1
	ZRANGE z3 0 -1 WITHSCORES
	SELECT 0
	DEL z2
	EXISTS z2
	ZADD z 1 a
	SET z v
	TYPE z`,
	// Sorted sets in transactions.
	`ZADD z 1 a
	MULTI
	ZADD z 2 b
	ZINCRBY z 5 a
	ZRANGE z 0 -1 WITHSCORES
	ZREM z a b
	ZADD z 3 c
	ZRANGE z 0 -1 WITHSCORES
	EXEC
	WATCH z
	ZADD z 4 d
	MULTI
	ZCARD z
	EXEC
	MULTI
	ZADD z 1
	ZCARD z
	EXEC`,
}

// TestDifferentialRedis_ZSet compares the sorted set commands with
// redis-server's replies byte for byte, in RESP2 and RESP3, and over random
// sequences.
func TestDifferentialRedis_ZSet(t *testing.T) {
	env := startDiffEnv(t)
	t.Run("HandWritten", func(t *testing.T) { env.runCases(t, zsetDiffCases) })
	t.Run("RESP3", func(t *testing.T) { env.runCases(t, zsetDiffCases, hello(t, "3")) })
	t.Run("Random", func(t *testing.T) { env.runRandom(t, genZSetSequence, 0x5bd1e995, 60, 40) })
}

// hello returns a setup that switches both connections to protocol proto
// (HELLO); its replies, which name the servers, are not compared.
func hello(t *testing.T, proto string) func(p *diffPair) {
	return func(p *diffPair) {
		for _, c := range []*diffConn{p.redis, p.epoch} {
			if _, err := c.do([][]byte{[]byte("HELLO"), []byte(proto)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// genZSetSequence returns n random sorted set commands over a few keys,
// with scores and bounds that hit ties, infinities and exclusive ends. The
// lex range commands go to a key of its own whose members all score 0:
// over members of different scores, Redis's answer depends on its skiplist
// and is unspecified.
func genZSetSequence(r *rand.Rand, n int) [][][]byte {
	keys := []string{"a", "b", "c"}
	const lk = "lex"
	members := []string{"m", "n", "o", "p", "q", "", "mm"}
	scores := []string{"0", "1", "1", "2", "-1", "2.5", "inf", "-inf", "1e3", "0.1", "x"}
	bounds := []string{"0", "1", "(1", "2", "(2", "-inf", "+inf", "(-inf", "x", "2.5"}
	lex := []string{"-", "+", "[m", "(m", "[n", "(o", "[p", "[", "x"}
	ranks := []string{"0", "1", "-1", "2", "-2", "5", "-5", "x"}
	k := func() string { return pick(r, keys) }
	m := func() string { return pick(r, members) }
	s := func() string { return pick(r, scores) }
	gens := []func() []string{
		func() []string {
			a := []string{"ZADD", k()}
			for _, o := range []string{"NX", "XX", "GT", "LT", "CH", "INCR"} {
				if r.IntN(6) == 0 {
					a = append(a, o)
				}
			}
			for range 1 + r.IntN(3) {
				a = append(a, s(), m())
			}
			return a
		},
		func() []string { return []string{"ZADD", k(), s(), m(), s(), m()} },
		func() []string { return []string{"ZINCRBY", k(), s(), m()} },
		func() []string { return []string{"ZREM", k(), m(), m()} },
		func() []string { return []string{"ZCARD", k()} },
		func() []string { return []string{"ZSCORE", k(), m()} },
		func() []string { return []string{"ZMSCORE", k(), m(), m()} },
		func() []string { return []string{pick(r, []string{"ZRANK", "ZREVRANK"}), k(), m()} },
		func() []string { return []string{"ZCOUNT", k(), pick(r, bounds), pick(r, bounds)} },
		func() []string { return []string{"ZLEXCOUNT", lk, pick(r, lex), pick(r, lex)} },
		func() []string { return []string{"ZADD", lk, "0", m(), "0", m()} },
		func() []string { return []string{pick(r, []string{"ZREM", "ZSCORE", "ZRANK"}), lk, m()} },
		func() []string { return []string{pick(r, []string{"ZPOPMIN", "ZPOPMAX"}), lk} },
		func() []string {
			a := []string{"ZRANGE", k()}
			switch r.IntN(3) {
			case 0:
				a = append(a, pick(r, ranks), pick(r, ranks))
			case 1:
				a = append(a, pick(r, bounds), pick(r, bounds), "BYSCORE")
			default:
				a = append(a[:1], lk, pick(r, lex), pick(r, lex), "BYLEX")
			}
			if r.IntN(2) == 0 {
				a = append(a, "REV")
			}
			if r.IntN(3) == 0 {
				a = append(a, "LIMIT", pick(r, []string{"0", "1", "-1"}), pick(r, []string{"1", "2", "-1", "0"}))
			}
			if r.IntN(2) == 0 {
				a = append(a, "WITHSCORES")
			}
			return a
		},
		func() []string {
			return []string{pick(r, []string{"ZRANGEBYSCORE", "ZREVRANGEBYSCORE"}), k(), pick(r, bounds), pick(r, bounds), "WITHSCORES"}
		},
		func() []string {
			return []string{pick(r, []string{"ZRANGEBYLEX", "ZREVRANGEBYLEX"}), lk, pick(r, lex), pick(r, lex)}
		},
		func() []string { return []string{"ZREVRANGE", k(), pick(r, ranks), pick(r, ranks), "WITHSCORES"} },
		func() []string { return []string{"ZRANGESTORE", k(), k(), pick(r, ranks), pick(r, ranks)} },
		func() []string { return []string{"ZREMRANGEBYRANK", k(), pick(r, ranks), pick(r, ranks)} },
		func() []string { return []string{"ZREMRANGEBYSCORE", k(), pick(r, bounds), pick(r, bounds)} },
		func() []string { return []string{"ZREMRANGEBYLEX", lk, pick(r, lex), pick(r, lex)} },
		func() []string {
			a := []string{pick(r, []string{"ZPOPMIN", "ZPOPMAX"}), k()}
			if r.IntN(2) == 0 {
				a = append(a, pick(r, []string{"0", "1", "2", "5", "-1"}))
			}
			return a
		},
		func() []string {
			return []string{"ZMPOP", "2", k(), k(), pick(r, []string{"MIN", "MAX"}), "COUNT", pick(r, []string{"1", "2", "0"})}
		},
		func() []string {
			a := []string{pick(r, []string{"ZUNION", "ZINTER", "ZDIFF"}), "2", k(), k()}
			if a[0] != "ZDIFF" && r.IntN(2) == 0 {
				a = append(a, "WEIGHTS", pick(r, []string{"1", "2", "-1", "0"}), pick(r, []string{"1", "0.5", "inf"}))
			}
			if a[0] != "ZDIFF" && r.IntN(2) == 0 {
				a = append(a, "AGGREGATE", pick(r, []string{"SUM", "MIN", "MAX"}))
			}
			return append(a, "WITHSCORES")
		},
		func() []string {
			return []string{pick(r, []string{"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"}), k(), "2", k(), k()}
		},
		func() []string { return []string{"ZINTERCARD", "2", k(), k()} },
		func() []string { return []string{"ZRANDMEMBER", k(), "100", "WITHSCORES"} },
		func() []string { return []string{"ZSCAN", k(), "0"} },
		func() []string { return []string{pick(r, []string{"DEL", "TYPE", "EXISTS"}), k()} },
		func() []string { return []string{"SET", k(), "v"} },
		func() []string { return []string{"SADD", k(), m()} },
		func() []string { return []string{pick(r, []string{"RENAME", "COPY"}), k(), k()} },
		func() []string { return []string{"MULTI"} },
		func() []string { return []string{"EXEC"} },
	}
	cmds := make([][][]byte, 0, n+len(keys)+1)
	for range n {
		strs := gens[r.IntN(len(gens))]()
		args := make([][]byte, len(strs))
		for i, s := range strs {
			args[i] = []byte(s)
		}
		cmds = append(cmds, args)
	}
	cmds = append(cmds, [][]byte{[]byte("DISCARD")})
	for _, k := range append(keys, lk) {
		cmds = append(cmds, [][]byte{[]byte("ZRANGE"), []byte(k), []byte("0"), []byte("-1"), []byte("WITHSCORES")})
	}
	return cmds
}
