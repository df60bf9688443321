//go:build unix

package server

import (
	"math"
	"syscall"
)

func readFDLimit() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt64 {
		return 0
	}
	return int64(rl.Cur)
}
