package e2e

import (
	"strings"
	"testing"

	"github.com/rekindle-dev/rekindle/test/gitserver"
)

// TestDevBuildNeedsAgentImage: a development build of rekindle (the e2e
// binary is one) has no released image, so a Git blueprint with a cluster
// whose agent runs in the cluster and whose nodes rekindle cannot load an
// image into (an existing cluster) is refused (exit 2, the field named, how
// to build one), rather than left to ImagePullBackOff; --agent-image lifts
// it. (A kind cluster is accepted: rekindle builds the image from its own
// binary and loads it into the nodes; see TestRehearseOnKind.)
func TestDevBuildNeedsAgentImage(t *testing.T) {
	needParts(t)
	base := t.TempDir()
	dir := base + "/org/kindbp"
	gitserver.InitRepo(t, dir)
	gitserver.WriteFile(t, dir, "rekindle.yaml", `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: kindbp}
spec:
  environments:
    - name: dev
      clusters:
        - name: real
          provider: existing
          existing: {kubeconfig: kubeconfig.yaml}
          workloads:
            - name: app
              path: app
`)
	gitserver.WriteFile(t, dir, "app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\ndata: {k: v}\n")
	gitserver.WriteFile(t, dir, "kubeconfig.yaml", `apiVersion: v1
kind: Config
clusters: [{name: real, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: real, user: {token: not-a-token}}]
contexts: [{name: real, context: {cluster: real, user: real}}]
current-context: real
`)
	gitserver.Commit(t, dir, "an existing cluster's blueprint")
	url := gitserver.NewDaemon(t, base) + "/org/kindbp"
	state := t.TempDir()

	res := rk(t, state, nil, "bootstrap", "create", "-b", url, "--env", "dev", "--dry-run")
	if res.code != 2 {
		t.Fatalf("dev build without agent.image: exit %d, want 2", res.code)
	}
	for _, want := range []string{"spec.environments[0].clusters[0].agent.image", `cluster "real"`, "rekindle agent image --push"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("refusal lacks %q", want)
		}
	}
	bad := rk(t, state, nil, "bootstrap", "create", "-b", url, "--env", "dev", "--dry-run", "--agent-image", "registry.example/rekindle")
	if bad.code != 2 || !strings.Contains(bad.stderr, "--agent-image") {
		t.Errorf("--agent-image without a tag: exit %d, want 2 naming the flag", bad.code)
	}
	ok := rk(t, state, nil, "bootstrap", "create", "-b", url, "--env", "dev", "--dry-run", "--agent-image", "127.0.0.1:5000/rekindle:dev")
	if ok.code != 0 {
		t.Errorf("with --agent-image: exit %d, want 0", ok.code)
	}
}
