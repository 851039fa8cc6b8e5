package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/backupstore"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// A restore workload (blueprints.RestoreWorkload) has no objects of its
// own: its apply creates a Velero Restore and its wait lasts until Velero
// reports it Completed (bootstrap/restore), so the workloads that depend on
// it start only once the state Git does not hold is back.

// restoreWarnings are the restore workloads' warnings (a skip for want of a
// backup, an allowed PartiallyFailed), for the Sync's Ready message.
func restoreWarnings(ws []WorkloadResult) string {
	var b strings.Builder
	for _, w := range ws {
		if w.Restore != nil && w.Restore.Warning != "" {
			fmt.Fprintf(&b, "; WARNING: workload %s: %s", w.Name, w.Restore.Warning)
		}
	}
	return b.String()
}

// restoreStatuses merges a pass's restore outcomes into the Sync's: a
// Restore this pass ran (and finished) replaces the workload's entry; one
// an earlier pass did leaves the entry that timed it.
func restoreStatuses(old []RestoreStatus, ws []WorkloadResult) []RestoreStatus {
	out := append([]RestoreStatus(nil), old...)
	for _, w := range ws {
		o := w.Restore
		if o == nil || o.Earlier || o.Finished.IsZero() {
			continue
		}
		rs := RestoreStatus{Workload: w.Name, Restore: o.Restore, Phase: o.Phase, Items: o.ItemsRestored, Skipped: o.Skipped,
			Started: metav1.NewMicroTime(o.Started), Finished: metav1.NewMicroTime(o.Finished)}
		if o.Backup != nil {
			rs.Backup = o.Backup.Name
		}
		i := slices.IndexFunc(out, func(r RestoreStatus) bool { return r.Workload == w.Name })
		if i < 0 {
			out = append(out, rs)
		} else {
			out[i] = rs
		}
	}
	return out
}

// seedTimeout bounds reading Velero's buckets to create the Backup objects
// before Velero's own first sync (a slow or unreachable store then costs
// the wait for that sync, not more).
const seedTimeout = 20 * time.Second

func (a *Applier) restoreRunner() *restore.Runner {
	return &restore.Runner{Client: a.client, Log: a.opts.Log, Interval: min(a.opts.WaitInterval, 500*time.Millisecond),
		Seed: func(ctx context.Context, ns string) (restore.SeedResult, error) {
			ctx, cancel := context.WithTimeout(ctx, seedTimeout)
			defer cancel()
			return backupstore.Seed(ctx, a.client, ns)
		}}
}

// applyRestore finds the backup and creates the Restore (or records a skip).
func (a *Applier) applyRestore(ctx context.Context, p *workloadPlan, run *workloadRun, started time.Time) error {
	t := time.Now()
	// Waiting for Velero's locations to sync counts against WaitTimeout too.
	ctx, cancel := context.WithTimeout(ctx, a.opts.WaitTimeout)
	defer cancel()
	if a.opts.BeforeRestore != nil {
		if err := a.opts.BeforeRestore(ctx, p.w.Restore.VeleroNamespace()); err != nil {
			return err
		}
	}
	out, err := a.restoreRunner().Start(ctx, p.w.Name, p.w.Restore)
	out.Started = t
	run.result.Restore = out
	if err != nil {
		return err
	}
	if out.Warning != "" {
		a.opts.Log("WARNING: workload %s: %s", p.w.Name, out.Warning)
	}
	run.applied = true
	run.result.Applying = time.Since(t)
	run.result.AppliedAt = time.Since(started)
	return nil
}

// waitRestore waits for the Restore to end; only Completed (or an allowed
// PartiallyFailed) lets the dependents start.
func (a *Applier) waitRestore(ctx context.Context, p *workloadPlan, run *workloadRun, started time.Time) error {
	t := time.Now()
	out := run.result.Restore
	if out == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.WaitTimeout)
	defer cancel()
	err := a.restoreRunner().Wait(ctx, out, p.w.Restore)
	run.result.Waiting = time.Since(t)
	if err != nil {
		return err
	}
	run.result.Ready = time.Since(started)
	out.Finished = time.Now()
	switch {
	case out.Skipped:
		a.opts.Log("workload %s ready: restore skipped (no backup)", p.w.Name)
	case out.Earlier:
		a.opts.Log("workload %s ready: Restore/%s done by an earlier pass (%s)", p.w.Name, out.Restore, out.Phase)
	default:
		if out.Warning != "" {
			a.opts.Log("WARNING: workload %s: %s", p.w.Name, out.Warning)
		}
		a.opts.Log("workload %s ready: Restore/%s %s, %d items from backup %s in %s", p.w.Name, out.Restore, out.Phase,
			out.ItemsRestored, out.Backup.Name, run.result.Waiting.Round(time.Millisecond))
	}
	return nil
}

// CompareRestores compares what each restore workload of rc brought back
// with its backup's contents (restore.Runner.Compare), for the workloads
// that want says (nil: all). Objects the render declares are left to
// Verify: Git's copy wins over the backup's. Each comparison's failures
// come back as Differences of its workload.
func (a *Applier) CompareRestores(ctx context.Context, rc *blueprints.RenderedCluster, want func(workload string) bool) ([]restore.Comparison, []Difference, error) {
	plans, err := a.plan(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("compare restores: %w", err)
	}
	declared := map[string]bool{}
	key := func(gk schema.GroupKind, ns, name string) string { return gk.String() + "/" + ns + "/" + name }
	for _, p := range plans {
		for _, o := range a.liveObjects(rc.Cluster, p) {
			declared[key(o.GroupVersionKind().GroupKind(), o.GetNamespace(), o.GetName())] = true
		}
	}
	git := func(gk schema.GroupKind, ns, name string) bool { return declared[key(gk, ns, name)] }
	var cmps []restore.Comparison
	var diffs []Difference
	for _, p := range plans {
		if p.w.Restore == nil || (want != nil && !want(p.w.Name)) {
			continue
		}
		c, err := a.restoreRunner().Compare(ctx, p.w.Name, p.w.Restore, git)
		if err != nil {
			return cmps, diffs, err
		}
		cmps = append(cmps, *c)
		for _, pr := range c.Problems() {
			obj, reason, ok := strings.Cut(pr, ": ")
			if !ok || c.Problem != "" && pr == c.Problem {
				obj, reason = "", pr
			}
			diffs = append(diffs, Difference{Workload: p.w.Name, Object: obj, Reason: reason})
		}
	}
	return cmps, diffs, nil
}
