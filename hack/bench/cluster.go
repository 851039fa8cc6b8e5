package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
)

// kwokCluster is one fresh kwok cluster made for one measurement.
type kwokCluster struct {
	Name       string
	Kubeconfig string
	Config     *rest.Config
	// StartSeconds is how long kwok took to create it (until Create
	// returned: the control plane up, the nodes Ready).
	StartSeconds float64
	p            cluster.Provider
	stateDir     string
}

// newCluster creates a kwok cluster with nodes simulated nodes in its own
// state directory under root, with the provider rekindle itself uses. Its
// creation is not part of any replay measurement; its time is kwok's
// cluster start for the RTO share.
func newCluster(ctx context.Context, root, name string, nodes int) (*kwokCluster, error) {
	state, err := os.MkdirTemp(root, name+"-")
	if err != nil {
		return nil, err
	}
	p, err := kwok.New(kwok.Options{StateDir: state})
	if err != nil {
		return nil, err
	}
	c := &kwokCluster{Name: name, p: p, stateDir: state}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	start := time.Now()
	info, err := p.Create(cctx, cluster.Spec{Name: name, Nodes: nodes})
	c.StartSeconds = time.Since(start).Seconds()
	if err != nil {
		c.delete()
		return nil, err
	}
	c.Kubeconfig = info.Kubeconfig
	c.Config, err = cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		c.delete()
		return nil, err
	}
	return c, nil
}

// delete stops the cluster and removes its state; it runs even after the
// benchmark's context is cancelled.
func (c *kwokCluster) delete() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.p.Delete(ctx, c.Name); err != nil {
		fmt.Fprintf(os.Stderr, "bench: delete kwok cluster %s: %v\n", c.Name, err)
	}
	_ = os.RemoveAll(c.stateDir)
}
