package agent

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// Preflight finds what in rc no pass could ever apply to this cluster, so
// that a run stops at once instead of retrying until its timeout: objects
// whose namespace neither the render creates nor the cluster has
// (blueprints' MissingNamespaces, with the cluster's Namespaces), and custom
// resources whose kind neither a CRD of the render nor the cluster serves
// (MissingKinds, with the cluster's discovery). Each object is named with
// its workload and one reason. A nil result means nothing blocks.
func (a *Applier) Preflight(ctx context.Context, rc *blueprints.RenderedCluster) ([]FailedObject, error) {
	caps, err := a.Capabilities(ctx)
	if err != nil {
		return nil, err
	}
	live := &metav1.PartialObjectMetadataList{}
	live.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "NamespaceList"})
	if err := a.client.List(ctx, live); err != nil {
		return nil, fmt.Errorf("list the cluster's Namespaces: %w", err)
	}
	namespaces := make([]string, len(live.Items))
	for i, n := range live.Items {
		namespaces[i] = n.Name
	}
	workloadOf := map[string]string{}
	for _, w := range rc.Workloads {
		for _, o := range w.Objects {
			workloadOf[blueprints.ObjectRef(o)] = w.Name
		}
	}
	var out []FailedObject
	noKind := map[string]bool{}
	for _, m := range rc.MissingKinds(caps.APIVersions) {
		for _, o := range m.Objects {
			noKind[o] = true
			out = append(out, FailedObject{Workload: workloadOf[o], Object: o, Permanent: true,
				Reason: fmt.Sprintf("no CRD in the render or the cluster serves %s %s", m.APIVersion, m.Kind)})
		}
	}
	for _, m := range rc.MissingNamespaces(namespaces) {
		for _, o := range m.Objects {
			if noKind[o] {
				continue // one reason per object: without its kind, its namespace is moot
			}
			out = append(out, FailedObject{Workload: workloadOf[o], Object: o, Permanent: true,
				Reason: fmt.Sprintf("namespace %q is neither in the render nor in the cluster (set the workload's namespace and leave createNamespace on, or add a Namespace object)", m.Namespace)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Object < out[j].Object })
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
