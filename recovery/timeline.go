package recovery

import (
	"slices"
	"sync"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

// Timeline is where a drill's time went, as lanes of spans.
type Timeline struct {
	// Drill is one lane of the drill's own phases, offsets from its start.
	Drill Lane `json:"drill"`
	// Recovery holds one lane per cluster, offsets from the recovery's
	// start. Spans come from the pipeline's per-cluster events where it
	// emits them, so clusters recovered concurrently overlap on the axis.
	Recovery []Lane `json:"recovery,omitempty"`
}

// Lane is one row of the timeline: the drill, or one cluster.
type Lane struct {
	Name string `json:"name"`
	// Lost marks a cluster the drill destroyed; the others were re-synced.
	Lost  bool   `json:"lost,omitempty"`
	Spans []Span `json:"spans"`
}

// Span is one phase on a lane.
type Span struct {
	Phase    string        `json:"phase"`
	Start    time.Duration `json:"start"`
	Duration time.Duration `json:"duration"`
	Status   string        `json:"status,omitempty"`
	// Shared marks a step run once for every cluster: the span is the
	// whole step's, not this cluster's own share of it.
	Shared bool `json:"shared,omitempty"`
}

// End is the span's end offset.
func (s Span) End() time.Duration { return s.Start + s.Duration }

// stepPhases maps the pipeline steps that make up a recovery's RTO onto the
// recovery phases (see phases); replay is split further per cluster.
var stepPhases = []struct{ step, phase string }{
	{bootstrap.StepDetect, PhaseDetect},
	{bootstrap.StepInfra, PhaseInfra},
	{bootstrap.StepClusters, PhaseCluster},
	{bootstrap.StepAgent, PhaseAgent},
	{bootstrap.StepReplay, PhaseReplay},
	{bootstrap.StepVerify, PhaseVerify},
}

// window is a stretch of time seen in events.
type window struct {
	start, end time.Time
	status     string
	events     int
}

func (w *window) add(t time.Time) {
	if w.start.IsZero() || t.Before(w.start) {
		w.start = t
	}
	if t.After(w.end) {
		w.end = t
	}
	w.events++
}

// recoveryLanes builds one lane per cluster of a recovery that started at
// start, from the events the pipeline emitted and its summary. A step whose
// events name clusters gives each named cluster its own span (from its
// first to its last event) and none to the others; a step whose events name
// no cluster is shown on every lane as shared. Replay is split into replay
// (until every object was applied) and healthy from each cluster's own
// AppliedAfter and HealthyAfter. Without a summary (the recovery failed
// early), the lanes are the lost clusters.
func recoveryLanes(start time.Time, events []bootstrap.Event, sum *bootstrap.Summary, lost []string) []Lane {
	steps := map[string]*window{}
	perCluster := map[string]map[string]*window{}
	for _, ev := range events {
		if ev.Cluster == "" {
			w := steps[ev.Step]
			if w == nil {
				w = &window{}
				steps[ev.Step] = w
			}
			w.add(ev.Time)
			if ev.Status != bootstrap.StatusStarted && ev.Status != bootstrap.StatusInfo {
				w.status = ev.Status
			}
			continue
		}
		if perCluster[ev.Step] == nil {
			perCluster[ev.Step] = map[string]*window{}
		}
		w := perCluster[ev.Step][ev.Cluster]
		if w == nil {
			w = &window{}
			perCluster[ev.Step][ev.Cluster] = w
		}
		w.add(ev.Time.Add(-ev.Duration))
		w.add(ev.Time)
	}
	var names []string
	summaries := map[string]bootstrap.ClusterSummary{}
	if sum != nil {
		for _, c := range sum.Clusters {
			names = append(names, c.Name)
			summaries[c.Name] = c
		}
	}
	for _, l := range lost {
		if !slices.Contains(names, l) {
			names = append(names, l)
		}
	}
	off := func(t time.Time) time.Duration { return max(t.Sub(start), 0) }
	var lanes []Lane
	for _, name := range names {
		lane := Lane{Name: name, Lost: slices.Contains(lost, name), Spans: []Span{}}
		for _, sp := range stepPhases {
			step := steps[sp.step]
			if step == nil {
				continue
			}
			s := Span{Phase: sp.phase, Start: off(step.start), Duration: step.end.Sub(step.start), Status: step.status}
			if cs, ok := summaries[name]; ok && sp.step == bootstrap.StepReplay && cs.HealthyAfter > 0 {
				applied := min(cs.AppliedAfter, cs.HealthyAfter)
				lane.Spans = append(lane.Spans,
					Span{Phase: PhaseReplay, Start: s.Start, Duration: applied, Status: s.Status},
					Span{Phase: PhaseHealthy, Start: s.Start + applied, Duration: cs.HealthyAfter - applied, Status: s.Status})
				continue
			}
			if own := perCluster[sp.step]; len(own) > 0 {
				w := own[name]
				if w == nil {
					continue // the step did nothing for this cluster
				}
				begin := w.start
				if w.start.Equal(w.end) || begin.Before(step.start) {
					// One instant (a result line): the work ran from the step's start.
					begin = step.start
				}
				s.Start, s.Duration = off(begin), w.end.Sub(begin)
			} else {
				s.Shared = true
			}
			lane.Spans = append(lane.Spans, s)
		}
		lanes = append(lanes, lane)
	}
	return lanes
}

// drillLane is the drill's own phases on one lane.
func drillLane(phases []Phase) Lane {
	lane := Lane{Name: "drill", Spans: []Span{}}
	for _, ph := range phases {
		lane.Spans = append(lane.Spans, Span{Phase: ph.Name, Start: ph.Start, Duration: ph.Duration, Status: ph.Status})
	}
	return lane
}

// eventLog keeps the events of a run (for the timeline) and passes them on.
type eventLog struct {
	mu     sync.Mutex
	events []bootstrap.Event
	next   bootstrap.Observer
}

func newEventLog(next bootstrap.Observer) *eventLog { return &eventLog{next: next} }

// observe is a bootstrap.Observer; the pipeline may call it concurrently.
func (l *eventLog) observe(ev bootstrap.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
	if l.next != nil {
		l.next(ev)
	}
}

func (l *eventLog) all() []bootstrap.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}
