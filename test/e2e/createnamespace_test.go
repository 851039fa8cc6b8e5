package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekindle-dev/rekindle/test/kwoktest"
)

// legacyBlueprint is a blueprint whose one workload puts a ConfigMap and a
// Secret in namespace legacy with createNamespace: false, on cluster (the
// cluster's own fields, one per line).
func legacyBlueprint(t *testing.T, cluster string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rekindle.yaml"), `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: legacy}
spec:
  environments:
  - name: dev
    clusters:
    - `+cluster+`
      agent: {interval: 5s}
      workloads:
      - {name: legacy, path: legacy, namespace: legacy, createNamespace: false}
`)
	writeFile(t, filepath.Join(dir, "legacy", "settings.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: legacy}\n")
	writeFile(t, filepath.Join(dir, "legacy", "token.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: token}\nstringData: {token: not-a-real-one}\n")
	return dir
}

// TestCreateNamespaceFalseValidate: on a cluster rekindle creates, nothing
// can have made the namespace, so validate refuses it offline (exit 2),
// naming the field, the namespace and every object put there.
func TestCreateNamespaceFalseValidate(t *testing.T) {
	dir := legacyBlueprint(t, "name: apps\n      provider: kwok")
	res := rk(t, t.TempDir(), nil, "blueprint", "validate", "-b", dir)
	if res.code != 2 {
		t.Fatalf("validate: exit %d, want 2\nstdout:\n%s", res.code, res.stdout)
	}
	out := res.stdout + res.stderr
	for _, want := range []string{"rekindle.yaml:12:", "spec.environments[0].clusters[0].workloads[0].createNamespace",
		`namespace "legacy"`, `workload "legacy"`, "ConfigMap/legacy/settings", "Secret/legacy/token"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

// TestCreateNamespaceFalseBootstrap: on an existing cluster (a kwok cluster
// rekindle does not own) only the cluster knows whether the namespace is
// there, so validate passes and bootstrap's preflight stops the run before
// the agent step, within 10 s, naming both objects. Once the Namespace is
// made by hand, the same blueprint bootstraps.
func TestCreateNamespaceFalseBootstrap(t *testing.T) {
	needParts(t)
	kc := kwoktest.New(t, "rk-legacy", 1)
	dir := legacyBlueprint(t, "name: legacy-prod\n      provider: existing\n      existing: {kubeconfig: "+kc.Kubeconfig+"}")
	state := t.TempDir()
	cleanupEnv(t, state, nil, "-b", dir, "--env", "dev")

	if v := rk(t, state, nil, "blueprint", "validate", "-b", dir); v.code != 0 {
		t.Fatalf("validate of an existing cluster's blueprint: exit %d, want 0 (only the cluster knows its namespaces)\n%s", v.code, v.stdout)
	}

	start := time.Now()
	res := rk(t, state, nil, "-o", "json", "bootstrap", "create", "-b", dir, "--env", "dev")
	took := time.Since(start)
	t.Logf("bootstrap stopped after %s", took)
	// Bad input in a cluster's lane stays exit 2, the preflight's reason in
	// its event.
	if res.code != 2 {
		t.Fatalf("bootstrap create: exit %d, want 2 (the blueprint cannot apply to this cluster)", res.code)
	}
	if took > 10*time.Second {
		t.Errorf("bootstrap took %s to stop, want within 10s of its start", took)
	}
	var failed string
	var first time.Time
	for _, line := range strings.Split(res.stderr+"\n"+res.stdout, "\n") {
		var ev struct {
			Time   time.Time `json:"time"`
			Step   string    `json:"step"`
			Status string    `json:"status"`
			Detail string    `json:"detail"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Step == "" {
			continue
		}
		if first.IsZero() {
			first = ev.Time
		}
		switch {
		case ev.Step == "agent" && ev.Status != "skipped":
			t.Errorf("the agent step ran (%s): %s", ev.Status, line)
		case ev.Step == "preflight" && ev.Status == "failed":
			failed = ev.Detail
			if d := ev.Time.Sub(first); d > 10*time.Second {
				t.Errorf("preflight failed %s after the first event, want within 10s", d)
			}
		}
	}
	for _, want := range []string{"ConfigMap/legacy/settings", "Secret/legacy/token", `namespace "legacy"`} {
		if !strings.Contains(failed, want) {
			t.Errorf("the failed preflight event does not name %s: %q", want, failed)
		}
	}
	cs := clientset(t, kc.Kubeconfig)
	for _, ns := range []string{"legacy", "rekindle-system"} {
		if _, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err == nil {
			t.Errorf("Namespace %s exists after the preflight stopped the run: something was applied", ns)
		}
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}}
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ok := rk(t, state, nil, "-o", "json", "bootstrap", "create", "-b", dir, "--env", "dev")
	if ok.code != 0 {
		t.Fatalf("bootstrap create once Namespace legacy exists: exit %d", ok.code)
	}
	if c := parseSummary(t, ok.stdout).Clusters; len(c) != 1 || !c[0].Ready || c[0].Desired != 2 || c[0].Healthy != 2 {
		t.Errorf("summary clusters = %+v, want legacy-prod ready with its 2 objects healthy", c)
	}
	if _, err := cs.CoreV1().ConfigMaps("legacy").Get(context.Background(), "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap legacy/settings: %v", err)
	}
	if del := rk(t, state, nil, "bootstrap", "destroy", "-b", dir, "--env", "dev"); del.code != 0 {
		t.Errorf("bootstrap destroy: exit %d", del.code)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "legacy", metav1.GetOptions{}); err != nil {
		t.Errorf("Namespace legacy (made by hand) after destroy: %v, want it kept", err)
	}
}
