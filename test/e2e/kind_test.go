package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekindle-dev/rekindle/recovery"
)

// TestRehearseOnKind rehearses the kind example on a real kind cluster: the
// agent's image (this binary's, built by rekindle) and the workload's (built
// here) are loaded into the node, no registry anywhere; the agent runs as a
// pod, fetches the blueprint over git://, and the example's pods go Running
// and answer through their Service.
func TestRehearseOnKind(t *testing.T) {
	needParts(t)
	needKind(t)
	url, archive := kindExample(t), helloImage(t)
	state := t.TempDir()
	t.Cleanup(func() { deleteKindCluster(t, filepath.Join(state, "rehearsals"), "hello") })
	res := rk(t, state, nil, "-o", "json", "rehearse", "-b", url, "--env", "dev", "--provider", "kind", "--keep", "--load-image", archive)
	if res.code != 0 {
		t.Fatalf("rehearse: exit %d", res.code)
	}
	sum := parseSummary(t, res.stdout)
	if len(sum.Clusters) != 1 {
		t.Fatalf("clusters = %+v", sum.Clusters)
	}
	c := sum.Clusters[0]
	if !c.Ready || c.Healthy != c.Desired || c.Desired != 3 || !strings.Contains(c.Kubeconfig, filepath.Join("rehearsals", "clusters", "kind")) {
		t.Errorf("cluster %s: ready=%t %d/%d healthy, kubeconfig %s", c.Name, c.Ready, c.Healthy, c.Desired, c.Kubeconfig)
	}
	for _, want := range []string{"load image into 1 node(s)", "in-cluster Deployment of rekindle.local/rekindle:"} {
		if !strings.Contains(res.stdout+res.stderr, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	checkHelloRuns(t, c.Kubeconfig, c.Name)
}

// TestDrillOnKind drills the kind example: up, baseline, lose (the node
// containers removed), recover (a new cluster, the images loaded again, the
// agent pod, the replay), verify, teardown; the RTO is real pods' time.
func TestDrillOnKind(t *testing.T) {
	needParts(t)
	needKind(t)
	url, archive := kindExample(t), helloImage(t)
	state := t.TempDir()
	t.Cleanup(func() { deleteKindCluster(t, state, "hello") })
	reports := filepath.Join(t.TempDir(), "reports")
	res := rk(t, state, nil, "drill", "-b", url, "--env", "dev", "--rto", "5m", "--report-dir", reports, "--load-image", archive)
	if res.code != 0 {
		t.Fatalf("drill: exit %d", res.code)
	}
	data, err := os.ReadFile(filepath.Join(reports, "drill.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep recovery.DrillReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("drill.json: %v", err)
	}
	if !rep.Passed || rep.Recovery == nil || !rep.Recovery.Met || len(rep.Lost) != 1 || rep.Verify == nil {
		t.Fatalf("drill did not pass, lose hello, recover within 5m and verify:\n%s", data)
	}
	for _, p := range rep.Phases {
		t.Logf("drill phase %-10s %8s %s", p.Name, p.Duration.Round(1e7), p.Status)
	}
	t.Logf("RTO on kind: %s", rep.Recovery.Total.Round(1e7))
	for _, p := range rep.Recovery.Phases {
		t.Logf("  recovery phase %-10s %8s", p.Name, p.Duration.Round(1e7))
	}
}
