package recovery

import (
	"fmt"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap"
)

// Phase names of a recovery, in order. PhaseWait is a cluster's time
// between the shared steps and its own first step (behind the clusters it
// needs, or an apply slot); PhaseOther is rekindle's own time between
// steps, so that the phases add up to the RTO.
const (
	PhaseFetch     = "fetch"
	PhaseValidate  = "validate"
	PhaseDetect    = "detect"
	PhaseInfra     = "infra"
	PhaseWait      = "wait"
	PhaseCluster   = "cluster"
	PhaseSecrets   = "secrets"
	PhasePreflight = "preflight"
	PhaseAgent     = "agent"
	PhaseReplay    = "replay"
	PhaseRestore   = "restore"
	PhaseHealthy   = "healthy"
	PhaseVerify    = "verify"
	PhaseReport    = "report"
	PhaseOther     = "other"
	// A Flux cluster's agent and replay steps are Flux's own phases:
	// installing it (components, keys, gotk-sync, controllers), its
	// GitRepository fetching the commit, and the whole Kustomization and
	// HelmRelease tree reconciled and Ready.
	PhaseFluxInstall    = "flux-install"
	PhaseFluxSource     = "flux-source"
	PhaseFluxReconciled = "flux-reconciled"
)

// Phase is one timed part of a recovery.
type Phase struct {
	Name string `json:"name"`
	// Start is when the phase began, from the start of the recovery (or,
	// for a drill's own phases, of the drill).
	Start    time.Duration `json:"start"`
	Duration time.Duration `json:"duration"`
	Status   string        `json:"status"`
	Detail   string        `json:"detail,omitempty"`
}

// Lane is one cluster's own pipeline within a recovery.
type Lane struct {
	Cluster string  `json:"cluster"`
	Phases  []Phase `json:"phases"`
	Error   string  `json:"error,omitempty"`
}

// RTO is a recovery's measured time against its objective.
type RTO struct {
	Total     time.Duration `json:"total"`
	Objective time.Duration `json:"objective,omitempty"`
	// Met is true when there is no objective or Total is within it.
	Met bool `json:"met"`
	// Phases add up to Total: the shared steps, then the phases of the
	// cluster that finished last (its lane is the critical path), the
	// report, and rekindle's own time between them.
	Phases []Phase `json:"phases"`
	// Lanes are every cluster's phases, side by side in time.
	Lanes []Lane `json:"lanes,omitempty"`
	// Critical names the cluster whose lane is in Phases.
	Critical string `json:"critical,omitempty"`
}

var envPhases = map[string]string{
	bootstrap.StepFetch: PhaseFetch, bootstrap.StepValidate: PhaseValidate,
	bootstrap.StepDetect: PhaseDetect, bootstrap.StepInfra: PhaseInfra,
}

var lanePhases = map[string]string{
	bootstrap.StepClusters: PhaseCluster, bootstrap.StepSecrets: PhaseSecrets, bootstrap.StepPreflight: PhasePreflight, bootstrap.StepAgent: PhaseAgent,
	bootstrap.StepReplay: PhaseReplay, bootstrap.StepVerify: PhaseVerify,
}

