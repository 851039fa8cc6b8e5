package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of issue 9, at 1,000 objects and more.
const (
	targetVsRaw     = 1.3 // rekindle at most 1.3x the raw floor
	targetVsKubectl = 0.5 // rekindle at least 2x faster than kubectl
	targetAgentMiB  = 300 // agent peak RSS at 5,000 objects
)

type results struct {
	Started    time.Time    `json:"started"`
	Seconds    float64      `json:"seconds"`
	CPUs       int          `json:"cpus"`
	LoadBefore string       `json:"loadBefore"`
	LoadAfter  string       `json:"loadAfter"`
	Sizes      []sizeResult `json:"sizes"`
	Drill      *drillResult `json:"drill,omitempty"`
	Targets    []target     `json:"targets"`
}

type sizeResult struct {
	Shape shape `json:"shape"`
	// Load is /proc/loadavg when this size started.
	Load     string `json:"load"`
	Rekindle *run   `json:"rekindle,omitempty"`
	Kubectl  *run   `json:"kubectl,omitempty"`
	Raw      *run   `json:"raw,omitempty"`
	// VsKubectl is a/b and VsRaw a/c, on the seconds until healthy.
	VsKubectl float64 `json:"rekindleOverKubectl,omitempty"`
	VsRaw     float64 `json:"rekindleOverRaw,omitempty"`
	// RenderSeconds and RenderPeakRSSMiB are `rekindle blueprint render`'s.
	RenderSeconds    float64 `json:"renderSeconds"`
	RenderPeakRSSMiB float64 `json:"renderPeakRSSMiB"`
}

type target struct {
	Name string `json:"name"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

func ok(r *run) bool { return r != nil && r.Error == "" && r.Healthy > 0 }

func (res *results) evaluate() {
	for i := range res.Sizes {
		s := &res.Sizes[i]
		if ok(s.Rekindle) && ok(s.Kubectl) {
			s.VsKubectl = s.Rekindle.Healthy / s.Kubectl.Healthy
		}
		if ok(s.Rekindle) && ok(s.Raw) {
			s.VsRaw = s.Rekindle.Healthy / s.Raw.Healthy
		}
		if s.Shape.Objects < 1000 {
			continue
		}
		if s.VsRaw > 0 {
			res.Targets = append(res.Targets, target{Name: fmt.Sprintf("%d objects: rekindle <= %.1fx raw floor", s.Shape.Objects, targetVsRaw),
				Got: fmt.Sprintf("%.2fx", s.VsRaw), Met: s.VsRaw <= targetVsRaw})
		}
		if s.VsKubectl > 0 {
			got := fmt.Sprintf("%.2fx faster", 1/s.VsKubectl)
			if s.Kubectl.Capped {
				// kubectl was stopped: its true time, and so this factor, is larger.
				got = fmt.Sprintf("more than %.2fx faster (kubectl stopped at its limit)", 1/s.VsKubectl)
			}
			res.Targets = append(res.Targets, target{Name: fmt.Sprintf("%d objects: rekindle >= 2x faster than kubectl", s.Shape.Objects),
				Got: got, Met: s.VsKubectl <= targetVsKubectl})
		}
		if s.Shape.Objects >= 5000 && ok(s.Rekindle) {
			res.Targets = append(res.Targets, target{Name: fmt.Sprintf("%d objects: agent peak RSS < %d MiB", s.Shape.Objects, targetAgentMiB),
				Got: fmt.Sprintf("%.0f MiB", s.Rekindle.PeakRSSMiB), Met: s.Rekindle.PeakRSSMiB < targetAgentMiB})
		}
	}
}

func (res *results) write(path string) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func secs(r *run) string {
	switch {
	case r == nil:
		return "-"
	case r.Error != "":
		return "FAILED"
	case r.Capped && r.Applied > 0:
		return fmt.Sprintf(">%.0f (%.1f)", r.Healthy, r.Applied)
	case r.Capped:
		return fmt.Sprintf(">%.0f (>%.0f)", r.Healthy, r.Healthy)
	case r.Applied > 0:
		return fmt.Sprintf("%.1f (%.1f)", r.Healthy, r.Applied)
	default:
		return fmt.Sprintf("%.1f", r.Healthy)
	}
}

func ratio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}

func (res *results) print(w io.Writer) {
	fmt.Fprintf(w, "\nrekindle replay benchmark: %d CPUs, load average %s at start, %s at the end; %.0fs in all\n",
		res.CPUs, res.LoadBefore, res.LoadAfter, res.Seconds)
	fmt.Fprintln(w, "seconds until every Deployment is Available (in brackets: until every object was applied)")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "objects\tnamespaces\t(a) rekindle s\t(b) kubectl s\t(c) raw s\ta/b\ta/c\tagent peak MiB\trender s\trender peak MiB\tload at start\t")
	for _, s := range res.Sizes {
		agent := "-"
		if s.Rekindle != nil && s.Rekindle.PeakRSSMiB > 0 {
			agent = fmt.Sprintf("%.0f", s.Rekindle.PeakRSSMiB)
		}
		vsKubectl := ratio(s.VsKubectl)
		if s.Kubectl != nil && s.Kubectl.Capped && s.VsKubectl > 0 {
			vsKubectl = "<" + vsKubectl
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.0f\t%s\t\n", s.Shape.Objects, s.Shape.Namespaces,
			secs(s.Rekindle), secs(s.Kubectl), secs(s.Raw), vsKubectl, ratio(s.VsRaw), agent,
			s.RenderSeconds, s.RenderPeakRSSMiB, s.Load)
	}
	tw.Flush()
	for _, s := range res.Sizes {
		for _, m := range []struct {
			name string
			r    *run
		}{{"rekindle", s.Rekindle}, {"kubectl", s.Kubectl}, {"raw", s.Raw}} {
			name, r := m.name, m.r
			if r != nil && r.Error != "" {
				fmt.Fprintf(w, "%d objects, %s failed: %s\n", s.Shape.Objects, name, firstLine(r.Error))
			}
			if r != nil && r.Note != "" {
				fmt.Fprintf(w, "%d objects, %s: %s\n", s.Shape.Objects, name, r.Note)
			}
		}
	}
	if d := res.Drill; d != nil {
		fmt.Fprintln(w)
		if d.Error != "" {
			fmt.Fprintf(w, "drill: FAILED: %s\n", firstLine(d.Error))
		} else {
			fmt.Fprintf(w, "drill of %s: %.1fs in all, RTO %.1fs\n", d.Blueprint, d.Seconds, d.RTOSeconds)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, p := range d.Phases {
				fmt.Fprintf(tw, "  %s\t%s\t%.2fs\t%s\n", p.Kind, p.Name, p.Seconds, p.Status)
			}
			tw.Flush()
		}
	}
	if len(res.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets:")
		for _, t := range res.Targets {
			mark := "MET"
			if !t.Met {
				mark = "NOT MET"
			}
			fmt.Fprintf(w, "  %-7s  %s: %s\n", mark, t.Name, t.Got)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func numCPU() int { return runtime.NumCPU() }

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
