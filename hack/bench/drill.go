package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// drillRun is one `rekindle drill` of the example blueprint.
type drillRun struct {
	Seconds    float64 `json:"seconds,omitempty"`
	RTOSeconds float64 `json:"rtoSeconds,omitempty"`
	PeakRSSMiB float64 `json:"peakRSSMiB,omitempty"`
	// Lost are the clusters the drill destroyed and recovered.
	Lost   []string     `json:"lost,omitempty"`
	Phases []drillPhase `json:"phases,omitempty"`
	// Critical is the cluster whose lane the recovery's phases follow
	// (empty when drill.json does not say).
	Critical string `json:"critical,omitempty"`
	// PhaseSum is the sum of the recovery's phases, whatever they are, and
	// Gap the RTO minus that sum: time the phases do not account for.
	PhaseSum float64 `json:"phaseSumSeconds,omitempty"`
	Gap      float64 `json:"gapSeconds"`
	Error    string  `json:"error,omitempty"`
}

type drillPhase struct {
	// Kind is "drill" for the drill's own phases, "recovery" for the timed
	// recovery's.
	Kind    string  `json:"kind"`
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Status  string  `json:"status"`
}

// drillJSON is the part of drill.json the benchmark reads. It is read
// defensively: phases are summed whatever their names, and a duration may
// be nanoseconds (Go's time.Duration) or a string such as "1.5s".
type drillJSON struct {
	Lost     []string    `json:"lost"`
	Phases   []jsonPhase `json:"phases"`
	Passed   *bool       `json:"passed"`
	Failure  string      `json:"failure"`
	Recovery *struct {
		Total    jsonDuration `json:"total"`
		Phases   []jsonPhase  `json:"phases"`
		Critical string       `json:"critical"`
	} `json:"recovery"`
}

type jsonPhase struct {
	Name     string       `json:"name"`
	Duration jsonDuration `json:"duration"`
	Status   string       `json:"status"`
}

type jsonDuration struct {
	time.Duration
	set bool
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		d.Duration, d.set = time.Duration(n), true
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("duration %s: neither nanoseconds nor a string", s)
	}
	v, err := time.ParseDuration(str)
	if err != nil {
		return err
	}
	d.Duration, d.set = v, true
	return nil
}

// parseDrill turns drill.json into a drillRun; a report without a timed
// recovery, or one whose drill did not pass, is an error.
func parseDrill(data []byte) (drillRun, error) {
	var d drillRun
	var rep drillJSON
	if err := json.Unmarshal(data, &rep); err != nil {
		return d, fmt.Errorf("drill.json: %w", err)
	}
	d.Lost = rep.Lost
	for _, p := range rep.Phases {
		d.Phases = append(d.Phases, drillPhase{Kind: "drill", Name: p.Name, Seconds: p.Duration.Seconds(), Status: p.Status})
	}
	if rep.Passed != nil && !*rep.Passed {
		return d, fmt.Errorf("drill did not pass: %s", rep.Failure)
	}
	if rep.Recovery == nil || !rep.Recovery.Total.set {
		return d, fmt.Errorf("drill.json holds no recovery total (RTO)")
	}
	d.RTOSeconds, d.Critical = rep.Recovery.Total.Seconds(), rep.Recovery.Critical
	if len(rep.Recovery.Phases) == 0 {
		return d, fmt.Errorf("drill.json holds no recovery phases")
	}
	for _, p := range rep.Recovery.Phases {
		d.Phases = append(d.Phases, drillPhase{Kind: "recovery", Name: p.Name, Seconds: p.Duration.Seconds(), Status: p.Status})
		d.PhaseSum += p.Duration.Seconds()
	}
	d.Gap = d.RTOSeconds - d.PhaseSum
	return d, nil
}

// runDrill runs `rekindle drill` on the example blueprint with a state
// directory of its own and reads the phases from its drill.json.
func runDrill(ctx context.Context, bin, example, env, work, reportDir string) (drillRun, error) {
	var d drillRun
	bp, err := filepath.Abs(example)
	if err != nil {
		return d, err
	}
	state, err := os.MkdirTemp(work, "drill-state-")
	if err != nil {
		return d, err
	}
	defer os.RemoveAll(state)
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		return d, err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	u, err := child(dctx, filepath.Join(reportDir, "drill.log"), bin, "drill", "--blueprint", bp, "--env", env,
		"--state-dir", state, "--report-dir", reportDir)
	seconds := time.Since(start).Seconds()
	if err != nil {
		return drillRun{Seconds: seconds, PeakRSSMiB: u.rssMiB}, err
	}
	data, err := os.ReadFile(filepath.Join(reportDir, "drill.json"))
	if err != nil {
		return drillRun{Seconds: seconds, PeakRSSMiB: u.rssMiB}, err
	}
	d, err = parseDrill(data)
	d.Seconds, d.PeakRSSMiB = seconds, u.rssMiB
	return d, err
}
