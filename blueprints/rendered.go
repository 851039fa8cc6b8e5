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
	// Provider is the cluster's provider (kwok, kind, capi, existing).
	Provider string `json:"provider,omitempty"`
	// Commit is the blueprint commit the objects were rendered from ("" for a plain directory).
	Commit string `json:"commit,omitempty"`
	// CreatedNamespaces are the Namespaces rekindle creates because a
	// workload targets them and no object of the render declares them,
	// sorted by name. Each carries CreatedNamespaceLabel; they belong to no
	// workload and are applied before every workload. Prune one only when
	// rekindle created it (it did not exist before) and it left this list.
	CreatedNamespaces []*unstructured.Unstructured `json:"createdNamespaces,omitempty"`
	// Capabilities are what Helm charts were rendered with.
	Capabilities Capabilities `json:"capabilities"`
	// Workloads are sorted so that each comes after everything it depends on.
	Workloads []RenderedWorkload `json:"workloads"`

	// field is the cluster's path in rekindle.yaml and fields each
	// workload's (at createNamespace when it is false), for problems.
	field  string
	fields map[string]string
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
	// Restore is set for restore workloads (Source SourceRestore): the
	// Velero Restore the agent creates and waits for; Objects is empty.
	Restore *RestoreWorkload `json:"restore,omitempty"`
}

// RenderedHelm is a Helm release to install or upgrade.
type RenderedHelm struct {
	ReleaseName string `json:"releaseName"`
	Namespace   string `json:"namespace"`
	// ChartPath is the absolute path of the chart directory or archive.
	ChartPath    string `json:"chartPath"`
	ChartName    string `json:"chartName"`
	ChartVersion string `json:"chartVersion"`
	// Repo is the Helm repository or OCI reference the chart came from,
	// without credentials ("" for a chart in the blueprint repo);
	// ChartVersion is then the exact version the range resolved to.
	Repo string `json:"repo,omitempty"`
	// Digest is the sha256 of the cached chart archive (remote charts).
	Digest string `json:"digest,omitempty"`
	// Values are the merged values (files in order, then inline values).
	Values map[string]any `json:"-"`
}

// AllObjects returns the created Namespaces, then the objects of every
// workload, in apply order.
func (r *RenderedCluster) AllObjects() []*unstructured.Unstructured {
	out := append([]*unstructured.Unstructured(nil), r.CreatedNamespaces...)
	for _, w := range r.Workloads {
		out = append(out, w.Objects...)
	}
	return out
}
