package main

import (
	"encoding/json"
	"os"
	"strings"
	"time"
)

// results is everything one `make bench` measured, as written to
// results.json.
type results struct {
	Started     time.Time    `json:"started"`
	Seconds     float64      `json:"seconds"`
	CPUs        int          `json:"cpus"`
	Runs        int          `json:"runs"`
	RawSettings []string     `json:"rawSettings"`
	LoadBefore  string       `json:"loadBefore"`
	LoadAfter   string       `json:"loadAfter"`
	Sizes       []sizeResult `json:"sizes"`
	Drill       *drillResult `json:"drill,omitempty"`
	Thresholds  thresholds   `json:"thresholds"`
	Targets     []target     `json:"targets"`
	// Problems are failed runs and missing results; any makes the
	// benchmark fail.
	Problems []string `json:"problems,omitempty"`
	Passed   bool     `json:"passed"`
}

// sizeResult is every method's runs on one blueprint size.
type sizeResult struct {
	Shape   shape          `json:"shape"`
	Methods []methodResult `json:"methods"`
	// Floor names the raw setting with the lowest median; VsFloor and
	// VsKubectl are rekindle's median over the floor's and kubectl's.
	Floor     string  `json:"floor,omitempty"`
	VsFloor   float64 `json:"rekindleOverFloor,omitempty"`
	VsKubectl float64 `json:"rekindleOverKubectl,omitempty"`
	// Render and RenderRSS are `rekindle blueprint render`'s seconds and
	// peak RSS in MiB.
	Render    stat `json:"renderSeconds"`
	RenderRSS stat `json:"renderPeakRSSMiB"`
}

// methodResult is one method's runs on one size and their statistics, over
// the runs that did not fail.
type methodResult struct {
	Name string `json:"name"`
	Runs []run  `json:"runs"`
	// Failed counts runs that ended in an error.
	Failed       int    `json:"failed"`
	Healthy      stat   `json:"healthySeconds"`
	Present      stat   `json:"presentSeconds"`
	HealthyPhase stat   `json:"healthyPhaseSeconds"`
	PeakRSS      stat   `json:"peakRSSMiB"`
	CPU          stat   `json:"cpuSeconds"`
	MachineCPU   stat   `json:"machineCPUSeconds"`
	FirstError   string `json:"firstError,omitempty"`
}

// drillResult is every drill of the example and every floor run of its
// objects, and rekindle's share of its RTO.
type drillResult struct {
	Blueprint string           `json:"blueprint"`
	Clusters  []exampleCluster `json:"clusters,omitempty"`
	Runs      []drillRun       `json:"runs"`
	Floor     []exampleRun     `json:"floorRuns"`
	// Failed counts drills and floor runs that ended in an error.
	Failed      int      `json:"failed"`
	Errors      []string `json:"errors,omitempty"`
	RTO         stat     `json:"rtoSeconds"`
	Gap         stat     `json:"gapSeconds"`
	KwokStart   stat     `json:"kwokStartSeconds"`
	FloorReplay stat     `json:"floorReplaySeconds"`
	// Share is RTO - KwokStart - FloorReplay, on the medians: what rekindle
	// itself adds to the recovery.
	Share float64 `json:"rekindleShareSeconds"`
}

// summarizeMethod computes a method's statistics over its runs.
func summarizeMethod(name string, runs []run) methodResult {
	m := methodResult{Name: name, Runs: runs}
	var healthy, present, phase, rss, cpu, machine []float64
	capped := false
	for _, r := range runs {
		if r.Error != "" {
			m.Failed++
			if m.FirstError == "" {
				m.FirstError = firstLine(r.Error)
			}
			continue
		}
		healthy = append(healthy, r.Healthy)
		capped = capped || r.Capped
		if r.Present > 0 && !r.Capped {
			present = append(present, r.Present)
			phase = append(phase, r.HealthyPhase)
		}
		if r.PeakRSSMiB > 0 {
			rss = append(rss, r.PeakRSSMiB)
		}
		if r.CPU > 0 {
			cpu = append(cpu, r.CPU)
		}
		if r.MachineCPU > 0 && !r.Capped {
			machine = append(machine, r.MachineCPU)
		}
	}
	m.Healthy, m.Present, m.HealthyPhase, m.PeakRSS = summarize(healthy), summarize(present), summarize(phase), summarize(rss)
	m.CPU, m.MachineCPU = summarize(cpu), summarize(machine)
	m.Healthy.LowerBound = capped
	return m
}

// method returns the size's result for name, or nil.
func (s *sizeResult) method(name string) *methodResult {
	for i := range s.Methods {
		if s.Methods[i].Name == name {
			return &s.Methods[i]
		}
	}
	return nil
}

// chooseFloor picks, among the raw settings whose every run succeeded,
// the one with the lowest median, and computes rekindle's ratios.
func (s *sizeResult) chooseFloor(runs int) {
	var best *methodResult
	for i := range s.Methods {
		m := &s.Methods[i]
		if !strings.HasPrefix(m.Name, "raw") || m.Failed > 0 || m.Healthy.N < runs {
			continue
		}
		if best == nil || m.Healthy.Median < best.Healthy.Median {
			best = m
		}
	}
	rk := s.method("rekindle")
	if best != nil {
		s.Floor = best.Name
	}
	if rk == nil || rk.Healthy.N == 0 {
		return
	}
	if best != nil && best.Healthy.Median > 0 {
		s.VsFloor = rk.Healthy.Median / best.Healthy.Median
	}
	if k := s.method("kubectl"); k != nil && k.Healthy.N > 0 && k.Healthy.Median > 0 {
		s.VsKubectl = rk.Healthy.Median / k.Healthy.Median
	}
}

func (res *results) write(path string) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

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
