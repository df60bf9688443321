package server

import (
	"strconv"
	"strings"
	"testing"
)

// Command semantics and Redis's exact replies, over RESP2 on a raw socket.
// The manual clock starts at 2026-01-02T03:04:05Z = Unix 1767323045.

func TestCommands_Strings(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		GET missing => nil
		SET k v => +OK
		GET k => "v"
		SET k v2 NX => nil
		SET k v3 XX => +OK
		GET k => "v3"
		SET k v4 NX GET => "v3"
		GET k => "v3"
		SET k v5 GET => "v3"
		SET nokey v XX => nil
		EXISTS nokey => :0
		SET nokey v XX GET => nil
		SET k v NX XX => -ERR syntax error
		SET k v EX => -ERR syntax error
		SET k v EX 10 PX 10 => -ERR syntax error
		SET k v EX 10 KEEPTTL => -ERR syntax error
		SET k v FOO => -ERR syntax error
		SET k v EX abc => -ERR value is not an integer or out of range
		SET k v EX 0 => -ERR invalid expire time in 'set' command
		SET k v PX -5 => -ERR invalid expire time in 'set' command
		SET k v EX 9223372036854775807 => -ERR invalid expire time in 'set' command
		SET k => -ERR wrong number of arguments for 'set' command
		GET => -ERR wrong number of arguments for 'get' command
		GET a b => -ERR wrong number of arguments for 'get' command
		SETNX k x => :0
		SETNX fresh x => :1
		GETSET fresh y => "x"
		GETSET newgs z => nil
		GETDEL fresh => "y"
		GETDEL fresh => nil
		MSET a 1 b 2 c 3 => +OK
		MSET a 1 b => -ERR wrong number of arguments for 'mset' command
		MGET a b nothing c => ["1" "2" nil "3"]
		MSETNX a 9 z 9 => :0
		GET z => nil
		MSETNX y 1 z 2 => :1
		MGET y z => ["1" "2"]
		APPEND ap hello => :5
		APPEND ap " world" => :11
		GET ap => "hello world"
		STRLEN ap => :11
		STRLEN nothing => :0
		GETRANGE ap 0 4 => "hello"
		GETRANGE ap -5 -1 => "world"
		GETRANGE ap 6 100 => "world"
		GETRANGE ap 5 2 => ""
		GETRANGE ap -1 -5 => ""
		GETRANGE nothing 0 -1 => ""
		GETRANGE ap a 1 => -ERR value is not an integer or out of range
		SETRANGE ap 6 WORLD => :11
		GET ap => "hello WORLD"
		SETRANGE pad 3 x => :4
		GET pad => "\x00\x00\x00x"
		SETRANGE empty 5 "" => :0
		EXISTS empty => :0
		SETRANGE ap -1 x => -ERR offset is out of range
		SETRANGE ap 536870911 xx => -ERR string exceeds maximum allowed size (proto-max-bulk-len)
		INCR n => :1
		INCRBY n 10 => :11
		DECR n => :10
		DECRBY n 3 => :7
		INCRBY n -7 => :0
		INCR k => -ERR value is not an integer or out of range
		INCRBY n abc => -ERR value is not an integer or out of range
		INCRBY n 007 => -ERR value is not an integer or out of range
		SET big 9223372036854775807 => +OK
		INCR big => -ERR increment or decrement would overflow
		SET small -9223372036854775808 => +OK
		DECR small => -ERR increment or decrement would overflow
		DECRBY n -9223372036854775808 => -ERR decrement would overflow
		SET sp " 1" => +OK
		INCR sp => -ERR value is not an integer or out of range
		INCRBYFLOAT f 10.5 => "10.5"
		INCRBYFLOAT f 0.1 => "10.6"
		INCRBYFLOAT f -5 => "5.6"
		# Redis's long double: 5005.6 is not exact in it either, and shows.
		INCRBYFLOAT f 5.0e3 => "5005.60000000000000009"
		INCRBYFLOAT f abc => -ERR value is not a valid float
		INCRBYFLOAT k 1 => -ERR value is not a valid float
		SET huge 1e4932 => +OK
		INCRBYFLOAT huge 1e4932 => -ERR increment would produce NaN or Infinity
		INCRBYFLOAT f nan => -ERR value is not a valid float
		ECHO "hello world" => "hello world"
		PING => +PONG
		PING hi => "hi"
		PING a b => -ERR wrong number of arguments for 'ping' command
	`)
}

func TestCommands_Expiry(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		SET k v EX 10 => +OK
		TTL k => :10
		PTTL k => :10000
		EXPIRETIME k => :1767323055
		PEXPIRETIME k => :1767323055000
		!advance 9s
		TTL k => :1
		PTTL k => :1000
		!advance 1s
		GET k => nil
		TTL k => :-2
		EXISTS k => :0
		SET p v => +OK
		TTL p => :-1
		PTTL p => :-1
		EXPIRETIME p => :-1
		EXPIRE p 100 => :1
		TTL p => :100
		PERSIST p => :1
		PERSIST p => :0
		TTL p => :-1
		PERSIST missing => :0
		EXPIRE missing 10 => :0
		PEXPIRE p 1500 => :1
		PTTL p => :1500
		TTL p => :2
		EXPIREAT p 1767324000 => :1
		EXPIRETIME p => :1767324000
		PEXPIREAT p 1767324000500 => :1
		PEXPIRETIME p => :1767324000500
		EXPIRE p 10 NX => :0
		EXPIRE p 10 XX => :1
		TTL p => :10
		EXPIRE p 5 GT => :0
		EXPIRE p 50 GT => :1
		EXPIRE p 60 LT => :0
		EXPIRE p 20 LT => :1
		TTL p => :20
		SET q v => +OK
		EXPIRE q 10 XX => :0
		EXPIRE q 10 GT => :0
		EXPIRE q 10 LT => :1
		PERSIST q => :1
		EXPIRE q 10 NX => :1
		EXPIRE q 10 NX XX => -ERR NX and XX, GT or LT options at the same time are not compatible
		EXPIRE q 10 GT LT => -ERR GT and LT options at the same time are not compatible
		EXPIRE q 10 FOO => -ERR Unsupported option FOO
		EXPIRE q abc => -ERR value is not an integer or out of range
		EXPIRE q 9223372036854775807 => -ERR invalid expire time in 'expire' command
		PEXPIRE q 9223372036854775807 => -ERR invalid expire time in 'pexpire' command
		EXPIRE q 0 => :1
		EXISTS q => :0
		SET r v => +OK
		EXPIRE r -5 => :1
		GET r => nil
		SET s v => +OK
		EXPIREAT s 1000 => :1
		GET s => nil
		SET px v PX 250 => +OK
		PTTL px => :250
		# now = 1767323055
		SET ex v EXAT 1767323155 => +OK
		TTL ex => :100
		SET pxat v PXAT 1767323055500 => +OK
		PTTL pxat => :500
		SET past v PXAT 1767323054000 => +OK
		GET past => nil
		SET kt v EX 30 => +OK
		SET kt v2 KEEPTTL => +OK
		TTL kt => :30
		SET kt v3 => +OK
		TTL kt => :-1
		SETEX se 10 v => +OK
		TTL se => :10
		SETEX se 0 v => -ERR invalid expire time in 'setex' command
		SETEX se x v => -ERR value is not an integer or out of range
		PSETEX pse 1500 v => +OK
		PTTL pse => :1500
		PSETEX pse -1 v => -ERR invalid expire time in 'psetex' command
		SET gx v => +OK
		GETEX gx EX 100 => "v"
		TTL gx => :100
		GETEX gx PERSIST => "v"
		TTL gx => :-1
		GETEX gx PXAT 1767323056000 => "v"
		PTTL gx => :1000
		GETEX gx => "v"
		GETEX gx EX 0 => -ERR invalid expire time in 'getex' command
		GETEX gx FOO => -ERR syntax error
		GETEX gx EXAT 1000 => "v"
		EXISTS gx => :0
		GETEX missing EX 10 => nil
		SET inc 5 EX 100 => +OK
		INCR inc => :6
		TTL inc => :100
		APPEND inc 0 => :2
		TTL inc => :100
		SET legacy v 1500 => +OK
		PTTL legacy => :1500
		SET legacy v 0 => +OK
		PTTL legacy => :-1
		SET legacy v -1 => -ERR invalid expire time in 'set' command
	`)
}

