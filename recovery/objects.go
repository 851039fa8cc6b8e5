package recovery

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
)

// ObjectResult is what verification found for one rendered object (or
// Helm release) of a cluster.
type ObjectResult struct {
	Cluster  string `json:"cluster"`
	Workload string `json:"workload,omitempty"`
	// Object is Kind/namespace/name, "helm release namespace/name", or
	// empty for the cluster as a whole (missing, unreachable).
	Object string `json:"object"`
	// OK is true when the object is present, matches Git and is healthy.
	OK bool `json:"ok"`
	// Differences say what is wrong ("missing", "field spec.replicas
	// differs", "not healthy: InProgress: ...").
	Differences []string `json:"differences,omitempty"`
	// Fields are the field paths that differ from Git.
	Fields []string `json:"fields,omitempty"`
}

// namespacedFunc says whether a kind is namespaced on the live cluster.
type namespacedFunc func(*unstructured.Unstructured) bool

// objectResults lists every object rc renders, as the agent names it (Helm
// objects without a namespace are in the release's, as the agent installs
// them), with the differences vr found for it. A difference naming no
// rendered object gets a row of its own, so none is ever hidden.
func objectResults(rc *blueprints.RenderedCluster, vr agent.VerifyResult, namespaced namespacedFunc) []ObjectResult {
	var out []ObjectResult
	index := map[string]int{}
	add := func(workload, object string) {
		key := workload + "\x00" + object
		if _, seen := index[key]; seen {
			return
		}
		index[key] = len(out)
		out = append(out, ObjectResult{Cluster: vr.Cluster, Workload: workload, Object: object, OK: true})
	}
	if rc != nil {
		for _, w := range rc.Workloads {
			for _, o := range w.Objects {
				ns := o.GetNamespace()
				if w.Helm != nil {
					if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
						continue
					}
					if ns == "" && namespaced != nil && namespaced(o) {
						ns = w.Helm.Namespace
					}
				}
				add(w.Name, objectName(o.GetKind(), ns, o.GetName()))
			}
			if w.Helm != nil {
				add(w.Name, "helm release "+w.Helm.Namespace+"/"+w.Helm.ReleaseName)
			}
		}
	}
	for _, d := range vr.Differences {
		i, ok := index[d.Workload+"\x00"+d.Object]
		if !ok {
			i, ok = findObject(out, d.Object)
		}
		if !ok {
			index[d.Workload+"\x00"+d.Object] = len(out)
			i = len(out)
			out = append(out, ObjectResult{Cluster: vr.Cluster, Workload: d.Workload, Object: d.Object})
		}
		r := &out[i]
		r.OK = false
		r.Differences = append(r.Differences, d.Reason)
		r.Fields = append(r.Fields, d.Fields...)
	}
	return out
}

// findObject finds a row by object name alone (a difference that carries no
// workload).
func findObject(rows []ObjectResult, object string) (int, bool) {
	if object == "" {
		return 0, false
	}
	for i, r := range rows {
		if r.Object == object {
			return i, true
		}
	}
	return 0, false
}

// objectName is Kind/namespace/name, or Kind/name when cluster-scoped, as
// the agent names objects.
func objectName(kind, namespace, name string) string {
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}
