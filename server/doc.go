// Package server is EpochDB's Redis-protocol server: it serves an
// *epochdb.DB to redis-cli, redis-benchmark and any Redis client library,
// over RESP2 and RESP3, on plain TCP or TLS.
//
// # Shape
//
// The package is shaped like net/http. A Handler answers one command on a
// Conn; HandlerFunc adapts a function; ServeMux is the command table that
// checks arity and dispatches by name. A Server holds its configuration in
// exported fields, serves listeners with Serve, stops gracefully with
// Shutdown or at once with Close, after which Serve returns ErrServerClosed.
//
//	db, _ := epochdb.Open(dir, opts)
//	srv := &server.Server{DB: db, DBOptions: opts}
//	ln, _ := net.Listen("tcp", "127.0.0.1:6380")
//	go srv.Serve(ln)
//	…
//	srv.Shutdown(ctx) // finish in-flight commands
//	db.Close()
//
// # Keys and logical databases
//
// SELECT 0..15 picks a logical database. The server stores a key of database
// n under the library key n‖key (one byte holding n, then the client's key),
// so one EpochDB store holds all sixteen and an empty Redis key is a valid
// one-byte library key. Keys written by embedders without that prefix are
// invisible to the server unless their first byte happens to be 0..15.
//
// # Concurrency
//
// Each connection is served by one goroutine that reads a command, executes
// it and buffers the reply; replies are written when no further pipelined
// input is buffered. Commands run concurrently, with no server-wide lock:
// each is atomic through the library (one write operation per key,
// DB.Modify for read-modify-writes, SetDeadline for conditional deadlines,
// a transaction or a batch for several keys: MSET, RENAME, DEL a b …), and
// EXEC runs its queue as one library transaction, serializable against
// every other writer.
//
// The one blocking command, EPOCH.EVENTS BLOCK, waits holding no lock, on
// a context that ends when the server shuts down or the client goes away
// (see block.go), so it never holds up other clients or Shutdown.
package server
