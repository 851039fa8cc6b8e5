package app

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/recovery"
)

func newRecoverCmd(g *globals) *cobra.Command {
	var p pipelineFlags
	var allowReplace, dryRun bool
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
recovery.rto. Exit 1 when recovery fails or the objective is missed.

--dry-run detects what is lost and prints what each step would do (the
Terraform plan included), changing nothing: no lock, no checkpoint, no
cluster created or deleted.`,
		Example: `  rekindle recover --blueprint blueprints/examples/local --env dev

  # what is lost, and what a recovery would rebuild
  rekindle recover --blueprint blueprints/examples/local --env dev --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := p.options(g)
			if err != nil {
				return err
			}
			opts.AllowReplace, opts.DryRun = allowReplace, dryRun
			res, err := recovery.Recover(cmd.Context(), opts)
			if res != nil && res.Summary != nil && res.Summary.Env != "" {
				switch {
				case g.output == "json":
					writeJSON(g.streams.Out, map[string]any{"event": "recovery", "result": res})
				case dryRun:
					printLosses(g.streams.Out, res.Summary.Losses)
					printSummary(g, res.Summary)
				default:
					printSummary(g, res.Summary)
					printRTO(g.streams.Out, *res.RTO)
				}
			}
			return classify(err)
		},
	}
	p.add(cmd)
	cmd.Flags().BoolVar(&allowReplace, "allow-replace", false, "let Terraform replace or destroy existing infrastructure")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what is lost and what recovery would rebuild, and change nothing")
	return cmd
}

// printLosses prints what detect found, one line per cluster.
func printLosses(w io.Writer, losses []bootstrap.Loss) {
	if len(losses) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tLOST\tDETAIL")
	for _, l := range losses {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Cluster, dash(l.What), l.Detail)
	}
	tw.Flush()
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
