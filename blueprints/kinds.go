package blueprints

import (
	"fmt"
	"strings"
)

// MissingKind is a custom resource kind that objects of the render use
// and that neither a CRD of the render nor the cluster serves.
type MissingKind struct {
	// APIVersion and Kind of the objects, e.g. example.com/v1, Widget.
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Workload is the first workload (in apply order) with such objects.
	Workload string `json:"workload"`
	// Objects are every object of that kind, as Kind/namespace/name.
	Objects []string `json:"objects"`
}

func (m MissingKind) String() string {
	return fmt.Sprintf("no CRD in the render or the cluster serves %s %s (workload %q: %s)",
		m.APIVersion, m.Kind, m.Workload, strings.Join(m.Objects, ", "))
}

// MissingKinds lists the custom resources of the render (objects outside
// Kubernetes' own API groups) whose group/version/Kind no CRD of the
// render serves and served does not hold. served are "group/version/Kind"
// entries, as discovery lists them (Capabilities.APIVersions of the live
// cluster will do); nil checks against the render alone.
func (r *RenderedCluster) MissingKinds(served []string) []MissingKind {
	have := map[string]bool{}
	for _, a := range served {
		have[a] = true
	}
	for _, a := range crdAPIVersions(r.AllObjects()) {
		have[a] = true
	}
	byKind := map[string]*MissingKind{}
	var order []string
	for _, w := range r.Workloads {
		for _, o := range w.Objects {
			if isBuiltinGroup(o.GetAPIVersion()) {
				continue
			}
			key := o.GetAPIVersion() + "/" + o.GetKind()
			if have[key] {
				continue
			}
			m := byKind[key]
			if m == nil {
				m = &MissingKind{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Workload: w.Name}
				byKind[key] = m
				order = append(order, key)
			}
			m.Objects = append(m.Objects, ObjectRef(o))
		}
	}
	out := make([]MissingKind, 0, len(order))
	for _, k := range order {
		out = append(out, *byKind[k])
	}
	return out
}
