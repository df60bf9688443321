package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is a reading of the machine's busy CPU time and this process's
// own, so that a run can report how much CPU other processes took while it
// ran: the benchmark machine may be shared, and that is the noise to judge
// its figures by.
type cpuSample struct {
	at      time.Time
	machine time.Duration // busy time of all CPUs (/proc/stat), -1 if unknown
	self    time.Duration // user + system time of this process
}

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now(), machine: -1}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait are busy. The unit is USER_HZ, 100 on Linux.
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s
		}
		busy += n
	}
	s.machine = time.Duration(busy) * 10 * time.Millisecond
	return s
}

// otherCPU returns the CPUs (in cores, averaged over the interval) that
// other processes used between s and e, or -1 if unknown.
func otherCPU(s, e cpuSample) float64 {
	if s.machine < 0 || e.machine < 0 {
		return -1
	}
	wall := e.at.Sub(s.at)
	if wall <= 0 {
		return -1
	}
	other := (e.machine - s.machine) - (e.self - s.self)
	return max(float64(other)/float64(wall), 0)
}
