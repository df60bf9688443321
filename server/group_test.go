package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/epochdb/epochdb"
)

// TestGroup_PipelinedSets: a pipeline of SETs is committed as groups (one
// library batch each), with every reply in order; a GET, an INCR, a SET
// with other options or an invalid SET inside the pipeline sees the writes
// before it and ends the group; keyspace notifications follow in order.
func TestGroup_PipelinedSets(t *testing.T) {
	ts := startServer(t)
	sub := ts.dial(t)
	eq(t, "notify", sub.do("CONFIG", "SET", "notify-keyspace-events", "KEA"), "+OK")
	sub.send(encodeCommand("PSUBSCRIBE", "__keyspace@0__:*"))
	eq(t, "psubscribe", sub.read(), `["psubscribe" "__keyspace@0__:*" :1]`)

	rc := ts.dial(t)
	var p strings.Builder
	var want []string
	for i := range 100 {
		p.WriteString(encodeCommand("SET", fmt.Sprint("k", i), fmt.Sprint(i)))
		want = append(want, "+OK")
	}
	p.WriteString(encodeCommand("GET", "k42")) // sees the group before it
	want = append(want, `"42"`)
	p.WriteString(encodeCommand("SET", "n", "1", "EX", "100"))
	want = append(want, "+OK")
	p.WriteString(encodeCommand("INCR", "n"))
	want = append(want, ":2")
	p.WriteString(encodeCommand("SET", "n", "5", "PX", "0")) // invalid: not grouped, its own error
	want = append(want, "-ERR invalid expire time in 'set' command")
	p.WriteString(encodeCommand("SET", "k0", "again"))
	want = append(want, "+OK")
	p.WriteString(encodeCommand("SET", "x", "1", "NX")) // not groupable: runs alone
	want = append(want, "+OK")
	p.WriteString(encodeCommand("GET", "k0"))
	want = append(want, `"again"`)
	batches := ts.db.Stats().Batches
	rc.send(p.String())
	for i, w := range want {
		eq(t, fmt.Sprint("reply ", i), rc.read(), w)
	}
	if got := ts.db.Stats().Batches - batches; got == 0 || got > 5 {
		t.Fatalf("%d batches for the pipeline, want the SETs grouped into a few", got)
	}
	eq(t, "DBSIZE", rc.do("DBSIZE"), ":102")
	for i := range 100 {
		eq(t, "notification", sub.read(), fmt.Sprintf(`["pmessage" "__keyspace@0__:*" "__keyspace@0__:k%d" "set"]`, i))
	}
	eq(t, "notification", sub.read(), `["pmessage" "__keyspace@0__:*" "__keyspace@0__:n" "set"]`)
	eq(t, "notification", sub.read(), `["pmessage" "__keyspace@0__:*" "__keyspace@0__:n" "expire"]`)
	eq(t, "notification", sub.read(), `["pmessage" "__keyspace@0__:*" "__keyspace@0__:n" "incrby"]`)
}

// TestGroup_FailedCommitAnswersEverySet: when the group's commit fails
// (here: a budget with noeviction), every SET of it gets the error and
// nothing of it is stored.
func TestGroup_FailedCommitAnswersEverySet(t *testing.T) {
	ts := startServerDB(t, func(o *epochdb.Options) { o.MaxKeys = 10 })
	rc := ts.dial(t)
	var p strings.Builder
	for i := range 20 {
		p.WriteString(encodeCommand("SET", fmt.Sprint("k", i), "v"))
	}
	rc.send(p.String())
	for i := range 20 {
		eq(t, fmt.Sprint("reply ", i), rc.read(), "-OOM command not allowed when keys > 'maxkeys'.")
	}
	eq(t, "DBSIZE", rc.do("DBSIZE"), ":0")
	eq(t, "a single SET", rc.do("SET", "one", "v"), "+OK")
}
