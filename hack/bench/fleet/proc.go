package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rekindle-dev/rekindle/hack/bench/cpustat"
)

// usage is what one rekindle command cost.
type usage struct {
	Seconds float64 `json:"seconds"`
	// PeakRSSMiB is the rekindle process's own peak (getrusage MaxRSS).
	PeakRSSMiB float64 `json:"peakRSSMiB"`
	// CPUSeconds is its user+system time.
	CPUSeconds float64 `json:"cpuSeconds"`
	// AgentsPeakRSSMiB is the highest sum of the host agents' RSS seen while
	// the command ran (polled every 250 ms from /proc), AgentPeakRSSMiB the
	// highest single agent's VmHWM.
	AgentsPeakRSSMiB float64 `json:"agentsPeakRSSMiB"`
	AgentPeakRSSMiB  float64 `json:"agentPeakRSSMiB"`
	// CPU is what the machine spent meanwhile.
	CPU *cpuUse `json:"cpu,omitempty"`
}

// runRekindle runs bin with args, stdout returned, stderr to logPath, and
// polls the host agents of the state dir while it runs.
func runRekindle(ctx context.Context, bin, state, logPath string, args ...string) ([]byte, usage, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, usage{}, err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--state-dir", state}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, log), log
	fmt.Fprintf(log, "$ %s %s\n", bin, strings.Join(cmd.Args[1:], " "))
	procs := newProcessCPU(state)
	busy0 := cpustat.MachineBusyTicks()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, usage{}, err
	}
	stop := make(chan struct{})
	polled := make(chan usage, 1)
	go func() {
		var u usage
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			var sum float64
			for _, p := range procs.poll() {
				rss, hwm := memOf(p)
				sum += rss
				u.AgentPeakRSSMiB = max(u.AgentPeakRSSMiB, hwm)
			}
			u.AgentsPeakRSSMiB = max(u.AgentsPeakRSSMiB, sum)
			select {
			case <-stop:
				polled <- u
				return
			case <-t.C:
			}
		}
	}()
	err = cmd.Wait()
	close(stop)
	u := <-polled
	u.Seconds = time.Since(start).Seconds()
	procs.poll()
	u.CPU = &cpuUse{BusySeconds: float64(cpustat.MachineBusyTicks()-busy0) / cpustat.TicksPerSecond,
		CapacitySeconds: u.Seconds * float64(runtime.NumCPU()), ByProcess: procs.byKind()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.PeakRSSMiB = float64(ru.Maxrss) / 1024
		u.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
		u.CPU.ByProcess["rekindle"] = u.CPUSeconds
	}
	if err != nil {
		return out.Bytes(), u, fmt.Errorf("rekindle %s: %w (log: %s)", strings.Join(args, " "), err, logPath)
	}
	return out.Bytes(), u, nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// agentPIDs are the running `rekindle agent` processes of state.
func agentPIDs(state string) []int {
	var out []int
	for _, p := range pidsMentioning(state) {
		if processKind(cmdline(p)) == hostAgentKind {
			out = append(out, p)
		}
	}
	return out
}

// pidsMentioning lists live processes whose command line holds s.
func pidsMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if strings.Contains(strings.Join(cmdline(pid), " "), s) {
			out = append(out, pid)
		}
	}
	return out
}

func cmdline(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// memOf is a process's VmRSS and VmHWM in MiB (0 when it is gone).
func memOf(pid int) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kib, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kib / 1024
		case "VmHWM:":
			hwm = kib / 1024
		}
	}
	return rss, hwm
}

// cpuTicks is a process's utime+stime in clock ticks (0 when it is gone).
func cpuTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces, in parentheses.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// idle is what the environment's processes cost at rest.
type idle struct {
	// ClusterRSSMiB is one kwok cluster's control plane (etcd,
	// kube-apiserver, controller-manager, scheduler, kwok), averaged.
	ClusterRSSMiB float64 `json:"clusterRSSMiB"`
	// AgentRSSMiB is one host agent, averaged.
	AgentRSSMiB float64 `json:"agentRSSMiB"`
	// ClusterMillicores and AgentMillicores are the CPU they use at rest.
	ClusterMillicores float64 `json:"clusterMillicores"`
	// ClusterCPUSeconds is the CPU one control plane used since it started
	// (creation, the replay, the wait so far): what N clusters created at
	// once ask of the machine's cores.
	ClusterCPUSeconds float64 `json:"clusterCPUSeconds"`
	AgentMillicores   float64 `json:"agentMillicores"`
	Clusters          int     `json:"clusters"`
	WindowSeconds     float64 `json:"windowSeconds"`
}

// measureIdle samples the kwok clusters and host agents of state over window.
func measureIdle(ctx context.Context, state string, clusters int, window time.Duration) idle {
	agents := map[int]bool{}
	for _, p := range agentPIDs(state) {
		agents[p] = true
	}
	var planes []int
	for _, p := range pidsMentioning(filepath.Join(state, "clusters", "kwok")) {
		if !agents[p] {
			planes = append(planes, p)
		}
	}
	ticks := func(ps []int) int64 {
		var n int64
		for _, p := range ps {
			n += cpuTicks(p)
		}
		return n
	}
	agentList := make([]int, 0, len(agents))
	for p := range agents {
		agentList = append(agentList, p)
	}
	p0, a0 := ticks(planes), ticks(agentList)
	select {
	case <-ctx.Done():
	case <-time.After(window):
	}
	p1, a1 := ticks(planes), ticks(agentList)
	var prss, arss float64
	for _, p := range planes {
		r, _ := memOf(p)
		prss += r
	}
	for _, p := range agentList {
		r, _ := memOf(p)
		arss += r
	}
	n := float64(max(clusters, 1))
	na := float64(max(len(agentList), 1))
	secs := window.Seconds()
	return idle{
		ClusterRSSMiB:     prss / n,
		AgentRSSMiB:       arss / na,
		ClusterMillicores: float64(p1-p0) / cpustat.TicksPerSecond / secs * 1000 / n,
		ClusterCPUSeconds: float64(p0) / cpustat.TicksPerSecond / n,
		AgentMillicores:   float64(a1-a0) / cpustat.TicksPerSecond / secs * 1000 / na,
		Clusters:          clusters,
		WindowSeconds:     secs,
	}
}

// availableMiB is MemAvailable from /proc/meminfo.
func availableMiB() float64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kib, _ := strconv.ParseFloat(f[1], 64)
			return kib / 1024
		}
	}
	return 0
}
