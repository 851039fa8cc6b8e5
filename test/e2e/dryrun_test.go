package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDryRunChangesNothing: --dry-run prints the whole plan (terraform plan,
// clusters, agent chart, workloads and object counts) and creates nothing:
// no cluster, no process, no checkpoint, no Terraform resource.
func TestDryRunChangesNothing(t *testing.T) {
	needParts(t)
	state := t.TempDir()
	res := rk(t, state, nil, "bootstrap", "create", "-b", example, "--env", "dev", "--dry-run")
	if res.code != 0 {
		t.Fatalf("dry run: exit %d", res.code)
	}
	for _, want := range []string{"terraform plan: 2 to add, 0 to change, 0 to destroy", "would create", "would install chart rekindle-agent", "dry run: nothing was changed"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	for _, want := range []string{"plan for environment \"dev\"", "podinfo   kustomize", "hello     helm"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, res.stdout)
		}
	}
	if p := processesUnder(state); len(p) > 0 {
		t.Errorf("a dry run left processes: %v", p)
	}
	if entries, _ := os.ReadDir(filepath.Join(state, "clusters", "kwok")); len(nonHidden(entries)) > 0 {
		t.Errorf("a dry run created clusters: %v", nonHidden(entries))
	}
	envDir := filepath.Join(state, "envs", "local", "dev")
	if _, err := os.Stat(filepath.Join(envDir, "checkpoint.json")); err == nil {
		t.Error("a dry run wrote a checkpoint")
	}
	if data, err := os.ReadFile(filepath.Join(envDir, "terraform", "terraform.tfstate")); err == nil && strings.Contains(string(data), `"type": "terraform_data"`) {
		t.Error("a dry run applied Terraform resources")
	}
}
