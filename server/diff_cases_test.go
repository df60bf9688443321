package server

import (
	"math/rand/v2"
	"strconv"
)

// diffCases are the differential test's hand-written sequences: each runs
// on empty servers over fresh connections (database 0, RESP2).
var diffCases = []string{
	// GET SET and every SET option combination.
	`GET k
	SET k v
	GET k
	SET k v2 NX
	SET k v3 XX
	GET k
	SET n v XX
	SET n v NX
	SET k v GET
	SET k2 v GET
	SET k v NX GET
	SET k v XX GET
	SET k3 v XX GET
	SET k4 v NX GET
	GET k4`,
	`SET k v EX 100
	TTL k
	SET k v PX 100000
	TTL k
	SET k v EXAT 99999999999
	EXPIRETIME k
	SET k v PXAT 99999999999999
	PEXPIRETIME k
	SET k v KEEPTTL
	PEXPIRETIME k
	SET k v
	TTL k
	SET k v EX 10 GET
	SET k v EX 0
	SET k v EX -1
	SET k v PX 0
	SET k v EXAT 0
	SET k v PXAT -5
	SET k v EX abc
	SET k v EX 1.5
	SET k v EX 9223372036854775807
	SET k v PX 9223372036854775807
	SET k v EXAT 9223372036854775807
	SET k v EX
	SET k v PX
	GET k`,
	`SET k v NX XX
	SET k v XX NX
	SET k v NX NX
	SET k v XX XX
	SET k v GET GET
	SET k v EX 10 PX 100
	SET k v EX 10 EX 10
	SET k v EX 10 KEEPTTL
	SET k v KEEPTTL EX 10
	SET k v KEEPTTL KEEPTTL
	SET k v KEEPTTL PXAT 10000000000000
	SET k v foo
	SET k v PERSIST
	SET k v ex 10 nx
	SET k v Ex 10 xX gEt
	SET k v PX 100 NX EX 10
	SET k v GET NX XX
	SET k v EXAT 10 EXAT 10
	GET k`,
	`SET k 1
	SET k v GET EX 100
	TTL k
	SET k w XX KEEPTTL GET
	TTL k
	SET k w NX KEEPTTL GET
	SET k w EX 0 GET
	GET k`,
	// GETEX options.
	`GETEX k
	SET k v
	GETEX k
	GETEX k EX 100
	TTL k
	GETEX k PERSIST
	TTL k
	GETEX k PX 100000
	GETEX k EXAT 99999999999
	EXPIRETIME k
	GETEX k PXAT 99999999999999
	PEXPIRETIME k
	GETEX k EX 0
	GETEX k EX -1
	GETEX k EX abc
	GETEX k EX
	GETEX k PERSIST PERSIST
	GETEX k EX 10 PX 10
	GETEX k PERSIST EX 10
	GETEX k EX 10 PERSIST
	GETEX k KEEPTTL
	GETEX k NX
	GETEX k GET
	GETEX k foo
	GETEX nokey EX 10
	GETEX nokey foo
	GETEX k EXAT 1
	GET k`,
	`SET k v
	GETEX k PXAT 1
	EXISTS k
	SET k v
	GETEX k EX 9223372036854775807
	GETEX k PX 9223372036854775807
	GET k`,
	// SETNX SETEX PSETEX GETSET GETDEL MSET MSETNX MGET.
	`SETNX k v
	SETNX k w
	GET k
	SETEX k 100 v
	TTL k
	SETEX k 0 v
	SETEX k -1 v
	SETEX k x v
	PSETEX k 100000 v
	TTL k
	PSETEX k 0 v
	GETSET k new
	GETSET nokey new
	GETDEL k
	GETDEL k
	MSET a 1 b 2
	MSET a 1 b
	MGET a b c
	MSETNX a 1 c 3
	MSETNX c 3 d 4
	MGET a b c d
	GETSET a`,
	// APPEND STRLEN GETRANGE SUBSTR SETRANGE.
	`APPEND k hello
	APPEND k " world"
	STRLEN k
	STRLEN nokey
	GETRANGE k 0 4
	GETRANGE k -5 -1
	GETRANGE k 5 3
	GETRANGE k -100 100
	GETRANGE k 0 -1
	GETRANGE k -1 -5
	GETRANGE k 100 200
	GETRANGE nokey 0 -1
	GETRANGE k a 1
	SUBSTR k 0 4
	SUBSTR k -5 -1
	SUBSTR nokey 0 1
	SUBSTR k x 1
	SUBSTR k 0
	SETRANGE k 6 WORLD
	GET k
	SETRANGE k 20 x
	GET k
	SETRANGE k -1 x
	SETRANGE k 0 ""
	SETRANGE nokey 5 ""
	EXISTS nokey
	SETRANGE nokey 2 ab
	GET nokey
	SETRANGE k 536870912 x
	SETRANGE k 536870911 ""
	SETRANGE k abc x`,
	// INCR family.
	`INCR n
	INCRBY n 10
	DECR n
	DECRBY n 5
	INCRBY n -3
	INCRBY n abc
	INCRBY n 1.5
	SET n 9223372036854775807
	INCR n
	SET n -9223372036854775808
	DECR n
	DECRBY n -9223372036854775808
	SET s foo
	INCR s
	SET s " 1"
	INCR s
	SET s 01
	INCR s
	INCRBYFLOAT f 1.5
	INCRBYFLOAT f 1e3
	INCRBYFLOAT f -0.5
	INCRBYFLOAT f abc
	INCRBYFLOAT f inf
	SET f 1e308
	INCRBYFLOAT f 1e308
	SET f 10
	INCRBYFLOAT f 0.1
	INCRBYFLOAT f 0.2
	SET f 0.1
	INCRBYFLOAT f 0.2
	INCRBYFLOAT f -0.3
	INCRBYFLOAT f 1e4000
	INCRBYFLOAT f 1e5000
	INCRBYFLOAT f -inf
	INCRBYFLOAT f 0x10p2
	INCRBYFLOAT f 1.5e-300
	INCRBYFLOAT f 1e-5000
	INCRBYFLOAT f nan
	INCRBYFLOAT f " 1"
	INCRBYFLOAT f 1_0
	SET f 9223372036854775807
	INCRBYFLOAT f 100
	INCRBYFLOAT f 0.00000000000000001
	SET f 1.23456789012345678901234567890
	INCRBYFLOAT f 0
	SET f -0.0
	INCRBYFLOAT f 0
	SET f 5.0e3
	INCRBYFLOAT f 1
	INCRBYFLOAT g 1e4932
	INCRBYFLOAT g 1e4932
	INCRBYFLOAT s 1`,
	// SETBIT GETBIT.
	`SETBIT k 7 1
	GET k
	GETBIT k 7
	GETBIT k 6
	GETBIT k 100
	GETBIT nokey 0
	SETBIT k 7 0
	SETBIT k 100 1
	STRLEN k
	SETBIT k 0 2
	SETBIT k 0 -1
	SETBIT k 0 x
	SETBIT k -1 1
	SETBIT k 4294967296 1
	SETBIT k x 1
	GETBIT k -1
	GETBIT k 4294967296
	GETBIT k x
	SETBIT k 0 01
	SETBIT k 0 " 1"
	GETBIT k 0
	SET s "\xff\x00"
	GETBIT s 0
	GETBIT s 8
	SETBIT s 15 1
	GET s`,
	// BITCOUNT.
	`SET k foobar
	BITCOUNT k
	BITCOUNT k 0 0
	BITCOUNT k 1 1
	BITCOUNT k 1 1 BYTE
	BITCOUNT k 5 30 BIT
	BITCOUNT k -1 -1
	BITCOUNT k -2 -1 BIT
	BITCOUNT k 0 -1 bit
	BITCOUNT k 3 1
	BITCOUNT k -100 100
	BITCOUNT k 0
	BITCOUNT k 0 1 FOO
	BITCOUNT k a 1
	BITCOUNT k 0 1 BIT BIT
	BITCOUNT nokey
	BITCOUNT nokey 0 1
	BITCOUNT nokey 0 1 BIT
	BITCOUNT k 0 9223372036854775807 BIT
	BITCOUNT k -9223372036854775808 -1
	BITCOUNT k -9223372036854775808 -1 BIT
	SET e ""
	BITCOUNT e
	BITCOUNT e 0 -1`,
	// BITPOS.
	`SET k "\xff\xf0\x00"
	BITPOS k 0
	BITPOS k 1
	BITPOS k 0 1
	BITPOS k 1 2
	BITPOS k 0 2 -1
	BITPOS k 1 0 -1 BIT
	BITPOS k 0 0 -1 BIT
	BITPOS k 0 7 15 BIT
	BITPOS k 1 7 15 BIT
	BITPOS k 1 -8 -1 BIT
	BITPOS k 0 100
	BITPOS k 2
	BITPOS k x
	BITPOS k 1 x
	BITPOS k 1 0 x
	BITPOS k 1 0 1 FOO
	BITPOS k 1 0 1 BIT x
	BITPOS nokey 0
	BITPOS nokey 1
	BITPOS nokey 0 1 2 BIT
	SET f "\xff\xff"
	BITPOS f 0
	BITPOS f 0 0
	BITPOS f 0 0 -1
	BITPOS f 0 0 -1 BIT
	BITPOS f 1 5 3
	SET z "\x00\x00"
	BITPOS z 1
	BITPOS z 0
	BITPOS z 1 0 -1 BIT
	SET e ""
	BITPOS e 0
	BITPOS e 1
	BITPOS e 0 0 -1`,
	// BITOP.
	`SET a "\xf0\x0f"
	SET b "\xff"
	BITOP AND d a b
	GET d
	BITOP OR d a b
	GET d
	BITOP XOR d a b
	GET d
	BITOP NOT d a
	GET d
	BITOP NOT d a b
	BITOP FOO d a
	BITOP AND d nokey1 nokey2
	EXISTS d
	SET d x
	BITOP OR d nokey
	EXISTS d
	BITOP AND d a nokey
	GET d
	BITOP and d a a a
	GET d
	BITOP NOT d nokey
	BITOP DIFF d a b
	BITOP AND d`,
	// BITFIELD and BITFIELD_RO.
	`BITFIELD k SET u8 0 255 GET u8 0
	BITFIELD k GET i8 0
	BITFIELD k INCRBY u8 0 10
	BITFIELD k OVERFLOW SAT INCRBY u8 0 300
	BITFIELD k OVERFLOW FAIL INCRBY u8 0 1
	BITFIELD k OVERFLOW WRAP INCRBY i8 0 200
	BITFIELD k SET i16 #1 -300 GET i16 #1 GET u16 #1
	BITFIELD k SET u63 0 1 GET u63 0
	BITFIELD k SET i64 0 -1 GET i64 0 GET u32 32
	BITFIELD k SET u64 0 1
	BITFIELD k SET i65 0 1
	BITFIELD k SET u0 0 1
	BITFIELD k SET x8 0 1
	BITFIELD k SET u8 -1 1
	BITFIELD k SET u8 4294967296 1
	BITFIELD k SET u8 # 1
	BITFIELD k SET u8 #x 1
	BITFIELD k SET u8 0 abc
	BITFIELD k GET u8
	BITFIELD k FOO
	BITFIELD k OVERFLOW BAD
	BITFIELD k OVERFLOW
	BITFIELD k INCRBY u8 0
	BITFIELD k
	BITFIELD nokey GET u8 0
	EXISTS nokey
	BITFIELD k GET u4 0 GET u4 4 GET i4 4 GET u1 100
	BITFIELD_RO k GET u8 0 GET i3 3
	BITFIELD_RO k SET u8 0 1
	BITFIELD_RO k INCRBY u8 0 1
	BITFIELD_RO k OVERFLOW SAT GET u8 0
	BITFIELD_RO nokey GET u8 0
	BITFIELD_RO k
	BITFIELD k overflow sat incrby i8 0 -1000 overflow wrap incrby u4 0 17 get u8 0
	BITFIELD k OVERFLOW SAT SET i8 0 1000 GET i8 0
	BITFIELD k OVERFLOW FAIL SET i8 0 1000 GET i8 0
	BITFIELD k OVERFLOW FAIL SET u8 0 -1
	BITFIELD k SET u8 0 -1 GET u8 0
	BITFIELD k INCRBY i64 0 9223372036854775807 INCRBY i64 0 9223372036854775807
	BITFIELD k OVERFLOW SAT INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -9223372036854775808
	BITFIELD k OVERFLOW FAIL INCRBY i64 0 9223372036854775807 INCRBY i64 0 9223372036854775807
	GET k`,
	// LCS.
	`MSET a ohmytext b mynewtext
	LCS a b
	LCS a b LEN
	LCS a b IDX
	LCS a b IDX MINMATCHLEN 4
	LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN
	LCS a b IDX WITHMATCHLEN
	LCS a b LEN IDX
	LCS a b MINMATCHLEN -1 IDX
	LCS a b MINMATCHLEN x
	LCS a b MINMATCHLEN
	LCS a b FOO
	LCS a nokey
	LCS nokey nokey2 LEN
	LCS nokey nokey2 IDX
	LCS a a IDX WITHMATCHLEN
	LCS a b len
	LCS a`,
	`MSET a "" b abc
	LCS a b
	LCS a b IDX
	MSET a abcdefghij b jihgfedcba
	LCS a b IDX WITHMATCHLEN
	MSET a "aaaa\x00bbb" b "\x00bbbaa"
	LCS a b
	LCS a b IDX WITHMATCHLEN MINMATCHLEN 2`,
	// Key commands.
	`SET a 1
	EXISTS a b a
	TYPE a
	TYPE b
	DEL a b a
	UNLINK a
	SET a 1
	RENAME a b
	GET b
	RENAME a b
	RENAME b b
	RENAME nokey nokey
	SET c 3
	RENAMENX b c
	RENAMENX b d
	RENAMENX d d
	RENAMENX nokey x
	GET d`,
	`SET a 1 EX 100
	RENAME a b
	TTL b
	COPY b c
	TTL c
	COPY b c
	COPY b c REPLACE
	COPY b b
	COPY nokey x
	COPY b c DB 1
	COPY b c DB 1 REPLACE
	COPY b c DB 16
	COPY b c DB -1
	COPY b c DB x
	COPY b c DB
	COPY b c FOO
	COPY b b DB 0
	COPY b b DB 1
	COPY b c REPLACE REPLACE
	SELECT 1
	GET c
	TTL c
	SELECT 0`,
	`SET a 1
	MOVE a 1
	EXISTS a
	MOVE a 1
	SELECT 1
	GET a
	MOVE a 0
	SET a 2
	MOVE a 0
	MOVE a 1
	MOVE a 16
	MOVE a -1
	MOVE a x
	MOVE nokey 0
	SELECT 0
	GET a`,
	`SET a 0
	SELECT 1
	SET a 1
	SET b 1
	SWAPDB 0 1
	GET a
	GET b
	DBSIZE
	SELECT 0
	GET a
	GET b
	DBSIZE
	SWAPDB 0 0
	SWAPDB 0 16
	SWAPDB -1 0
	SWAPDB x 0
	SWAPDB 0
	SWAPDB 2 3
	DBSIZE`,
	`SET a 1 EX 100
	EXPIRE a 200
	TTL a
	EXPIRE a 100 GT
	EXPIRE a 300 GT
	TTL a
	EXPIRE a 100 LT
	TTL a
	EXPIRE a 100 NX
	EXPIRE a 100 XX
	EXPIRE a 100 NX XX
	EXPIRE a -1 GT XX
	EXPIRE a 50 LT XX
	TTL a
	EXPIRE a 500 XX GT
	TTL a
	EXPIRE a 1 XX GT
	PERSIST a
	EXPIRE a 50 LT XX
	EXPIRE a 50 XX LT
	EXPIRE a 500 GT
	TTL a
	EXPIRE a 500 LT
	TTL a
	PERSIST a
	EXPIRE a -1 LT XX
	EXISTS a
	EXPIRE a -1 LT
	EXISTS a
	SET a 1
	EXPIRE a 100 GT LT
	EXPIRE a 100 FOO
	EXPIRE a abc
	PERSIST a
	PERSIST a
	TTL a
	EXPIRE a 100 GT
	EXPIRE a 100 LT
	TTL a
	PEXPIRE a 100000
	PEXPIREAT a 99999999999999
	PEXPIRETIME a
	EXPIREAT a 99999999999
	EXPIRETIME a
	EXPIRE a 0
	EXISTS a
	SET a 1
	PEXPIRE a -1
	EXISTS a
	EXPIRE nokey 10
	TTL nokey
	PTTL nokey
	EXPIRETIME nokey
	SET a 1
	EXPIRETIME a
	PEXPIRETIME a
	EXPIRE a 9223372036854775807
	PEXPIRE a 9223372036854775807
	EXPIREAT a -9223372036854775808
	EXISTS a`,
	`SET a 1
	TOUCH a b a
	OBJECT ENCODING a
	SET b hello
	OBJECT ENCODING b
	SET c 123456789012345678901
	OBJECT ENCODING c
	OBJECT ENCODING nokey
	OBJECT REFCOUNT a
	OBJECT FOO a
	OBJECT ENCODING
	DBSIZE
	DEL b c
	RANDOMKEY
	DEL a
	RANDOMKEY`,
	// KEYS and SCAN patterns, malformed ones included.
	`MSET a 1 ab 2 abc 3 b 4 "a*" 5 "a[" 6 "x\\y" 7 "" 8
	KEYS *
	KEYS a*
	KEYS a?
	KEYS a[bc]*
	KEYS a[^b]*
	KEYS a[!b]*
	KEYS a[b-c]*
	KEYS a[c-b]*
	KEYS a\*
	KEYS a[
	KEYS a[b
	KEYS [
	KEYS ]
	KEYS \
	KEYS a\
	KEYS x\\y
	KEYS [a-]
	KEYS [-b]
	KEYS [\]]
	KEYS ""
	KEYS ?
	KEYS **
	KEYS a**
	KEYS *a*
	SCAN 0 MATCH ** COUNT 100
	SCAN 0 MATCH * COUNT 100
	KEYS *[
	KEYS [^]
	SCAN 0 COUNT 100
	SCAN 0 MATCH a* COUNT 100
	SCAN 0 MATCH a[ COUNT 100
	SCAN 0 MATCH a[b COUNT 100
	SCAN 0 MATCH \ COUNT 100
	SCAN 0 TYPE string COUNT 100
	SCAN 0 TYPE list COUNT 100
	SCAN 0 COUNT 0
	SCAN 0 COUNT -1
	SCAN 0 COUNT x
	SCAN 0 MATCH
	SCAN 0 FOO bar
	SCAN x
	SCAN 0 NOVALUES`,
	// Transactions.
	`MULTI
	SET a 1
	INCR a
	GET a
	EXEC
	EXEC
	DISCARD
	MULTI
	MULTI
	SET a 2
	DISCARD
	GET a`,
	`MULTI
	SET a 1
	NOSUCHCOMMAND
	GET a
	EXEC
	GET a
	EXEC`,
	`MULTI
	SET a
	SET a 1
	EXEC
	GET a
	MULTI
	GET a b
	EXEC`,
	`MULTI
	WATCH a
	SET a 1
	EXEC
	GET a`,
	`MULTI
	SET a x
	INCR a
	SET b y
	EXEC
	MGET a b`,
	`WATCH a
	SET a 1
	MULTI
	GET a
	EXEC
	WATCH a
	MULTI
	GET a
	EXEC
	UNWATCH
	WATCH a b
	UNWATCH
	SET a 2
	MULTI
	GET a
	EXEC`,
	`MULTI
	SET a 1
	SELECT 1
	SET a 2
	EXEC
	GET a
	SELECT 0
	GET a`,
	`MULTI
	SET a 1
	DISCARD
	EXEC
	GET a`,
	`MULTI
	PING
	ECHO hi
	EXEC
	MULTI
	EXEC`,
	`WATCH a
	SELECT 1
	SET a 1
	SELECT 0
	MULTI
	PING
	EXEC
	SET a 0
	WATCH a
	SWAPDB 0 1
	MULTI
	PING
	EXEC`,
	`SELECT 1
	WATCH a
	SELECT 0
	SET a x
	SWAPDB 0 1
	SELECT 1
	MULTI
	PING
	EXEC
	WATCH nokey
	SWAPDB 0 1
	MULTI
	PING
	EXEC`,
	`SET a 1
	WATCH a
	MOVE a 1
	MULTI
	PING
	EXEC
	SELECT 1
	WATCH a
	RENAME a b
	MULTI
	PING
	EXEC`,
	`MULTI
	SET a 1 EX 0
	SETBIT a 0 1
	LCS a b
	BITFIELD a SET u8 0 1
	BITOP NOT b a
	GET b
	EXEC`,
	// Connection and database commands.
	`PING
	PING hello
	PING a b
	ECHO hi
	ECHO
	SELECT 16
	SELECT -1
	SELECT x
	SELECT 15
	SET a 1
	SELECT 0
	EXISTS a
	PUBLISH ch msg
	SET b 2
	FLUSHDB FOO
	FLUSHDB ASYNC
	DBSIZE
	SELECT 15
	DBSIZE
	FLUSHALL SYNC
	DBSIZE
	FLUSHALL ASYNC SYNC
	SET c 3
	MULTI
	RESET
	EXEC
	GET c`,
	// Hashes (the field TTL commands are newer than the reference server).
	`HSET h a 1 b 2
	HSET h a 3 c 4
	HSET h a
	HSET h a 1 b
	HMSET h d 5
	HGET h a
	HGET h z
	HGET nokey a
	HMGET h a z b
	HMGET nokey a
	HSETNX h a 9
	HSETNX h e 9
	HEXISTS h e
	HEXISTS h z
	HLEN h
	HLEN nokey
	HSTRLEN h a
	HSTRLEN h z
	HKEYS h
	HVALS h
	HGETALL h
	HGETALL nokey
	HDEL h a z
	HDEL h z
	HINCRBY h n 5
	HINCRBY h n -7
	HINCRBY h b x
	HINCRBY h n 9223372036854775807
	HSET h s foo
	HINCRBY h s 1
	HINCRBYFLOAT h f 1.5
	HINCRBYFLOAT h f 1e3
	HINCRBYFLOAT h s 1
	HINCRBYFLOAT h f inf
	HINCRBYFLOAT h f x
	HGET h f
	HRANDFIELD nokey
	HRANDFIELD nokey 3
	HRANDFIELD h 0
	HRANDFIELD h 100
	HRANDFIELD h x
	HDEL h b c d e n s f
	EXISTS h
	TYPE h
	SET str v
	HSET str a 1
	HGET str a
	HLEN str
	HGETALL str`,
	// Sets.
	`SADD s a b c
	SADD s a d
	SADD s
	SCARD s
	SCARD nokey
	SISMEMBER s a
	SISMEMBER s z
	SMISMEMBER s a z b
	SMEMBERS s
	SMEMBERS nokey
	SREM s a z
	SREM nokey a
	SADD t c d e
	SINTER s t
	SINTER s nokey
	SUNION s t
	SDIFF s t
	SDIFF t s nokey
	SINTERCARD 2 s t
	SINTERCARD 2 s t LIMIT 1
	SINTERCARD 0 s
	SINTERCARD 3 s t
	SINTERCARD 2 s t LIMIT -1
	SINTERSTORE d s t
	SMEMBERS d
	SUNIONSTORE d s t
	SCARD d
	SDIFFSTORE d s t
	SMEMBERS d
	SINTERSTORE d s nokey
	EXISTS d
	SMOVE s t b
	SMOVE s t z
	SMOVE nokey t a
	SMEMBERS t
	SRANDMEMBER nokey
	SRANDMEMBER s 0
	SRANDMEMBER s 100
	SPOP nokey
	SPOP s 0
	SPOP s 100
	EXISTS s
	TYPE t
	SET str v
	SADD str a
	SMEMBERS str
	SINTER t str
	SMOVE t str c
	SREM t c d e
	EXISTS t`,
	// SORT and SORT_RO over sets (lists and sorted sets with their types).
	`SADD s 3 1 2 10 -5 2.5
	SORT s
	SORT s DESC
	SORT s ALPHA
	SORT s ALPHA DESC
	SORT s LIMIT 1 2
	SORT s LIMIT 0 0
	SORT s LIMIT -1 3
	SORT s LIMIT 5 -1
	SORT s LIMIT 100 2
	SORT s LIMIT 0 -1 DESC
	SORT s LIMIT x 1
	SORT s LIMIT 1
	SORT s DESC ASC
	SORT_RO s DESC
	SORT_RO s STORE d
	SORT s FOO
	SORT nokey
	SORT nokey STORE d
	SORT_RO nokey
	SET str v
	SORT str
	SORT_RO str
	SADD w a b
	SORT w
	SORT w ALPHA`,
	`SADD s a b c d
	SET w_a 3
	SET w_b 1
	SET w_c 2
	SORT s BY w_*
	SORT s BY w_* DESC
	SORT s BY w_* GET #
	SORT s BY w_* GET # GET w_*
	SORT s BY w_* GET nostar
	SORT s BY w_* LIMIT 1 2 GET w_*
	SET v_a x3
	SET v_b x1
	SET v_c x2
	SORT s BY v_*
	SORT s BY v_* ALPHA GET #
	SORT s BY v_* ALPHA DESC GET # GET v_*
	HSET h_a f 30 g z
	HSET h_b f 10 g y
	HSET h_c f 20
	HSET h_d g w
	SORT s BY h_*->f GET # GET h_*->g
	SORT s BY h_*->f DESC GET h_*->f
	SORT s BY h_*-> GET #
	SORT s BY h_*->g ALPHA GET #
	SADD h_e f
	SORT s BY w_* GET h_*->f GET h_e`,
	`ZADD z 3 c 1 a 2 b 10 j
	SORT z
	SORT z DESC
	SORT z ALPHA
	SORT z BY nosort
	SORT z BY nosort DESC
	SORT z BY nosort LIMIT 1 2
	SORT z BY nosort DESC LIMIT 1 2
	SORT z BY nosort GET #
	SET w_a 9
	SET w_j 1
	SORT z BY w_* GET #
	SORT_RO z BY nosort ALPHA LIMIT 0 1`,
	// SWAPDB with collections on either side.
	`HSET h a 1 b 2
	SADD s x y
	ZADD z 1 m 2 n
	SET str v
	EXPIRE h 100
	SELECT 1
	SET h other
	SADD str q
	ZADD only1 5 w
	SWAPDB 0 1
	HGETALL h
	TTL h
	SMEMBERS s
	ZRANGE z 0 -1 WITHSCORES
	GET str
	ZRANGE only1 0 -1 WITHSCORES
	SELECT 0
	GET h
	SMEMBERS str
	ZRANGE only1 0 -1 WITHSCORES
	EXISTS s z
	DBSIZE
	SELECT 1
	DBSIZE`,
	// Arity and unknown commands.
	`GET
	SET k
	SETBIT k 1
	GETBIT k
	BITCOUNT
	BITPOS k
	BITOP AND
	BITFIELD
	BITFIELD_RO
	LCS a
	SUBSTR k 1
	MOVE k
	SWAPDB 0
	COPY k
	RENAME k
	TYPE
	SORT
	SORT_RO
	NOSUCH a b
	EXISTS`,
}

