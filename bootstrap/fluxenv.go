package bootstrap

import (
	"context"
	"fmt"
	"strings"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/bootstrap/flux"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// VerifyFlux compares a Flux cluster with Git at commit: its Flux tree
// Ready at the commit and every object of the inventories present and
// healthy (see flux.Verify).
func (e *EnvContext) VerifyFlux(ctx context.Context, c EnvCluster, commit string) (*agent.VerifyResult, *flux.Tree, error) {
	_, src, root, err := fluxRefs(e.Repo, blueprints.Cluster{Name: c.Name, Flux: c.Flux})
	if err != nil {
		return nil, nil, err
	}
	cfg, err := cluster.RESTConfig(c.Kubeconfig, "")
	if err != nil {
		return nil, nil, err
	}
	return flux.Verify(ctx, cfg, flux.VerifyOptions{Cluster: c.Name, Source: src, Root: root, Commit: commit})
}

// DetectFlux says what a recovery must rebuild on a running Flux cluster:
// "agent" when its host-process controllers do not all run, "workloads"
// when the tree is not Ready, "" when nothing is lost; detail says why.
func (e *Env) DetectFlux(ctx context.Context, c blueprints.Cluster, kubeconfig string) (what, detail string) {
	if fluxHost(c) {
		if running := e.r.fluxControllers(c.Name, kubeconfig).Running(); len(running) < len(flux.Controllers) {
			return "agent", fmt.Sprintf("%d of %d Flux controllers run on this machine", len(running), len(flux.Controllers))
		}
	}
	layout, src, root, err := fluxRefs(e.r.repo, c)
	if err != nil {
		return "agent", err.Error()
	}
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return "agent", err.Error()
	}
	if !fluxHost(c) {
		// The controllers are gotk-components' Deployments: one deleted or
		// whose pods cannot run is reinstalled by the agent step.
		if down, err := flux.ControllersNotAvailable(ctx, cfg, layout); err != nil {
			return "agent", "Flux's controllers cannot be read: " + firstLine(err)
		} else if len(down) > 0 {
			return "agent", "Flux controller(s) not available: " + strings.Join(down, "; ")
		}
	}
	t, err := flux.ReadTree(ctx, cfg, src, root)
	if err != nil {
		return "agent", "Flux cannot be read: " + firstLine(err)
	}
	if !t.Source.Found || len(t.Objects) == 0 || !t.Objects[0].Found {
		return "agent", "Flux's GitRepository or root Kustomization is missing"
	}
	for _, o := range append([]flux.Object{t.Source}, t.Objects...) {
		if b := o.Blocker(""); b != "" {
			return "workloads", o.Ref() + ": " + b
		}
	}
	return "", fmt.Sprintf("running, Flux synced, %d Flux object(s) Ready", len(t.Objects))
}

// fluxStatus fills a Flux cluster's status: how its controllers run and
// its Flux tree.
func (r *run) fluxStatus(ctx context.Context, cs *ClusterStatus, c blueprints.Cluster, kubeconfig string) {
	if fluxHost(c) {
		running := r.fluxControllers(c.Name, kubeconfig).Running()
		cs.Agent = fmt.Sprintf("Flux host processes (%d of %d controllers running)", len(running), len(flux.Controllers))
	} else {
		cs.Agent = "Flux in cluster (Deployments of gotk-components)"
	}
	if cs.State != cluster.Running {
		return
	}
	_, src, root, err := r.fluxRefs(c)
	if err != nil {
		cs.Reason = err.Error()
		return
	}
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return
	}
	if t, err := flux.ReadTree(ctx, cfg, src, root); err == nil {
		cs.Flux = t
	} else {
		cs.Reason = "no Flux status: " + firstLine(err)
	}
}
