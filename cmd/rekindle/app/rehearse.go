package app

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/recovery"
)

func newRehearseCmd(g *globals) *cobra.Command {
	var p pipelineFlags
	var o recovery.RehearseOptions
	cmd := &cobra.Command{
		Use:   "rehearse",
		Short: "Run any environment of a blueprint on local clusters, to try a change before it matters",
		Long: `Runs the whole pipeline for an environment on local clusters: every cluster's
provider is replaced (by default kind where a container runtime works, kwok
otherwise), Terraform runs when its module needs no cloud provider and is
skipped with a notice when it does (cluster names from its outputs become
placeholders). Everything lives under <state-dir>/rehearsals, apart from the
real environment. The rehearsal is torn down at the end unless --keep.`,
		Example: `  rekindle rehearse --blueprint https://git.example.com/platform/fleet.git --env prod --ref my-change`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := p.options(g)
			if err != nil {
				return err
			}
			o.Options = opts
			sum, err := recovery.Rehearse(cmd.Context(), o)
			printSummary(g, sum)
			if err == nil && g.output != "json" && !o.Keep {
				fmt.Fprintln(g.streams.Out, "\nrehearsal passed and was torn down (--keep to leave it running)")
			}
			return classify(err)
		},
	}
	p.add(cmd)
	cmd.Flags().StringVar(&o.Provider, "provider", "auto", "local cluster provider: auto (kind where Docker or Podman works, else kwok), kwok or kind")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the rehearsal running")
	return cmd
}
