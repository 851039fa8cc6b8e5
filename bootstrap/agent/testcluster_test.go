package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
)

// testCluster is a real kwok cluster (kube-apiserver, etcd, controller-manager,
// scheduler; simulated nodes) made for one test.
type testCluster struct {
	Name       string
	Kubeconfig string
	Config     *rest.Config
	delete     func()
}

// Delete removes the cluster now (it is removed at the end of the test anyway).
func (c *testCluster) Delete() { c.delete() }

// newTestCluster creates a uniquely named kwok cluster and deletes it when the
// test ends. Without the cluster binaries it fails in CI (CI=true) and skips
// elsewhere, saying how to build them.
func newTestCluster(tb testing.TB, prefix string) *testCluster {
	tb.Helper()
	return newTestClusterNodes(tb, prefix, 2)
}

// newTestClusterNodes is newTestCluster with n simulated nodes (110 pods each).
func newTestClusterNodes(tb testing.TB, prefix string, nodes int) *testCluster {
	tb.Helper()
	if _, err := kwok.FindBinDir(os.Getenv("REKINDLE_KWOK_BIN_DIR")); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true but the kwok cluster binaries are missing: %v", err)
		}
		tb.Skipf("skipping: needs a kwok cluster: %v", err)
	}
	state, err := os.MkdirTemp("", "rk-agent-")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := kwok.New(kwok.Options{StateDir: state, BinDir: os.Getenv("REKINDLE_KWOK_BIN_DIR")})
	if err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := prefix + "-" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	info, err := p.Create(ctx, cluster.Spec{Name: name, Nodes: nodes})
	var once sync.Once
	del := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := p.Delete(ctx, name); err != nil {
				tb.Errorf("delete kwok cluster %s: %v", name, err)
			}
			_ = os.RemoveAll(state)
		})
	}
	tb.Cleanup(del)
	if err != nil {
		tb.Fatalf("create kwok cluster: %v", err)
	}
	tb.Logf("kwok cluster %s ready in %s", name, time.Since(start).Round(time.Millisecond))
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		tb.Fatal(err)
	}
	return &testCluster{Name: name, Kubeconfig: info.Kubeconfig, Config: cfg, delete: del}
}
