package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/ssa"
)

// prune deletes what the old inventory holds and cur does not: plain objects
// with DeleteAll (only those still labelled as this cluster's), Helm releases
// with helm uninstall. A Namespace or CRD is kept while deleting it would take
// along objects rekindle did not create or still wants; it stays in the
// inventory (appended to cur) so that a later pass deletes it once it is free.
func (a *Applier) prune(ctx context.Context, cluster string, old, cur *Inventory, res *Result) error {
	keep := map[string]bool{}
	for _, e := range cur.Objects {
		keep[e.key()] = true
	}
	owned := map[string]string{LabelManagedBy: ManagedByValue, LabelCluster: cluster}
	var objs []*unstructured.Unstructured
	var errs []string
	for _, e := range old.Objects {
		if e.Helm || keep[e.key()] {
			continue
		}
		if _, err := a.mapper.RESTMapping(schema.GroupKind{Group: e.Group, Kind: e.Kind}, e.Version); meta.IsNoMatchError(err) {
			continue // its kind is gone (CRD deleted), and with it the object
		}
		blockers, err := a.cascadeBlockers(ctx, e.ObjectRef, keep, owned)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if len(blockers) > 0 {
			cur.Objects = append(cur.Objects, e)
			res.PruneSkipped = append(res.PruneSkipped, FailedObject{Object: e.String(),
				Reason: "deleting it would delete objects rekindle did not create or still applies: " + summarize(blockers, 5)})
			continue
		}
		objs = append(objs, e.unstructured())
	}
	if len(objs) > 0 {
		cs, err := a.rm.DeleteAll(ctx, objs, ssa.DeleteOptions{
			PropagationPolicy: metav1.DeletePropagationBackground,
			Inclusions:        owned,
		})
		if cs != nil {
			for _, e := range cs.Entries {
				r := refOfMeta(e.ObjMetadata, e.GroupVersion)
				switch e.Action {
				case ssa.DeletedAction:
					res.Pruned = append(res.Pruned, r)
				case ssa.SkippedAction:
					res.PruneSkipped = append(res.PruneSkipped, FailedObject{Object: r.String(),
						Reason: fmt.Sprintf("lacks the labels %s=%s, %s=%s", LabelManagedBy, ManagedByValue, LabelCluster, cluster)})
				}
			}
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	keepRel := map[string]bool{}
	for _, r := range cur.Releases {
		keepRel[r.key()] = true
	}
	for _, r := range old.Releases {
		if keepRel[r.key()] {
			continue
		}
		if err := uninstallRelease(a.cfg, r.Name, r.Namespace, a.opts.HelmTimeout, a.opts.Log); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		res.Releases = append(res.Releases, ReleaseResult{Workload: r.Workload, Name: r.Name, Namespace: r.Namespace, Action: "uninstalled"})
	}
	sortRefs(res.Pruned)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func summarize(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// cascadeBlockers lists what deleting a Namespace or a CRD would take along
// that it must not: objects without this cluster's rekindle labels, and
// objects the new render still holds. Other kinds have no blockers.
func (a *Applier) cascadeBlockers(ctx context.Context, r ObjectRef, keep map[string]bool, owned map[string]string) ([]string, error) {
	switch {
	case r.Group == "" && r.Kind == "Namespace":
		return a.namespaceBlockers(ctx, r.Name, keep, owned)
	case r.Group == "apiextensions.k8s.io" && r.Kind == "CustomResourceDefinition":
		return a.crdBlockers(ctx, r.Name, keep, owned)
	}
	return nil, nil
}

// ignoredInNamespace are objects the cluster itself puts in every namespace
// or derives from others.
func ignoredInNamespace(gk schema.GroupKind, m metav1.PartialObjectMetadata) bool {
	switch {
	case len(m.OwnerReferences) > 0:
		return true // derived: ReplicaSets, Pods, EndpointSlices...
	case gk.Group == "" && gk.Kind == "ConfigMap" && m.Name == "kube-root-ca.crt",
		gk.Group == "" && gk.Kind == "ServiceAccount" && m.Name == "default",
		gk.Group == "" && (gk.Kind == "Event" || gk.Kind == "Endpoints"),
		gk.Group == "events.k8s.io":
		return true
	}
	return false
}

func blocking(gk schema.GroupKind, m metav1.PartialObjectMetadata, keep map[string]bool, owned map[string]string) bool {
	for k, v := range owned {
		if m.Labels[k] != v {
			return true
		}
	}
	return keep[(ObjectRef{Group: gk.Group, Kind: gk.Kind, Namespace: m.Namespace, Name: m.Name}).key()]
}

func (a *Applier) namespaceBlockers(ctx context.Context, ns string, keep map[string]bool, owned map[string]string) ([]string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(a.cfg)
	if err != nil {
		return nil, err
	}
	lists, err := dc.ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discover resources to check Namespace/%s before pruning it: %w", ns, err)
	}
	var out []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range l.APIResources {
			if strings.Contains(res.Name, "/") || !hasVerb(res.Verbs, "list") || !hasVerb(res.Verbs, "delete") {
				continue
			}
			gk := schema.GroupKind{Group: gv.Group, Kind: res.Kind}
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(gv.WithKind(res.Kind + "List"))
			if err := a.client.List(ctx, list, client.InNamespace(ns)); err != nil {
				return nil, fmt.Errorf("list %s in Namespace/%s before pruning it: %w", res.Kind, ns, err)
			}
			for _, m := range list.Items {
				if !ignoredInNamespace(gk, m) && blocking(gk, m, keep, owned) {
					out = append(out, res.Kind+"/"+ns+"/"+m.Name)
				}
			}
		}
	}
	return out, nil
}

func (a *Applier) crdBlockers(ctx context.Context, name string, keep map[string]bool, owned map[string]string) ([]string, error) {
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := a.client.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	version := ""
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if served, _ := vm["served"].(bool); served {
			version, _ = vm["name"].(string)
			break
		}
	}
	if version == "" {
		return nil, nil
	}
	gk := schema.GroupKind{Group: group, Kind: kind}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
	if err := a.client.List(ctx, list); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s before pruning CustomResourceDefinition/%s: %w", kind, name, err)
	}
	var out []string
	for _, m := range list.Items {
		if blocking(gk, m, keep, owned) {
			out = append(out, ObjectRef{Kind: kind, Namespace: m.Namespace, Name: m.Name}.String())
		}
	}
	return out, nil
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}
