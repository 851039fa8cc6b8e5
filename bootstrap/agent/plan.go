package agent

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// workloadPlan is one workload's labelled objects.
type workloadPlan struct {
	w     blueprints.RenderedWorkload
	index int
	// deps are the indexes of the plans this one depends on.
	deps []int
	// defs are CRDs, Namespaces and ClusterRoles, applied in stage 1; rest after.
	defs, rest []*unstructured.Unstructured
	// wait are the objects whose health gates dependents.
	wait []ObjectRef
	// currentOnceCreated are the keys of wait's objects whose kind is
	// healthy as soon as it exists (see currentOnceCreated): the wait
	// does not read those this pass created.
	currentOnceCreated map[string]bool
	// entries will go into the inventory.
	entries []InventoryEntry
}

// ttlJobs are the plan's Jobs that delete themselves when done: gone counts
// as healthy for them.
func (p *workloadPlan) ttlJobs() object.ObjMetadataSet {
	return utils.ExtractJobsWithTTL(append(append([]*unstructured.Unstructured(nil), p.defs...), p.rest...))
}

// plan labels every object and splits stage-1 definitions from the rest. It
// refuses a render whose workloads are unnamed, repeated, or depend on a
// workload not rendered before them.
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
		p := &workloadPlan{w: w, index: i}
		for _, d := range w.DependsOn {
			j, ok := seen[d]
			if !ok {
				return nil, fmt.Errorf("workload %q depends on %q, which is not rendered before it", w.Name, d)
			}
			p.deps = append(p.deps, j)
		}
		seen[w.Name] = i
		if w.Helm != nil {
			a.planHelm(p)
		} else {
			planPlain(p, rc.Cluster)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// planHelm records the chart's objects for the inventory and the health
// wait; Helm itself applies them. Hooks are not part of the desired state.
func (a *Applier) planHelm(p *workloadPlan) {
	for _, o := range p.w.Objects {
		if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
			continue
		}
		o = o.DeepCopy()
		if o.GetNamespace() == "" && a.namespaced(o) {
			o.SetNamespace(p.w.Helm.Namespace)
		}
		r := refOf(o)
		p.wait = append(p.wait, r)
		p.entries = append(p.entries, InventoryEntry{ObjectRef: r, Workload: p.w.Name, Helm: true})
	}
}

func planPlain(p *workloadPlan, cluster string) {
	for _, o := range withLabels(p.w.Objects, managedLabels(cluster, p.w.Name)) {
		if utils.IsClusterDefinition(o) {
			p.defs = append(p.defs, o)
		} else {
			p.rest = append(p.rest, o)
		}
		r := refOf(o)
		p.wait = append(p.wait, r)
		p.entries = append(p.entries, InventoryEntry{ObjectRef: r, Workload: p.w.Name, Hash: objectHash(o)})
		if currentOnceCreated(o) {
			if p.currentOnceCreated == nil {
				p.currentOnceCreated = map[string]bool{}
			}
			p.currentOnceCreated[r.key()] = true
		}
	}
}

// toRead are the objects of the plan the health wait must read after an
// apply whose outcome was changes: all but those of a kind that is healthy
// once it exists and that the apply just created (a ConfigMap this pass
// created is there and Current; one it found may be Terminating).
func (p *workloadPlan) toRead(changes []ssa.ChangeSetEntry) []ObjectRef {
	if len(p.currentOnceCreated) == 0 {
		return p.wait
	}
	created := map[string]bool{}
	for _, c := range changes {
		if c.Action == ssa.CreatedAction {
			if k := refOfMeta(c.ObjMetadata, c.GroupVersion).key(); p.currentOnceCreated[k] {
				created[k] = true
			}
		}
	}
	if len(created) == 0 {
		return p.wait
	}
	out := make([]ObjectRef, 0, len(p.wait)-len(created))
	for _, r := range p.wait {
		if !created[r.key()] {
			out = append(out, r)
		}
	}
	return out
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

// namespacesWorkload names, in the inventory, the Namespaces rekindle
// creates for workloads that target a namespace nothing declares.
const namespacesWorkload = "rekindle.namespaces" // a dot: no workload (a DNS label) can be called so

// planNamespaces plans the Namespaces the render creates for its workloads
// (blueprints' CreatedNamespaces): applied first, with the other
// definitions, and recorded in the inventory so that one is pruned once no
// workload targets it. A Namespace the cluster already has and rekindle did
// not create for this cluster is left alone and never recorded: a prune
// must not delete what existed before rekindle.
func (a *Applier) planNamespaces(ctx context.Context, rc *blueprints.RenderedCluster, known map[string]string) (*workloadPlan, error) {
	p := &workloadPlan{w: blueprints.RenderedWorkload{Name: namespacesWorkload}, index: -1}
	labels := managedLabels(rc.Cluster, namespacesWorkload)
	labels[blueprints.CreatedNamespaceLabel] = "true"
	for _, o := range withLabels(rc.CreatedNamespaces, labels) {
		r := refOf(o)
		if _, ours := known[r.key()]; !ours {
			live := &metav1.PartialObjectMetadata{}
			live.SetGroupVersionKind(o.GroupVersionKind())
			err := a.client.Get(ctx, client.ObjectKey{Name: o.GetName()}, live)
			switch {
			case err == nil && live.Labels[LabelCluster] != rc.Cluster:
				continue // there before rekindle, or someone else's: not ours to manage
			case err != nil && !apierrors.IsNotFound(err):
				return nil, fmt.Errorf("read Namespace/%s: %w", o.GetName(), err)
			}
		}
		p.defs = append(p.defs, o)
		p.wait = append(p.wait, r)
		p.entries = append(p.entries, InventoryEntry{ObjectRef: r, Workload: namespacesWorkload, Hash: objectHash(o)})
	}
	return p, nil
}