func TestCommands_Keys(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		MSET a 1 b 2 c 3 => +OK
		DEL a b nothing => :2
		DEL a => :0
		UNLINK c => :1
		MSET a 1 b 2 => +OK
		EXISTS a b a nothing => :3
		TYPE a => +string
		TYPE nothing => +none
		SET ttlsrc v EX 100 => +OK
		RENAME ttlsrc dst => +OK
		GET dst => "v"
		TTL dst => :100
		EXISTS ttlsrc => :0
		RENAME nothing x => -ERR no such key
		RENAME a a => +OK
		RENAMENX a b => :0
		RENAMENX a fresh => :1
		GET fresh => "1"
		RENAMENX nothing x => -ERR no such key
		COPY fresh cp => :1
		GET cp => "1"
		COPY fresh cp => :0
		SET fresh 2 => +OK
		COPY fresh cp REPLACE => :1
		GET cp => "2"
		COPY fresh fresh => -ERR source and destination objects are the same
		COPY nothing x => :0
		COPY fresh other DB 3 => :1
		COPY fresh other DB 16 => -ERR DB index is out of range
		COPY fresh other FOO => -ERR syntax error
		SELECT 3 => +OK
		GET other => "2"
		SELECT 0 => +OK
		GET other => nil
		TOUCH fresh cp nothing => :2
		OBJECT FREQ nothing => nil
		OBJECT ENCODING fresh => "int"
		SET s short => +OK
		OBJECT ENCODING s => "embstr"
		SET l aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa => +OK
		OBJECT ENCODING l => "raw"
		OBJECT IDLETIME s => :0
		OBJECT REFCOUNT s => :1
		OBJECT FOO s => -ERR unknown subcommand 'FOO'. Try OBJECT HELP.
		OBJECT FREQ => -ERR wrong number of arguments for 'object|freq' command
		DBSIZE => :6
		KEYS * => ["b" "cp" "dst" "fresh" "l" "s"]
		KEYS f* => ["fresh"]
		KEYS ? => ["b" "l" "s"]
		KEYS [ab] => ["b"]
		KEYS [^b]* => ["cp" "dst" "fresh" "l" "s"]
		KEYS nomatch* => []
		FLUSHDB => +OK
		DBSIZE => :0
		RANDOMKEY => nil
		SET only v => +OK
		RANDOMKEY => "only"
		SELECT 3 => +OK
		DBSIZE => :1
		FLUSHALL => +OK
		DBSIZE => :0
		SELECT 0 => +OK
		DBSIZE => :0
		FLUSHALL FOO => -ERR syntax error
		FLUSHALL ASYNC => +OK
		SELECT 16 => -ERR DB index is out of range
		SELECT -1 => -ERR DB index is out of range
		SELECT x => -ERR value is not an integer or out of range
	`)
}

func TestCommands_Scan(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	runScript(t, ts, rc, `
		MSET k1 a k2 b k3 c user:1 d user:2 e => +OK
		SCAN 0 COUNT 100 => ["0" ["k1" "k2" "k3" "user:1" "user:2"]]
		SCAN 0 MATCH user:* => ["0" ["user:1" "user:2"]]
		SCAN 0 MATCH k? COUNT 100 TYPE string => ["0" ["k1" "k2" "k3"]]
		SCAN 0 TYPE hash => ["0" []]
		SCAN 0 COUNT 0 => -ERR syntax error
		SCAN 0 COUNT x => -ERR value is not an integer or out of range
		SCAN 0 FOO bar => -ERR syntax error
		SCAN x => -ERR invalid cursor
		SCAN 12345 => -ERR invalid cursor
	`)
	// Page through with COUNT 2 on another connection: cursors are
	// server-wide.
	var all []string
	cursor := "0"
	for i := 0; ; i++ {
		rc := ts.dial(t)
		reply := rc.do("SCAN", cursor, "COUNT", "2")
		var next string
		var keys []string
		parseScanReply(t, reply, &next, &keys)
		all = append(all, keys...)
		if next == "0" {
			break
		}
		cursor = next
		if i > 10 {
			t.Fatal("SCAN does not terminate")
		}
	}
	if got := len(all); got != 5 {
		t.Fatalf("SCAN pages returned %d keys: %v", got, all)
	}
}

// parseScanReply splits a rendered SCAN reply ["cursor" ["k" ...]].
func parseScanReply(t *testing.T, reply string, cursor *string, keys *[]string) {
	t.Helper()
	rest, ok := strings.CutPrefix(reply, "[")
	if !ok {
		t.Fatalf("bad SCAN reply %q", reply)
	}
	q, err := strconv.QuotedPrefix(rest)
	must(t, err)
	*cursor, _ = strconv.Unquote(q)
	rest = strings.TrimPrefix(rest[len(q):], " [")
	for strings.HasPrefix(rest, "\"") {
		q, err := strconv.QuotedPrefix(rest)
		must(t, err)
		k, _ := strconv.Unquote(q)
		*keys = append(*keys, k)
		rest = strings.TrimPrefix(rest[len(q):], " ")
	}
}

func TestCommands_Connection(t *testing.T) {
	ts := startServer(t)
	rc := ts.dial(t)
	// Redis ends the list of arguments with a space.
	eq(t, "FOO a b", rc.do("FOO", "a", "b"), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
	eq(t, "foo", rc.do("foo"), "-ERR unknown command 'foo', with args beginning with: ")
	eq(t, "long args", rc.do("foo", strings.Repeat("x", 200), "y"),
		"-ERR unknown command 'foo', with args beginning with: '"+strings.Repeat("x", 128)+"' ")
	eq(t, "newline", rc.do("foo\r\nbar"), "-ERR unknown command 'foo  bar', with args beginning with: ")
	runScript(t, ts, rc, `
		PING => +PONG
		CLIENT SETNAME myname => +OK
		CLIENT GETNAME => "myname"
		CLIENT SETNAME "bad name" => -ERR Client names cannot contain spaces, newlines or special characters.
		CLIENT ID => :1
		CLIENT FOO => -ERR unknown subcommand 'FOO'. Try CLIENT HELP.
		CLIENT KILL 1.2.3.4:5 => -ERR No such client
		CLIENT KILL ID 999 => :0
		CLIENT SETINFO LIB-NAME mylib => +OK
		CLIENT NO-EVICT on => +OK
		HELLO 4 => -NOPROTO unsupported protocol version
		HELLO x => -ERR Protocol version is not an integer or out of range
		HELLO 2 FOO => -ERR Syntax error in HELLO option 'FOO'
		AUTH pass => -ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?
		AUTH default anything => +OK
		AUTH someone pass => -WRONGPASS invalid username-password pair or user is disabled.
		AUTH a b c => -ERR syntax error
		SELECT 1 => +OK
		SET k v => +OK
		RESET => +RESET
		GET k => nil
		HELLO 3 => {"server": "redis", "version": "7.2.0", "proto": :3, "id": :1, "mode": "standalone", "role": "master", "modules": [], "epochdb_version": "0.1.0"}
		GET k => nil
		HELLO 2 SETNAME other => ["server" "redis" "version" "7.2.0" "proto" :2 "id" :1 "mode" "standalone" "role" "master" "modules" [] "epochdb_version" "0.1.0"]
		CLIENT GETNAME => "other"
		QUIT => +OK
	`)
}

func TestCommands_Epoch(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		EPOCH.META missing => nil
		SET k v EX 100 => +OK
		EPOCH.META k => ["frequency" :0 "heat" "1" "created_at" :1767323045000 "updated_at" :1767323045000 "last_access" :1767323045000 "expires_at" :1767323145000]
		!advance 2s
		EPOCH.INCRFREQ k => :1
		EPOCH.INCRFREQ k => :2
		OBJECT FREQ k => :2
		EPOCH.META k => ["frequency" :2 "heat" "2.9996149923674897" "created_at" :1767323045000 "updated_at" :1767323045000 "last_access" :1767323047000 "expires_at" :1767323145000]
		!advance 3s
		OBJECT IDLETIME k => :3
		SET k v2 => +OK
		EPOCH.META k => ["frequency" :2 "heat" "2.997882847116545" "created_at" :1767323045000 "updated_at" :1767323050000 "last_access" :1767323050000 "expires_at" :-1]
		EPOCH.INCRFREQ missing => nil
		INCREMENT_FREQUENCY k => +OK
		INCREMENT_FREQUENCY missing => nil
		SET t v 5000 => +OK
		GET_METADATA t => ["frequency" :0 "created_at" :1767323050 "ttl" :1767323055]
		GET_METADATA k => ["frequency" :3 "created_at" :1767323045 "ttl" nil]
		GET_METADATA missing => nil
		SIZE => :2
		RM t => +OK
		RM t => +OK
		SIZE => :1
		EPOCH.META => -ERR wrong number of arguments for 'epoch.meta' command
	`)
	// RESP3: EPOCH.META is a map.
	rc := ts.dial(t)
	rc.do("HELLO", "3")
	eq(t, "EPOCH.META (RESP3)", rc.do("EPOCH.META", "k"),
		`{"frequency": :3, "heat": ,3.997882847116545, "created_at": :1767323045000, "updated_at": :1767323050000, "last_access": :1767323050000, "expires_at": :-1}`)
}

