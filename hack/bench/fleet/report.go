package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// capacity is how many idle kwok clusters (each with its host agent) the
// machine would hold, extrapolated from the largest fleet measured.
type capacity struct {
	FromClusters    int     `json:"fromClusters"`
	PerClusterMiB   float64 `json:"perClusterMiB"`
	PerClusterMilli float64 `json:"perClusterMillicores"`
	ByMemory        int     `json:"byMemory"`
	ByCPU           int     `json:"byCPU"`
	Note            string  `json:"note"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func field(ss []sample, f func(sample) float64) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

func rto(s sample) float64  { return s.RTO }
func wall(s sample) float64 { return s.Seconds }

// cell is a median with its spread (min-max) when there is more than one.
func cell(xs []float64, format string) string {
	if len(xs) == 0 {
		return "-"
	}
	m := fmt.Sprintf(format, median(xs))
	if len(xs) > 1 {
		m += fmt.Sprintf(" ("+format+"-"+format+")", slices.Min(xs), slices.Max(xs))
	}
	return m
}

func sizeOf(res *results, n int) *size {
	for _, s := range res.Sizes {
		if s.Clusters == n {
			return s
		}
	}
	return nil
}

// evaluate checks the targets against the medians.
func evaluate(res *results) []target {
	one, ten := sizeOf(res, 1), sizeOf(res, targetClusters)
	var out []target
	if one == nil || ten == nil || len(one.Parallel) == 0 || len(ten.Parallel) == 0 {
		return append(out, target{Name: fmt.Sprintf("RTO(%d lost)/RTO(1 lost)", targetClusters), Limit: targetRatioN, Note: "-sizes must include 1 and 10, and their drills must pass"})
	}
	r := median(field(ten.Parallel, rto)) / median(field(one.Parallel, rto))
	out = append(out, target{Name: fmt.Sprintf("RTO(%d lost)/RTO(1 lost)", targetClusters), Value: r, Limit: targetRatioN, Met: r <= targetRatioN, Measured: true})
	if len(ten.Serial) == 0 {
		return append(out, target{Name: fmt.Sprintf("parallel/serial RTO(%d)", targetClusters), Limit: targetParallel, Note: "-serial=false, or the serial drill failed"})
	}
	p := median(field(ten.Parallel, rto)) / median(field(ten.Serial, rto))
	return append(out, target{Name: fmt.Sprintf("parallel/serial RTO(%d)", targetClusters), Value: p, Limit: targetParallel, Met: p < targetParallel, Measured: true})
}

// estimateCapacity extrapolates from the largest fleet's idle costs: memory
// (what is available with it up, minus a reserve, over one cluster's RSS)
// and CPU (80% of the cores over one idle cluster's use).
func estimateCapacity(res *results) *capacity {
	var s *size
	for _, x := range res.Sizes {
		if x.Idle != nil && (s == nil || x.Clusters > s.Clusters) {
			s = x
		}
	}
	if s == nil {
		return nil
	}
	c := &capacity{FromClusters: s.Clusters, PerClusterMiB: s.Idle.ClusterRSSMiB + s.Idle.AgentRSSMiB,
		PerClusterMilli: s.Idle.ClusterMillicores + s.Idle.AgentMillicores}
	if c.PerClusterMiB > 0 {
		c.ByMemory = s.Clusters + int((s.MemAvailableMiB-reserveMiB)/c.PerClusterMiB)
	}
	if c.PerClusterMilli > 0 {
		c.ByCPU = int(float64(res.CPUs) * 1000 * cpuBudgetFraction / c.PerClusterMilli)
	}
	c.Note = fmt.Sprintf("extrapolated from %d idle cluster(s): memory keeps %d MiB in reserve, CPU allows %.0f%% of %d cores for idle clusters; other workloads on the machine are counted in MemAvailable but not in the CPU figure",
		s.Clusters, reserveMiB, cpuBudgetFraction*100, res.CPUs)
	return c
}

var phaseOrder = []string{"fetch", "validate", "detect", "infra", "wait", "cluster", "secrets", "preflight", "agent", "replay", "healthy", "verify", "report", "other"}

func printTable(w io.Writer, res *results) {
	fmt.Fprintf(w, "rekindle fleet benchmark: %d CPUs, load average %s at start, %s at the end; %.0fs in all; %d objects per cluster in 3 workloads; %d run(s) each\n",
		res.CPUs, res.LoadStart, res.LoadEnd, res.TotalSecs, res.Objects, res.Runs)
	one := sizeOf(res, 1)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clusters\tbootstrap s\tRTO s\tRTO --parallel 1 s\tparallel/serial\tRTO(N)/RTO(1)\trekindle peak RSS MiB\trekindle CPU-s per cluster\thost agents peak MiB\t")
	for _, s := range res.Sizes {
		ratioSerial, ratioOne := "-", "-"
		if len(s.Parallel) > 0 && len(s.Serial) > 0 {
			ratioSerial = fmt.Sprintf("%.2f", median(field(s.Parallel, rto))/median(field(s.Serial, rto)))
		}
		if one != nil && len(one.Parallel) > 0 && len(s.Parallel) > 0 {
			ratioOne = fmt.Sprintf("%.2f", median(field(s.Parallel, rto))/median(field(one.Parallel, rto)))
		}
		all := append(append(slices.Clone(s.Bootstrap), s.Parallel...), s.Serial...)
		peak := 0.0
		for _, x := range all {
			peak = max(peak, x.PeakRSSMiB)
		}
		cpu := field(s.Parallel, func(x sample) float64 { return x.CPUSeconds / float64(s.Clusters) })
		agents := field(s.Parallel, func(x sample) float64 { return x.AgentsPeakRSSMiB })
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t\n", s.Clusters, cell(field(s.Bootstrap, wall), "%.1f"), cell(field(s.Parallel, rto), "%.1f"),
			cell(field(s.Serial, rto), "%.1f"), ratioSerial, ratioOne, peak, cell(cpu, "%.2f"), cell(agents, "%.0f"))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nRTO phases, seconds (shared steps, then the critical lane; medians); max cluster = the longest cluster creation of any lane")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "clusters\tmode\t%s\tmax cluster\t\n", strings.Join(phaseOrder, "\t"))
	for _, s := range res.Sizes {
		for _, m := range []struct {
			name string
			ss   []sample
		}{{"parallel", s.Parallel}, {"serial", s.Serial}} {
			if len(m.ss) == 0 {
				continue
			}
			row := []string{fmt.Sprint(s.Clusters), m.name}
			for _, ph := range phaseOrder {
				row = append(row, fmt.Sprintf("%.1f", median(field(m.ss, func(x sample) float64 { return x.Phases[ph] }))))
			}
			row = append(row, fmt.Sprintf("%.1f", median(field(m.ss, func(x sample) float64 { return x.ClusterMax }))))
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
	}
	tw.Flush()

	printCPU(w, res)

	fmt.Fprintln(w, "\nidle cost, per cluster (after bootstrap, over 10s)")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clusters\tkwok control plane MiB\tkwok millicores\tkwok CPU-s since start\thost agent MiB\thost agent millicores\tMemAvailable MiB\t")
	for _, s := range res.Sizes {
		if s.Idle != nil {
			fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%.0f\t\n", s.Clusters, s.Idle.ClusterRSSMiB, s.Idle.ClusterMillicores, s.Idle.ClusterCPUSeconds, s.Idle.AgentRSSMiB, s.Idle.AgentMillicores, s.MemAvailableMiB)
		}
	}
	tw.Flush()
	if c := res.Capacity; c != nil {
		fmt.Fprintf(w, "\ncapacity: about %d idle kwok clusters by memory (%.0f MiB each with its agent), %d by CPU (%.0f millicores each); %s\n",
			c.ByMemory, c.PerClusterMiB, c.ByCPU, c.PerClusterMilli, c.Note)
	}
	fmt.Fprintln(w)
	for _, t := range res.Targets {
		verdict := "PASS"
		if !t.Met {
			verdict = "FAIL"
		}
		if !t.Measured {
			fmt.Fprintf(w, "target %-26s NOT MEASURED (limit %.2f): %s\n", t.Name, t.Limit, t.Note)
			continue
		}
		fmt.Fprintf(w, "target %-26s %s: %.2f (limit %.2f)\n", t.Name, verdict, t.Value, t.Limit)
	}
	for _, f := range res.Failures {
		fmt.Fprintf(w, "run FAILED: %s\n", f)
	}
}

func writeResults(path string, res *results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
