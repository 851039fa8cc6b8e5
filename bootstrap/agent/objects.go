package agent

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fluxcd/cli-utils/pkg/object"
)

// Labels rekindle sets on everything it applies. Pruning only ever deletes
// objects that carry LabelManagedBy=rekindle and this cluster's LabelCluster.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelCluster   = "rekindle.dev/cluster"
	LabelWorkload  = "rekindle.dev/workload"
	ManagedByValue = "rekindle"

	// FieldManager is the server-side apply field manager of the agent.
	FieldManager = "rekindle"
	// SystemNamespace holds the agent, its inventory and its Sync objects.
	SystemNamespace = "rekindle-system"
)

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String formats the reference as Kind/namespace/name (Kind/name when cluster scoped).
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// key identifies the object regardless of its API version.
func (r ObjectRef) key() string {
	return r.Group + "|" + r.Kind + "|" + r.Namespace + "|" + r.Name
}

func (r ObjectRef) gvk() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

func (r ObjectRef) objMetadata() object.ObjMetadata {
	return object.ObjMetadata{GroupKind: schema.GroupKind{Group: r.Group, Kind: r.Kind}, Namespace: r.Namespace, Name: r.Name}
}

// unstructured returns an empty object with this identity, for Get and Delete.
func (r ObjectRef) unstructured() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.gvk())
	u.SetNamespace(r.Namespace)
	u.SetName(r.Name)
	return u
}

func refOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

func refOfMeta(m object.ObjMetadata, version string) ObjectRef {
	return ObjectRef{Group: m.GroupKind.Group, Version: version, Kind: m.GroupKind.Kind, Namespace: m.Namespace, Name: m.Name}
}

func sortRefs(refs []ObjectRef) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].key() < refs[j].key() })
}

// FailedObject is an object (or a whole workload, when Object is empty) that
// could not be applied or did not become healthy.
type FailedObject struct {
	Workload string `json:"workload,omitempty"`
	Object   string `json:"object,omitempty"`
	Reason   string `json:"reason"`
	// Permanent is set when retrying cannot help: the API server refused the
	// object itself (its namespace or kind does not exist, it is invalid, or
	// the agent may not write it). The render must change.
	Permanent bool `json:"permanent,omitempty"`
}

func (f FailedObject) String() string {
	switch {
	case f.Object != "" && f.Workload != "":
		return fmt.Sprintf("workload %q: %s: %s", f.Workload, f.Object, f.Reason)
	case f.Object != "":
		return f.Object + ": " + f.Reason
	default:
		return fmt.Sprintf("workload %q: %s", f.Workload, f.Reason)
	}
}

// managedLabels are the labels put on every object of a workload.
func managedLabels(cluster, workload string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue, LabelCluster: cluster, LabelWorkload: workload}
}

// withLabels returns deep copies of objs carrying labels; the render is not modified.
func withLabels(objs []*unstructured.Unstructured, labels map[string]string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		c := o.DeepCopy()
		l := c.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range labels {
			l[k] = v
		}
		c.SetLabels(l)
		out = append(out, c)
	}
	return out
}
