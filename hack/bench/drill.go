package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

type drillResult struct {
	Blueprint  string       `json:"blueprint,omitempty"`
	Seconds    float64      `json:"seconds,omitempty"`
	RTOSeconds float64      `json:"rtoSeconds,omitempty"`
	PeakRSSMiB float64      `json:"peakRSSMiB,omitempty"`
	Phases     []drillPhase `json:"phases,omitempty"`
	Error      string       `json:"error,omitempty"`
}

type drillPhase struct {
	// Kind is "drill" for the drill's own phases, "recovery" for the timed
	// recovery's.
	Kind    string  `json:"kind"`
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Status  string  `json:"status"`
}

// runDrill runs `rekindle drill` on the example blueprint with a state
// directory of its own and reads the phases from its drill.json.
func runDrill(ctx context.Context, bin, example, work, reportDir string) (*drillResult, error) {
	bp, err := filepath.Abs(example)
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp(work, "drill-state-")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		return nil, err
	}
	progress("rekindle drill of %s", example)
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	rss, err := child(dctx, filepath.Join(reportDir, "drill.log"), bin, "drill", "--blueprint", bp, "--env", "dev",
		"--state-dir", state, "--report-dir", reportDir)
	d := &drillResult{Blueprint: example, Seconds: time.Since(start).Seconds(), PeakRSSMiB: rss}
	if err != nil {
		return d, err
	}
	data, err := os.ReadFile(filepath.Join(reportDir, "drill.json"))
	if err != nil {
		return d, err
	}
	var rep struct {
		Phases []struct {
			Name     string        `json:"name"`
			Duration time.Duration `json:"duration"`
			Status   string        `json:"status"`
		} `json:"phases"`
		Recovery *struct {
			Total  time.Duration `json:"total"`
			Phases []struct {
				Name     string        `json:"name"`
				Duration time.Duration `json:"duration"`
				Status   string        `json:"status"`
			} `json:"phases"`
		} `json:"recovery"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return d, fmt.Errorf("drill.json: %w", err)
	}
	for _, p := range rep.Phases {
		d.Phases = append(d.Phases, drillPhase{Kind: "drill", Name: p.Name, Seconds: p.Duration.Seconds(), Status: p.Status})
	}
	if rep.Recovery != nil {
		d.RTOSeconds = rep.Recovery.Total.Seconds()
		for _, p := range rep.Recovery.Phases {
			d.Phases = append(d.Phases, drillPhase{Kind: "recovery", Name: p.Name, Seconds: p.Duration.Seconds(), Status: p.Status})
		}
	}
	return d, nil
}
