package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fluxcd/pkg/ssa"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/dag"
)

var errPrune = errors.New("prune")

// Sync replays rc into the cluster: CRDs and Namespaces first, then every
// workload in dependsOn order (independent workloads concurrently), each
// waited for until healthy before its dependents start. After every workload
// succeeded, objects the agent applied before that left the render are
// pruned and the inventory is rewritten. The Sync object of the cluster
// reports progress and outcome. The Result is never nil.
//
// A pass is: plan (plan.go) → definitions → schedule the workloads
// (bootstrap/dag), each applied (apply.go) and waited for (wait.go) → drift →
// prune and inventory (prune.go, inventory.go).
func (a *Applier) Sync(ctx context.Context, rc *blueprints.RenderedCluster, opts SyncOptions) (*Result, error) {
	res := &Result{Cluster: rc.Cluster, Commit: rc.Commit, Started: time.Now()}
	if rc.Cluster == "" {
		return res, errors.New("sync: the render names no cluster")
	}
	// Marking the Sync object Reconciling runs beside the replay: on a new
	// cluster the first write of a Sync waits about 2s for the API server to
	// serve the just created CRD, and the replay need not wait for a status.
	marked := make(chan error, 1)
	go func() { marked <- a.markReconciling(ctx, rc.Environment, rc.Cluster, rc.Commit) }()
	err := a.sync(ctx, rc, opts, res)
	res.Duration = time.Since(res.Started)
	if merr := <-marked; merr != nil && err == nil {
		err = merr
	}
	if serr := a.recordResult(ctx, rc.Environment, res, err); serr != nil && err == nil {
		err = serr
	}
	return res, err
}

func (a *Applier) sync(ctx context.Context, rc *blueprints.RenderedCluster, opts SyncOptions, res *Result) error {
	plans, err := a.plan(rc)
	if err != nil {
		res.Failed = append(res.Failed, FailedObject{Reason: err.Error()})
		return err
	}
	anyHelm := false
	for _, p := range plans {
		res.Desired += len(p.wait)
		anyHelm = anyHelm || p.w.Helm != nil
	}
	if res.Desired == 0 && !anyHelm && !opts.AllowEmpty {
		res.Failed = append(res.Failed, FailedObject{Reason: ErrEmptyRender.Error()})
		return ErrEmptyRender
	}
	old, err := a.LoadInventory(ctx, rc.Cluster)
	if err != nil {
		return err
	}
	known := map[string]string{}
	for _, e := range old.Objects {
		known[e.key()] = e.Hash
	}

	nsPlan, err := a.planNamespaces(ctx, rc, known)
	if err != nil {
		res.Failed = append(res.Failed, FailedObject{Reason: err.Error()})
		return err
	}
	res.Desired += len(nsPlan.wait)
	// The created Namespaces are applied with the definitions and kept in
	// the inventory like a workload's objects; they are not a workload.
	all := append([]*workloadPlan{nsPlan}, plans...)

	changes, failed, err := a.applyDefinitions(ctx, all, held{known: known})
	configured := count(res, changes)
	if err != nil {
		if len(failed) == 0 {
			failed = []FailedObject{{Reason: "CRDs and Namespaces: " + err.Error()}}
		}
		res.Failed = append(res.Failed, failed...)
		a.saveAfterFailure(ctx, old, rc, all, nil)
		err = fmt.Errorf("apply CRDs and Namespaces: %w", err)
		for _, f := range failed {
			if f.Permanent {
				return fmt.Errorf("%w: %w", ErrBlocked, err)
			}
		}
		return err
	}

	res.Applied += len(nsPlan.wait)
	res.Healthy += len(nsPlan.wait)
	runs := a.runWorkloads(ctx, rc.Cluster, plans, held{known: known, emptyNS: createdNamespaces(changes)}, res.Started)
	appliedOK := make([]bool, len(all))
	appliedOK[0] = true
	for i, run := range runs {
		appliedOK[i+1] = run.applied
		configured = append(configured, count(res, run.changes)...)
		if run.release != nil {
			res.Releases = append(res.Releases, *run.release)
		}
		if run.applied {
			res.Applied += run.result.Applied
		}
		res.Healthy += run.result.Healthy
		res.Failed = append(res.Failed, run.failed...)
		res.Workloads = append(res.Workloads, run.result)
	}
	res.Drifted = drifted(all, known, configured)

	if len(res.Failed) > 0 || ctx.Err() != nil {
		a.saveAfterFailure(ctx, old, rc, all, appliedOK)
		if len(res.Failed) == 0 { // cancelled between the last workload and here
			res.Failed = append(res.Failed, FailedObject{Reason: ctx.Err().Error()})
		}
		err := fmt.Errorf("%d of %d workloads not ready; first: %s", countFailedWorkloads(res.Workloads), len(plans), firstPermanent(res.Failed))
		for _, f := range res.Failed {
			if f.Permanent {
				return fmt.Errorf("%w: %w", ErrBlocked, err)
			}
		}
		return err
	}

	cur := newInventory(rc, all)
	if !opts.NoPrune {
		if err := a.prune(ctx, rc.Cluster, old, cur, res); err != nil {
			// Keep the old entries so that the next pass retries the prune.
			a.saveAfterFailure(ctx, old, rc, all, appliedOK)
			return fmt.Errorf("%w: %v", errPrune, err)
		}
	} else {
		cur = mergeInventory(old, cur)
		cur.Commit = rc.Commit
	}
	return a.writeInventory(ctx, cur)
}

