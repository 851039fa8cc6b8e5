package app

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/recovery"
)

func newRecoverCmd(g *globals) *cobra.Command {
	var p pipelineFlags
	var allowReplace bool
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Rebuild what is lost of an environment from Git, verify it, and time it",
		Long: `Detects what is lost (a cluster missing or not answering, its agent, its
workloads) and rebuilds only that: Terraform restores missing infrastructure
from the state kept under --state-dir (a plan that would replace or destroy
existing infrastructure stops unless --allow-replace), lost clusters are
recreated, the agent is put back, the replay is awaited and verified. Healthy
clusters are only re-synced. rekindle reads Git; it never writes to it.

Every phase is timed; the total is compared with the environment's
recovery.rto. Exit 1 when recovery fails or the objective is missed.`,
		Example: `  rekindle recover --blueprint blueprints/examples/local --env dev`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := p.options(g)
			if err != nil {
				return err
			}
			opts.AllowReplace = allowReplace
			res, err := recovery.Recover(cmd.Context(), opts)
			if res != nil && res.Summary != nil && res.Summary.Env != "" {
				if g.output == "json" {
					writeJSON(g.streams.Out, map[string]any{"event": "recovery", "result": res})
				} else {
					printSummary(g, res.Summary)
					printRTO(g.streams.Out, res.RTO)
				}
			}
			return classify(err)
		},
	}
	p.add(cmd)
	cmd.Flags().BoolVar(&allowReplace, "allow-replace", false, "let Terraform replace or destroy existing infrastructure")
	return cmd
}

// printRTO prints the phase timings and the total against the objective.
func printRTO(w io.Writer, rto recovery.RTO) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tDURATION\tSTATUS")
	for _, ph := range rto.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ph.Name, round(ph.Duration), ph.Status)
	}
	tw.Flush()
	verdict := "MET"
	if !rto.Met {
		verdict = "MISSED"
	}
	if rto.Objective <= 0 {
		verdict = "no objective set (recovery.rto)"
	}
	fmt.Fprintf(w, "RTO: %s: %s\n", verdict, rto.Overage())
}
