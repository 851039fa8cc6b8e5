package bootstrap

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/capi"
	"github.com/rekindle-dev/rekindle/providers/cluster/existing"
	"github.com/rekindle-dev/rekindle/providers/cluster/kind"
	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
)

// ProviderOptions are what every cluster provider may need.
type ProviderOptions struct {
	StateDir       string
	ToolsDir       string
	ToolsModuleDir string
	Progress       cluster.Progress
	Log            io.Writer
	// BuildLog shows the build of missing kwok binaries (minutes long).
	BuildLog io.Writer
	// Kubeconfig and Context point the existing provider at its cluster.
	Kubeconfig string
	Context    string
	// CAPI configures the capi provider: the management cluster's
	// kubeconfig and the blueprint's capi settings, paths made absolute.
	CAPI *capi.Options
}

// providerKind is one cluster provider: how to make it, what its clusters can do.
type providerKind struct {
	caps cluster.Capabilities
	make func(opts ProviderOptions) (cluster.Provider, error)
}

// providerKinds are the providers of this build, by the name a blueprint's
// clusters[].provider uses. This table is the only place that knows them by
// name; the pipeline asks Capabilities.
var providerKinds = map[string]providerKind{
	"kwok": {kwok.Capabilities, func(opts ProviderOptions) (cluster.Provider, error) {
		return kwok.New(kwok.Options{
			StateDir:       opts.StateDir,
			BinDir:         opts.ToolsDir,
			Progress:       opts.Progress,
			Log:            opts.Log,
			BuildIfMissing: opts.ToolsModuleDir != "",
			ToolsModuleDir: opts.ToolsModuleDir,
			BuildLog:       opts.BuildLog,
		})
	}},
	"kind": {kind.Capabilities, func(opts ProviderOptions) (cluster.Provider, error) {
		return kind.New(kind.Options{StateDir: opts.StateDir, Progress: opts.Progress, Log: opts.Log})
	}},
	"existing": {existing.Capabilities, func(opts ProviderOptions) (cluster.Provider, error) {
		return existing.New(existing.Options{Kubeconfig: expandHome(opts.Kubeconfig), Context: opts.Context})
	}},
	"capi": {capi.Capabilities, func(opts ProviderOptions) (cluster.Provider, error) {
		if opts.CAPI == nil {
			return nil, fmt.Errorf("cluster provider capi needs its management cluster, which this command does not reach")
		}
		o := *opts.CAPI
		o.StateDir, o.Progress, o.Log = opts.StateDir, opts.Progress, opts.Log
		return capi.New(o)
	}},
}

// NewProvider returns the provider called name.
func NewProvider(name string, opts ProviderOptions) (cluster.Provider, error) {
	k, ok := providerKinds[name]
	if !ok {
		return nil, fmt.Errorf("cluster provider %q is not available in this build", name)
	}
	return k.make(opts)
}

// Capabilities returns what clusters of provider name can do; an unknown
// provider can do nothing.
func Capabilities(name string) cluster.Capabilities { return providerKinds[name].caps }

// provider returns the provider of cluster c (as expanded), reporting its
// stages as info events of step.
func (r *run) provider(c blueprints.Cluster, step string) (cluster.Provider, error) {
	opts := ProviderOptions{
		StateDir:       r.opts.StateDir,
		ToolsDir:       r.opts.ToolsDir,
		ToolsModuleDir: r.opts.ToolsModuleDir,
		Progress:       stageEvents(r.opts.Events, step, c.Name),
		Log:            r.opts.Log,
		BuildLog:       r.opts.BuildLog,
	}
	if c.Existing != nil {
		opts.Kubeconfig, opts.Context = c.Existing.Kubeconfig, c.Existing.Context
	}
	if c.CAPI != nil {
		o, err := r.capiOptions(c)
		if err != nil {
			return nil, err
		}
		opts.CAPI = o
	}
	return NewProvider(c.Provider, opts)
}

// capiOptions turns a blueprint's capi settings into provider options. The
// management cluster must have been created (or found) earlier in this
// environment: its kubeconfig comes from the checkpoint.
func (r *run) capiOptions(c blueprints.Cluster) (*capi.Options, error) {
	bc := c.CAPI
	r.mu.Lock()
	var kubeconfig string
	if rec := r.cp.Cluster(bc.Management); rec != nil {
		kubeconfig = rec.Kubeconfig
	}
	r.mu.Unlock()
	if kubeconfig == "" {
		return nil, fmt.Errorf("cluster %q: its management cluster %q has not been created yet (it must come earlier in the environment's clusters)", c.Name, bc.Management)
	}
	o := &capi.Options{ManagementKubeconfig: kubeconfig, ManagementName: bc.Management, Namespace: bc.Namespace}
	if bc.Providers != nil {
		o.Providers = capi.Providers{Core: bc.Providers.Core, Bootstrap: bc.Providers.Bootstrap, ControlPlane: bc.Providers.ControlPlane, Infrastructure: bc.Providers.Infrastructure}
	}
	for _, f := range []struct {
		field, rel string
		dst        *string
	}{{"capi.manifests", bc.Manifests, &o.Manifests}, {"capi.clusterctlConfig", bc.ClusterctlConfig, &o.ClusterctlConfig}, {"capi.repository", bc.Repository, &o.Repository}} {
		if f.rel == "" {
			continue
		}
		p, err := r.repo.Path(f.rel)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: %s: %w", c.Name, f.field, err)
		}
		*f.dst = p
	}
	return o, nil
}

// expandHome turns a leading ~/ into the home directory.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// clusterSpec turns a blueprint cluster into a provider spec.
func clusterSpec(repo *blueprints.Repo, c blueprints.Cluster) (cluster.Spec, error) {
	spec := cluster.Spec{Name: c.Name}
	if c.Kwok != nil {
		spec.Nodes = c.Kwok.Nodes
	}
	if c.Kind != nil {
		spec.NodeImage = c.Kind.NodeImage
		if c.Kind.Config != "" {
			p, err := repo.Path(c.Kind.Config)
			if err != nil {
				return spec, fmt.Errorf("cluster %q: kind.config: %w", c.Name, err)
			}
			spec.Config = p
		}
	}
	if c.Existing != nil {
		spec.Kubeconfig = expandHome(c.Existing.Kubeconfig)
		spec.Context = c.Existing.Context
	}
	return spec, nil
}

// stageEvents turns a provider's stage reports into info events.
func stageEvents(obs Observer, step, clusterName string) cluster.Progress {
	return func(stage string, took time.Duration) {
		obs(Event{Time: time.Now(), Step: step, Status: StatusInfo, Cluster: clusterName, Detail: stage, Duration: took})
	}
}
