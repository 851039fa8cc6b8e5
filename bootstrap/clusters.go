package bootstrap

import (
	"fmt"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
)

// ProviderOptions are what every cluster provider may need.
type ProviderOptions struct {
	StateDir       string
	ToolsDir       string
	ToolsModuleDir string
	Progress       cluster.Progress
	Log            interface{ Write([]byte) (int, error) }
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
	default:
		return nil, fmt.Errorf("cluster provider %q is not available in this build", name)
	}
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
		spec.Kubeconfig = c.Existing.Kubeconfig
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