// applyDefinitions applies every CRD and Namespace (and ClusterRole) of the
// plain workloads and waits until the CRDs are Established. Helm workloads
// keep theirs: Helm refuses to adopt objects another manager created.
// The objects the API server refused are returned with the error.
func (a *Applier) applyDefinitions(ctx context.Context, plans []*workloadPlan, h held) ([]ssa.ChangeSetEntry, []FailedObject, error) {
	var defs []*unstructured.Unstructured
	for _, p := range plans {
		defs = append(defs, p.defs...)
	}
	if len(defs) == 0 {
		return nil, nil, nil
	}
	t := time.Now()
	changes, failed := a.apply(ctx, defs, h)
	if len(failed) > 0 {
		return changes, failed, fmt.Errorf("%s", summarizeFailed(failed, 5))
	}
	refs := make([]ObjectRef, len(defs))
	for i, o := range defs {
		refs[i] = refOf(o)
	}
	if _, notReady, err := a.waitHealthy(ctx, refs, nil); err != nil {
		return changes, notReady, err
	}
	if err := a.waitServed(ctx, defs); err != nil {
		return changes, nil, err
	}
	a.opts.Log("applied %d CRDs and Namespaces in %s", len(defs), time.Since(t).Round(time.Millisecond))
	return changes, nil, nil
}

// createdNamespaces are the Namespaces a change set created.
func createdNamespaces(changes []ssa.ChangeSetEntry) map[string]bool {
	out := map[string]bool{}
	for _, c := range changes {
		if c.Action == ssa.CreatedAction && c.ObjMetadata.GroupKind.Group == "" && c.ObjMetadata.GroupKind.Kind == "Namespace" {
			out[c.ObjMetadata.Name] = true
		}
	}
	return out
}

// runWorkloads schedules every workload: applied in dependsOn order, at most
// Workloads at once, each waited for until healthy before its dependents
// start. A workload that did not run (a dependency failed, the pass was
// cancelled) ends failed, with the reason.
func (a *Applier) runWorkloads(ctx context.Context, cluster string, plans []*workloadPlan, h held, started time.Time) []*workloadRun {
	runs := make([]*workloadRun, len(plans))
	jobs := make([]dag.Job, len(plans))
	for i, p := range plans {
		run := &workloadRun{result: WorkloadResult{Name: p.w.Name}}
		runs[i] = run
		jobs[i] = dag.Job{
			Name:  p.w.Name,
			Deps:  p.deps,
			Apply: func(ctx context.Context) error { return a.applyWorkload(ctx, cluster, p, h, run, started) },
			Wait: func(ctx context.Context) error {
				if p.w.Restore != nil {
					return a.waitRestore(ctx, p, run, started)
				}
				t := time.Now()
				read := p.toRead(run.changes)
				healthy, notReady, err := a.waitHealthy(ctx, read, p.ttlJobs())
				run.result.Waiting = time.Since(t)
				run.result.Healthy = healthy + len(p.wait) - len(read)
				for i := range notReady {
					notReady[i].Workload = p.w.Name
				}
				run.failed = notReady
				if err == nil {
					run.result.Ready = time.Since(started)
					a.opts.Log("workload %s ready: %d objects in %s", p.w.Name, len(p.wait), run.result.Ready.Round(time.Millisecond))
				}
				return err
			},
		}
	}
	for i, err := range dag.Run(ctx, jobs, a.opts.Workloads) {
		if err == nil {
			continue
		}
		run := runs[i]
		run.result.Error = err.Error()
		if len(run.failed) == 0 {
			run.failed = []FailedObject{{Workload: run.result.Name, Reason: err.Error()}}
		} else {
			run.result.Error = run.failed[0].String()
		}
	}
	return runs
}

// count adds server-side apply outcomes to res and returns the configured
// objects, the candidates for drift.
func count(res *Result, changes []ssa.ChangeSetEntry) []ObjectRef {
	var configured []ObjectRef
	for _, e := range changes {
		switch e.Action {
		case ssa.CreatedAction:
			res.Created++
		case ssa.ConfiguredAction:
			res.Configured++
			configured = append(configured, refOfMeta(e.ObjMetadata, e.GroupVersion))
		case ssa.UnchangedAction:
			res.Unchanged++
		}
	}
	return configured
}

func countFailedWorkloads(ws []WorkloadResult) int {
	n := 0
	for _, w := range ws {
		if w.Error != "" {
			n++
		}
	}
	return n
}

// firstPermanent is the first failure no retry fixes, else the first one.
func firstPermanent(f []FailedObject) FailedObject {
	for _, o := range f {
		if o.Permanent {
			return o
		}
	}
	return f[0]
}
