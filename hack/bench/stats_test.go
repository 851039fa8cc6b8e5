package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want stat
	}{
		{"empty", nil, stat{}},
		{"one", []float64{2.5}, stat{N: 1, Median: 2.5, Min: 2.5, Max: 2.5}},
		{"odd, unsorted", []float64{9, 1, 4}, stat{N: 3, Median: 4, Min: 1, Max: 9}},
		{"even: mean of the middle two", []float64{4, 1, 3, 10}, stat{N: 4, Median: 3.5, Min: 1, Max: 10}},
		{"an outlier does not move the median", []float64{10, 11, 60}, stat{N: 3, Median: 11, Min: 10, Max: 60}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := summarize(tc.in); got != tc.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("summarize reordered its input: %v", tc.in)
				}
			}
		})
	}
}

func TestSpreadAndFormat(t *testing.T) {
	s := summarize([]float64{9, 10, 11})
	if got := s.Spread(); got < 0.1999 || got > 0.2001 {
		t.Errorf("Spread = %v, want 0.2", got)
	}
	if got, want := s.format(1), "10.0 (9.0-11.0, 20%)"; got != want {
		t.Errorf("format = %q, want %q", got, want)
	}
	s.LowerBound = true
	if got := s.format(0); !strings.HasPrefix(got, ">10 ") {
		t.Errorf("a lower bound prints %q, want a leading >", got)
	}
	if got := (stat{}).format(2); got != "-" {
		t.Errorf("no data prints %q, want -", got)
	}
	if got := summarize([]float64{3}).format(2); got != "3.00" {
		t.Errorf("one run prints %q, want 3.00", got)
	}
}

func TestSummarizeMethod(t *testing.T) {
	m := summarizeMethod("kubectl", []run{
		{Healthy: 10, Present: 6, HealthyPhase: 4},
		{Error: "apply failed\nmore detail"},
		{Healthy: 120, Capped: true, Present: 0},
	})
	if m.Failed != 1 || m.FirstError != "apply failed" {
		t.Errorf("Failed = %d, FirstError = %q; want 1 and the error's first line", m.Failed, m.FirstError)
	}
	if m.Healthy.N != 2 || m.Healthy.Max != 120 || !m.Healthy.LowerBound {
		t.Errorf("Healthy = %+v: want both successful runs, marked a lower bound because one was capped", m.Healthy)
	}
	if m.Present.N != 1 || m.HealthyPhase.Median != 4 {
		t.Errorf("Present = %+v, HealthyPhase = %+v: a capped run has no phases", m.Present, m.HealthyPhase)
	}
}

// sizeWith builds a size result from each method's healthy seconds.
func sizeWith(objects int, rss []float64, methods map[string][]float64) sizeResult {
	s := sizeResult{Shape: shape{Objects: objects}}
	for _, name := range []string{"rekindle", "kubectl", "raw-32", "raw-128"} {
		hs, ok := methods[name]
		if !ok {
			continue
		}
		var runs []run
		for i, h := range hs {
			r := run{Healthy: h, Present: h / 2, HealthyPhase: h / 2}
			if h < 0 {
				r = run{Error: "boom"}
			}
			if name == "rekindle" && i < len(rss) {
				r.PeakRSSMiB = rss[i]
			}
			runs = append(runs, r)
		}
		s.Methods = append(s.Methods, summarizeMethod(name, runs))
	}
	return s
}

func goodDrill() *drillResult {
	return &drillResult{
		RTO:         summarize([]float64{8, 8.2, 9}),
		Gap:         summarize([]float64{0.01, -0.02, 0.05}),
		KwokStart:   summarize([]float64{6, 6.1, 6.5}),
		FloorReplay: summarize([]float64{0.9, 1, 1.1}),
	}
}

func defaultThresholds() thresholds {
	return thresholds{Ratio: 1.15, RatioSizes: []int{1000, 5000}, RTOShare: 1.5, AgentMiB: 200, AgentSize: 5000, PhaseGap: 0.25}
}

func statuses(res *results) string {
	var s []string
	for _, t := range res.Targets {
		s = append(s, t.Status)
	}
	return strings.Join(s, " ")
}

