package recovery

import (
	"cmp"
	"slices"
	"time"
)

// Timeline is where a drill's time went, as lanes of spans.
type Timeline struct {
	// Drill is one lane of the drill's own phases, offsets from its start.
	Drill TimelineLane `json:"drill"`
	// Recovery holds one lane per cluster, offsets from the recovery's
	// start: the environment's shared steps, then the cluster's own
	// pipeline, so clusters recovered side by side overlap on the axis.
	Recovery []TimelineLane `json:"recovery,omitempty"`
}

// TimelineLane is one row of the timeline: the drill, or one cluster.
type TimelineLane struct {
	Name string `json:"name"`
	// Lost marks a cluster the drill destroyed; the others were re-synced.
	Lost bool `json:"lost,omitempty"`
	// Critical marks the cluster that finished last (its phases are the
	// RTO's).
	Critical bool `json:"critical,omitempty"`
	// Error says why the cluster's pipeline failed.
	Error string `json:"error,omitempty"`
	Spans []Span `json:"spans"`
}

// Span is one phase on a lane.
type Span struct {
	Phase    string        `json:"phase"`
	Start    time.Duration `json:"start"`
	Duration time.Duration `json:"duration"`
	Status   string        `json:"status,omitempty"`
	// Shared marks a step run once for the whole environment (fetch,
	// detect, infra, report): the span is the step's, not this cluster's.
	Shared bool `json:"shared,omitempty"`
}

// End is the span's end offset.
func (s Span) End() time.Duration { return s.Start + s.Duration }

// sharedPhases are the recovery phases run once for the environment.
var sharedPhases = []string{PhaseFetch, PhaseValidate, PhaseDetect, PhaseInfra, PhaseReport}

// recoveryLanes builds one lane per cluster of a recovery from its
// per-cluster phases (RTO.Lanes), each lane starting with the shared steps.
// A lost cluster the recovery has no lane for (it stopped before the
// clusters' pipelines) gets a lane of the shared steps, so it still shows.
func recoveryLanes(r *RTO, lost []string) []TimelineLane {
	if r == nil {
		var out []TimelineLane
		for _, name := range lost {
			out = append(out, TimelineLane{Name: name, Lost: true, Spans: []Span{}})
		}
		return out
	}
	var shared []Span
	for _, ph := range r.Phases {
		if slices.Contains(sharedPhases, ph.Name) {
			shared = append(shared, Span{Phase: ph.Name, Start: ph.Start, Duration: ph.Duration, Status: ph.Status, Shared: true})
		}
	}
	var out []TimelineLane
	seen := map[string]bool{}
	for _, l := range r.Lanes {
		seen[l.Cluster] = true
		lane := TimelineLane{Name: l.Cluster, Lost: slices.Contains(lost, l.Cluster), Critical: l.Cluster == r.Critical, Error: l.Error}
		lane.Spans = append(lane.Spans, shared...)
		for _, ph := range l.Phases {
			lane.Spans = append(lane.Spans, Span{Phase: ph.Name, Start: ph.Start, Duration: ph.Duration, Status: ph.Status})
		}
		slices.SortStableFunc(lane.Spans, func(a, b Span) int { return cmp.Compare(a.Start, b.Start) })
		out = append(out, lane)
	}
	for _, name := range lost {
		if !seen[name] {
			out = append(out, TimelineLane{Name: name, Lost: true, Spans: append([]Span{}, shared...)})
		}
	}
	return out
}

// drillLane is the drill's own phases on one lane.
func drillLane(phases []Phase) TimelineLane {
	lane := TimelineLane{Name: "drill", Spans: []Span{}}
	for _, ph := range phases {
		lane.Spans = append(lane.Spans, Span{Phase: ph.Name, Start: ph.Start, Duration: ph.Duration, Status: ph.Status})
	}
	return lane
}
