package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/rekindle-dev/rekindle/blueprints"
)

var errPrune = errors.New("prune")

// Sync replays rc into the cluster: CRDs and Namespaces first, then every
// workload in dependsOn order (independent workloads concurrently), each
// waited for until healthy before its dependents start. After every workload
// succeeded, objects the agent applied before that left the render are
// pruned and the inventory is rewritten. The Sync object of the cluster
// reports progress and outcome. The Result is never nil.
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

// workloadPlan is one workload's labelled objects.
type workloadPlan struct {
	w     blueprints.RenderedWorkload
	index int
	// defs are CRDs, Namespaces and ClusterRoles, applied in stage 1; rest after.
	defs, rest []*unstructured.Unstructured
	// wait are the objects whose health gates dependents.
	wait []ObjectRef
	// entries will go into the inventory.
	entries []InventoryEntry
}

func (a *Applier) sync(ctx context.Context, rc *blueprints.RenderedCluster, opts SyncOptions, res *Result) error {
	log := a.opts.Log
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
	hashes := map[string]string{}
	for _, e := range old.Objects {
		hashes[e.key()] = e.Hash
	}

	var mu sync.Mutex // guards res and configured
	var configured []ObjectRef
	record := func(cs []ssa.ChangeSetEntry) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range cs {
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
	}

	// Stage 1: every CRD and Namespace (and ClusterRole) of the plain
	// workloads, waiting until CRDs are Established. Helm workloads keep
	// theirs: Helm refuses to adopt objects another manager created.
	var defs []*unstructured.Unstructured
	for _, p := range plans {
		defs = append(defs, p.defs...)
	}
	if len(defs) > 0 {
		t := time.Now()
		entries, err := a.applyAll(ctx, defs, hashes)
		record(entries)
		if err == nil {
			refs := make([]ObjectRef, len(defs))
			for i, o := range defs {
				refs[i] = refOf(o)
			}
			err = a.waitFor(ctx, refs, nil)
		}
		if err != nil {
			res.Failed = append(res.Failed, FailedObject{Reason: "CRDs and Namespaces: " + err.Error()})
			a.saveAfterFailure(ctx, old, rc, plans, nil)
			return fmt.Errorf("apply CRDs and Namespaces: %w", err)
		}
		log("applied %d CRDs and Namespaces in %s", len(defs), time.Since(t).Round(time.Millisecond))
	}

	// Stage 2: workloads in dependsOn order.
	done := make([]chan struct{}, len(plans))
	ok := make([]bool, len(plans))
	appliedOK := make([]bool, len(plans))
	byName := map[string]int{}
	for i, p := range plans {
		done[i] = make(chan struct{})
		byName[p.w.Name] = i
	}
	sem := make(chan struct{}, a.opts.Workloads)
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			wr := WorkloadResult{Name: p.w.Name}
			defer func() {
				mu.Lock()
				res.Workloads = append(res.Workloads, wr)
				mu.Unlock()
			}()
			for _, d := range p.w.DependsOn {
				j := byName[d] // plan() checked that d comes earlier
				<-done[j]
				if !ok[j] {
					wr.Error = fmt.Sprintf("dependency %q is not ready", d)
					mu.Lock()
					res.Failed = append(res.Failed, FailedObject{Workload: p.w.Name, Reason: wr.Error})
					mu.Unlock()
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				wr.Error = ctx.Err().Error()
				return
			}
			// The slot bounds concurrent applies only: waiting for health
			// is a poll, and holding the slot through it made workloads
			// beyond the first few start only when those were healthy.
			var releaseOnce sync.Once
			release := func() { releaseOnce.Do(func() { <-sem }) }
			defer release()
			fails, appliedDone := a.syncWorkload(ctx, rc.Cluster, p, &wr, record, res, &mu, hashes, release)
			appliedOK[i] = appliedDone
			if len(fails) == 0 {
				ok[i] = true
				wr.Ready = time.Since(res.Started)
				log("workload %s ready: %d objects in %s", p.w.Name, len(p.wait), wr.Ready.Round(time.Millisecond))
				return
			}
			wr.Error = fails[0].String()
			mu.Lock()
			res.Failed = append(res.Failed, fails...)
			mu.Unlock()
		}()
	}
	wg.Wait()

	// Drift: applied again although the desired object did not change.
	res.Drifted = drifted(plans, hashes, configured)

	if len(res.Failed) > 0 {
		a.saveAfterFailure(ctx, old, rc, plans, appliedOK)
		return fmt.Errorf("%d of %d workloads not ready; first: %s", countFailedWorkloads(res.Workloads), len(plans), res.Failed[0])
	}

	cur := newInventory(rc, plans)
	if !opts.NoPrune {
		if err := a.prune(ctx, rc.Cluster, old, cur, res); err != nil {
			// Keep the old entries so that the next pass retries the prune.
			a.saveAfterFailure(ctx, old, rc, plans, appliedOK)
			return fmt.Errorf("%w: %v", errPrune, err)
		}
	} else {
		cur = mergeInventory(old, cur)
		cur.Commit = rc.Commit
	}
	if err := a.writeInventory(ctx, cur); err != nil {
		return err
	}
	return nil
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

