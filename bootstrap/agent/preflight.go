package agent

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// Preflight finds what in rc no pass could ever apply to this cluster, so
// that a run stops at once instead of retrying until its timeout: objects
// whose namespace neither the render creates nor the cluster has, and
// custom resources whose kind neither a CRD of the render nor the cluster
// serves. Each is named with why. A nil result means nothing blocks.
func (a *Applier) Preflight(ctx context.Context, rc *blueprints.RenderedCluster) ([]FailedObject, error) {
	served, err := a.servedKinds()
	if err != nil {
		return nil, err
	}
	live := &metav1.PartialObjectMetadataList{}
	live.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "NamespaceList"})
	if err := a.client.List(ctx, live); err != nil {
		return nil, fmt.Errorf("list the cluster's Namespaces: %w", err)
	}
	namespaces := map[string]bool{}
	for _, n := range live.Items {
		namespaces[n.Name] = true
	}
	for _, n := range rc.CreatedNamespaceNames() {
		namespaces[n] = true
	}
	defined := map[schema.GroupKind]bool{}
	for _, w := range rc.Workloads {
		for _, o := range w.Objects {
			switch gk := o.GroupVersionKind().GroupKind(); {
			case gk == schema.GroupKind{Kind: "Namespace"}:
				namespaces[o.GetName()] = true
			case gk == schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
				group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
				kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
				defined[schema.GroupKind{Group: group, Kind: kind}] = true
			}
		}
		if w.Helm != nil && w.Helm.Namespace != "" {
			// Helm creates its release namespace (--create-namespace).
			namespaces[w.Helm.Namespace] = true
		}
	}
	var out []FailedObject
	for _, w := range rc.Workloads {
		for _, o := range w.Objects {
			gk := o.GroupVersionKind().GroupKind()
			ref := refOf(o).String()
			if !served[gk] && !defined[gk] {
				out = append(out, FailedObject{Workload: w.Name, Object: ref,
					Reason: fmt.Sprintf("no CRD in the render or the cluster serves kind %s", gk)})
				continue
			}
			if ns := o.GetNamespace(); ns != "" && !namespaces[ns] {
				out = append(out, FailedObject{Workload: w.Name, Object: ref,
					Reason: fmt.Sprintf("namespace %q is neither in the render nor in the cluster (set the workload's namespace and leave createNamespace on, or add a Namespace object)", ns)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Object < out[j].Object })
	return out, nil
}

// servedKinds are the kinds the cluster's API serves now.
func (a *Applier) servedKinds() (map[schema.GroupKind]bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(a.cfg)
	if err != nil {
		return nil, err
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discover the cluster's API: %w", err)
	}
	out := map[schema.GroupKind]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			out[schema.GroupKind{Group: gv.Group, Kind: r.Kind}] = true
		}
	}
	return out, nil
}

// Capabilities are the cluster's Kubernetes version and API versions as
// `helm install` sees them, for rendering charts against this cluster.
func (a *Applier) Capabilities(ctx context.Context) (*blueprints.Capabilities, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(a.cfg)
	if err != nil {
		return nil, err
	}
	return blueprints.LiveCapabilities(ctx, dc)
}
