package blueprints

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// Source kinds of a workload.
const (
	SourcePlain     = "plain"
	SourceKustomize = "kustomize"
	SourceHelm      = "helm"
)

// RenderedCluster is everything one cluster must hold, in apply order.
type RenderedCluster struct {
	Environment string `json:"environment"`
	Cluster     string `json:"cluster"`
	// Commit is the blueprint commit the objects were rendered from ("" for a plain directory).
	Commit string `json:"commit,omitempty"`
	// Workloads are sorted so that each comes after everything it depends on.
	Workloads []RenderedWorkload `json:"workloads"`
}

// RenderedWorkload is one workload's objects.
type RenderedWorkload struct {
	Name      string   `json:"name"`
	Source    string   `json:"source"`
	DependsOn []string `json:"dependsOn,omitempty"`
	// Objects are ordered: CRDs, then Namespaces, then the rest (each group sorted
	// by kind, namespace, name).
	Objects []*unstructured.Unstructured `json:"objects"`
	// Helm is set for Helm workloads: what the agent needs to install a real release.
	Helm *RenderedHelm `json:"helm,omitempty"`
}

// RenderedHelm is a Helm release to install or upgrade.
type RenderedHelm struct {
	ReleaseName string `json:"releaseName"`
	Namespace   string `json:"namespace"`
	// ChartPath is the absolute path of the chart directory or archive.
	ChartPath    string `json:"chartPath"`
	ChartName    string `json:"chartName"`
	ChartVersion string `json:"chartVersion"`
	// Values are the merged values (files in order, then inline values).
	Values map[string]any `json:"-"`
}

// AllObjects returns the objects of every workload, in apply order.
func (r *RenderedCluster) AllObjects() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, w := range r.Workloads {
		out = append(out, w.Objects...)
	}
	return out
}