func TestCommands_Server(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		TIME => ["1767323045" "0"]
		LASTSAVE => :1767323045
		CONFIG GET maxclients => ["maxclients" "10000"]
		CONFIG GET appendfsync => ["appendfsync" "everysec"]
		CONFIG SET maxclients 50 => +OK
		CONFIG GET maxclients => ["maxclients" "50"]
		CONFIG SET maxclients 0 => -ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 1073741824 inclusive
		CONFIG SET timeout 30 => +OK
		CONFIG GET timeout => ["timeout" "30"]
		CONFIG SET timeout 0 => +OK
		CONFIG SET nosuch 1 => -ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'
		CONFIG SET databases 16 => +OK
		CONFIG SET databases 8 => -ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config: the number of databases is fixed
		CONFIG SET appendfsync always => +OK
		CONFIG GET appendfsync => ["appendfsync" "always"]
		CONFIG SET appendfsync everysec => +OK
		CONFIG SET notify-keyspace-events KEA => +OK
		CONFIG GET notify-keyspace-events => ["notify-keyspace-events" "AKE"]
		CONFIG SET notify-keyspace-events Q => -ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.
		CONFIG GET nomatch* => []
		CONFIG GET slowlog-* => ["slowlog-log-slower-than" "10000" "slowlog-max-len" "128"]
		CONFIG SET slowlog-log-slower-than 0 => +OK
		SLOWLOG RESET => +OK
		PING => +PONG
		SLOWLOG LEN => :2
		CONFIG SET slowlog-log-slower-than 10000 => +OK
		CONFIG RESETSTAT => +OK
		CONFIG FOO => -ERR unknown subcommand 'FOO'. Try CONFIG HELP.
		CONFIG GET => -ERR wrong number of arguments for 'config|get' command
		SLOWLOG FOO => -ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.
		SHUTDOWN ABORT => -ERR No shutdown in progress.
		SHUTDOWN FOO => -ERR syntax error
		COMMAND INFO get nosuch => [["get" :2 [+readonly] :1 :1 :1 [+@read +@string] [] [] []] nil]
		COMMAND DOCS get => ["get" ["summary" "Returns the string value of a key." "since" "1.0.0" "group" "string"]]
		COMMAND FOO => -ERR unknown subcommand 'FOO'. Try COMMAND HELP.
	`)
	rc := ts.dial(t)
	if got := rc.do("SLOWLOG", "GET", "10"); !strings.Contains(got, `["PING"]`) || !strings.Contains(got, `["SLOWLOG" "LEN"]`) {
		t.Errorf("SLOWLOG GET 10 = %s", got)
	}
	rc.do("SET", "a", "1")
	rc.do("SET", "b", "2", "EX", "100")
	rc.do("SELECT", "5")
	rc.do("SET", "c", "3")
	info := rc.do("INFO", "keyspace")
	eq(t, "INFO keyspace", info, `"# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb5:keys=1,expires=0,avg_ttl=0\r\n"`)
	for _, want := range []string{"# Server", "redis_version:7.2.0", "# Clients", "connected_clients:", "# Memory",
		"# Persistence", "aof_enabled:1", "# Stats", "expired_keys:", "evicted_keys:0", "# Keyspace", "# Epochdb"} {
		if got := rc.do("INFO"); !strings.Contains(got, want) {
			t.Errorf("INFO lacks %q", want)
		}
	}
	if got := rc.do("COMMAND", "COUNT"); got == ":0" {
		t.Errorf("COMMAND COUNT = %s", got)
	}
	if got := rc.do("CLIENT", "LIST"); !strings.Contains(got, "id=") || !strings.Contains(got, "cmd=client") {
		t.Errorf("CLIENT LIST = %s", got)
	}
}

func TestCommands_Multi(t *testing.T) {
	ts := startServer(t)
	runScript(t, ts, ts.dial(t), `
		EXEC => -ERR EXEC without MULTI
		DISCARD => -ERR DISCARD without MULTI
		MULTI => +OK
		MULTI => -ERR MULTI calls can not be nested
		SET a 1 => +QUEUED
		INCR a => +QUEUED
		GET a => +QUEUED
		EXEC => [+OK :2 "2"]
		MULTI => +OK
		SET a 5 => +QUEUED
		DISCARD => +OK
		GET a => "2"
		MULTI => +OK
		SET a 5 => +QUEUED
		NOSUCH => -ERR unknown command 'NOSUCH', with args beginning with: 
		GET => -ERR wrong number of arguments for 'get' command
		EXEC => -EXECABORT Transaction discarded because of previous errors.
		GET a => "2"
		MULTI => +OK
		WATCH a => -ERR WATCH inside MULTI is not allowed
		INCR a => +QUEUED
		SET s x => +QUEUED
		INCR s => +QUEUED
		EXEC => [:3 +OK -ERR value is not an integer or out of range]
		WATCH a => +OK
		MULTI => +OK
		INCR a => +QUEUED
		EXEC => [:4]
		SET w v EX 10 => +OK
		WATCH w => +OK
		!advance 11s
		MULTI => +OK
		SET w v2 => +QUEUED
		EXEC => nil
		WATCH nothing => +OK
		UNWATCH => +OK
		MULTI => +OK
		SUBSCRIBE ch => -ERR Command not allowed inside a transaction
		EXEC => -EXECABORT Transaction discarded because of previous errors.
	`)
	// A write by another connection between WATCH and EXEC aborts EXEC.
	a, b := ts.dial(t), ts.dial(t)
	eq(t, "WATCH", a.do("WATCH", "k"), "+OK")
	eq(t, "other SET", b.do("SET", "k", "theirs"), "+OK")
	eq(t, "MULTI", a.do("MULTI"), "+OK")
	eq(t, "SET", a.do("SET", "k", "mine"), "+QUEUED")
	eq(t, "EXEC", a.do("EXEC"), "nil")
	eq(t, "GET", a.do("GET", "k"), `"theirs"`)
}

func TestCommands_PubSubRESP2(t *testing.T) {
	ts := startServer(t)
	sub, pub := ts.dial(t), ts.dial(t)
	eq(t, "SUBSCRIBE", sub.do("SUBSCRIBE", "a", "b"), `["subscribe" "a" :1]`)
	eq(t, "second confirmation", sub.read(), `["subscribe" "b" :2]`)
	eq(t, "GET while subscribed", sub.do("GET", "x"),
		"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
	eq(t, "PING while subscribed", sub.do("PING"), `["pong" ""]`)
	eq(t, "PSUBSCRIBE", sub.do("PSUBSCRIBE", "a*"), `["psubscribe" "a*" :3]`)
	eq(t, "PUBLISH", pub.do("PUBLISH", "a", "hi"), ":2")
	eq(t, "message", sub.read(), `["message" "a" "hi"]`)
	eq(t, "pmessage", sub.read(), `["pmessage" "a*" "a" "hi"]`)
	eq(t, "PUBLISH nobody", pub.do("PUBLISH", "zzz", "hi"), ":0")
	eq(t, "NUMSUB", pub.do("PUBSUB", "NUMSUB", "a", "zzz"), `["a" :1 "zzz" :0]`)
	eq(t, "UNSUBSCRIBE", sub.do("UNSUBSCRIBE"), `["unsubscribe" "a" :2]`)
	eq(t, "UNSUBSCRIBE 2", sub.read(), `["unsubscribe" "b" :1]`)
	eq(t, "PUNSUBSCRIBE", sub.do("PUNSUBSCRIBE"), `["punsubscribe" "a*" :0]`)
	eq(t, "GET after unsubscribing", sub.do("GET", "x"), "nil")
	eq(t, "UNSUBSCRIBE none", sub.do("UNSUBSCRIBE"), `["unsubscribe" nil :0]`)
	eq(t, "SUBSCRIBE again", sub.do("SUBSCRIBE", "c"), `["subscribe" "c" :1]`)
	eq(t, "RESET", sub.do("RESET"), "+RESET")
	eq(t, "PUBLISH after RESET", pub.do("PUBLISH", "c", "x"), ":0")
}
