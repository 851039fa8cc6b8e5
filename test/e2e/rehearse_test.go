package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRehearseSubstitutesProviders rehearses an environment made for the
// cloud (an aws_vpc in its Terraform, an existing cluster) on kwok: Terraform
// is skipped with a notice, clusters become kwok clusters named from
// placeholder outputs, every workload replays, and the rehearsal is torn
// down, apart from the real environment's state. It asks for kwok: auto
// would pick kind wherever kind can start a cluster (recovery's
// TestAutoProviderFollowsKind checks that rule), and this example's images
// (podinfo, a gateway) come from registries a rehearsal here cannot reach;
// TestRehearseOnKind rehearses on kind.
func TestRehearseSubstitutesProviders(t *testing.T) {
	needParts(t)
	dir := brokenCopy(t, func(dir string) {
		writeFile(t, filepath.Join(dir, "infra", "dev", "cloud.tf"), "resource \"aws_vpc\" \"main\" {\n  cidr_block = \"10.0.0.0/16\"\n}\n")
		bp := filepath.Join(dir, "rekindle.yaml")
		writeFile(t, bp, strings.Replace(readFile(t, bp), "provider: kwok\n          kwok:\n            nodes: 1", "provider: existing\n          existing: {kubeconfig: /nonexistent/kubeconfig, context: prod}", 1))
	})
	state := t.TempDir()
	t.Cleanup(func() {
		for _, p := range processesUnder(state) {
			t.Errorf("process left after the rehearsal: %s", p)
		}
	})
	res := rk(t, state, nil, "-o", "json", "rehearse", "-b", dir, "--env", "dev", "--provider", "kwok")
	if res.code != 0 {
		t.Fatalf("rehearse: exit %d", res.code)
	}
	if !strings.Contains(res.stderr, "skipping Terraform, whose module needs cloud providers (aws_vpc)") {
		t.Error("no notice that the cloud Terraform module was skipped")
	}
	sum := parseSummary(t, res.stdout)
	names := map[string]bool{}
	for _, c := range sum.Clusters {
		names[c.Name] = true
		if !c.Ready || c.Healthy != c.Desired || !strings.Contains(c.Kubeconfig, filepath.Join("rehearsals", "clusters", "kwok")) {
			t.Errorf("cluster %s: ready=%t %d/%d healthy, kubeconfig %s", c.Name, c.Ready, c.Healthy, c.Desired, c.Kubeconfig)
		}
	}
	if !names["apps-cluster"] || !names["edge"] {
		t.Errorf("clusters = %v, want apps-cluster (placeholder of the apps_cluster output) and edge", names)
	}
}
