package app

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/recovery"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var p pipelineFlags
	var commit string
	var againstBackup bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare every cluster of an environment with Git; exit 1 on any difference",
		Long: `Renders the blueprint at the commit of the environment's last run (or
--commit) and compares every cluster with it, object by object:

  present   the object exists
  matching  the fields Git sets equal Git (a server-side apply dry run with
            the agent's field manager would change nothing)
  healthy   the object is Current (kstatus: Deployments available, ...)

Helm releases must be deployed at the rendered chart version. With
--against-backup, each restore workload's Restore is also compared with
its Velero backup's contents: every object it covers present, and each one
Velero restored with the backup's data and spec (compared by digest; no
value is printed). recover and drill do this right after they restore; a
cluster that has lived since may rightly differ from its backup. A cluster
that is missing or does not answer is a difference. A Git blueprint is
fetched at the commit; a directory is read as it is. Nothing is changed.

Prints a table per cluster and then every difference; -o json prints the
report as one JSON object. Exit 1 when anything differs, 0 when all match.`,
		Example: `  rekindle verify --blueprint blueprints/examples/local --env dev
  rekindle verify -b https://git.example.com/platform/fleet.git -e prod --commit 3f2c1a9 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := p.options(g)
			if err != nil {
				return err
			}
			rep, err := recovery.Verify(cmd.Context(), opts, recovery.VerifyOptions{Commit: commit, AgainstBackup: againstBackup})
			if err != nil {
				return classify(err)
			}
			if g.output == "json" {
				if err := writeJSON(g.streams.Out, rep); err != nil {
					return err
				}
			} else {
				printVerify(g, rep)
			}
			if !rep.Passed {
				bad := 0
				for _, c := range rep.Clusters {
					if !c.OK() {
						bad++
					}
				}
				return &verifyFailedError{differences: len(rep.Differences()), clusters: bad}
			}
			return nil
		},
	}
	p.sourceFlags.add(cmd, false)
	f := cmd.Flags()
	f.BoolVar(&againstBackup, "against-backup", false, "also compare what restore workloads brought back with their Velero backups' contents")
	f.StringVar(&commit, "commit", "", "compare with the blueprint at this commit (default: the commit of the environment's last run)")
	f.StringVar(&p.terraform, "terraform", "", "terraform binary, to read the infra outputs (default: terraform on PATH)")
	f.StringVar(&p.toolsDir, "tools-dir", "", "directory of the kwok cluster binaries (default: REKINDLE_TOOLS_DIR or ~/.cache/rekindle/tools/<version>/bin)")
	return cmd
}

// printVerify prints the per-cluster table, then every difference.
func printVerify(g *globals, rep *recovery.VerifyReport) {
	w := g.streams.Out
	fmt.Fprintf(w, "environment %q of blueprint %q", rep.Env, rep.Blueprint)
	if rep.Commit != "" {
		fmt.Fprintf(w, " at commit %.12s", rep.Commit)
	}
	if rep.RecordedCommit != "" && rep.RecordedCommit != rep.Commit {
		fmt.Fprintf(w, " (its last run was at %.12s)", rep.RecordedCommit)
	}
	fmt.Fprintf(w, ", verified in %s\n", round(rep.Duration))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tDESIRED\tPRESENT\tMATCHING\tHEALTHY")
	for _, c := range rep.Clusters {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", c.Cluster, c.Desired, c.Present, c.Matching, c.Healthy)
	}
	tw.Flush()
	for _, c := range rep.Clusters {
		if len(c.Restores) > 0 {
			fmt.Fprintf(w, "%s: %s\n", c.Cluster, bootstrap.RestoredNote(c.Restores))
		}
	}
	diffs := rep.Differences()
	if len(diffs) == 0 {
		fmt.Fprintln(w, "\nevery object is present, matches Git and is healthy")
		return
	}
	fmt.Fprintf(w, "\n%d difference(s):\n", len(diffs))
	for _, d := range diffs {
		fmt.Fprintf(w, "  %s\n", d)
	}
}

// verifyFailedError is a verification that ran and found differences: exit 1.
type verifyFailedError struct{ differences, clusters int }

func (e *verifyFailedError) Error() string {
	return fmt.Sprintf("live state differs from Git: %d difference(s) in %d cluster(s)", e.differences, e.clusters)
}

func (e *verifyFailedError) ExitCode() int { return ExitFailed }
