package app

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

type clusterFlags struct {
	provider string
	name     string
	nodes    int
	toolsDir string
}

func newClusterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Create, delete and list local clusters (kwok, kind) outside any blueprint",
	}
	cmd.AddCommand(newClusterCreateCmd(g), newClusterDeleteCmd(g), newClusterListCmd(g))
	return asGroup(cmd)
}

func (f *clusterFlags) add(cmd *cobra.Command, withName bool) {
	cmd.Flags().StringVar(&f.provider, "provider", "kwok", "cluster provider: kwok (no container runtime needed) or kind (Docker or Podman)")
	if withName {
		cmd.Flags().StringVar(&f.name, "name", "rekindle", "cluster name")
	}
	cmd.Flags().StringVar(&f.toolsDir, "tools-dir", "", "directory of the kwok cluster binaries (default: REKINDLE_TOOLS_DIR or ~/.cache/rekindle/tools/<version>/bin)")
}

func (f *clusterFlags) newProvider(g *globals) (cluster.Provider, error) {
	switch f.provider {
	case "kwok", "kind":
	default:
		return nil, usageErrorf("--provider must be kwok or kind, got %q", f.provider)
	}
	prog := newProgress(g)
	opts := bootstrap.ProviderOptions{
		StateDir:       g.stateDir,
		ToolsDir:       f.toolsDir,
		ToolsModuleDir: toolsModuleDir(),
		Progress: func(stage string, took time.Duration) {
			prog.observe(bootstrap.Event{Time: time.Now(), Step: "cluster", Status: bootstrap.StatusInfo, Cluster: f.name, Detail: stage, Duration: took})
		},
	}
	if g.verbosity >= 4 {
		opts.Log = g.streams.Err
	}
	if !g.quiet {
		opts.BuildLog = g.streams.Err
	}
	return bootstrap.NewProvider(f.provider, opts)
}

func newClusterCreateCmd(g *globals) *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a cluster and wait until its nodes are Ready",
		Example: `  rekindle cluster create --provider kwok --name demo --nodes 3
  export KUBECONFIG=$(rekindle cluster list -o json | jq -r 'select(.name=="demo").kubeconfig')`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.newProvider(g)
			if err != nil {
				return err
			}
			start := time.Now()
			info, err := p.Create(cmd.Context(), cluster.Spec{Name: f.name, Nodes: f.nodes})
			if err != nil {
				return fmt.Errorf("create %s cluster %q: %w", f.provider, f.name, err)
			}
			if g.output == "json" {
				return writeJSON(g.streams.Out, info)
			}
			fmt.Fprintf(g.streams.Out, "cluster %q (%s) is ready in %s at %s\n\n  export KUBECONFIG=%s\n  kubectl get nodes\n", info.Name, info.Provider, round(time.Since(start)), info.APIServer, info.Kubeconfig)
			return nil
		},
	}
	f.add(cmd, true)
	cmd.Flags().IntVar(&f.nodes, "nodes", 1, "number of nodes (kwok: simulated nodes)")
	return cmd
}

func newClusterDeleteCmd(g *globals) *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a cluster and everything kept for it (a missing cluster is not an error)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.newProvider(g)
			if err != nil {
				return err
			}
			if err := p.Delete(cmd.Context(), f.name); err != nil {
				return fmt.Errorf("delete %s cluster %q: %w", f.provider, f.name, err)
			}
			if g.output != "json" {
				fmt.Fprintf(g.streams.Out, "cluster %q (%s) deleted\n", f.name, f.provider)
			}
			return nil
		},
	}
	f.add(cmd, true)
	return cmd
}

func newClusterListCmd(g *globals) *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List clusters with their provider, state and API address",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.newProvider(g)
			if err != nil {
				return err
			}
			infos, err := p.List(cmd.Context())
			if err != nil {
				return fmt.Errorf("list %s clusters: %w", f.provider, err)
			}
			if g.output == "json" {
				for _, i := range infos {
					if err := writeJSON(g.streams.Out, i); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROVIDER\tSTATE\tAPI SERVER\tKUBECONFIG")
			for _, i := range infos {
				state := string(i.State)
				if i.Reason != "" {
					state += " (" + i.Reason + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", i.Name, i.Provider, state, dash(i.APIServer), dash(i.Kubeconfig))
			}
			return tw.Flush()
		},
	}
	f.add(cmd, false)
	return cmd
}
