package main

import (
	"fmt"
	"math"
	"strings"
)

// thresholds are the targets `make bench` holds rekindle to (issue 18).
type thresholds struct {
	// Ratio: rekindle's median replay at most this many times the floor's,
	// at each of RatioSizes objects.
	Ratio      float64 `json:"ratio"`
	RatioSizes []int   `json:"ratioSizes"`
	// RTOShare: seconds of the example's RTO that are rekindle's own (RTO
	// minus kwok's cluster start minus the floor's replay), less than this.
	RTOShare float64 `json:"rtoShareSeconds"`
	// AgentMiB: the agent's peak RSS (the largest of the runs) at AgentSize
	// objects, less than this.
	AgentMiB  float64 `json:"agentPeakMiB"`
	AgentSize int     `json:"agentSize"`
	// PhaseGap: the recovery's phases add up to its RTO within this many
	// seconds in every drill; negative: not checked.
	PhaseGap float64 `json:"phaseGapSeconds"`
}

const (
	statusPass = "PASS"
	statusFail = "FAIL"
	statusSkip = "SKIP"
)

// target is one target's outcome. A skipped target was not measured
// because the run's flags left it out (-sizes, -drill=false); a target
// whose measurement failed or is missing FAILs.
type target struct {
	Name   string `json:"name"`
	Got    string `json:"got"`
	Status string `json:"status"`
}

func passIf(ok bool) string {
	if ok {
		return statusPass
	}
	return statusFail
}

// evaluate fills in the floors, the ratios, the targets and the problems
// (failed or missing runs), and whether the benchmark passed.
func (res *results) evaluate(th thresholds) {
	res.Thresholds, res.Targets, res.Problems = th, nil, nil
	bySize := map[int]*sizeResult{}
	for i := range res.Sizes {
		s := &res.Sizes[i]
		s.chooseFloor(res.Runs)
		bySize[s.Shape.Objects] = s
		for _, m := range s.Methods {
			if m.Failed > 0 {
				res.Problems = append(res.Problems, fmt.Sprintf("%d objects: %s failed in %d of %d runs: %s", s.Shape.Objects, m.Name, m.Failed, len(m.Runs), m.FirstError))
			}
			if len(m.Runs) < res.Runs {
				res.Problems = append(res.Problems, fmt.Sprintf("%d objects: %s has %d of %d runs", s.Shape.Objects, m.Name, len(m.Runs), res.Runs))
			}
		}
	}
	if d := res.Drill; d != nil {
		for _, e := range d.Errors {
			res.Problems = append(res.Problems, "drill of the example: "+firstLine(e))
		}
		if d.RTO.N < res.Runs && d.Failed == 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("drill of the example: %d of %d runs", d.RTO.N, res.Runs))
		}
	}

	for _, n := range th.RatioSizes {
		t := target{Name: fmt.Sprintf("%d objects: rekindle's median replay <= %.2fx the floor's", n, th.Ratio)}
		s := bySize[n]
		rk := (*methodResult)(nil)
		if s != nil {
			rk = s.method("rekindle")
		}
		switch {
		case s == nil:
			t.Status, t.Got = statusSkip, "not measured (-sizes)"
		case rk == nil || rk.Healthy.N < res.Runs:
			t.Status, t.Got = statusFail, "rekindle's result is missing"
		case s.Floor == "":
			t.Status, t.Got = statusFail, "the floor's result is missing"
		default:
			fl := s.method(s.Floor)
			t.Got = fmt.Sprintf("%.2fx (%.2fs / %s %.2fs)", s.VsFloor, rk.Healthy.Median, s.Floor, fl.Healthy.Median)
			t.Status = passIf(s.VsFloor <= th.Ratio)
		}
		res.Targets = append(res.Targets, t)
	}

	t := target{Name: fmt.Sprintf("%d objects: agent peak RSS < %.0f MiB (largest of the runs)", th.AgentSize, th.AgentMiB)}
	if s := bySize[th.AgentSize]; s == nil {
		t.Status, t.Got = statusSkip, "not measured (-sizes)"
	} else if rk := s.method("rekindle"); rk == nil || rk.PeakRSS.N < res.Runs {
		t.Status, t.Got = statusFail, "rekindle's peak RSS is missing"
	} else {
		t.Status, t.Got = passIf(rk.PeakRSS.Max < th.AgentMiB), fmt.Sprintf("%.0f MiB (median %.0f)", rk.PeakRSS.Max, rk.PeakRSS.Median)
	}
	res.Targets = append(res.Targets, t)

	d := res.Drill
	t = target{Name: fmt.Sprintf("example: rekindle's share of the RTO < %.2fs (RTO - kwok start - floor replay, medians)", th.RTOShare)}
	switch {
	case d == nil:
		t.Status, t.Got = statusSkip, "no drill (-drill=false)"
	case d.RTO.N < res.Runs || d.KwokStart.N < res.Runs || d.FloorReplay.N < res.Runs:
		t.Status, t.Got = statusFail, fmt.Sprintf("results missing: %d drills, %d floor runs of %d", d.RTO.N, d.FloorReplay.N, res.Runs)
	default:
		d.Share = d.RTO.Median - d.KwokStart.Median - d.FloorReplay.Median
		t.Status = passIf(d.Share < th.RTOShare)
		t.Got = fmt.Sprintf("%.2fs = %.2fs - %.2fs - %.2fs", d.Share, d.RTO.Median, d.KwokStart.Median, d.FloorReplay.Median)
	}
	res.Targets = append(res.Targets, t)

	if th.PhaseGap >= 0 {
		t = target{Name: fmt.Sprintf("example: the recovery's phases add up to its RTO within %.2fs", th.PhaseGap)}
		switch {
		case d == nil:
			t.Status, t.Got = statusSkip, "no drill (-drill=false)"
		case d.Gap.N < res.Runs:
			t.Status, t.Got = statusFail, "phases missing"
		default:
			worst := math.Max(math.Abs(d.Gap.Min), math.Abs(d.Gap.Max))
			t.Status = passIf(worst <= th.PhaseGap)
			t.Got = fmt.Sprintf("RTO - sum of phases: %+.2fs to %+.2fs", d.Gap.Min, d.Gap.Max)
		}
		res.Targets = append(res.Targets, t)
	}

	res.Passed = len(res.Problems) == 0
	for _, t := range res.Targets {
		if t.Status == statusFail {
			res.Passed = false
		}
	}
}

// verdict is the benchmark's last line.
func (res *results) verdict() string {
	var failed, skipped []string
	met := 0
	for _, t := range res.Targets {
		switch t.Status {
		case statusPass:
			met++
		case statusFail:
			failed = append(failed, t.Name)
		default:
			skipped = append(skipped, t.Name)
		}
	}
	var b strings.Builder
	if res.Passed {
		b.WriteString("bench: PASS")
	} else {
		b.WriteString("bench: FAIL")
	}
	fmt.Fprintf(&b, ": %d of %d targets met", met, len(res.Targets))
	if len(failed) > 0 {
		fmt.Fprintf(&b, ", %d not met", len(failed))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, ", %d not measured", len(skipped))
	}
	if len(res.Problems) > 0 {
		fmt.Fprintf(&b, ", %d failed or missing result(s)", len(res.Problems))
	}
	return b.String()
}
