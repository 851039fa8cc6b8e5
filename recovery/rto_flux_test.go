package recovery

import (
	"slices"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap"
)

// A Flux cluster's agent and replay steps become flux-install, flux-source
// and flux-reconciled, and the phases still add up to the RTO.
func TestPhasesOfAFluxCluster(t *testing.T) {
	start := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	d := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	step := func(name string, from, dur float64) bootstrap.StepSummary {
		return bootstrap.StepSummary{Name: name, Status: bootstrap.StatusDone, Started: at(from), Duration: d(dur)}
	}
	sum := &bootstrap.Summary{
		Steps: []bootstrap.StepSummary{step(bootstrap.StepFetch, 0, 0.5), step(bootstrap.StepValidate, 0.5, 0.5), step(bootstrap.StepReport, 20, 0.2)},
		Clusters: []bootstrap.ClusterSummary{{
			Name: "dev", Agent: blueprints.AgentFlux, SourceAfter: d(2),
			Steps: []bootstrap.StepSummary{step(bootstrap.StepClusters, 1, 4), step(bootstrap.StepSecrets, 5, 0), step(bootstrap.StepPreflight, 5, 0.1),
				step(bootstrap.StepAgent, 5.1, 3), step(bootstrap.StepReplay, 8.1, 10), step(bootstrap.StepVerify, 18.1, 1)},
		}},
	}
	total := d(21)
	ph, _, critical := phases(sum, start, total)
	if critical != "dev" {
		t.Errorf("critical = %q", critical)
	}
	var names []string
	var added time.Duration
	byName := map[string]Phase{}
	for _, p := range ph {
		names = append(names, p.Name)
		added += p.Duration
		byName[p.Name] = p
	}
	want := []string{PhaseFetch, PhaseValidate, PhaseCluster, PhaseSecrets, PhasePreflight, PhaseFluxInstall, PhaseFluxSource, PhaseFluxReconciled, PhaseVerify, PhaseReport, PhaseOther}
	if !slices.Equal(names, want) {
		t.Fatalf("phases %v, want %v", names, want)
	}
	if added != total {
		t.Errorf("phases add up to %s, the RTO is %s", added, total)
	}
	if got := byName[PhaseFluxSource].Duration; got != d(2) {
		t.Errorf("flux-source took %s, want 2s", got)
	}
	if got := byName[PhaseFluxReconciled]; got.Duration != d(8) || got.Start != d(10.1) {
		t.Errorf("flux-reconciled = %+v, want 8s from 10.1s", got)
	}
}
