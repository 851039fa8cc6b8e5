package app

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/recovery"
)

func newDrillCmd(g *globals) *cobra.Command {
	var p pipelineFlags
	var o recovery.DrillOptions
	var scope string
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Run a disaster-recovery drill: destroy, recover, verify, report the RTO, tear down",
		Long: `A full DR drill on one environment:

  up (bootstrap create, resuming if the environment exists) -> baseline check
  -> lose (delete the clusters in --scope) -> recover (timed, per phase)
  -> verify -> teardown (unless --keep; it runs even when the drill fails)

Reports go to --report-dir: drill.json (machines), junit.xml (CI test tab: a
testcase per phase and per cluster), drill.md and drill.html (people: one
self-contained page with the timeline, one lane per cluster, the RTO against
its objective, the RTO trend and every object's verification). Each drill's
RTO is appended to a history file under --state-dir and the trend is shown.
When $GITHUB_STEP_SUMMARY is set, the Markdown report is appended to it.

--notify posts a JSON summary (result, RTO, objective, failing phases, the
--report-url link) to a webhook, or Slack's {"text": ...} with
--notify-format slack; --metrics-file writes Prometheus metrics for
node_exporter's textfile collector and --pushgateway pushes them. Both retry
with a bounded backoff; neither fails the drill (a warning on stderr).
Exit 1 when verification fails or the RTO objective is missed.`,
		Example: `  rekindle drill --blueprint blueprints/examples/local --env dev --rto 2m --report-dir _out/drill
  rekindle drill -b https://git.example.com/platform/fleet.git -e staging --scope edge --keep
  rekindle drill -b . -e dev --report-dir _out/drill --notify "$WEBHOOK_URL" --notify-format slack \
    --report-url "$CI_JOB_URL" --metrics-file /var/lib/node_exporter/textfile/rekindle.prom`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := p.options(g)
			if err != nil {
				return err
			}
			o.Options = opts
			o.StepSummary = os.Getenv("GITHUB_STEP_SUMMARY")
			o.Warn = g.streams.Err
			if err := o.Notify.Validate(); err != nil {
				return usageErrorf("--notify/--notify-format: %v", err)
			}
			if err := o.Pushgateway.Validate(); err != nil {
				return usageErrorf("--pushgateway: %v", err)
			}
			if scope != "" && scope != "all" {
				o.Clusters = strings.Split(scope, ",")
			}
			rep, err := recovery.Drill(cmd.Context(), o)
			if g.output == "json" {
				writeJSON(g.streams.Out, map[string]any{"event": "drill", "report": rep})
			} else if rep != nil {
				fmt.Fprint(g.streams.Out, "\n"+rep.Text())
				if o.ReportDir != "" {
					fmt.Fprintf(g.streams.Out, "\nReports: %s/{drill.json,junit.xml,drill.md,drill.html}\n", o.ReportDir)
				}
			}
			if errors.Is(err, recovery.ErrDrillFailed) {
				return err
			}
			return classify(err)
		},
	}
	p.add(cmd)
	f := cmd.Flags()
	f.StringVar(&scope, "scope", "all", "clusters to destroy: all, or a comma-separated list of cluster names")
	f.DurationVar(&o.Objective, "rto", 0, "recovery time objective (default: the environment's recovery.rto)")
	f.BoolVar(&o.Keep, "keep", false, "leave the environment running after the drill")
	f.BoolVar(&o.Backup, "backup", false, "before the loss, take a fresh Velero backup through each restore workload's schedule and wait for it (docs/state.md)")
	f.StringVar(&o.ReportDir, "report-dir", "", "write drill.json, junit.xml, drill.md and drill.html here")
	f.StringVar(&o.Notify.URL, "notify", "", "webhook to POST a summary of the drill to (never printed: it may hold a token)")
	f.StringVar(&o.Notify.Format, "notify-format", recovery.NotifyJSON, "notification body: json, or slack ({\"text\": ...} for an incoming webhook)")
	f.StringVar(&o.Notify.ReportURL, "report-url", "", "link to the drill's report (CI job or artifact page) to put in the notification")
	f.StringVar(&o.MetricsFile, "metrics-file", "", "write Prometheus metrics here (textfile collector format, written atomically)")
	f.StringVar(&o.Pushgateway.URL, "pushgateway", "", "Prometheus Pushgateway URL to push the same metrics to (job rekindle_drill)")
	f.StringVar(&o.HistoryFile, "history", "", "drill history file (default: <state-dir>/envs/<blueprint>/<env>/drills.jsonl)")
	return cmd
}
