package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/rekindle-dev/rekindle/hack/bench/cpustat"
)

// cpuUse is what the machine spent while one rekindle command ran: all of
// its cores (from /proc/stat), and the processes of the environment's state
// dir, by what they are. It says whether a fleet's RTO is set by the order
// rekindle does the work in or by the cores that do it.
type cpuUse struct {
	// BusySeconds is CPU time spent by anything on the machine (all cores:
	// user, nice, system, irq, softirq, steal), CapacitySeconds what the
	// cores had (their number times the command's wall time).
	BusySeconds     float64 `json:"busySeconds"`
	CapacitySeconds float64 `json:"capacitySeconds"`
	// ByProcess is the CPU time of the state dir's processes (kube-apiserver,
	// etcd, ..., "host agent"), and of the command itself ("rekindle"),
	// counted from the command's start to each process's last poll.
	ByProcess map[string]float64 `json:"byProcess"`
}

// busyPercent is the share of the cores' time that was spent.
func (c cpuUse) busyPercent() float64 {
	if c.CapacitySeconds <= 0 {
		return 0
	}
	return 100 * c.BusySeconds / c.CapacitySeconds
}

// processCPU follows the CPU time of the state dir's processes while a
// command runs. Processes that were already running count from the first
// poll; those that end (a deleted cluster's) count to their last poll.
type processCPU struct {
	state string
	base  map[int]int64
	last  map[int]int64
	kind  map[int]string
}

func newProcessCPU(state string) *processCPU {
	p := &processCPU{state: state, base: map[int]int64{}, last: map[int]int64{}, kind: map[int]string{}}
	for _, pid := range pidsMentioning(state) {
		p.base[pid] = cpuTicks(pid)
	}
	return p
}

// poll records every process of the state dir as it is now, and returns
// the host agents among them.
func (p *processCPU) poll() (agents []int) {
	for _, pid := range pidsMentioning(p.state) {
		t := cpuTicks(pid)
		if t == 0 {
			continue
		}
		if _, seen := p.kind[pid]; !seen {
			p.kind[pid] = processKind(cmdline(pid))
		}
		p.last[pid] = t
		if p.kind[pid] == hostAgentKind {
			agents = append(agents, pid)
		}
	}
	return agents
}

// byKind sums what each kind of process spent since the command started.
func (p *processCPU) byKind() map[string]float64 {
	out := map[string]float64{}
	for pid, t := range p.last {
		if k := p.kind[pid]; k != "" {
			out[k] += float64(t-p.base[pid]) / cpustat.TicksPerSecond
		}
	}
	return out
}

// hostAgentKind is a `rekindle agent` process of the state dir.
const hostAgentKind = "host agent"

// processKind names a process by its executable; a rekindle process under
// the state dir is a host agent. What the command runs and waits for
// (kwokctl, the kubectl kwokctl probes with, terraform) is left out: the
// command's rusage, "rekindle" in the table, holds it already.
func processKind(args []string) string {
	if len(args) == 0 {
		return ""
	}
	switch exe := filepath.Base(args[0]); exe {
	case "rekindle":
		if len(args) > 1 && args[1] == "agent" {
			return hostAgentKind
		}
		return ""
	case "kwokctl", "kubectl", "terraform":
		return ""
	default:
		return exe
	}
}

// cpuKinds is the order of the CPU table's columns; anything else is "other
// processes".
var cpuKinds = []string{"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok-controller", hostAgentKind, "rekindle"}

// printCPU writes, per size and drill mode, how busy the machine was and who
// spent the CPU (medians of the runs).
func printCPU(w io.Writer, res *results) {
	fmt.Fprintf(w, "\nCPU while each drill ran (whole command, medians): machine busy = all %d cores' time spent by anything; CPU-s by process: the environment's processes, and rekindle itself with what it ran and waited for (kwokctl, terraform)\n", res.CPUs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "clusters\tmode\twall s\tmachine busy\tbusy CPU-s\t%s\tother\t\n", strings.Join(cpuKinds, "\t"))
	for _, s := range res.Sizes {
		for _, m := range []struct {
			name string
			ss   []sample
		}{{"parallel", s.Parallel}, {"serial", s.Serial}} {
			if len(m.ss) == 0 || m.ss[0].CPU == nil {
				continue
			}
			cpu := func(f func(cpuUse) float64) float64 {
				return median(field(m.ss, func(x sample) float64 {
					if x.CPU == nil {
						return 0
					}
					return f(*x.CPU)
				}))
			}
			row := []string{fmt.Sprint(s.Clusters), m.name, fmt.Sprintf("%.1f", median(field(m.ss, wall))),
				fmt.Sprintf("%.0f%%", cpu(cpuUse.busyPercent)), fmt.Sprintf("%.1f", cpu(func(c cpuUse) float64 { return c.BusySeconds }))}
			for _, k := range cpuKinds {
				row = append(row, fmt.Sprintf("%.1f", cpu(func(c cpuUse) float64 { return c.ByProcess[k] })))
			}
			row = append(row, fmt.Sprintf("%.1f", cpu(func(c cpuUse) float64 {
				var known float64
				for k, v := range c.ByProcess {
					if slices.Contains(cpuKinds, k) {
						known += v
					}
				}
				return c.BusySeconds - known
			})))
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
	}
	tw.Flush()
}
