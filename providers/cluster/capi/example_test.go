package capi_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekindle-dev/rekindle/cmd/rekindle/app"
	"github.com/rekindle-dev/rekindle/providers/cluster/capi"
)

const example = "../../../blueprints/examples/capi-docker"

// TestCAPIDockerExampleValidates runs `rekindle blueprint validate` on the
// CAPD example: it must validate on any machine, even where it cannot run
// (no Docker). Running it needs Docker; no test here does.
func TestCAPIDockerExampleValidates(t *testing.T) {
	var out, errb bytes.Buffer
	code := app.Run(t.Context(), app.Streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		[]string{"--state-dir", t.TempDir(), "blueprint", "validate", "-b", example})
	if code != 0 || !strings.Contains(out.String(), `blueprint "capi-docker" is valid`) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	t.Log(strings.TrimSpace(out.String()))

	// The manifests hold the one Cluster named like the blueprint's cluster,
	// and what CAPD needs around it.
	objs, err := capi.LoadManifests(filepath.Join(example, "clusters/dev/capi"), capi.DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if o.GetKind() == "Cluster" && o.GetName() != "dev" {
			t.Errorf("Cluster %q is not named like the blueprint's cluster dev", o.GetName())
		}
	}
	for kind, n := range map[string]int{"Cluster": 1, "DockerCluster": 1, "KubeadmControlPlane": 1, "DockerMachineTemplate": 2, "KubeadmConfigTemplate": 1, "MachineDeployment": 1, "ClusterResourceSet": 1, "ConfigMap": 1} {
		if kinds[kind] != n {
			t.Errorf("%d %s, want %d", kinds[kind], kind, n)
		}
	}
}

// TestCAPIBlueprintProblems checks what validate says about capi settings:
// the management cluster must come first and providers must be pinned.
func TestCAPIBlueprintProblems(t *testing.T) {
	dir := t.TempDir()
	bp := `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: bad}
spec:
  environments:
    - name: dev
      clusters:
        - name: dev
          provider: capi
          capi:
            management: mgmt
            manifests: capi
            providers: {core: cluster-api, infrastructure: ["docker:latest"]}
        - name: mgmt
          provider: kwok
`
	writeFile(t, filepath.Join(dir, "rekindle.yaml"), bp)
	writeFile(t, filepath.Join(dir, "capi", "cluster.yaml"), "apiVersion: cluster.x-k8s.io/v1beta2\nkind: Cluster\nmetadata: {name: dev}\n")
	var out, errb bytes.Buffer
	code := app.Run(t.Context(), app.Streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		[]string{"--state-dir", t.TempDir(), "blueprint", "validate", "-b", dir})
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, errb.String())
	}
	for _, want := range []string{
		`clusters[0].capi.management: "mgmt" must come before "dev"`,
		`clusters[0].capi.providers.core: "cluster-api" must be name:version with a pinned version`,
		`clusters[0].capi.providers.infrastructure[0]: "docker:latest" must be name:version`,
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
