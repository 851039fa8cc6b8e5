// Package kind is the cluster provider for real (container-based) local
// clusters, through the sigs.k8s.io/kind library. It needs Docker or Podman
// able to run privileged containers, and says so at once when there is none
// (ErrNoRuntime); the kwok provider is the one that works without.
//
// A cluster's kubeconfig is kept in <StateDir>/clusters/kind/<name>/kubeconfig
// (0600); ~/.kube/config is never touched.
package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// ProviderName is the name of this provider in Info and in blueprints.
const ProviderName = "kind"

// DefaultWaitTimeout bounds the wait for the control plane and the nodes.
const DefaultWaitTimeout = 5 * time.Minute

// Options configure the kind provider.
type Options struct {
	// StateDir is rekindle's state directory; empty means
	// $XDG_STATE_HOME/rekindle (~/.local/state/rekindle).
	StateDir string
	// Runtime is "docker", "podman" or "" (KIND_EXPERIMENTAL_PROVIDER, else
	// whichever of Docker and Podman works).
	Runtime string
	// Progress receives one call per finished stage of Create and Delete.
	Progress cluster.Progress
	// Log receives kind's messages; nil discards them.
	Log io.Writer
	// WaitTimeout bounds the wait for the nodes; 0 means DefaultWaitTimeout.
	WaitTimeout time.Duration
}

type provider struct {
	opts Options
	root string // <StateDir>/clusters/kind
}

// New returns the kind provider. It checks for a container runtime only when
// it needs one, so that constructing it never fails for lack of Docker.
func New(opts Options) (cluster.Provider, error) {
	abs, err := cluster.ResolveStateDir(opts.StateDir)
	if err != nil {
		return nil, err
	}
	opts.StateDir = abs
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	return &provider{opts: opts, root: filepath.Join(abs, "clusters", ProviderName)}, nil
}

func (p *provider) kubeconfigPath(name string) string {
	return filepath.Join(p.root, name, "kubeconfig")
}

func (p *provider) progress(stage string, start time.Time) {
	if p.opts.Progress != nil {
		p.opts.Progress(stage, time.Since(start))
	}
}

// kind returns a kind provider on a container runtime that works.
func (p *provider) kind(ctx context.Context, nodeImage string) (*kindcluster.Provider, error) {
	k, _, err := p.kindOn(ctx, nodeImage)
	return k, err
}

// kindOn is kind, with the runtime it found.
func (p *provider) kindOn(ctx context.Context, nodeImage string) (*kindcluster.Provider, runtime, error) {
	rt, err := detectRuntime(ctx, p.opts.Runtime, nodeImage)
	if err != nil {
		return nil, rt, err
	}
	return kindcluster.NewProvider(rt.option, kindcluster.ProviderWithLogger(newLogger(p.opts.Log))), rt, nil
}

// Create creates the kind cluster (or finds it), keeps its kubeconfig and
// waits until its nodes are Ready.
func (p *provider) Create(ctx context.Context, spec cluster.Spec) (cluster.Info, error) {
	info, err := p.create(ctx, spec)
	if err != nil {
		return info, fmt.Errorf("create kind cluster %q: %w", spec.Name, err)
	}
	return info, nil
}

