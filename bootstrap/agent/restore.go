package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

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

func (a *Applier) restoreRunner() *restore.Runner {
	return &restore.Runner{Client: a.client, Log: a.opts.Log, Interval: min(a.opts.WaitInterval, 500*time.Millisecond)}
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
