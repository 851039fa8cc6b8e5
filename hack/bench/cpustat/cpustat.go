// Package cpustat reads how much CPU time the machine has spent, for the
// benchmarks (hack/bench, hack/bench/fleet): a replay on a small machine is
// bound by its cores, so what a method costs in CPU-seconds says as much
// as its wall time.
package cpustat

import (
	"os"
	"strconv"
	"strings"
)

// TicksPerSecond is USER_HZ, the unit of /proc/stat and of utime and stime
// in /proc/<pid>/stat (100 on Linux on every architecture Go supports).
const TicksPerSecond = 100

// MachineBusyTicks is the busy time of all cores so far, from /proc/stat's
// first line: every column but idle and iowait, guest time being already
// in user and nice. 0 when /proc/stat cannot be read.
func MachineBusyTicks() int64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, col := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(col, 10, 64)
		busy += n
	}
	return busy
}

// Since is the machine's busy CPU-seconds since MachineBusyTicks returned
// ticks.
func Since(ticks int64) float64 {
	return float64(MachineBusyTicks()-ticks) / TicksPerSecond
}
