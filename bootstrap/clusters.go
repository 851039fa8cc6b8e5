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
	// Kubeconfig and Context point the existing provider at its cluster.
	Kubeconfig string
	Context    string
}

// NewProvider returns the provider called name.
func NewProvider(name string, opts ProviderOptions) (cluster.Provider, error) {
	switch name {
	case "kwok":
		return kwok.New(kwok.Options{
			StateDir:       opts.StateDir,
			BinDir:         opts.ToolsDir,
			Progress:       opts.Progress,
			Log:            opts.Log,
			BuildIfMissing: opts.ToolsModuleDir != "",
			ToolsModuleDir: opts.ToolsModuleDir,
		})
	case "kind":
		return kind.New(kind.Options{StateDir: opts.StateDir, Progress: opts.Progress, Log: opts.Log})
	case "existing":
		return existing.New(existing.Options{Kubeconfig: expandHome(opts.Kubeconfig), Context: opts.Context})
	default:
		return nil, fmt.Errorf("cluster provider %q is not available in this build", name)
	}
}

// provider returns the provider of cluster c (as expanded), reporting its
// stages as info events of step.
func (r *run) provider(c blueprints.Cluster, step string) (cluster.Provider, error) {
	opts := ProviderOptions{
		StateDir:       r.opts.StateDir,
		ToolsDir:       r.opts.ToolsDir,
		ToolsModuleDir: r.opts.ToolsModuleDir,
		Progress:       stageEvents(r.opts.Events, step, c.Name),
		Log:            r.opts.Log,
	}
	if c.Existing != nil {
		opts.Kubeconfig, opts.Context = c.Existing.Kubeconfig, c.Existing.Context
	}
	return NewProvider(c.Provider, opts)
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
