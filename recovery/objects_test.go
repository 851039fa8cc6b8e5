package recovery

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
)

func obj(kind, ns, name string, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetAnnotations(annotations)
	return u
}

// TestObjectResults: every rendered object gets a row named as the agent
// names it, Helm objects in the release namespace and hooks left out; each
// difference lands on its object, and one naming no rendered object gets a
// row of its own.
func TestObjectResults(t *testing.T) {
	rc := &blueprints.RenderedCluster{Cluster: "c", Workloads: []blueprints.RenderedWorkload{
		{Name: "plain", Objects: []*unstructured.Unstructured{obj("Namespace", "", "app", nil), obj("ConfigMap", "app", "cfg", nil)}},
		{Name: "chart", Helm: &blueprints.RenderedHelm{ReleaseName: "hello", Namespace: "hello"}, Objects: []*unstructured.Unstructured{
			obj("Deployment", "", "hello", nil), obj("ClusterRole", "", "hello", nil), obj("Pod", "", "test", map[string]string{"helm.sh/hook": "test"}),
		}},
	}}
	vr := agent.VerifyResult{Cluster: "c", Differences: []agent.Difference{
		{Workload: "plain", Object: "ConfigMap/app/cfg", Reason: "field data.a differs", Fields: []string{"data.a"}},
		{Workload: "chart", Object: "Deployment/hello/hello", Reason: "not healthy: InProgress"},
		{Workload: "plain", Object: "Secret/app/gone", Reason: "missing"},
	}}
	namespaced := func(o *unstructured.Unstructured) bool {
		return o.GetKind() != "ClusterRole" && o.GetKind() != "Namespace"
	}
	rows := objectResults(rc, vr, namespaced)
	var got []string
	for _, r := range rows {
		s := r.Workload + " " + r.Object
		if !r.OK {
			s += " [" + strings.Join(r.Differences, "; ") + "]" + strings.Join(r.Fields, ",")
		}
		got = append(got, s)
	}
	want := []string{
		"plain Namespace/app",
		"plain ConfigMap/app/cfg [field data.a differs]data.a",
		"chart Deployment/hello/hello [not healthy: InProgress]",
		"chart ClusterRole/hello",
		"chart helm release hello/hello",
		"plain Secret/app/gone [missing]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rows := objectResults(nil, agent.VerifyResult{Cluster: "c", Differences: []agent.Difference{{Reason: "cluster is missing"}}}, nil); len(rows) != 1 || rows[0].OK || rows[0].Object != "" {
		t.Errorf("an unreachable cluster: %+v", rows)
	}
}
