module github.com/epochdb/epochdb/bench

go 1.26.8

replace github.com/epochdb/epochdb => ../
