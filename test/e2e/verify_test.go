package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestVerifyAfterBootstrap: rekindle verify exits 0 on a freshly
// bootstrapped example, then 1 naming the field after a hand edit and
// naming the object after a hand deletion. The dev-apps agent is stopped
// first so it cannot revert the edits before verify sees them.
func TestVerifyAfterBootstrap(t *testing.T) {
	needParts(t)
	dir, commit := blueprintRepo(t, t.TempDir(), "fleet", example)
	state := t.TempDir()
	cleanupEnv(t, state, nil, "-b", dir, "--env", "dev")

	res := rk(t, state, nil, "-o", "json", "bootstrap", "create", "-b", dir, "--env", "dev")
	if res.code != 0 {
		t.Fatalf("bootstrap create: exit %d", res.code)
	}
	sum := parseSummary(t, res.stdout)
	if !strings.Contains(res.stderr, "present, matching Git and healthy") {
		t.Errorf("the verify step did not compare objects with Git:\n%s", res.stderr)
	}

	start := time.Now()
	ok := rk(t, state, nil, "verify", "-b", dir, "--env", "dev")
	t.Logf("rekindle verify of the example took %s (process included):\n%s", time.Since(start).Round(time.Millisecond), ok.stdout)
	if ok.code != 0 {
		t.Fatalf("verify after bootstrap: exit %d\n%s", ok.code, ok.stdout)
	}
	// dev-apps: 11 objects of its workloads and the Namespace rekindle creates for its Helm release.
	for _, want := range []string{"CLUSTER", "DESIRED", "MATCHING", "dev-apps  12       12       12        12", "edge", "every object is present, matches Git and is healthy", commit[:12]} {
		if !strings.Contains(ok.stdout, want) {
			t.Errorf("verify output lacks %q", want)
		}
	}

	var apps string
	for _, c := range sum.Clusters {
		if c.Name == "dev-apps" {
			apps = c.Kubeconfig
		}
	}
	stopHostAgent(t, filepath.Join(state, "envs", "local", "dev", "agents", "dev-apps.pid"))
	cs := clientset(t, apps)
	ctx := context.Background()
	if _, err := cs.AppsV1().Deployments("podinfo").Patch(ctx, "dev-podinfo", types.MergePatchType,
		[]byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	edited := rk(t, state, nil, "verify", "-b", dir, "--env", "dev")
	if edited.code != 1 {
		t.Errorf("verify after a hand edit: exit %d, want 1\n%s", edited.code, edited.stdout)
	}
	if want := "dev-apps: Deployment/podinfo/dev-podinfo: field spec.replicas differs"; !strings.Contains(edited.stdout, want) {
		t.Errorf("verify output lacks %q:\n%s", want, edited.stdout)
	}
	if !strings.Contains(edited.stderr, "ERROR: live state differs from Git") {
		t.Errorf("stderr lacks the error line:\n%s", edited.stderr)
	}

	if err := cs.AppsV1().Deployments("hello").Delete(ctx, "hello-hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := rk(t, state, nil, "-o", "json", "verify", "-b", dir, "--env", "dev")
	if deleted.code != 1 {
		t.Errorf("verify after a deletion: exit %d, want 1", deleted.code)
	}
	var rep struct {
		Passed   bool `json:"passed"`
		Clusters []struct {
			Cluster     string `json:"cluster"`
			Desired     int    `json:"desired"`
			Present     int    `json:"present"`
			Differences []struct {
				Object string   `json:"object"`
				Reason string   `json:"reason"`
				Fields []string `json:"fields"`
			} `json:"differences"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(deleted.stdout), &rep); err != nil {
		t.Fatalf("verify -o json is not one JSON object: %v\n%s", err, deleted.stdout)
	}
	found := map[string]string{}
	for _, c := range rep.Clusters {
		if c.Cluster == "dev-apps" && c.Present != c.Desired-1 {
			t.Errorf("dev-apps: %d present of %d, want one missing", c.Present, c.Desired)
		}
		for _, d := range c.Differences {
			found[c.Cluster+" "+d.Object] += d.Reason + ";"
		}
	}
	if rep.Passed || !strings.Contains(found["dev-apps Deployment/hello/hello-hello"], "missing") ||
		!strings.Contains(found["dev-apps Deployment/podinfo/dev-podinfo"], "field spec.replicas differs") {
		t.Errorf("differences %v, want the deleted Deployment missing and the edited one differing", found)
	}
}

// stopHostAgent stops the host-process agent whose pid file is given and
// waits until it is gone.
func stopHostAgent(t *testing.T, pidFile string) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("agent pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("agent pid file %s: %v", pidFile, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop agent %d: %v", pid, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil {
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("agent %d still runs 10s after SIGTERM", pid)
}
