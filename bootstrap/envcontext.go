package bootstrap

import (
	"context"
	"strings"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// EnvContext is an environment as its last run left it: the blueprint, the
// commit its checkpoint records, the Terraform outputs, and its clusters with
// their kubeconfigs. Commands that read an environment without changing it
// (verify) start from here.
type EnvContext struct {
	Repo *blueprints.Repo
	Env  string
	// Commit is the blueprint commit of the last run ("" when none ran, or
	// the blueprint is not a Git checkout).
	Commit string
	// Outputs are the Terraform outputs from the state (nil without infra).
	Outputs map[string]any
	// Clusters are the blueprint's clusters, named with the outputs.
	Clusters []EnvCluster
}

// EnvCluster is one cluster of an environment and how it is now.
type EnvCluster struct {
	Name     string        `json:"name"`
	Provider string        `json:"provider"`
	State    cluster.State `json:"state"`
	// Kubeconfig is the provider's (or, when the provider cannot say, the
	// checkpoint's) kubeconfig of the cluster; empty when it is missing.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Reason says why the cluster is not Running.
	Reason string `json:"reason,omitempty"`
	// Flux is set when Flux syncs the cluster (agent.type: flux).
	Flux *blueprints.Flux `json:"flux,omitempty"`
}

// Environment opens the blueprint of opts, reads the environment's
// checkpoint and Terraform outputs, and asks each cluster's provider how it
// is. It changes nothing and takes no lock.
func Environment(ctx context.Context, opts Options) (*EnvContext, error) {
	r, err := openReadOnly(ctx, opts)
	if err != nil {
		return nil, err
	}
	cp := r.cp
	ec := &EnvContext{Repo: r.repo, Env: r.env, Commit: cp.Commit, Outputs: r.outputs}
	for _, c := range r.expanded.Clusters {
		ec.Clusters = append(ec.Clusters, r.envCluster(ctx, c))
	}
	return ec, nil
}

// Render renders cluster name of the environment with its Terraform outputs
// and its age key for SOPS files (without a key, an encrypted file is an
// error that names it).
func (e *EnvContext) Render(ctx context.Context, name string) (*blueprints.RenderedCluster, error) {
	opts := blueprints.RenderOptions{Outputs: e.Outputs}
	if env, err := e.Repo.Blueprint.Environment(e.Env); err == nil {
		opts.Keys, _ = LoadKeys(env)
	}
	return e.Repo.Render(ctx, e.Env, name, opts)
}

func (r *run) envCluster(ctx context.Context, c blueprints.Cluster) EnvCluster {
	ec := EnvCluster{Name: c.Name, Provider: c.Provider, State: cluster.Missing}
	if isFlux(c) {
		ec.Flux = c.Flux
	}
	if strings.Contains(c.Name, "{{") {
		ec.Reason = "its name comes from infra outputs that are missing"
		return ec
	}
	if p, err := r.provider(c, "status"); err == nil {
		info, err := p.Get(ctx, c.Name)
		if err != nil {
			ec.State, ec.Reason = cluster.Unhealthy, err.Error()
			return ec
		}
		ec.State, ec.Kubeconfig, ec.Reason = info.State, info.Kubeconfig, info.Reason
		if ec.State == cluster.Missing && ec.Reason == "" {
			ec.Reason = "the cluster does not exist"
		}
		return ec
	}
	// A provider this build lacks: the kubeconfig the run recorded.
	rec := r.cp.Cluster(c.Name)
	if rec == nil || rec.Kubeconfig == "" {
		ec.Reason = "no run recorded a kubeconfig for it"
		return ec
	}
	ec.Kubeconfig = rec.Kubeconfig
	_, ec.State, ec.Reason = cluster.Probe(ctx, rec.Kubeconfig, "")
	return ec
}
