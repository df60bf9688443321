package epochdb_test

import (
	"fmt"
	"log"
	"time"

	"github.com/epochdb/epochdb"
)

// A session as a hash whose fields age on their own: the CSRF token
// expires after a minute, the user stays for the session's life.
func ExampleHash() {
	db, err := epochdb.Open("", &epochdb.Options{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	s := db.Hash([]byte("session:42"))
	if _, err := s.SetFields(
		epochdb.FieldValue{Field: []byte("user"), Value: []byte("alice")},
		epochdb.FieldValue{Field: []byte("csrf"), Value: []byte("t0k3n")},
	); err != nil {
		log.Fatal(err)
	}
	_ = s.Expire([]byte("csrf"), time.Minute)      // the field's own deadline
	_ = db.Expire([]byte("session:42"), time.Hour) // the whole hash's

	user, _ := s.Get([]byte("user"))
	n, _ := s.Len()
	md, _ := db.Metadata([]byte("session:42"))
	fmt.Println(string(user), n, md.Type, md.Frequency) // the Get and the Len were two accesses

	tags := db.SetOf([]byte("tags"))
	_, _ = tags.Add([]byte("go"), []byte("db"), []byte("go"))
	members, _ := tags.Members()
	fmt.Printf("%q\n", members)
	// Output:
	// alice 2 hash 2
	// ["db" "go"]
}
