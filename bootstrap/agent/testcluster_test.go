package agent

import (
	"testing"

	"k8s.io/client-go/rest"

	"github.com/rekindle-dev/rekindle/test/kwoktest"
)

// testCluster is a real kwok cluster (kube-apiserver, etcd, controller-manager,
// scheduler; simulated nodes) made for one test.
type testCluster struct {
	Name       string
	Kubeconfig string
	Config     *rest.Config
	c          *kwoktest.Cluster
}

// Delete removes the cluster now (it is removed at the end of the test anyway).
func (c *testCluster) Delete() { c.c.Delete() }

// newTestCluster creates a uniquely named kwok cluster and deletes it when the
// test ends (kwoktest says what happens without the cluster binaries).
func newTestCluster(tb testing.TB, prefix string) *testCluster {
	tb.Helper()
	return newTestClusterNodes(tb, prefix, 2)
}

// newTestClusterNodes is newTestCluster with n simulated nodes (110 pods each).
func newTestClusterNodes(tb testing.TB, prefix string, nodes int) *testCluster {
	tb.Helper()
	c := kwoktest.New(tb, prefix, nodes)
	return &testCluster{Name: c.Name, Kubeconfig: c.Kubeconfig, Config: c.Config, c: c}
}
