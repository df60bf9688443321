//go:build unix

package server

import (
	"strconv"
	"syscall"
	"time"
)

// cpuInfo is INFO cpu: the process's CPU time. Go runs on several threads,
// so the main thread's figures are the process's.
func cpuInfo() [][2]string {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	secs := func(tv syscall.Timeval) string {
		return strconv.FormatFloat(float64(time.Duration(tv.Nano()))/1e9, 'f', 6, 64)
	}
	return [][2]string{
		{"used_cpu_sys", secs(self.Stime)},
		{"used_cpu_user", secs(self.Utime)},
		{"used_cpu_sys_children", secs(children.Stime)},
		{"used_cpu_user_children", secs(children.Utime)},
		{"used_cpu_sys_main_thread", secs(self.Stime)},
		{"used_cpu_user_main_thread", secs(self.Utime)},
	}
}