// phases maps a run's steps onto recovery phases that add up to total:
// the shared steps, the critical cluster's lane, the report, and the rest
// as PhaseOther. A lane's replay splits into replay (until every object was
// applied) and healthy (until every object was healthy).
func phases(sum *bootstrap.Summary, start time.Time, total time.Duration) ([]Phase, []Lane, string) {
	if sum == nil {
		return nil, nil, ""
	}
	var out []Phase
	var sharedEnd time.Duration
	for _, s := range sum.Steps {
		if name, ok := envPhases[s.Name]; ok {
			ph := phaseOf(name, s, start)
			out = append(out, ph)
			sharedEnd = max(sharedEnd, ph.Start+ph.Duration)
		}
	}
	var lanes []Lane
	critical, criticalEnd := -1, time.Duration(0)
	for _, cs := range sum.Clusters {
		l := Lane{Cluster: cs.Name, Error: cs.Error}
		for i, s := range cs.Steps {
			name, ok := lanePhases[s.Name]
			if !ok {
				continue
			}
			ph := phaseOf(name, s, start)
			if cs.Agent == blueprints.AgentFlux {
				if fl := fluxPhases(ph, cs); fl != nil {
					l.Phases = append(l.Phases, fl...)
					continue
				}
			}
			if i == 0 && ph.Start > sharedEnd {
				l.Phases = append(l.Phases, Phase{Name: PhaseWait, Start: sharedEnd, Duration: ph.Start - sharedEnd, Status: bootstrap.StatusDone,
					Detail: "behind the clusters it needs or an apply slot"})
			}
			if name == PhaseReplay {
				l.Phases = append(l.Phases, replayPhases(ph, cs, start)...)
				continue
			}
			l.Phases = append(l.Phases, ph)
		}
		if n := len(l.Phases); n > 0 {
			if end := l.Phases[n-1].Start + l.Phases[n-1].Duration; critical < 0 || end > criticalEnd {
				critical, criticalEnd = len(lanes), end
			}
		}
		lanes = append(lanes, l)
	}
	name := ""
	if critical >= 0 {
		out = append(out, lanes[critical].Phases...)
		name = lanes[critical].Cluster
	}
	for _, s := range sum.Steps {
		if s.Name == bootstrap.StepReport {
			out = append(out, phaseOf(PhaseReport, s, start))
		}
	}
	var counted time.Duration
	for _, ph := range out {
		counted += ph.Duration
	}
	if rest := total - counted; rest > 0 {
		out = append(out, Phase{Name: PhaseOther, Duration: rest, Status: bootstrap.StatusDone,
			Detail: "rekindle's own time between steps (opening the environment, locking, checkpoints)"})
	}
	return out, lanes, name
}

// fluxPhases names a Flux cluster's agent step flux-install and splits its
// replay at the moment the source fetched the commit into flux-source and
// flux-reconciled (together exactly the replay's time); nil for other steps.
func fluxPhases(ph Phase, cs bootstrap.ClusterSummary) []Phase {
	switch ph.Name {
	case PhaseAgent:
		ph.Name = PhaseFluxInstall
		return []Phase{ph}
	case PhaseReplay:
		src := ph
		src.Name, src.Detail = PhaseFluxSource, "until the GitRepository had fetched the commit"
		src.Duration = min(cs.SourceAfter, ph.Duration)
		rec := ph
		rec.Name, rec.Detail = PhaseFluxReconciled, "until every Kustomization and HelmRelease was Ready at the commit"
		rec.Start, rec.Duration = ph.Start+src.Duration, ph.Duration-src.Duration
		if ph.Status == bootstrap.StatusFailed {
			rec.Detail = ph.Detail
			if cs.SourceAfter == 0 {
				src.Detail = ph.Detail
			}
		}
		return []Phase{src, rec}
	}
	return nil
}

func phaseOf(name string, s bootstrap.StepSummary, start time.Time) Phase {
	var at time.Duration
	if !s.Started.IsZero() {
		at = s.Started.Sub(start)
	}
	return Phase{Name: name, Start: at, Duration: s.Duration, Status: s.Status, Detail: s.Detail}
}

// Overage says how the recovery compares with its objective, e.g.
// "recovered in 9.1s, 8.1s over the 1s objective".
func (r RTO) Overage() string {
	total := r.Total.Round(time.Millisecond)
	if r.Objective <= 0 {
		return fmt.Sprintf("recovered in %s (no objective)", total)
	}
	if r.Total <= r.Objective {
		return fmt.Sprintf("recovered in %s, %s within the %s objective", total, (r.Objective - r.Total).Round(time.Millisecond), r.Objective)
	}
	return fmt.Sprintf("recovered in %s, %s over the %s objective", total, (r.Total - r.Objective).Round(time.Millisecond), r.Objective)
}

func newRTO(sum *bootstrap.Summary, start time.Time, total, objective time.Duration) RTO {
	ph, lanes, critical := phases(sum, start, total)
	return RTO{Total: total, Objective: objective, Met: objective <= 0 || total <= objective, Phases: ph, Lanes: lanes, Critical: critical}
}
