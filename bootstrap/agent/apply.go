package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// workloadRun is what one workload's apply and wait did. Only the
// workload's own job writes it; the pass reads it after the schedule.
type workloadRun struct {
	result  WorkloadResult
	changes []ssa.ChangeSetEntry
	release *ReleaseResult
	failed  []FailedObject
	// applied is set once the workload's objects (or release) went through.
	applied bool
}

// applyWorkload applies one workload: a Helm workload becomes a release, a
// plain one goes through apply.
func (a *Applier) applyWorkload(ctx context.Context, cluster string, p *workloadPlan, have held, run *workloadRun, started time.Time) error {
	if p.w.Restore != nil {
		return a.applyRestore(ctx, p, run, started)
	}
	t := time.Now()
	if h := p.w.Helm; h != nil {
		ch, err := loader.Load(h.ChartPath)
		if err != nil {
			return fmt.Errorf("load chart %s: %w", h.ChartPath, err)
		}
		act, rev, err := upsertRelease(ctx, a.cfg, releaseSpec{
			Name: h.ReleaseName, Namespace: h.Namespace, Chart: ch, Values: h.Values,
			Labels:  map[string]string{LabelCluster: cluster, LabelWorkload: p.w.Name},
			Timeout: a.opts.HelmTimeout,
		}, a.opts.Log)
		if err != nil {
			return err
		}
		run.release = &ReleaseResult{Workload: p.w.Name, Name: h.ReleaseName, Namespace: h.Namespace, Revision: rev, Action: act}
		a.opts.Log("helm release %s/%s %s (revision %d)", h.Namespace, h.ReleaseName, act, rev)
	} else if len(p.rest) > 0 {
		changes, failed := a.apply(ctx, p.rest, have)
		run.changes = changes
		if len(failed) > 0 {
			for i := range failed {
				failed[i].Workload = p.w.Name
			}
			run.failed = failed
			return fmt.Errorf("%d of %d objects not applied; first: %s", len(failed), len(p.rest), failed[0].String())
		}
	}
	run.applied = true
	run.result.Applied = len(p.wait)
	run.result.Applying = time.Since(t)
	run.result.AppliedAt = time.Since(started)
	a.opts.Log("workload %s applied: %d objects in %s", p.w.Name, len(p.wait), run.result.Applying.Round(time.Millisecond))
	return nil
}

// held is what a pass knows the cluster holds without asking it: the
// objects of the last inventory (key to hash), and the Namespaces this pass
// created, which hold none of the render's objects yet.
type held struct {
	known   map[string]string
	emptyNS map[string]bool
}

// apply server-side applies objs, each by one rule: an object the cluster
// holds goes through ssa's Apply, which compares a server-side dry run with
// the live object (the drift check) and writes only when they differ; an
// object the cluster lacks is applied at once, since a dry run could only
// say that it is new. Objects of the last inventory count as held, and
// objects in a Namespace this pass created as missing, without a request;
// for the others one metadata LIST per kind and namespace tells. On a
// recovery every object is missing and costs one request. Requests start
// in startOrder; creates of a kind the API server creates one at a time go
// a few at a time beside the others (createdOneAtATime). Every object is
// tried; those that fail are returned with why, in the render's order.
func (a *Applier) apply(ctx context.Context, objs []*unstructured.Unstructured, h held) ([]ssa.ChangeSetEntry, []FailedObject) {
	var probe []int
	check := make([]bool, len(objs))
	for i, o := range objs {
		switch _, ok := h.known[refOf(o).key()]; {
		case ok:
			check[i] = true
		case o.GetNamespace() != "" && h.emptyNS[o.GetNamespace()]:
			// missing: applied at once (an object a controller put there
			// meanwhile, a default ServiceAccount, is applied over)
		default:
			probe = append(probe, i)
		}
	}
	if len(probe) > 0 {
		sub := make([]*unstructured.Unstructured, len(probe))
		for k, i := range probe {
			sub[k] = objs[i]
		}
		for k, missing := range a.missing(ctx, sub) {
			check[probe[k]] = !missing
		}
	}
	changes := make([]ssa.ChangeSetEntry, len(objs))
	errs := make([]error, len(objs))
	one := func(i int) {
		if errs[i] = a.inFlight.take(ctx); errs[i] == nil {
			changes[i], errs[i] = a.applyOne(ctx, objs[i], check[i])
			a.inFlight.give()
		}
	}
	var lane, rest []int
	for _, i := range startOrder(objs) {
		if !check[i] && createdOneAtATime(objs[i]) {
			lane = append(lane, i)
		} else {
			rest = append(rest, i)
		}
	}
	laneDone := make(chan struct{})
	go func() {
		defer close(laneDone)
		var lg sync.WaitGroup
		for _, i := range lane {
			if errs[i] = a.serialLane.take(ctx); errs[i] != nil {
				continue
			}
			lg.Add(1)
			go func() {
				defer lg.Done()
				defer a.serialLane.give()
				one(i)
			}()
		}
		lg.Wait()
	}()
	var g errgroup.Group
	g.SetLimit(a.opts.Concurrency)
	for _, i := range rest {
		g.Go(func() error {
			one(i)
			return nil
		})
	}
	_ = g.Wait()
	<-laneDone
	var out []ssa.ChangeSetEntry
	var failed []FailedObject
	for i, err := range errs {
		if err != nil {
			failed = append(failed, FailedObject{Object: refOf(objs[i]).String(), Reason: err.Error(), Permanent: permanent(err)})
			continue
		}
		out = append(out, changes[i])
	}
	return out, failed
}

