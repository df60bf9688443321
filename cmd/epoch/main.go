// Command epoch is EpochDB's command-line tool. Its first subcommand, serve,
// runs the Redis-protocol server:
//
//	epoch serve --dir ./epoch-data --addr 127.0.0.1:6380
//
// See docs/SERVER.md for the commands and configuration.
package main

import "os"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}
