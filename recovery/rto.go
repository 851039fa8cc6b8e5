package recovery

import (
	"fmt"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

// Phase names of a recovery, in order.
const (
	PhaseDetect  = "detect"
	PhaseInfra   = "infra"
	PhaseCluster = "cluster"
	PhaseAgent   = "agent"
	PhaseReplay  = "replay"
	PhaseHealthy = "healthy"
	PhaseVerify  = "verify"
)

// Phase is one timed part of a recovery.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	Status   string        `json:"status"`
	Detail   string        `json:"detail,omitempty"`
}

// RTO is a recovery's measured time against its objective.
type RTO struct {
	Total     time.Duration `json:"total"`
	Objective time.Duration `json:"objective,omitempty"`
	// Met is true when there is no objective or Total is within it.
	Met    bool    `json:"met"`
	Phases []Phase `json:"phases"`
}

// phases maps the pipeline's steps onto recovery phases. The replay step
// splits into replay (until every object was applied) and healthy (until
// every object was healthy), taken from the slowest cluster.
func phases(sum *bootstrap.Summary) []Phase {
	byStep := map[string]bootstrap.StepSummary{}
	for _, s := range sum.Steps {
		byStep[s.Name] = s
	}
	var out []Phase
	add := func(name, step string) {
		if s, ok := byStep[step]; ok {
			out = append(out, Phase{Name: name, Duration: s.Duration, Status: s.Status, Detail: s.Detail})
		}
	}
	add(PhaseDetect, bootstrap.StepDetect)
	add(PhaseInfra, bootstrap.StepInfra)
	add(PhaseCluster, bootstrap.StepClusters)
	add(PhaseAgent, bootstrap.StepAgent)
	if s, ok := byStep[bootstrap.StepReplay]; ok {
		var applied time.Duration
		for _, c := range sum.Clusters {
			applied = max(applied, c.AppliedAfter)
		}
		applied = min(applied, s.Duration)
		out = append(out,
			Phase{Name: PhaseReplay, Duration: applied, Status: s.Status, Detail: "until every object was applied"},
			Phase{Name: PhaseHealthy, Duration: s.Duration - applied, Status: s.Status, Detail: s.Detail})
	}
	add(PhaseVerify, bootstrap.StepVerify)
	return out
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

func newRTO(total, objective time.Duration, ph []Phase) RTO {
	return RTO{Total: total, Objective: objective, Met: objective <= 0 || total <= objective, Phases: ph}
}