// serialLaneSize is how many creates of kinds the API server creates one
// at a time (createdOneAtATime) an Applier keeps in flight: enough to keep
// that one creation busy, few enough to leave the request budget to the
// kinds it can create side by side.
const serialLaneSize = 4

// createdOneAtATime reports whether the API server serializes creates of
// o's kind: a Service's cluster IP is allocated under one lock (measured on
// kwok's v1.36 API server: 200 creates took 3.8 s one at a time and 3.1 s
// with 64 in flight, ConfigMaps 0.84 s and 0.27 s). With 128 in flight a
// replay's Services took most of them, waiting on that lock, while the
// other kinds waited for a slot.
func createdOneAtATime(o *unstructured.Unstructured) bool {
	return o.GetKind() == "Service" && o.GroupVersionKind().Group == ""
}

// applyOne applies o, through ssa's drift check when check is set.
func (a *Applier) applyOne(ctx context.Context, o *unstructured.Unstructured, check bool) (ssa.ChangeSetEntry, error) {
	obj := o.DeepCopy()
	utils.RemoveCABundleFromCRD(obj)
	if check {
		e, err := a.rm.Apply(ctx, obj, a.ssaApplyOptions())
		if err != nil {
			return ssa.ChangeSetEntry{}, err
		}
		return *e, nil
	}
	if err := a.applyMissing(ctx, obj); err != nil {
		return ssa.ChangeSetEntry{}, err
	}
	return ssa.ChangeSetEntry{ObjMetadata: object.UnstructuredToObjMetadata(o), GroupVersion: o.GroupVersionKind().Version,
		Subject: utils.FmtUnstructured(o), Action: ssa.CreatedAction}, nil
}

// missing reports which of objs are not in the cluster, reading only
// metadata: one LIST per kind and namespace, or a GET for a single object.
// An object that could not be read counts as present, so that the drift
// check applies it and reports the error.
func (a *Applier) missing(ctx context.Context, objs []*unstructured.Unstructured) []bool {
	type group struct {
		gvk schema.GroupVersionKind
		ns  string
	}
	groups := map[group][]int{}
	for i, o := range objs {
		g := group{o.GroupVersionKind(), o.GetNamespace()}
		groups[g] = append(groups[g], i)
	}
	out := make([]bool, len(objs))
	var g errgroup.Group
	g.SetLimit(a.opts.Concurrency)
	for k, idx := range groups {
		g.Go(func() error {
			if a.inFlight.take(ctx) != nil {
				return nil // counted as present: the apply reports the error
			}
			defer a.inFlight.give()
			if len(idx) == 1 {
				o := objs[idx[0]]
				m := &metav1.PartialObjectMetadata{}
				m.SetGroupVersionKind(k.gvk)
				out[idx[0]] = apierrors.IsNotFound(a.client.Get(ctx, client.ObjectKeyFromObject(o), m))
				return nil
			}
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
			var opts []client.ListOption
			if k.ns != "" {
				opts = append(opts, client.InNamespace(k.ns))
			}
			if err := a.client.List(ctx, list, opts...); err != nil {
				return nil
			}
			live := make(map[string]bool, len(list.Items))
			for _, m := range list.Items {
				live[m.Name] = true
			}
			for _, i := range idx {
				out[i] = !live[objs[i].GetName()]
			}
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// drifted returns the configured objects whose desired state is the one the
// last pass applied: someone changed them in the cluster.
func drifted(plans []*workloadPlan, oldHashes map[string]string, configured []ObjectRef) []ObjectRef {
	desired := map[string]string{}
	for _, p := range plans {
		for _, e := range p.entries {
			desired[e.key()] = e.Hash
		}
	}
	var out []ObjectRef
	for _, r := range configured {
		h, ok := oldHashes[r.key()]
		if ok && h != "" && desired[r.key()] == h {
			out = append(out, r)
		}
	}
	sortRefs(out)
	return out
}

// permanent reports whether the API server refused an object in a way that
// no retry fixes: its namespace or kind does not exist, it is invalid, or
// the agent may not write it.
func permanent(err error) bool {
	switch {
	case meta.IsNoMatchError(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsForbidden(err):
		return true
	case apierrors.IsNotFound(err):
		// An apply creates: NotFound means the namespace is missing.
		return true
	}
	return false
}
