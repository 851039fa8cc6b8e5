package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// compareRestores proves, in the verify step, that the data came back:
// each Restore this run's replay ran (not skipped) is compared with its
// backup's contents, object by object (agent.CompareRestores). Failures
// join res.Differences; the result is a note for the step's detail. A
// restore done by an earlier run is not compared: the cluster has lived
// since, and its state may rightly differ from that backup now (rekindle
// verify --against-backup compares on demand).
func (r *run) compareRestores(ctx context.Context, l *lane, rc *blueprints.RenderedCluster, ap *agent.Applier, res *agent.VerifyResult) (string, error) {
	var ran []string
	for _, s := range l.sum.Restores {
		if !s.Skipped {
			ran = append(ran, s.Workload)
		}
	}
	if len(ran) == 0 {
		return "", nil
	}
	cmps, diffs, err := ap.CompareRestores(ctx, rc, func(w string) bool { return slices.Contains(ran, w) })
	if err != nil {
		return "", err
	}
	res.Restores = cmps
	res.Differences = append(res.Differences, diffs...)
	return "; " + RestoredNote(cmps), nil
}

// RestoredNote says what the comparisons found, for a person: "restored
// state: 2 object(s) identical to backup velero/daily-1 (workload state)".
func RestoredNote(cmps []restore.Comparison) string {
	var parts []string
	for _, c := range cmps {
		switch {
		case c.Skipped:
			parts = append(parts, fmt.Sprintf("workload %s: restore skipped, nothing to compare", c.Workload))
		case c.OK():
			s := fmt.Sprintf("%d object(s) identical to backup %s (workload %s", c.Identical, c.Backup, c.Workload)
			if n := len(c.Kept); n > 0 {
				s += fmt.Sprintf("; %d kept as the cluster had them", n)
			}
			if c.HeldByGit > 0 {
				s += fmt.Sprintf("; %d held by Git", c.HeldByGit)
			}
			parts = append(parts, s+")")
		default:
			parts = append(parts, fmt.Sprintf("workload %s: %d of %d object(s) not as backup %s holds them", c.Workload, len(c.Missing)+len(c.Different), c.Compared, c.Backup))
		}
	}
	return "restored state: " + strings.Join(parts, "; ")
}
