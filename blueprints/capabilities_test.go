package blueprints

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
)

const capsBlueprint = `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: caps}
spec:
  environments:
  - name: dev
    clusters:
    - name: tools
      provider: kwok
      workloads:
      - {name: crds, path: crds}
      - name: demo
        dependsOn: [crds]
        helm: {chart: charts/capsdemo, namespace: demo, values: {size: 3}}
      - name: legacy
        path: legacy
        namespace: legacy
        createNamespace: false
    - name: pinned
      provider: kind
      kubernetesVersion: "1.29.4"
      workloads:
      - name: demo
        helm: {chart: charts/capsdemo, namespace: demo}
    - name: old
      provider: existing
      kubernetesVersion: v1.24.9
      workloads:
      - name: demo
        helm: {chart: charts/capsdemo}
`

// capsRepo writes a blueprint with a CRD workload, the capability chart
// (its dependency vendored) and a workload whose namespace nothing creates.
func capsRepo(t *testing.T) *Repo {
	t.Helper()
	dir := t.TempDir()
	writeChart(t, dir, map[string]string{
		FileName:             capsBlueprint,
		"crds/widget.yaml":   widgetCRD,
		"legacy/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
	})
	capsDemoChart(t, filepath.Join(dir, "charts", "capsdemo"), "1.0.0", "^0.1.0", "")
	capsDepChart(t, filepath.Join(dir, "charts", "capsdemo", "charts", "capsdep"), "0.1.2")
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func configMapData(t *testing.T, w RenderedWorkload, name string) map[string]string {
	t.Helper()
	for _, o := range w.Objects {
		if o.GetKind() == "ConfigMap" && o.GetName() == name {
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			return data
		}
	}
	t.Fatalf("workload %s has no ConfigMap %s: %v", w.Name, name, refs(w.Objects))
	return nil
}

func workload(t *testing.T, rc *RenderedCluster, name string) RenderedWorkload {
	t.Helper()
	for _, w := range rc.Workloads {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no workload %s in %s", name, rc.Cluster)
	return RenderedWorkload{}
}

func TestKubeVersionFor(t *testing.T) {
	// The kwok version is the one hack/tools pins: its VERSION file and
	// the k8s.io/kubernetes requirement of its go.mod.
	version, err := os.ReadFile(filepath.Join("..", "hack", "tools", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join("..", "hack", "tools", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/kubernetes (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("hack/tools/go.mod does not require k8s.io/kubernetes")
	}
	pinned := string(m[1])
	got, from := KubeVersionFor(Cluster{Provider: "kwok"})
	if got != pinned || !strings.HasPrefix(strings.TrimSpace(string(version)), "k8s-"+pinned+"_") || !strings.Contains(from, "kwok") {
		t.Errorf("kwok: %s (from %s), want %s as pinned in hack/tools/go.mod and VERSION %q", got, from, pinned, version)
	}
	wantKind := strings.SplitN(strings.SplitN(kinddefaults.Image, "@", 2)[0], ":", 2)[1]
	for _, tc := range []struct {
		c          Cluster
		want, from string
	}{
		{Cluster{Provider: "kind"}, wantKind, "kind node image kindest/node:" + wantKind},
		{Cluster{Provider: "kind", Kind: &KindCluster{NodeImage: "registry.local:5000/kindest/node:v1.31.2@sha256:abc"}}, "v1.31.2", "kind node image"},
		{Cluster{Provider: "kind", KubernetesVersion: "1.30.1"}, "v1.30.1", KubeVersionFromBlueprint},
		{Cluster{Provider: "existing"}, pinned, "set clusters[].kubernetesVersion"},
	} {
		if v, f := KubeVersionFor(tc.c); v != tc.want || !strings.Contains(f, tc.from) {
			t.Errorf("KubeVersionFor(%+v) = %s (%s), want %s (%s)", tc.c, v, f, tc.want, tc.from)
		}
	}
}

// TestRenderCapabilities renders the capability chart for three clusters:
// the kwok one with the Widget CRD in its render, one pinned to 1.29.4
// without it, one below the chart's kubeVersion; then with live
// capabilities, as the agent renders.
func TestRenderCapabilities(t *testing.T) {
	r := capsRepo(t)
	ctx := context.Background()
	rc, err := r.Render(ctx, "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	demo := workload(t, rc, "demo")
	tools, _ := KubeVersionFor(Cluster{Provider: "kwok"})
	if d := configMapData(t, demo, "demo-caps"); d["kubeVersion"] != tools || d["widgets"] != "true" {
		t.Errorf("kwok cluster: caps %v, want kubeVersion %s and the Widget API found", d, tools)
	}
	if got := refs(demo.Objects); !reflect.DeepEqual(got, []string{"ConfigMap/demo/demo-caps", "ConfigMap/demo/demo-dep", "Widget/demo/demo-widget"}) {
		t.Errorf("demo objects = %v", got)
	}
	if rc.Capabilities.KubeVersion != tools || !strings.Contains(rc.Capabilities.KubeVersionFrom, "kwok") ||
		!reflect.DeepEqual(rc.Capabilities.APIVersions, []string{"example.rekindle.dev/v1", "example.rekindle.dev/v1/Widget"}) {
		t.Errorf("capabilities = %+v", rc.Capabilities)
	}

	pinned, err := r.Render(ctx, "dev", "pinned", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pd := workload(t, pinned, "demo")
	if d := configMapData(t, pd, "demo-caps"); d["kubeVersion"] != "v1.29.4" || d["widgets"] != "false" || len(pd.Objects) != 2 {
		t.Errorf("pinned cluster: caps %v, objects %v; want v1.29.4 and no Widget", d, refs(pd.Objects))
	}
	if pinned.Capabilities.KubeVersionFrom != KubeVersionFromBlueprint {
		t.Errorf("pinned: from %q", pinned.Capabilities.KubeVersionFrom)
	}

	_, err = r.Render(ctx, "dev", "old", RenderOptions{})
	if err == nil || !strings.Contains(err.Error(), `workload "demo"`) || !strings.Contains(err.Error(), "v1.24.9") || !strings.Contains(err.Error(), ">=1.25.0-0") {
		t.Errorf("old cluster: err = %v, want the kubeVersion refusal naming the workload and v1.24.9", err)
	}

	live, err := r.Render(ctx, "dev", "old", RenderOptions{Live: &Capabilities{KubeVersion: "v1.33.2", APIVersions: []string{"v1", "example.rekindle.dev/v1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ld := workload(t, live, "demo")
	if d := configMapData(t, ld, "demo-caps"); d["kubeVersion"] != "v1.33.2" || d["widgets"] != "false" || len(ld.Objects) != 3 {
		t.Errorf("live: caps %v, objects %v; want v1.33.2, the group/version found (3 objects), not the Kind", d, refs(ld.Objects))
	}
	if live.Capabilities.KubeVersionFrom != KubeVersionFromLive {
		t.Errorf("live: from %q", live.Capabilities.KubeVersionFrom)
	}
}

// TestCapabilitiesMatchHelmTemplate compares the kwok cluster's render of
// the chart with `helm template --kube-version --api-versions`.
func TestCapabilitiesMatchHelmTemplate(t *testing.T) {
	helm := helmBinary(t)
	r := capsRepo(t)
	rc, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"template", "demo", filepath.Join(r.Dir, "charts", "capsdemo"), "--namespace", "demo", "--include-crds",
		"--set-json", "size=3", "--kube-version", rc.Capabilities.KubeVersion}
	for _, a := range rc.Capabilities.APIVersions {
		args = append(args, "--api-versions", a)
	}
	compareObjects(t, runHelm(t, helm, helmHomes(t), args...), "demo", workload(t, rc, "demo").Objects, rc.AllObjects())
}

// compareObjects compares the reference helm CLI's output (namespaced
// into ns, as Helm installs it, custom resources by the scope of their CRD
// in the cluster's render) with got.
func compareObjects(t *testing.T, out []byte, ns string, got, cluster []*unstructured.Unstructured) {
	t.Helper()
	want, err := decodeObjects(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("helm template rendered nothing")
	}
	setDefaultNamespaceWith(want, ns, crdScopes(append(cluster, want...)))
	if !reflect.DeepEqual(canonical(t, got), canonical(t, want)) {
		t.Errorf("render differs from helm template:\ngot:\n%s\nwant:\n%s", toYAML(t, got), out)
	}
}
