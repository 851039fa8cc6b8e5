package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// print writes the human-readable report: one table per size, the drill,
// the targets with PASS/FAIL, the problems, and the verdict as last line.
func (res *results) print(w io.Writer) {
	fmt.Fprintf(w, "\nrekindle replay benchmark: %d CPUs, %d run(s) per method, load average %s at start, %s at the end; %.0fs in all\n",
		res.CPUs, res.Runs, res.LoadBefore, res.LoadAfter, res.Seconds)
	fmt.Fprintln(w, "figures: median (min-max, spread = (max-min)/median); ratios use medians")
	fmt.Fprintln(w, "replay: seconds until every Deployment is Available; apply: until a watch saw every object; healthy: the rest")
	for i := range res.Sizes {
		res.Sizes[i].print(w)
	}
	if res.Drill != nil {
		res.Drill.print(w)
	}
	if len(res.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, t := range res.Targets {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Status, t.Name, t.Got)
		}
		tw.Flush()
	}
	if len(res.Problems) > 0 {
		fmt.Fprintln(w, "\nfailed or missing results:")
		for _, p := range res.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
	}
}

func (s *sizeResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n%d objects in %d namespaces (%d Deployments)\n", s.Shape.Objects, s.Shape.Namespaces, s.Shape.Deployments)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  method\treplay s\tapply s\thealthy s\tmachine CPU-s\tclient CPU-s\tpeak MiB\tfailed\t")
	for _, m := range s.Methods {
		name := m.Name
		if name == s.Floor {
			name += " (floor)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t\n", name, m.Healthy.format(2), m.Present.format(2),
			m.HealthyPhase.format(2), m.MachineCPU.format(1), m.CPU.format(1), m.PeakRSS.format(0), m.Failed, len(m.Runs))
	}
	tw.Flush()
	line := "  rekindle / floor: " + ratio(s.VsFloor, false)
	if k := s.method("kubectl"); k != nil {
		line += "   rekindle / kubectl: " + ratio(s.VsKubectl, k.Healthy.LowerBound)
	}
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "  rekindle blueprint render: %s s, peak %s MiB\n", s.Render.format(2), s.RenderRSS.format(0))
	for _, m := range s.Methods {
		for i, r := range m.Runs {
			if r.Error != "" {
				fmt.Fprintf(w, "  %s run %d FAILED: %s\n", m.Name, i+1, firstLine(r.Error))
			} else if r.Note != "" {
				fmt.Fprintf(w, "  %s run %d: %s\n", m.Name, i+1, r.Note)
			}
		}
	}
}

func ratio(x float64, lowerBoundDenominator bool) string {
	switch {
	case x == 0:
		return "-"
	case lowerBoundDenominator:
		// The denominator is a lower bound, so the true ratio is smaller.
		return fmt.Sprintf("<%.2fx", x)
	default:
		return fmt.Sprintf("%.2fx", x)
	}
}

func (d *drillResult) print(w io.Writer) {
	fmt.Fprintf(w, "\ndrill of %s (%d run(s), %d failed)", d.Blueprint, len(d.Runs), d.Failed)
	for _, c := range d.Clusters {
		fmt.Fprintf(w, "; %s: %d objects, %d node(s)", c.Name, c.Objects, c.Nodes)
	}
	fmt.Fprintln(w)
	for _, e := range d.Errors {
		fmt.Fprintf(w, "  FAILED: %s\n", firstLine(e))
	}
	var drillCrit, floorCrit []string
	for _, r := range d.Runs {
		drillCrit = append(drillCrit, r.Critical)
	}
	for _, f := range d.Floor {
		floorCrit = append(floorCrit, f.Critical)
	}
	fmt.Fprintf(w, "  critical path (the cluster that finished last), run by run: drill %s; floor %s\n",
		strings.Join(drillCrit, ", "), strings.Join(floorCrit, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range d.phaseStats() {
		fmt.Fprintf(tw, "  %s\t%s\t%s s\t\n", p.kind, p.name, p.stat.format(2))
	}
	fmt.Fprintf(tw, "  recovery\tRTO (total)\t%s s\t\n", d.RTO.format(2))
	fmt.Fprintf(tw, "  recovery\tRTO - sum of phases\t%s s\t\n", d.Gap.format(2))
	fmt.Fprintf(tw, "  floor\tkwok cluster start (critical cluster; all side by side)\t%s s\t\n", d.KwokStart.format(2))
	fmt.Fprintf(tw, "  floor\traw replay of the critical cluster's objects\t%s s\t\n", d.FloorReplay.format(2))
	tw.Flush()
	if d.RTO.N > 0 && d.KwokStart.N > 0 && d.FloorReplay.N > 0 {
		fmt.Fprintf(w, "  rekindle's share of the RTO: %.2fs - %.2fs - %.2fs = %.2fs\n", d.RTO.Median, d.KwokStart.Median, d.FloorReplay.Median, d.Share)
	}
}

type phaseStat struct {
	kind, name string
	stat       stat
}

// phaseStats summarises each phase over the drills, in the order the
// phases first appear.
func (d *drillResult) phaseStats() []phaseStat {
	type key struct{ kind, name string }
	var order []key
	vals := map[key][]float64{}
	for _, r := range d.Runs {
		if r.Error != "" {
			continue
		}
		for _, p := range r.Phases {
			k := key{p.Kind, p.Name}
			if _, ok := vals[k]; !ok {
				order = append(order, k)
			}
			vals[k] = append(vals[k], p.Seconds)
		}
	}
	out := make([]phaseStat, 0, len(order))
	for _, k := range order {
		out = append(out, phaseStat{k.kind, k.name, summarize(vals[k])})
	}
	return out
}