func TestEvaluate(t *testing.T) {
	full := func() *results {
		return &results{Runs: 3, Drill: goodDrill(), Sizes: []sizeResult{
			sizeWith(1000, nil, map[string][]float64{"rekindle": {10, 11, 12}, "raw-32": {10, 10.5, 11}, "raw-128": {9.9, 10.2, 30}}),
			sizeWith(5000, []float64{150, 190, 170}, map[string][]float64{"rekindle": {50, 52, 55}, "raw-32": {48, 49, 50}, "raw-128": {47, 48, 60}}),
		}}
	}
	for _, tc := range []struct {
		name     string
		change   func(*results, *thresholds)
		passed   bool
		statuses string
		problem  string
	}{
		{"everything met", nil, true, "PASS PASS PASS PASS PASS", ""},
		{"ratio not met at 1,000", func(r *results, _ *thresholds) {
			r.Sizes[0] = sizeWith(1000, nil, map[string][]float64{"rekindle": {13, 14, 15}, "raw-32": {10, 10, 10}})
		}, false, "FAIL PASS PASS PASS PASS", ""},
		{"a tighter ratio flag fails both sizes", func(_ *results, th *thresholds) { th.Ratio = 1.0 }, false, "FAIL FAIL PASS PASS PASS", ""},
		{"the largest peak RSS counts, not the median", func(r *results, _ *thresholds) {
			r.Sizes[1] = sizeWith(5000, []float64{150, 210, 170}, map[string][]float64{"rekindle": {50, 52, 55}, "raw-32": {48, 49, 50}})
		}, false, "PASS PASS FAIL PASS PASS", ""},
		{"a failed rekindle run fails and leaves the ratio missing", func(r *results, _ *thresholds) {
			r.Sizes[0] = sizeWith(1000, nil, map[string][]float64{"rekindle": {10, -1, 12}, "raw-32": {10, 10, 10}})
		}, false, "FAIL PASS PASS PASS PASS", "rekindle failed in 1 of 3 runs"},
		{"a failed floor setting is not the floor, but is a problem", func(r *results, _ *thresholds) {
			r.Sizes[0] = sizeWith(1000, nil, map[string][]float64{"rekindle": {10, 11, 12}, "raw-32": {10, 11, 11}, "raw-128": {1, -1, 1}})
		}, false, "PASS PASS PASS PASS PASS", "raw-128 failed in 1 of 3 runs"},
		{"no floor at all", func(r *results, _ *thresholds) {
			r.Sizes[0] = sizeWith(1000, nil, map[string][]float64{"rekindle": {10, 11, 12}})
		}, false, "FAIL PASS PASS PASS PASS", ""},
		{"missing runs", func(r *results, _ *thresholds) { r.Runs = 4 }, false, "FAIL FAIL FAIL FAIL FAIL", "rekindle has 3 of 4 runs"},
		{"RTO share over", func(r *results, _ *thresholds) { r.Drill.RTO = summarize([]float64{9, 9.5, 10}) }, false, "PASS PASS PASS FAIL PASS", ""},
		{"phases do not add up", func(r *results, _ *thresholds) { r.Drill.Gap = summarize([]float64{0, 0.1, -0.9}) }, false, "PASS PASS PASS PASS FAIL", ""},
		{"phase gap not checked", func(r *results, th *thresholds) {
			th.PhaseGap = -1
			r.Drill.Gap = summarize([]float64{3})
		}, true, "PASS PASS PASS PASS", ""},
		{"a failed drill fails", func(r *results, _ *thresholds) {
			r.Drill.Failed, r.Drill.Errors, r.Drill.RTO = 1, []string{"drill run 2: exit status 1"}, summarize([]float64{8, 9})
		}, false, "PASS PASS PASS FAIL PASS", "drill run 2"},
		{"quick mode: unmeasured targets are skipped, not failed", func(r *results, _ *thresholds) {
			r.Runs = 1
			r.Sizes = []sizeResult{sizeWith(100, nil, map[string][]float64{"rekindle": {3}, "raw-32": {1}})}
			r.Drill = nil
		}, true, "SKIP SKIP SKIP SKIP SKIP", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, th := full(), defaultThresholds()
			if tc.change != nil {
				tc.change(res, &th)
			}
			res.evaluate(th)
			if got := statuses(res); got != tc.statuses {
				for _, tg := range res.Targets {
					t.Logf("%s %s: %s", tg.Status, tg.Name, tg.Got)
				}
				t.Errorf("statuses = %q, want %q", got, tc.statuses)
			}
			if res.Passed != tc.passed {
				t.Errorf("Passed = %v, want %v (problems: %q)", res.Passed, tc.passed, res.Problems)
			}
			if tc.problem != "" && !strings.Contains(strings.Join(res.Problems, "\n"), tc.problem) {
				t.Errorf("problems %q do not mention %q", res.Problems, tc.problem)
			}
			if tc.problem == "" && tc.passed && len(res.Problems) > 0 {
				t.Errorf("unexpected problems: %q", res.Problems)
			}
			v := res.verdict()
			if want := map[bool]string{true: "bench: PASS", false: "bench: FAIL"}[tc.passed]; !strings.HasPrefix(v, want) {
				t.Errorf("verdict %q, want it to start with %q", v, want)
			}
		})
	}
}

func TestEvaluateUsesMediansAndTheFastestFloor(t *testing.T) {
	res := &results{Runs: 3, Sizes: []sizeResult{sizeWith(1000, nil, map[string][]float64{
		"rekindle": {11, 11.5, 40}, // one slow outlier
		"raw-32":   {10.5, 10.6, 10.7},
		"raw-128":  {10, 10.1, 99},
		"kubectl":  {70, 71, 72},
	})}}
	res.evaluate(defaultThresholds())
	s := res.Sizes[0]
	if s.Floor != "raw-128" {
		t.Errorf("floor = %q, want raw-128 (lowest median)", s.Floor)
	}
	if want := 11.5 / 10.1; s.VsFloor < want-1e-9 || s.VsFloor > want+1e-9 {
		t.Errorf("VsFloor = %v, want %v: medians over medians", s.VsFloor, want)
	}
	if s.VsKubectl <= 0 || s.VsKubectl > 0.2 {
		t.Errorf("VsKubectl = %v, want 11.5/71", s.VsKubectl)
	}
	if res.Targets[0].Status != statusPass || !strings.Contains(res.Targets[0].Got, "1.14x") {
		t.Errorf("target %+v: want PASS at 1.14x", res.Targets[0])
	}
}

func TestRTOShare(t *testing.T) {
	res := &results{Runs: 3, Drill: goodDrill()}
	res.evaluate(defaultThresholds())
	if d := res.Drill; d.Share < 1.099 || d.Share > 1.101 {
		t.Errorf("share = %v, want 8.2 - 6.1 - 1.0 = 1.1", d.Share)
	}
}
