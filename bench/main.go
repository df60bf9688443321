package main

import (
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/epochdb/epochdb"
	_ "github.com/tidwall/buntdb"
	_ "go.etcd.io/bbolt"
)

func main() {}
