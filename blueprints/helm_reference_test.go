package blueprints

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// helmBinary finds the reference `helm` CLI: $REKINDLE_HELM, PATH, or the
// copy .ci/run builds from the pinned helm module.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REKINDLE_HELM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if cache, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(cache, "rekindle", "helm-v3.22.0", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "the helm CLI is not installed (GOBIN=~/.cache/rekindle/helm-v3.22.0 go install helm.sh/helm/v3/cmd/helm@v3.22.0); it is the reference this test compares with"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestHelmMatchesHelmTemplate renders the example's Helm workload and
// compares it with `helm template --include-crds` given the same values
// files and inline values. helm template leaves metadata.namespace unset
// where the chart does; Helm installs those objects into the release
// namespace, which is what the render records, so the reference gets the
// same defaulting before the comparison.
func TestHelmMatchesHelmTemplate(t *testing.T) {
	helm := helmBinary(t)
	r := loadExample(t)
	rc, err := r.Render(context.Background(), "dev", "dev-apps", RenderOptions{Outputs: map[string]any{"apps_cluster": "dev-apps"}})
	if err != nil {
		t.Fatal(err)
	}
	var got *RenderedWorkload
	for i := range rc.Workloads {
		if rc.Workloads[i].Source == SourceHelm {
			got = &rc.Workloads[i]
		}
	}
	if got == nil {
		t.Fatal("the example has no Helm workload")
	}
	dir := filepath.Join("examples", "local")
	cmd := exec.Command(helm, "template", "hello", filepath.Join(dir, "charts", "hello"),
		"--namespace", "hello", "--include-crds",
		"-f", filepath.Join(dir, "workloads", "hello", "values.yaml"),
		"--set-json", "replicaCount=2")
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	want, err := decodeObjects(out)
	if err != nil {
		t.Fatal(err)
	}
	setDefaultNamespace(want, "hello")
	if !reflect.DeepEqual(canonical(t, got.Objects), canonical(t, want)) {
		t.Errorf("render differs from helm template:\ngot:\n%s\nwant:\n%s", toYAML(t, got.Objects), out)
	}
}
