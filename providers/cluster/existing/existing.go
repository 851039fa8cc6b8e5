// Package existing is the cluster provider for a cluster that rekindle did not
// create: it is reached through a kubeconfig and context, checked, and never
// created or deleted.
package existing

import (
	"context"
	"errors"
	"fmt"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// ProviderName is the name of this provider in Info and in blueprints.
const ProviderName = "existing"

// Options select the cluster.
type Options struct {
	// Kubeconfig is the kubeconfig file; empty means KUBECONFIG, then ~/.kube/config.
	Kubeconfig string
	// Context is the kubeconfig context; empty means the current one.
	Context string
	// Name is the cluster's name in rekindle; empty means the context's name.
	Name string
}

// ErrNotOwned is returned by Delete.
var ErrNotOwned = errors.New("rekindle never deletes a cluster it did not create")

type provider struct {
	opts Options
}

// New returns the provider for one existing cluster. A Spec's Kubeconfig and
// Context, when set, override Options for that call.
func New(opts Options) (cluster.Provider, error) {
	return &provider{opts: opts}, nil
}

func (p *provider) target(spec cluster.Spec) (name, kubeconfig, kubeContext string) {
	kubeconfig, kubeContext, name = p.opts.Kubeconfig, p.opts.Context, p.opts.Name
	if spec.Kubeconfig != "" {
		kubeconfig = spec.Kubeconfig
	}
	if spec.Context != "" {
		kubeContext = spec.Context
	}
	if spec.Name != "" {
		name = spec.Name
	}
	if name == "" {
		name = kubeContext
	}
	return name, kubeconfig, kubeContext
}

// Create checks that the cluster's API server answers; it changes nothing.
func (p *provider) Create(ctx context.Context, spec cluster.Spec) (cluster.Info, error) {
	name, kubeconfig, kubeContext := p.target(spec)
	info := p.probe(ctx, name, kubeconfig, kubeContext)
	if info.State != cluster.Running {
		return info, fmt.Errorf("existing cluster %q (kubeconfig %q, context %q) is not usable: %s", name, kubeconfig, kubeContext, info.Reason)
	}
	return info, nil
}

// Delete refuses: the cluster belongs to someone else.
func (p *provider) Delete(ctx context.Context, name string) error {
	return fmt.Errorf("delete existing cluster %q: %w", name, ErrNotOwned)
}

// Get reports whether the cluster answers, within a few seconds.
func (p *provider) Get(ctx context.Context, name string) (cluster.Info, error) {
	n, kubeconfig, kubeContext := p.target(cluster.Spec{Name: name})
	return p.probe(ctx, n, kubeconfig, kubeContext), nil
}

// List returns the one cluster.
func (p *provider) List(ctx context.Context) ([]cluster.Info, error) {
	info, err := p.Get(ctx, "")
	if err != nil {
		return nil, err
	}
	return []cluster.Info{info}, nil
}

func (p *provider) probe(ctx context.Context, name, kubeconfig, kubeContext string) cluster.Info {
	info := cluster.Info{Name: name, Provider: ProviderName, Kubeconfig: kubeconfig}
	info.APIServer, info.State, info.Reason = cluster.Probe(ctx, kubeconfig, kubeContext)
	return info
}

// Capabilities of existing clusters: rekindle did not make them and never
// deletes or replaces them.
var Capabilities = cluster.Capabilities{}
