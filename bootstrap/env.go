package bootstrap

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// Env is an environment as a pipeline sees it: its blueprint clusters
// (named with the Terraform outputs), their providers and host agents, and
// its state. Steps that live outside this package (recovery's detect, a
// drill's loss) work through it.
type Env struct{ r *run }

// OpenEnv fetches the blueprint of opts, takes the environment's lock and
// reads its checkpoint and Terraform outputs. Close releases the lock.
func OpenEnv(ctx context.Context, opts Options) (*Env, error) {
	opts.defaults()
	r := &run{opts: opts, started: time.Now()}
	if err := r.open(ctx); err != nil {
		r.close()
		return nil, err
	}
	e := &Env{r: r}
	e.ReadOutputs(ctx)
	return e, nil
}

// Close releases the environment's lock.
func (e *Env) Close() { e.r.close() }

// Name is the environment's name.
func (e *Env) Name() string { return e.r.env }

// Events is where progress goes.
func (e *Env) Events() Observer { return e.r.opts.Events }

// Clusters are the environment's clusters, named with the outputs.
func (e *Env) Clusters() []blueprints.Cluster { return e.r.expanded.Clusters }

// Cluster returns the cluster called name; ok is false when the blueprint
// has none (a cluster the checkpoint still records keeps its provider).
func (e *Env) Cluster(name string) (blueprints.Cluster, bool) {
	for _, c := range e.r.expanded.Clusters {
		if c.Name == name {
			return c, true
		}
	}
	if p := e.r.providerName(name); p != "" {
		return blueprints.Cluster{Name: name, Provider: p}, true
	}
	return blueprints.Cluster{Name: name}, false
}

// ClusterNames lists the blueprint's clusters and any the checkpoint
// recorded besides.
func (e *Env) ClusterNames() []string { return e.r.clusterNames() }

// ReadOutputs reads the Terraform outputs from the state, when there is one,
// and names the clusters with them.
func (e *Env) ReadOutputs(ctx context.Context) {
	if tf, err := e.r.provisioner(ctx); err == nil && tf != nil && fileExists(e.r.paths.terraform) {
		if out, err := tf.Outputs(ctx); err == nil && len(out.Values) > 0 {
			e.r.outputs = out.Values
		}
	}
	e.r.expand()
}

// InfraStateMissing is set when the environment has Terraform infra but no
// state under the state dir: rebuilding would then create a second copy of
// infrastructure that may still exist.
func (e *Env) InfraStateMissing() (string, bool) {
	env, _ := e.r.repo.Blueprint.Environment(e.r.env)
	has := env.Infra != nil && env.Infra.Terraform != nil
	return e.r.paths.terraform, has && !fileExists(e.r.paths.terraform)
}

// Provider returns the provider of c, reporting its stages as info events
// of step.
func (e *Env) Provider(c blueprints.Cluster, step string) (cluster.Provider, error) {
	return e.r.provider(c, step)
}

// HostAgent reports whether c gets a host-process agent and, if so,
// whether it runs.
func (e *Env) HostAgent(c blueprints.Cluster) (host, running bool) {
	if !e.r.hostAgentFor(c) {
		return false, false
	}
	_, running = newHostAgent(e.r.paths.agents, c.Name).pid()
	return true, running
}

// StopHostAgent stops the host-process agent of cluster name, if one runs.
func (e *Env) StopHostAgent(name string) error {
	if err := newHostAgent(e.r.paths.agents, name).stop(); err != nil {
		return fmt.Errorf("stop the host agent of cluster %q: %w", name, err)
	}
	if err := e.r.fluxControllers(name, "").Stop(); err != nil {
		return fmt.Errorf("stop the Flux controllers of cluster %q: %w", name, err)
	}
	return nil
}

// blueprintCluster returns the expanded blueprint cluster called name.
func (r *run) blueprintCluster(name string) blueprints.Cluster {
	for _, c := range r.expanded.Clusters {
		if c.Name == name {
			return c
		}
	}
	return blueprints.Cluster{Name: name}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
