package app

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
)

func newStatusCmd(g *globals) *cobra.Command {
	var p pipelineFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show an environment's pipeline steps, its clusters and each agent's Sync status",
		Long: `Reads the environment's checkpoint and asks every cluster how it is: its
state and API address, how its agent runs, and the agent's Sync status
(Ready, applied commit, desired/applied/healthy objects). It changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := p.options(g)
			if err != nil {
				return err
			}
			opts.Events = nil
			st, err := bootstrap.Status(cmd.Context(), opts)
			if err != nil {
				return classify(err)
			}
			if g.output == "json" {
				return writeJSON(g.streams.Out, st)
			}
			w := g.streams.Out
			fmt.Fprintf(w, "environment %q of blueprint %q", st.Env, st.Blueprint)
			if st.Commit != "" {
				fmt.Fprintf(w, ", last run at commit %.12s", st.Commit)
			}
			fmt.Fprintln(w)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STEP\tDONE\tCOMPLETED\tDETAIL")
			for _, s := range st.Steps {
				when := "-"
				if s.Done {
					when = s.Completed.Local().Format("2006-01-02 15:04:05")
				}
				fmt.Fprintf(tw, "%s\t%t\t%s\t%s\n", s.Name, s.Done, when, s.Detail)
			}
			tw.Flush()
			fmt.Fprintln(w)
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLUSTER\tPROVIDER\tSTATE\tSTEPS\tAPI SERVER\tAGENT\tSYNC\tCOMMIT\tDESIRED\tHEALTHY")
			for _, c := range st.Clusters {
				ready, commit, desired, healthy := "-", "-", "-", "-"
				if c.Flux != nil {
					ready, commit = fluxReady(c.Flux)
				}
				if c.Sync != nil {
					ready = "Unknown"
					for _, cond := range c.Sync.Conditions {
						if cond.Type == agent.ConditionReady {
							ready = string(cond.Status)
							if cond.Status != "True" {
								ready += " (" + cond.Reason + ")"
							}
						}
					}
					commit = fmt.Sprintf("%.12s", c.Sync.LastAppliedCommit)
					desired, healthy = fmt.Sprint(c.Sync.Desired), fmt.Sprint(c.Sync.Healthy)
				}
				state := string(c.State)
				if c.Reason != "" {
					state += " (" + c.Reason + ")"
				}
				done := 0
				for _, s := range c.Steps {
					if s.Done {
						done++
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Provider, state, done, len(c.Steps), dash(c.APIServer), dash(c.Agent), ready, dash(commit), desired, healthy)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, c := range st.Clusters {
				if c.Metrics != "" {
					fmt.Fprintf(w, "%s: agent metrics at %s\n", c.Name, c.Metrics)
				}
			}
			for _, c := range st.Clusters {
				if c.Flux != nil {
					printFluxTree(w, c.Name, c.Flux)
				}
			}
			return nil
		},
	}
	p.add(cmd)
	return cmd
}
