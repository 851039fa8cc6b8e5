// Package kwoktest gives tests real kwok clusters (kube-apiserver, etcd,
// controller-manager, scheduler and kwok with simulated nodes), made for one
// test and deleted when it ends.
package kwoktest

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
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// BinDir returns the directory of the kwok cluster binaries
// (REKINDLE_KWOK_BIN_DIR, else the tools cache). Without them the test fails
// in CI and is skipped elsewhere, saying how to build them; with -short it is
// skipped, since -short runs the tests that need no cluster.
func BinDir(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping: needs a kwok cluster, and -short runs only the tests that need none")
	}
	dir, err := kwok.FindBinDir(os.Getenv("REKINDLE_KWOK_BIN_DIR"))
	testenv.Need(tb, "the kwok cluster binaries (hack/install-cluster-tools.sh builds them)", err)
	return dir
}

// Cluster is a kwok cluster made for one test.
type Cluster struct {
	Name       string
	Kubeconfig string
	Config     *rest.Config
	Info       cluster.Info
	delete     func()
}

// Delete removes the cluster now (it is removed at the end of the test anyway).
func (c *Cluster) Delete() { c.delete() }

// UniqueName is prefix and a random suffix: no other test, nor another run
// on the same machine, uses it.
func UniqueName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// New creates a uniquely named kwok cluster with the given number of
// simulated nodes (110 pods each), and deletes it when the test ends.
func New(tb testing.TB, prefix string, nodes int) *Cluster {
	tb.Helper()
	bin := BinDir(tb)
	state, err := os.MkdirTemp("", "rk-kwok-")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := kwok.New(kwok.Options{StateDir: state, BinDir: bin})
	if err != nil {
		tb.Fatal(err)
	}
	name := UniqueName(prefix)
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	info, err := p.Create(ctx, cluster.Spec{Name: name, Nodes: nodes})
	if err != nil {
		tb.Fatalf("create kwok cluster: %v", err)
	}
	tb.Logf("kwok cluster %s ready in %s", name, time.Since(start).Round(time.Millisecond))
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		tb.Fatal(err)
	}
	return &Cluster{Name: name, Kubeconfig: info.Kubeconfig, Config: cfg, Info: info, delete: del}
}
