package recovery

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

// replayPhases splits a lane's replay step along its own timeline into
// replay (until every object was applied), restore (while the restore
// workloads ran: Velero's backup sync and the Restore) and healthy (until
// every object was healthy). Their durations add up to the step's exactly:
// the restore spans, recorded by the agent, are clamped into the step.
func replayPhases(ph Phase, cs bootstrap.ClusterSummary, start time.Time) []Phase {
	end := ph.Start + ph.Duration
	applied := end
	if cs.AppliedAfter > 0 && cs.AppliedAfter < ph.Duration {
		applied = ph.Start + cs.AppliedAfter
	}
	clamp := func(d time.Duration) time.Duration { return min(max(d, ph.Start), end) }
	type span struct{ from, to time.Duration }
	var restores []span
	for _, r := range cs.Restores {
		if sp := (span{clamp(r.Start.Sub(start)), clamp(r.End.Sub(start))}); sp.to > sp.from {
			restores = append(restores, sp)
		}
	}
	cuts := []time.Duration{ph.Start, applied, end}
	for _, r := range restores {
		cuts = append(cuts, r.from, r.to)
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	label := func(at time.Duration) string {
		for _, r := range restores {
			if at >= r.from && at < r.to {
				return PhaseRestore
			}
		}
		if at < applied {
			return PhaseReplay
		}
		return PhaseHealthy
	}
	var out []Phase
	for i := 0; i+1 < len(cuts); i++ {
		from, to := cuts[i], cuts[i+1]
		if to <= from {
			continue
		}
		name := label(from)
		if n := len(out); n > 0 && out[n-1].Name == name {
			out[n-1].Duration += to - from
			continue
		}
		out = append(out, Phase{Name: name, Start: from, Duration: to - from, Status: ph.Status, Detail: replayDetail(name, cs)})
	}
	if len(out) == 0 {
		return []Phase{ph}
	}
	if len(out) == 1 {
		out[0].Detail = ph.Detail
	}
	if ph.Status == bootstrap.StatusFailed {
		out[len(out)-1].Detail = ph.Detail
	}
	return out
}

func replayDetail(name string, cs bootstrap.ClusterSummary) string {
	switch name {
	case PhaseRestore:
		var what []string
		for _, r := range cs.Restores {
			if r.Skipped {
				what = append(what, fmt.Sprintf("%s: skipped, no backup", r.Workload))
				continue
			}
			what = append(what, fmt.Sprintf("%s: %d items from backup %s", r.Workload, r.Items, r.Backup))
		}
		return "Velero's backup sync and the Restore (" + strings.Join(what, "; ") + ")"
	case PhaseHealthy:
		return "until every object was healthy"
	}
	return "until every object was applied"
}
