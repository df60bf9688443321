package epochdb_test

import (
	"fmt"
	"log"

	"github.com/epochdb/epochdb"
)

// A leaderboard as a sorted set: scores go up with IncrBy, the top three
// come from a reverse range by rank, a player's place from Rank.
func ExampleZSet() {
	db, err := epochdb.Open("", &epochdb.Options{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	board := db.ZSet([]byte("leaderboard"))
	if _, _, err := board.Add(epochdb.ZAddOptions{},
		epochdb.ZMember{Member: []byte("alice"), Score: 120},
		epochdb.ZMember{Member: []byte("bob"), Score: 95},
		epochdb.ZMember{Member: []byte("carol"), Score: 130},
		epochdb.ZMember{Member: []byte("dave"), Score: 80},
	); err != nil {
		log.Fatal(err)
	}
	_, _, _ = board.IncrBy([]byte("bob"), 50, epochdb.ZAddOptions{}) // bob scores 50 more

	top, _ := board.Range(epochdb.ZRange{Start: 0, Stop: 2, Rev: true})
	for i, m := range top {
		fmt.Printf("%d. %s %v\n", i+1, m.Member, m.Score)
	}
	place, _, _ := board.Rank([]byte("dave"), true)
	over100, _ := board.Count(epochdb.ScoreBound{Score: 100, Exclusive: true}, epochdb.ScoreBound{Score: 1000})
	fmt.Println("dave is", place+1, "of 4;", over100, "players over 100")
	// Output:
	// 1. bob 145
	// 2. carol 130
	// 3. alice 120
	// dave is 4 of 4; 3 players over 100
}
