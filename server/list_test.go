package server

import (
	"testing"
)

// List commands: Redis's replies and errors, over RESP2 on a raw socket.

func TestCommands_List(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		RPUSH l a b c => :3
		LPUSH l z y => :5
		LRANGE l 0 -1 => ["y" "z" "a" "b" "c"]
		LRANGE l -2 100 => ["b" "c"]
		LRANGE l 3 1 => []
		LRANGE nokey 0 -1 => []
		LRANGE l x 1 => -ERR value is not an integer or out of range
		LLEN l => :5
		LLEN nokey => :0
		LINDEX l 0 => "y"
		LINDEX l -1 => "c"
		LINDEX l 5 => nil
		LINDEX nokey x => nil
		LINDEX l x => -ERR value is not an integer or out of range
		LPUSHX nokey a => :0
		RPUSHX l d => :6
		LSET l 1 Z => +OK
		LSET l 6 x => -ERR index out of range
		LSET nokey 0 x => -ERR no such key
		LSET nokey x x => -ERR no such key
		LSET l x x => -ERR value is not an integer or out of range
		LINSERT l BEFORE a p => :7
		LINSERT l after c q => :8
		LINSERT l BEFORE nope x => :-1
		LINSERT nokey BEFORE a x => :0
		LINSERT l MIDDLE a x => -ERR syntax error
		LRANGE l 0 -1 => ["y" "Z" "p" "a" "b" "c" "q" "d"]
		LPOS l c => :5
		LPOS l nope => nil
		LPOS l c COUNT 0 => [:5]
		LPOS l c RANK 0 => -ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list
		LPOS l c COUNT -1 => -ERR COUNT can't be negative
		LPOS l c MAXLEN -1 => -ERR MAXLEN can't be negative
		LPOS l c FOO 1 => -ERR syntax error
		LPOS nokey c COUNT 1 => []
		LREM l 0 nope => :0
		LREM l x a => -ERR value is not an integer or out of range
		LPOP l => "y"
		RPOP l 2 => ["d" "q"]
		LPOP l 0 => []
		LPOP nokey => nil
		LPOP nokey 2 => nil
		LPOP l -1 => -ERR value is out of range, must be positive
		LPOP l 1 2 => -ERR wrong number of arguments for 'lpop' command
		LMOVE l l2 LEFT RIGHT => "Z"
		RPOPLPUSH l l2 => "c"
		LRANGE l2 0 -1 => ["c" "Z"]
		LMOVE l l2 UP LEFT => -ERR syntax error
		LMOVE nokey l2 LEFT LEFT => nil
		LMPOP 2 nokey l RIGHT COUNT 10 => ["l" ["b" "a" "p"]]
		EXISTS l => :0
		LMPOP 1 l LEFT => nil
		LMPOP 0 l LEFT => -ERR numkeys should be greater than 0
		LMPOP 1 l LEFT COUNT 0 => -ERR count should be greater than 0
		LMPOP 2 l LEFT => -ERR syntax error
		LTRIM l2 0 0 => +OK
		LRANGE l2 0 -1 => ["c"]
		LTRIM l2 1 0 => +OK
		EXISTS l2 => :0
		TYPE nokey => +none
		RPUSH big 1 2 3 => :3
		TYPE big => +list
		OBJECT ENCODING big => "listpack"
		SET s v => +OK
		LPUSH s x => -WRONGTYPE Operation against a key holding the wrong kind of value
		LRANGE s 0 -1 => -WRONGTYPE Operation against a key holding the wrong kind of value
		LMOVE big s LEFT LEFT => -WRONGTYPE Operation against a key holding the wrong kind of value
		LLEN big => :3
		LMOVE nokey s LEFT LEFT => nil
		GET big => -WRONGTYPE Operation against a key holding the wrong kind of value
		BLPOP s 0 => -WRONGTYPE Operation against a key holding the wrong kind of value
		BLPOP nokey big 0 => ["big" "1"]
		BRPOP big 0 => ["big" "3"]
		BLMOVE big big RIGHT LEFT 0 => "2"
		BLPOP big x => -ERR timeout is not a float or out of range
		BLPOP big -1 => -ERR timeout is negative
		BLPOP big inf => -ERR timeout is negative
		BLMPOP 0 2 nokey big LEFT COUNT 5 => ["big" ["2"]]
		BRPOPLPUSH nokey x 0.01 => nil
		BLPOP nokey 0.001 => nil
		BLMPOP 0.01 1 nokey RIGHT => nil
		RPUSH r 1 => :1
		RENAME r r2 => +OK
		LRANGE r2 0 -1 => ["1"]
		COPY r2 r3 => :1
		MOVE r3 1 => :1
		SELECT 1 => +OK
		LRANGE r3 0 -1 => ["1"]
		SCAN 0 TYPE list => ["0" ["r3"]]
	`)
}
