package blueprints

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CreatedNamespaceLabel marks a Namespace that rekindle adds to a render
// because a workload targets it and nothing in the render declares it. Only
// such Namespaces may be pruned, and only when rekindle created them.
const CreatedNamespaceLabel = "rekindle.dev/created-namespace"

// CreatedNamespaceWorkloadsAnnotation lists (comma-separated) the workloads
// that target a created Namespace.
const CreatedNamespaceWorkloadsAnnotation = "rekindle.dev/namespace-for"

// BuiltinNamespaces exist in every cluster: nothing needs to create them.
var BuiltinNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// addCreatedNamespaces adds a Namespace for each workload's target
// namespace that no object of the render declares, unless the workload says
// createNamespace: false.
func addCreatedNamespaces(rc *RenderedCluster, ws []Workload) {
	declared := map[string]bool{}
	for _, w := range rc.Workloads {
		for _, o := range w.Objects {
			if IsNamespace(o) {
				declared[o.GetName()] = true
			}
		}
	}
	wanted := map[string][]string{}
	for _, w := range ws {
		ns := w.TargetNamespace()
		if ns == "" || !w.CreatesNamespace() || declared[ns] || slices.Contains(BuiltinNamespaces, ns) {
			continue
		}
		wanted[ns] = append(wanted[ns], w.Name)
	}
	for _, ns := range sortedKeys(wanted) {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(ns)
		u.SetLabels(map[string]string{CreatedNamespaceLabel: "true"})
		u.SetAnnotations(map[string]string{CreatedNamespaceWorkloadsAnnotation: strings.Join(wanted[ns], ",")})
		rc.CreatedNamespaces = append(rc.CreatedNamespaces, u)
	}
}

// IsCreatedNamespace reports whether u is a Namespace rekindle added to the render.
func IsCreatedNamespace(u *unstructured.Unstructured) bool {
	return IsNamespace(u) && u.GetLabels()[CreatedNamespaceLabel] == "true"
}

// CreatedNamespaceNames returns the names of rc.CreatedNamespaces.
func (r *RenderedCluster) CreatedNamespaceNames() []string {
	out := make([]string, len(r.CreatedNamespaces))
	for i, o := range r.CreatedNamespaces {
		out[i] = o.GetName()
	}
	return out
}

// MissingNamespace is a namespace that objects of the render use and that
// nothing creates: no Namespace object of the render, no created Namespace,
// not built in, and not among the cluster's existing ones.
type MissingNamespace struct {
	Namespace string `json:"namespace"`
	// Workload is the first workload (in apply order) with such objects.
	Workload string `json:"workload"`
	// Objects are every object placed in the namespace, as Kind/namespace/name.
	Objects []string `json:"objects"`
}

func (m MissingNamespace) String() string {
	return fmt.Sprintf("namespace %q does not exist and nothing in the render creates it (workload %q: %s)",
		m.Namespace, m.Workload, strings.Join(m.Objects, ", "))
}

// MissingNamespaces lists the namespaces objects of the render are put in
// that neither the render creates nor existing holds (the cluster's live
// Namespaces; nil offline, for a cluster rekindle creates), each with the
// objects that would fail. Cluster-scoped objects are left out: built-in
// kinds by name, custom resources by their CRD's scope when the render has
// it (a custom resource whose CRD it does not have counts as namespaced
// only when it names a namespace).
func (r *RenderedCluster) MissingNamespaces(existing []string) []MissingNamespace {
	have := map[string]bool{}
	for _, ns := range append(append(slices.Clone(BuiltinNamespaces), existing...), r.CreatedNamespaceNames()...) {
		have[ns] = true
	}
	clusterKinds := map[string]bool{}
	for _, o := range r.AllObjects() {
		if IsNamespace(o) {
			have[o.GetName()] = true
		}
		if IsCRD(o) {
			if scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope"); scope == "Cluster" {
				g, _, _ := unstructured.NestedString(o.Object, "spec", "group")
				k, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
				clusterKinds[g+"/"+k] = true
			}
		}
	}
	byNS := map[string]*MissingNamespace{}
	var order []string
	for _, w := range r.Workloads {
		for _, o := range w.Objects {
			ns := o.GetNamespace()
			if ns == "" || have[ns] || clusterScoped[o.GetKind()] || clusterKinds[o.GroupVersionKind().Group+"/"+o.GetKind()] {
				continue
			}
			m := byNS[ns]
			if m == nil {
				m = &MissingNamespace{Namespace: ns, Workload: w.Name}
				byNS[ns] = m
				order = append(order, ns)
			}
			m.Objects = append(m.Objects, ObjectRef(o))
		}
	}
	out := make([]MissingNamespace, 0, len(order))
	for _, ns := range order {
		out = append(out, *byNS[ns])
	}
	return out
}

// CheckNamespaces is validate's offline part of MissingNamespaces: for a
// cluster rekindle creates (every provider but existing, whose Namespaces
// only the live cluster knows) it returns an *InvalidError naming, at the
// workload that uses it in rekindle.yaml, each namespace that nothing
// creates and its objects. It returns nil for an existing cluster.
func (r *Repo) CheckNamespaces(rc *RenderedCluster) error {
	if rc.Provider == "existing" {
		return nil
	}
	missing := rc.MissingNamespaces(nil)
	if len(missing) == 0 {
		return nil
	}
	p := &problems{file: r.file, lines: r.lines}
	for _, m := range missing {
		field, ok := rc.fields[m.Workload]
		if !ok {
			field = rc.field
		}
		p.add(field, "%s; declare a Namespace object in the render, or let the workload create its namespace (createNamespace: true)", m)
	}
	return p.err()
}