func (p *provider) create(ctx context.Context, spec cluster.Spec) (cluster.Info, error) {
	info := cluster.Info{Name: spec.Name, Provider: ProviderName, State: cluster.Missing}
	if spec.Name == "" {
		return info, errors.New("a cluster name is required")
	}
	image, err := p.nodeImage(ctx, spec)
	if err != nil {
		return info, err
	}
	k, rt, err := p.kindOn(ctx, image)
	if err != nil {
		return info, err
	}
	kubeconfig := p.kubeconfigPath(spec.Name)
	if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o700); err != nil {
		return info, err
	}

	start := time.Now()
	names, err := k.List()
	if err != nil {
		return info, fmt.Errorf("list kind clusters: %w", err)
	}
	if slices.Contains(names, spec.Name) {
		if err := k.ExportKubeConfig(spec.Name, kubeconfig, false); err != nil {
			return info, fmt.Errorf("export kubeconfig: %w", err)
		}
		p.progress("cluster already exists", start)
	} else {
		cfg, err := clusterConfig(spec, cgroupVersion(ctx, rt.name))
		if err != nil {
			return info, err
		}
		opts := []kindcluster.CreateOption{
			kindcluster.CreateWithV1Alpha4Config(cfg),
			kindcluster.CreateWithKubeconfigPath(kubeconfig),
			kindcluster.CreateWithWaitForReady(p.opts.WaitTimeout),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		}
		if image != "" {
			opts = append(opts, kindcluster.CreateWithNodeImage(image))
		}
		if err := k.Create(spec.Name, opts...); err != nil {
			return info, err
		}
		p.progress("create kind cluster", start)
	}
	if err := os.Chmod(kubeconfig, 0o600); err != nil {
		return info, err
	}
	info.Kubeconfig = kubeconfig

	nodes, err := k.ListNodes(spec.Name)
	if err != nil {
		return info, fmt.Errorf("list nodes: %w", err)
	}
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return info, err
	}
	info.APIServer = cfg.Host
	wctx, cancel := context.WithTimeout(ctx, p.opts.WaitTimeout)
	defer cancel()
	if err := cluster.WaitReady(wctx, cfg, len(nodes), p.opts.Progress); err != nil {
		return info, err
	}
	info.State = cluster.Running
	return info, nil
}

// Delete deletes the kind cluster and its kubeconfig; a missing cluster is a no-op.
func (p *provider) Delete(ctx context.Context, name string) error {
	dir := filepath.Dir(p.kubeconfigPath(name))
	k, err := p.kind(ctx, "")
	if err != nil {
		if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
			return nil // nothing of ours, and no runtime where a cluster could be
		}
		return fmt.Errorf("delete kind cluster %q: %w", name, err)
	}
	start := time.Now()
	if err := k.Delete(name, p.kubeconfigPath(name)); err != nil {
		return fmt.Errorf("delete kind cluster %q: %w", name, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete kind cluster %q: %w", name, err)
	}
	p.progress("delete kind cluster", start)
	return nil
}

// Get reports the cluster's state.
func (p *provider) Get(ctx context.Context, name string) (cluster.Info, error) {
	k, err := p.kind(ctx, "")
	if err != nil {
		return cluster.Info{Name: name, Provider: ProviderName, State: cluster.Missing}, fmt.Errorf("get kind cluster %q: %w", name, err)
	}
	return p.get(ctx, k, name)
}

func (p *provider) get(ctx context.Context, k *kindcluster.Provider, name string) (cluster.Info, error) {
	info := cluster.Info{Name: name, Provider: ProviderName, State: cluster.Missing}
	names, err := k.List()
	if err != nil {
		return info, fmt.Errorf("get kind cluster %q: %w", name, err)
	}
	if !slices.Contains(names, name) {
		return info, nil
	}
	kubeconfig := p.kubeconfigPath(name)
	if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o700); err != nil {
		return info, err
	}
	if err := k.ExportKubeConfig(name, kubeconfig, false); err != nil {
		info.State, info.Reason = cluster.Unhealthy, fmt.Sprintf("export kubeconfig: %v", err)
		return info, nil
	}
	info.Kubeconfig = kubeconfig
	info.APIServer, info.State, info.Reason = cluster.Probe(ctx, kubeconfig, "")
	return info, nil
}

// List reports every kind cluster on the container runtime.
func (p *provider) List(ctx context.Context) ([]cluster.Info, error) {
	k, err := p.kind(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	names, err := k.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	sort.Strings(names)
	var out []cluster.Info
	for _, n := range names {
		info, err := p.get(ctx, k, n)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Capabilities of kind clusters: local, with real pods, and images loaded
// straight into their nodes (LoadImageArchive).
var Capabilities = cluster.Capabilities{Deletable: true, Local: true, LoadsImages: true}
