package blueprints

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestCreatedNamespaces: a workload's namespace that nothing declares is
// added, labelled as rekindle's; built-in and declared ones are not; with
// createNamespace: false it is not, and the offline check names the
// objects that would have nowhere to go.
func TestCreatedNamespaces(t *testing.T) {
	r := capsRepo(t)
	rc, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.CreatedNamespaceNames(); !reflect.DeepEqual(got, []string{"demo"}) {
		t.Fatalf("created namespaces = %v, want [demo] (legacy has createNamespace: false)", got)
	}
	ns := rc.CreatedNamespaces[0]
	if !IsCreatedNamespace(ns) || ns.GetAnnotations()[CreatedNamespaceWorkloadsAnnotation] != "demo" {
		t.Errorf("created namespace = %v", ns.Object)
	}
	if all := refs(rc.AllObjects()); all[0] != "Namespace/demo" {
		t.Errorf("AllObjects does not start with the created namespace: %v", all)
	}
	missing := rc.MissingNamespaces(nil)
	want := []MissingNamespace{{Namespace: "legacy", Workload: "legacy", Objects: []string{"ConfigMap/legacy/settings"}}}
	if !reflect.DeepEqual(missing, want) {
		t.Errorf("MissingNamespaces(nil) = %+v, want %+v", missing, want)
	}
	if m := rc.MissingNamespaces([]string{"legacy"}); len(m) != 0 {
		t.Errorf("MissingNamespaces with legacy live = %+v, want none", m)
	}
	err = r.CheckNamespaces(rc)
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != 1 {
		t.Fatalf("CheckNamespaces = %v, want one problem", err)
	}
	p := inv.Problems[0]
	if p.Line != 18 || p.Field != "spec.environments[0].clusters[0].workloads[2].createNamespace" ||
		!strings.Contains(p.Message, `namespace "legacy"`) || !strings.Contains(p.Message, "ConfigMap/legacy/settings") {
		t.Errorf("problem = %s", p)
	}

	// A Namespace object anywhere in the render is not created again, and
	// an existing cluster's namespaces are left to the live check.
	rc.Workloads[0].Objects = append(rc.Workloads[0].Objects, rc.CreatedNamespaces[0].DeepCopy())
	rc.Workloads[0].Objects[len(rc.Workloads[0].Objects)-1].SetLabels(nil)
	rc.CreatedNamespaces = nil
	addCreatedNamespaces(rc, r.Blueprint.Spec.Environments[0].Clusters[0].Workloads)
	if len(rc.CreatedNamespaces) != 0 {
		t.Errorf("declared namespace created again: %v", rc.CreatedNamespaceNames())
	}
	rc.Provider = "existing"
	if err := r.CheckNamespaces(rc); err != nil {
		t.Errorf("existing cluster: CheckNamespaces = %v, want nil (only the live cluster knows)", err)
	}
}

func TestBuiltinNamespacesAreNotCreated(t *testing.T) {
	rc := &RenderedCluster{}
	addCreatedNamespaces(rc, []Workload{{Name: "a", Namespace: "kube-system"}, {Name: "b", Helm: &HelmWorkload{Namespace: "default"}}, {Name: "c"}})
	if len(rc.CreatedNamespaces) != 0 {
		t.Errorf("created %v", rc.CreatedNamespaceNames())
	}
}
