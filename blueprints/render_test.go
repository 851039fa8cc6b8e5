package blueprints

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite golden files")

func loadExample(t *testing.T) *Repo {
	t.Helper()
	r, err := Load(filepath.Join("examples", "local"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func toYAML(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

// TestRenderGolden renders both clusters of the example (plain, kustomize and
// Helm workloads) and compares with golden files; -update rewrites them.
func TestRenderGolden(t *testing.T) {
	r := loadExample(t)
	outputs := map[string]any{"apps_cluster": "dev-apps", "network_cidr": "10.42.0.0/16"}
	for _, cluster := range []string{"dev-apps", "edge"} {
		t.Run(cluster, func(t *testing.T) {
			rc, err := r.Render(context.Background(), "dev", cluster, RenderOptions{Outputs: outputs})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			for _, w := range rc.Workloads {
				b.WriteString("# workload " + w.Name + " (" + w.Source + ")\n")
				b.Write(toYAML(t, w.Objects))
			}
			golden := filepath.Join("testdata", "golden", "local-"+cluster+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./blueprints -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("render of %s differs from %s (rerun with -update if intended):\n%s", cluster, golden, b.String())
			}
		})
	}
}

func TestRenderOrderAndSources(t *testing.T) {
	r := loadExample(t)
	rc, err := r.Render(context.Background(), "dev", "dev-apps", RenderOptions{Outputs: map[string]any{"apps_cluster": "dev-apps"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range rc.Workloads {
		got = append(got, w.Name+":"+w.Source)
	}
	if want := []string{"platform:plain", "podinfo:kustomize", "hello:helm"}; !reflect.DeepEqual(got, want) {
		t.Errorf("workloads = %v, want %v", got, want)
	}
	platform := rc.Workloads[0].Objects
	if !IsCRD(platform[0]) || !IsNamespace(platform[1]) || !IsNamespace(platform[2]) {
		t.Errorf("platform objects not CRD, Namespaces first: %v", refs(platform))
	}
	hello := rc.Workloads[2]
	if hello.Helm == nil || hello.Helm.ReleaseName != "hello" || hello.Helm.Namespace != "hello" || hello.Helm.ChartVersion != "0.1.0" {
		t.Fatalf("helm release = %+v", hello.Helm)
	}
	for _, o := range hello.Objects {
		if o.GetNamespace() != "hello" {
			t.Errorf("%s: namespace %q, want the release namespace", ObjectRef(o), o.GetNamespace())
		}
		if o.GetKind() == "Deployment" {
			replicas, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			image := containers[0].(map[string]any)["image"]
			if replicas != 2 || image != "registry.example.com/hello:1.2.0" {
				t.Errorf("inline values then values file then chart defaults: replicas=%d image=%v", replicas, image)
			}
		}
	}
}

// TestKustomizeMatchesKubectl compares the in-process kustomize build with
// `kubectl kustomize` on the same overlay.
func TestKustomizeMatchesKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH; it is the reference this test compares with")
	}
	dir := filepath.Join("examples", "local", "workloads", "podinfo", "overlays", "dev")
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	want, err := decodeObjects(out)
	if err != nil {
		t.Fatal(err)
	}
	r := &Repo{Dir: "."}
	got, err := r.renderKustomize(context.Background(), dir, r.newDecrypter(RenderOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(canonical(t, got), canonical(t, want)) {
		t.Errorf("in-process kustomize differs from kubectl kustomize:\ngot:\n%s\nwant:\n%s", toYAML(t, got), out)
	}
	for _, o := range got {
		if !strings.HasPrefix(o.GetName(), "dev-") || o.GetNamespace() != "podinfo" {
			t.Errorf("%s: namePrefix or namespace not applied", ObjectRef(o))
		}
	}
}

func canonical(t *testing.T, objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(y))
	}
	sort.Strings(out)
	return out
}

func refs(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, ObjectRef(o))
	}
	return out
}

func TestDecodeObjects(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"multi-document with empty docs", "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n", []string{"ConfigMap/a", "Secret/b"}, ""},
		{"list kind", `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}]}`, []string{"ConfigMap/x"}, ""},
		{"missing kind", "apiVersion: v1\nmetadata: {name: a}\n", nil, "document 1: not a Kubernetes object: missing kind"},
		{"bad yaml in second doc", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: [\n", nil, "document 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := decodeObjects([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := refs(objs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRenderPlainErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(FileName, "apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: t}\nspec:\n  environments:\n  - name: dev\n    clusters:\n    - name: a\n      provider: kwok\n      workloads:\n      - {name: apps, path: apps, namespace: team}\n")
	write("apps/nested/deep/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
	write("apps/README.md", "not yaml, ignored")
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.Render(context.Background(), "dev", "a", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := refs(rc.AllObjects()); !reflect.DeepEqual(got, []string{"Namespace/team", "ConfigMap/team/ok"}) {
		t.Errorf("recursive plain render = %v", got)
	}
	write("apps/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok2}\n---\nmetadata: [\n")
	_, err = r.Render(context.Background(), "dev", "a", RenderOptions{})
	if err == nil || !strings.Contains(err.Error(), "apps/broken.yaml: document 2") || !strings.Contains(err.Error(), `workload "apps"`) {
		t.Errorf("err = %v, want it to name the workload, apps/broken.yaml and document 2", err)
	}
}

func TestExpandOutputs(t *testing.T) {
	r := loadExample(t)
	env, err := r.Expand("dev", map[string]any{"apps_cluster": "prod-apps"})
	if err != nil {
		t.Fatal(err)
	}
	if env.Clusters[0].Name != "prod-apps" {
		t.Errorf("cluster name = %q, want the output's value", env.Clusters[0].Name)
	}
	if _, err := r.Expand("dev", map[string]any{"other": 1}); err == nil || !strings.Contains(err.Error(), "apps_cluster") {
		t.Errorf("missing output: err = %v, want it named", err)
	}
	if r.Blueprint.Spec.Environments[0].Clusters[0].Name != "{{ .Infra.Outputs.apps_cluster }}" {
		t.Error("Expand changed the loaded blueprint")
	}
}
