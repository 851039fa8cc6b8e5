package recovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// TestVerifyNeverBootstrapped: an environment whose clusters do not exist
// verifies with a difference per cluster, not an error.
func TestVerifyNeverBootstrapped(t *testing.T) {
	opts := bootstrap.Options{
		Source:   blueprints.Source{Location: filepath.Join("..", "blueprints", "examples", "local")},
		Env:      "dev",
		StateDir: t.TempDir(),
	}
	rep, err := Verify(t.Context(), opts, VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Passed || len(rep.Clusters) != 2 {
		t.Fatalf("passed %t with %d clusters, want a failure over 2: %+v", rep.Passed, len(rep.Clusters), rep)
	}
	// The first cluster is named by a Terraform output that no run produced.
	if d := rep.Clusters[0].Differences; len(d) != 1 || !strings.Contains(d[0].Reason, "infra outputs") {
		t.Errorf("templated cluster: %v", d)
	}
	// Without the outputs no cluster of this blueprint renders.
	edge := rep.Clusters[1]
	if edge.Cluster != "edge" || edge.Present != 0 || len(edge.Differences) != 1 ||
		!strings.Contains(edge.Differences[0].Reason, "infra outputs are missing") {
		t.Errorf("edge: %+v", edge)
	}
	var de *DiffError
	if err := rep.Err(); !errors.As(err, &de) || len(de.Differences) != 2 || !strings.HasPrefix(de.Differences[1], "edge: cluster not verified") {
		t.Errorf("Err() = %v, want a DiffError naming both clusters", err)
	}
}

// TestVerifyLiveCluster runs Verify against a real kwok cluster of an
// environment: all match after a sync, a deleted object is named, and a
// deleted cluster becomes a difference.
func TestVerifyLiveCluster(t *testing.T) {
	kwoktest.BinDir(t)
	ctx := t.Context()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "rv-" + hex.EncodeToString(b)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rekindle.yaml"), `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: vfy}
spec:
  environments:
    - name: dev
      clusters:
        - name: `+name+`
          provider: kwok
          kwok: {nodes: 1}
          workloads:
            - name: app
              path: app
`)
	writeFile(t, filepath.Join(dir, "app", "app.yaml"), `apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: app}
data: {mode: prod}
`)
	state := t.TempDir()
	opts := bootstrap.Options{Source: blueprints.Source{Location: dir}, Env: "dev", StateDir: state}

	p, err := bootstrap.NewProvider("kwok", bootstrap.ProviderOptions{StateDir: state, ToolsDir: os.Getenv("REKINDLE_KWOK_BIN_DIR")})
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.Create(ctx, cluster.Spec{Name: name, Nodes: 1})
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := p.Delete(dctx, name); err != nil {
			t.Errorf("delete cluster: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("create cluster: %v", err)
	}
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	ap, err := agent.NewApplier(cfg, agent.ApplyOptions{WaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := blueprints.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := repo.Render(ctx, "dev", name, blueprints.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := ap.Sync(ctx, rc, agent.SyncOptions{}); err != nil {
		t.Fatalf("sync: %v (%v)", err, res.Failed)
	}

	rep, err := Verify(ctx, opts, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.Err() != nil || rep.Clusters[0].Desired != 2 || rep.Clusters[0].Healthy != 2 {
		t.Fatalf("after a sync: %+v", rep)
	}
	t.Logf("verified %d objects in %s", rep.Clusters[0].Desired, rep.Duration.Round(time.Millisecond))

	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetNamespace("app")
	cm.SetName("settings")
	if err := ap.Client().Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(ctx, opts, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Differences(); rep.Passed || len(got) != 1 || got[0] != name+": ConfigMap/app/settings: missing" {
		t.Errorf("after a deletion: passed %t, differences %q", rep.Passed, got)
	}

	if err := p.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(ctx, opts, VerifyOptions{})
	if err != nil {
		t.Fatalf("a missing cluster must be a difference, not an error: %v", err)
	}
	if got := rep.Differences(); rep.Passed || len(got) != 1 || !strings.HasPrefix(got[0], name+": cluster is missing") {
		t.Errorf("after the cluster was deleted: passed %t, differences %q", rep.Passed, got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
