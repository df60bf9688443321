package epochdb_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/epochdb/epochdb"
)

func Example() {
	dir, _ := os.MkdirTemp("", "epochdb-example")
	defer os.RemoveAll(dir)

	db, err := epochdb.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// Store a session that expires in 30 minutes.
	if err := db.Set([]byte("session:42"), []byte("alice"), 30*time.Minute); err != nil {
		log.Fatal(err)
	}
	v, _ := db.Get([]byte("session:42")) // a tracked read: frequency 1
	n, _ := db.IncrementFrequency([]byte("session:42"))
	md, _ := db.Metadata([]byte("session:42"))
	ttl, _ := db.TTL([]byte("session:42"))
	fmt.Println(string(v), n, md.Frequency, ttl > 29*time.Minute)

	existed, _ := db.Delete([]byte("session:42"))
	_, err = db.Get([]byte("session:42"))
	fmt.Println(existed, errors.Is(err, epochdb.ErrNotFound))
	// Output:
	// alice 2 2 true
	// true true
}

func ExampleDB_Update() {
	db, err := epochdb.Open("", &epochdb.Options{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	_ = db.Set([]byte("a"), []byte("10"), 0)
	_ = db.Set([]byte("b"), []byte("0"), 0)

	// Move a's value to b atomically; a concurrent writer of a or b would
	// make the commit conflict and Update would run the function again.
	err = db.Update(func(tx *epochdb.Tx) error {
		v, err := tx.Get([]byte("a"))
		if err != nil {
			return err
		}
		if err := tx.Set([]byte("b"), v, 0); err != nil {
			return err
		}
		return tx.Set([]byte("a"), []byte("0"), 0)
	})
	if err != nil {
		log.Fatal(err)
	}
	a, _ := db.Get([]byte("a"))
	b, _ := db.Get([]byte("b"))
	fmt.Println(string(a), string(b))
	// Output: 0 10
}

func ExampleDB_Scan() {
	db, _ := epochdb.Open("", &epochdb.Options{InMemory: true})
	defer db.Close()
	for _, k := range []string{"user:1", "user:2", "user:3", "order:1"} {
		_ = db.Set([]byte(k), []byte("v"), 0)
	}
	// Page through the "user:" keys two at a time.
	var after []byte
	for {
		var page []string
		_ = db.Scan(epochdb.ScanOptions{Prefix: []byte("user:"), After: after, Limit: 2},
			func(key, _ []byte, _ epochdb.Metadata) error {
				page = append(page, string(key))
				return nil
			})
		if len(page) == 0 {
			break
		}
		fmt.Println(page)
		after = []byte(page[len(page)-1])
	}
	// Output:
	// [user:1 user:2]
	// [user:3]
}