// Random sequences: commands over a small key space with argument values
// that hit edge cases often.

var (
	genKeys   = []string{"a", "b", "c"}
	genValues = []string{"", "0", "1", "-1", "7", "foo", "bar", "10", "3.5", "\xff\x00\x0f", "9223372036854775807", "hello world"}
	genInts   = []string{"0", "1", "-1", "2", "3", "7", "8", "-2", "-8", "100", "x", "9223372036854775807", "-9223372036854775808"}
	genBits   = []string{"0", "1", "7", "8", "15", "31", "33", "63", "-1", "x"}
)

// genCmd is a generator of one kind of command.
type genCmd func(r *rand.Rand) []string

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

func genCommands() []genCmd {
	k := func(r *rand.Rand) string { return pick(r, genKeys) }
	v := func(r *rand.Rand) string { return pick(r, genValues) }
	n := func(r *rand.Rand) string { return pick(r, genInts) }
	small := func(r *rand.Rand) string { return strconv.Itoa(r.IntN(40) - 5) }
	opt := func(r *rand.Rand, args []string, opts ...[]string) []string {
		for range r.IntN(3) {
			o := opts[r.IntN(len(opts))]
			args = append(args, o...)
			if len(o) > 0 && (o[0] == "EX" || o[0] == "PX") {
				args = append(args, pick(r, []string{"100", "0", "-1", "x"}))
			}
			if len(o) > 0 && (o[0] == "EXAT" || o[0] == "PXAT") {
				args = append(args, pick(r, []string{"99999999999999", "1"}))
			}
		}
		return args
	}
	field := func(r *rand.Rand) string {
		return pick(r, []string{"u", "i"}) + strconv.Itoa(1+r.IntN(16))
	}
	return []genCmd{
		func(r *rand.Rand) []string { return []string{"GET", k(r)} },
		func(r *rand.Rand) []string {
			return opt(r, []string{"SET", k(r), v(r)}, []string{"NX"}, []string{"XX"}, []string{"GET"}, []string{"KEEPTTL"}, []string{"EX"}, []string{"PX"}, []string{"EXAT"}, []string{"PXAT"})
		},
		func(r *rand.Rand) []string {
			return opt(r, []string{"GETEX", k(r)}, []string{"PERSIST"}, []string{"EX"}, []string{"PXAT"}, []string{"KEEPTTL"})
		},
		func(r *rand.Rand) []string { return []string{"SETNX", k(r), v(r)} },
		func(r *rand.Rand) []string { return []string{"GETSET", k(r), v(r)} },
		func(r *rand.Rand) []string { return []string{"GETDEL", k(r)} },
		func(r *rand.Rand) []string { return []string{"MSET", k(r), v(r), k(r), v(r)} },
		func(r *rand.Rand) []string { return []string{"MSETNX", k(r), v(r), k(r), v(r)} },
		func(r *rand.Rand) []string { return []string{"MGET", k(r), k(r), k(r)} },
		func(r *rand.Rand) []string { return []string{"APPEND", k(r), v(r)} },
		func(r *rand.Rand) []string { return []string{"STRLEN", k(r)} },
		func(r *rand.Rand) []string { return []string{"GETRANGE", k(r), n(r), n(r)} },
		func(r *rand.Rand) []string { return []string{"SUBSTR", k(r), small(r), small(r)} },
		func(r *rand.Rand) []string { return []string{"SETRANGE", k(r), small(r), v(r)} },
		func(r *rand.Rand) []string { return []string{pick(r, []string{"INCR", "DECR"}), k(r)} },
		func(r *rand.Rand) []string { return []string{pick(r, []string{"INCRBY", "DECRBY"}), k(r), n(r)} },
		func(r *rand.Rand) []string {
			return []string{"INCRBYFLOAT", k(r), pick(r, []string{"1.5", "-2", "x", "1e2"})}
		},
		func(r *rand.Rand) []string {
			return []string{"SETBIT", k(r), pick(r, genBits), pick(r, []string{"0", "1", "2"})}
		},
		func(r *rand.Rand) []string { return []string{"GETBIT", k(r), pick(r, genBits)} },
		func(r *rand.Rand) []string {
			a := []string{"BITCOUNT", k(r)}
			if r.IntN(2) == 0 {
				a = append(a, small(r), small(r))
				if r.IntN(2) == 0 {
					a = append(a, pick(r, []string{"BIT", "BYTE", "bit", "x"}))
				}
			}
			return a
		},
		func(r *rand.Rand) []string {
			a := []string{"BITPOS", k(r), pick(r, []string{"0", "1", "2"})}
			switch r.IntN(4) {
			case 1:
				a = append(a, small(r))
			case 2:
				a = append(a, small(r), small(r))
			case 3:
				a = append(a, small(r), small(r), pick(r, []string{"BIT", "BYTE"}))
			}
			return a
		},
		func(r *rand.Rand) []string {
			op := pick(r, []string{"AND", "OR", "XOR", "NOT"})
			a := []string{"BITOP", op, k(r), k(r)}
			if op != "NOT" || r.IntN(4) == 0 {
				a = append(a, k(r))
			}
			return a
		},
		func(r *rand.Rand) []string {
			a := []string{"BITFIELD", k(r)}
			for range 1 + r.IntN(3) {
				switch r.IntN(4) {
				case 0:
					a = append(a, "GET", field(r), small(r))
				case 1:
					a = append(a, "SET", field(r), pick(r, []string{small(r), "#" + strconv.Itoa(r.IntN(4))}), n(r))
				case 2:
					a = append(a, "INCRBY", field(r), small(r), n(r))
				case 3:
					a = append(a, "OVERFLOW", pick(r, []string{"WRAP", "SAT", "FAIL"}))
				}
			}
			return a
		},
		func(r *rand.Rand) []string { return []string{"BITFIELD_RO", k(r), "GET", field(r), small(r)} },
		func(r *rand.Rand) []string {
			return opt(r, []string{"LCS", k(r), k(r)}, []string{"LEN"}, []string{"IDX"}, []string{"WITHMATCHLEN"}, []string{"MINMATCHLEN", "2"})
		},
		func(r *rand.Rand) []string {
			return []string{pick(r, []string{"DEL", "EXISTS", "UNLINK", "TOUCH"}), k(r), k(r)}
		},
		func(r *rand.Rand) []string { return []string{"TYPE", k(r)} },
		func(r *rand.Rand) []string { return []string{pick(r, []string{"RENAME", "RENAMENX"}), k(r), k(r)} },
		func(r *rand.Rand) []string {
			return opt(r, []string{"COPY", k(r), k(r)}, []string{"REPLACE"}, []string{"DB", pick(r, []string{"0", "1"})})
		},
		func(r *rand.Rand) []string { return []string{"MOVE", k(r), pick(r, []string{"0", "1"})} },
		func(r *rand.Rand) []string {
			return []string{"SWAPDB", pick(r, []string{"0", "1"}), pick(r, []string{"0", "1"})}
		},
		func(r *rand.Rand) []string { return []string{"SELECT", pick(r, []string{"0", "1"})} },
		func(r *rand.Rand) []string {
			return opt(r, []string{pick(r, []string{"EXPIRE", "PEXPIRE"}), k(r), pick(r, []string{"100", "1000000", "0", "-1"})}, []string{"NX"}, []string{"XX"}, []string{"GT"}, []string{"LT"})
		},
		func(r *rand.Rand) []string { return []string{pick(r, []string{"TTL", "PERSIST", "EXPIRETIME"}), k(r)} },
		func(r *rand.Rand) []string {
			return []string{"KEYS", pick(r, []string{"*", "a*", "[ab]", "?", "[", "\\"})}
		},
		func(r *rand.Rand) []string { return []string{"SCAN", "0", "COUNT", "100"} },
		func(r *rand.Rand) []string { return []string{"MULTI"} },
		func(r *rand.Rand) []string { return []string{"EXEC"} },
		func(r *rand.Rand) []string { return []string{"DISCARD"} },
		func(r *rand.Rand) []string { return []string{"WATCH", k(r)} },
		func(r *rand.Rand) []string { return []string{"UNWATCH"} },
		func(r *rand.Rand) []string { return []string{pick(r, []string{"GET", "SET", "INCR", "NOSUCH"})} },
	}
}

// genSequence returns n random commands.
func genSequence(r *rand.Rand, n int) [][][]byte {
	gens := genCommands()
	cmds := make([][][]byte, 0, n+1)
	for range n {
		strs := gens[r.IntN(len(gens))](r)
		args := make([][]byte, len(strs))
		for i, s := range strs {
			args[i] = []byte(s)
		}
		cmds = append(cmds, args)
	}
	// Leave no transaction open; show the final state of the key space.
	cmds = append(cmds, [][]byte{[]byte("DISCARD")})
	for _, k := range genKeys {
		cmds = append(cmds, [][]byte{[]byte("GET"), []byte(k)}, [][]byte{[]byte("TTL"), []byte(k)})
	}
	return cmds
}
