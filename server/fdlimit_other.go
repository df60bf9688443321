//go:build !unix

package server

func readFDLimit() int64 { return 0 }