// plan labels every object and splits stage-1 definitions from the rest.
func (a *Applier) plan(rc *blueprints.RenderedCluster) ([]*workloadPlan, error) {
	seen := map[string]int{}
	var plans []*workloadPlan
	for i, w := range rc.Workloads {
		if w.Name == "" {
			return nil, fmt.Errorf("workload %d has no name", i)
		}
		if _, dup := seen[w.Name]; dup {
			return nil, fmt.Errorf("workload %q appears twice", w.Name)
		}
		for _, d := range w.DependsOn {
			if _, ok := seen[d]; !ok {
				return nil, fmt.Errorf("workload %q depends on %q, which is not rendered before it", w.Name, d)
			}
		}
		seen[w.Name] = i
		p := &workloadPlan{w: w, index: i}
		if w.Helm != nil {
			for _, o := range w.Objects {
				if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
					continue
				}
				o = o.DeepCopy()
				if o.GetNamespace() == "" && a.namespaced(o) {
					o.SetNamespace(w.Helm.Namespace)
				}
				r := refOf(o)
				p.wait = append(p.wait, r)
				p.entries = append(p.entries, InventoryEntry{ObjectRef: r, Workload: w.Name, Helm: true})
			}
		} else {
			for _, o := range withLabels(w.Objects, managedLabels(rc.Cluster, w.Name)) {
				if utils.IsClusterDefinition(o) {
					p.defs = append(p.defs, o)
				} else {
					p.rest = append(p.rest, o)
				}
				r := refOf(o)
				p.wait = append(p.wait, r)
				p.entries = append(p.entries, InventoryEntry{ObjectRef: r, Workload: w.Name, Hash: objectHash(o)})
			}
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// namespaced reports whether o's kind is namespaced; unknown kinds (a CRD
// not installed yet) count as namespaced.
func (a *Applier) namespaced(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return true
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace
}

// syncWorkload applies one workload and waits for it. It returns the objects
// (or the workload) that failed, and whether the apply itself went through.
func (a *Applier) syncWorkload(ctx context.Context, cluster string, p *workloadPlan, wr *WorkloadResult,
	record func([]ssa.ChangeSetEntry), res *Result, mu *sync.Mutex, known map[string]string, applied func()) ([]FailedObject, bool) {
	defer applied()
	t := time.Now()
	if p.w.Helm != nil {
		h := p.w.Helm
		ch, err := loader.Load(h.ChartPath)
		if err != nil {
			return []FailedObject{{Workload: p.w.Name, Reason: fmt.Sprintf("load chart %s: %v", h.ChartPath, err)}}, false
		}
		act, rev, err := upsertRelease(ctx, a.cfg, releaseSpec{
			Name: h.ReleaseName, Namespace: h.Namespace, Chart: ch, Values: h.Values,
			Labels:  map[string]string{LabelCluster: cluster, LabelWorkload: p.w.Name},
			Timeout: a.opts.HelmTimeout,
		}, a.opts.Log)
		if err != nil {
			return []FailedObject{{Workload: p.w.Name, Reason: err.Error()}}, false
		}
		mu.Lock()
		res.Releases = append(res.Releases, ReleaseResult{Workload: p.w.Name, Name: h.ReleaseName, Namespace: h.Namespace, Revision: rev, Action: act})
		res.Applied += len(p.wait)
		mu.Unlock()
		wr.Applied = len(p.wait)
		a.opts.Log("helm release %s/%s %s (revision %d)", h.Namespace, h.ReleaseName, act, rev)
	} else if len(p.rest) > 0 {
		entries, err := a.applyAll(ctx, p.rest, known)
		record(entries)
		if err != nil {
			return []FailedObject{{Workload: p.w.Name, Reason: err.Error()}}, false
		}
		mu.Lock()
		res.Applied += len(p.wait)
		mu.Unlock()
		wr.Applied = len(p.wait)
	} else {
		mu.Lock()
		res.Applied += len(p.wait)
		mu.Unlock()
		wr.Applied = len(p.wait)
	}
	wr.Applying = time.Since(t)
	wr.AppliedAt = time.Since(res.Started)
	applied()
	a.opts.Log("workload %s applied: %d objects in %s", p.w.Name, len(p.wait), wr.Applying.Round(time.Millisecond))

	t = time.Now()
	healthy, notReady, err := a.waitHealthy(ctx, p.wait, jobsWithTTL(p))
	wr.Waiting = time.Since(t)
	wr.Healthy = healthy
	mu.Lock()
	res.Healthy += healthy
	mu.Unlock()
	if err != nil {
		for i := range notReady {
			notReady[i].Workload = p.w.Name
		}
		if len(notReady) == 0 {
			notReady = []FailedObject{{Workload: p.w.Name, Reason: err.Error()}}
		}
		return notReady, true
	}
	return nil, true
}

// applyAll server-side applies objs. Objects the last pass did not apply
// (not in known, the old inventory) are looked up first, and those missing
// from the cluster, which is every object of a recovery, are applied at once:
// ssa's dry-run and drift check would only say that they are new, at two
// more requests per object. The rest goes through ssa's ApplyAll (see
// applyExisting).
func (a *Applier) applyAll(ctx context.Context, objs []*unstructured.Unstructured, known map[string]string) ([]ssa.ChangeSetEntry, error) {
	var probe, existing []*unstructured.Unstructured
	for _, o := range objs {
		if _, ok := known[refOf(o).key()]; ok {
			existing = append(existing, o)
		} else {
			probe = append(probe, o)
		}
	}
	missing := a.missing(ctx, probe)
	var create []*unstructured.Unstructured
	for i, o := range probe {
		if missing[i] {
			create = append(create, o)
		} else {
			existing = append(existing, o)
		}
	}

	created := make([]ssa.ChangeSetEntry, len(create))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Concurrency)
	for i, o := range create {
		g.Go(func() error {
			obj := o.DeepCopy()
			utils.RemoveCABundleFromCRD(obj)
			if err := a.client.Patch(gctx, obj, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
				return fmt.Errorf("%s apply failed: %w", utils.FmtUnstructured(o), err)
			}
			created[i] = ssa.ChangeSetEntry{ObjMetadata: object.UnstructuredToObjMetadata(o), GroupVersion: o.GroupVersionKind().Version,
				Subject: utils.FmtUnstructured(o), Action: ssa.CreatedAction}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		var done []ssa.ChangeSetEntry
		for _, e := range created {
			if e.Action != "" {
				done = append(done, e)
			}
		}
		return done, err
	}
	entries, err := a.applyExisting(ctx, existing)
	return append(created, entries...), err
}

// missing reports which of objs are not in the cluster, reading only
// metadata: one LIST per kind and namespace, or a GET for a single object.
// An object that could not be read counts as present, so that ssa's
// ApplyAll handles it and reports the error.
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
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Concurrency)
	for k, idx := range groups {
		g.Go(func() error {
			if len(idx) == 1 {
				o := objs[idx[0]]
				m := &metav1.PartialObjectMetadata{}
				m.SetGroupVersionKind(k.gvk)
				out[idx[0]] = apierrors.IsNotFound(a.client.Get(gctx, client.ObjectKeyFromObject(o), m))
				return nil
			}
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
			var opts []client.ListOption
			if k.ns != "" {
				opts = append(opts, client.InNamespace(k.ns))
			}
			if err := a.client.List(gctx, list, opts...); err != nil {
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

// applyExisting applies objs with ssa's ApplyAll, which runs its drift
// checks concurrently but applies one object after the other, so large
// workloads are split into shards applied side by side.
func (a *Applier) applyExisting(ctx context.Context, objs []*unstructured.Unstructured) ([]ssa.ChangeSetEntry, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	shards := a.opts.Concurrency / 2
	if n := (len(objs) + 7) / 8; n < shards {
		shards = n
	}
	if shards < 1 {
		shards = 1
	}
	size := (len(objs) + shards - 1) / shards
	results := make([][]ssa.ChangeSetEntry, shards)
	g, gctx := errgroup.WithContext(ctx)
	for s := 0; s < shards; s++ {
		lo, hi := s*size, min((s+1)*size, len(objs))
		if lo >= hi {
			break
		}
		part := append([]*unstructured.Unstructured(nil), objs[lo:hi]...)
		g.Go(func() error {
			cs, err := a.rm.ApplyAll(gctx, part, a.ssaApplyOptions())
			if cs != nil {
				results[s] = cs.Entries
			}
			return err
		})
	}
	err := g.Wait()
	var out []ssa.ChangeSetEntry
	for _, r := range results {
		out = append(out, r...)
	}
	return out, err
}

func jobsWithTTL(p *workloadPlan) object.ObjMetadataSet {
	return utils.ExtractJobsWithTTL(append(append([]*unstructured.Unstructured(nil), p.defs...), p.rest...))
}

// waitHealthy waits until every object in refs is Current (kstatus). On
// failure it names each object still not ready with its status message.
func (a *Applier) waitHealthy(ctx context.Context, refs []ObjectRef, ttlJobs object.ObjMetadataSet) (int, []FailedObject, error) {
	if len(refs) == 0 {
		return 0, nil, nil
	}
	err := a.waitFor(ctx, refs, ttlJobs)
	if err == nil {
		return len(refs), nil, nil
	}
	if ctx.Err() != nil {
		return 0, nil, ctx.Err()
	}
	// Explain: read each object and say why it is not ready.
	healthy := 0
	var notReady []FailedObject
	for _, r := range refs {
		u := r.unstructured()
		if gerr := a.client.Get(ctx, client.ObjectKeyFromObject(u), u); gerr != nil {
			reason := gerr.Error()
			if apierrors.IsNotFound(gerr) {
				reason = "not found"
			}
			notReady = append(notReady, FailedObject{Object: r.String(), Reason: reason})
			continue
		}
		st, serr := status.Compute(u)
		if serr != nil {
			notReady = append(notReady, FailedObject{Object: r.String(), Reason: serr.Error()})
			continue
		}
		if st.Status == status.CurrentStatus {
			healthy++
			continue
		}
		reason := string(st.Status)
		if st.Message != "" {
			reason += ": " + st.Message
		}
		notReady = append(notReady, FailedObject{Object: r.String(), Reason: reason})
	}
	if len(notReady) > 0 {
		var names []string
		for _, n := range notReady {
			names = append(names, n.Object+" ("+n.Reason+")")
		}
		return healthy, notReady, fmt.Errorf("not ready after %s: %s", a.opts.WaitTimeout, strings.Join(names, ", "))
	}
	return healthy, nil, err
}

// waitLists is how many reads one waitFor keeps in flight.
const waitLists = 4

// waitFor polls, every WaitInterval (sooner at first), until every object in refs is Current
// (kstatus), fails as soon as one is Failed, and gives up after WaitTimeout.
// Each poll reads only the objects not yet Current: one LIST per kind and
// namespace (a GET when a single object is left there). ssa's wait, used
// before, listed every kind in every namespace of the set on every poll,
// and the ReplicaSets and Pods of every Deployment's namespace too; on
// thousands of objects those lists, not the cluster, set the pace.
// Jobs in ttlJobs count as Current once gone.
func (a *Applier) waitFor(ctx context.Context, refs []ObjectRef, ttlJobs object.ObjMetadataSet) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.WaitTimeout)
	defer cancel()
	type group struct {
		gvk schema.GroupVersionKind
		ns  string
	}
	pending := make(map[string]ObjectRef, len(refs))
	for _, r := range refs {
		pending[r.key()] = r
	}
	last := map[string]string{} // key -> last status seen, for the error
	// Polls start 50ms apart and back off to WaitInterval: a CRD is
	// Established, a small workload healthy, well within the first interval.
	delay := min(50*time.Millisecond, a.opts.WaitInterval)
	for {
		groups := map[group][]ObjectRef{}
		for _, r := range pending {
			g := group{r.gvk(), r.Namespace}
			groups[g] = append(groups[g], r)
		}
		var mu sync.Mutex
		var failed []string
		seen := func(r ObjectRef, u *unstructured.Unstructured, err error) {
			st, msg := status.UnknownStatus, ""
			switch {
			case apierrors.IsNotFound(err) || (err == nil && u == nil):
				st = status.NotFoundStatus
			case err != nil:
				msg = err.Error()
			default:
				if res, cerr := status.Compute(u); cerr != nil {
					msg = cerr.Error()
				} else {
					st, msg = res.Status, res.Message
				}
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case st == status.CurrentStatus,
				st == status.NotFoundStatus && ttlJobs.Contains(r.objMetadata()):
				delete(pending, r.key())
				delete(last, r.key())
				return
			case st == status.FailedStatus:
				failed = append(failed, r.String()+": "+msg)
			}
			if msg != "" {
				last[r.key()] = string(st) + ": " + msg
			} else {
				last[r.key()] = string(st)
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(waitLists)
		for k, rs := range groups {
			g.Go(func() error {
				if len(rs) == 1 {
					u := rs[0].unstructured()
					err := a.client.Get(gctx, client.ObjectKeyFromObject(u), u)
					seen(rs[0], u, err)
					return nil
				}
				list := &unstructured.UnstructuredList{}
				list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
				var opts []client.ListOption
				if k.ns != "" {
					opts = append(opts, client.InNamespace(k.ns))
				}
				if err := a.client.List(gctx, list, opts...); err != nil {
					for _, r := range rs {
						seen(r, nil, fmt.Errorf("list: %w", err))
					}
					return nil
				}
				byName := make(map[string]*unstructured.Unstructured, len(list.Items))
				for i := range list.Items {
					byName[list.Items[i].GetName()] = &list.Items[i]
				}
				for _, r := range rs {
					seen(r, byName[r.Name], nil)
				}
				return nil
			})
		}
		_ = g.Wait()
		if len(pending) == 0 {
			return nil
		}
		if len(failed) > 0 {
			sort.Strings(failed)
			return fmt.Errorf("failed early due to stalled resources: [%s]", strings.Join(failed, ", "))
		}
		select {
		case <-ctx.Done():
			var waiting []string
			for k, r := range pending {
				st := last[k]
				if st == "" {
					st = string(status.UnknownStatus)
				}
				waiting = append(waiting, r.String()+" status: "+st)
			}
			sort.Strings(waiting)
			if len(waiting) > 10 {
				waiting = append(waiting[:10], fmt.Sprintf("and %d more", len(waiting)-10))
			}
			return fmt.Errorf("timeout waiting for: [%s]: %w", strings.Join(waiting, ", "), ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, a.opts.WaitInterval)
	}
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

// newInventory is the inventory of a fully applied render.
func newInventory(rc *blueprints.RenderedCluster, plans []*workloadPlan) *Inventory {
	inv := &Inventory{Cluster: rc.Cluster, Commit: rc.Commit, Updated: time.Now().UTC()}
	for _, p := range plans {
		inv.Objects = append(inv.Objects, p.entries...)
		if h := p.w.Helm; h != nil {
			inv.Releases = append(inv.Releases, HelmRelease{Workload: p.w.Name, Name: h.ReleaseName, Namespace: h.Namespace})
		}
	}
	return inv
}

// saveAfterFailure records everything the failed pass may have applied
// together with the old inventory, so that nothing is forgotten (and pruning
// stays possible) while nothing is pruned. Objects of workloads that were not
// applied lose their hash, so they are never reported as drift.
func (a *Applier) saveAfterFailure(ctx context.Context, old *Inventory, rc *blueprints.RenderedCluster, plans []*workloadPlan, appliedOK []bool) {
	cur := newInventory(rc, nil)
	for i, p := range plans {
		for _, e := range p.entries {
			if appliedOK == nil || !appliedOK[i] {
				e.Hash = ""
			}
			cur.Objects = append(cur.Objects, e)
		}
		if h := p.w.Helm; h != nil && appliedOK != nil && appliedOK[i] {
			cur.Releases = append(cur.Releases, HelmRelease{Workload: p.w.Name, Name: h.ReleaseName, Namespace: h.Namespace})
		}
	}
	if err := a.writeInventory(ctx, mergeInventory(old, cur)); err != nil {
		a.opts.Log("write inventory after a failed pass: %v", err)
	}
}
