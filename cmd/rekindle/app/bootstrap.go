package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/backupstore"
)

// pipelineFlags are the flags of every command that runs the pipeline.
type pipelineFlags struct {
	sourceFlags
	terraform     string
	toolsDir      string
	replayTimeout time.Duration
	parallel      int
	agentImage    string
	loadImages    []string
}

func (p *pipelineFlags) add(cmd *cobra.Command) {
	p.sourceFlags.add(cmd, false)
	f := cmd.Flags()
	f.StringVar(&p.terraform, "terraform", "", "terraform binary (default: terraform on PATH)")
	f.StringVar(&p.toolsDir, "tools-dir", "", "directory of the kwok cluster binaries (default: REKINDLE_TOOLS_DIR or ~/.cache/rekindle/tools/<version>/bin)")
	f.DurationVar(&p.replayTimeout, "replay-timeout", 10*time.Minute, "how long to wait for each cluster's workloads to be applied and healthy")
	f.IntVar(&p.parallel, "parallel", 0, "how many clusters to create (and install agents on) at once; replays are awaited side by side regardless. "+
		"0: 4 per CPU core when any cluster is local (kwok, kind), else 16")
	f.StringVar(&p.agentImage, "agent-image", "", "image of in-cluster agents, over each cluster's agent.image (default: "+bootstrap.ReleasedImage("<version>")+"); build one with 'rekindle agent image --push'")
	f.StringArrayVar(&p.loadImages, "load-image", nil, "an image archive (OCI layout or docker save tarball) to load into the nodes of every cluster that loads images (kind) before its agent starts, so workloads need no registry; repeatable")
}

// options builds bootstrap options from the flags, with progress on stderr.
func (p *pipelineFlags) options(g *globals) (bootstrap.Options, error) {
	prog := newProgress(g)
	src, err := p.source(g)
	if err != nil {
		return bootstrap.Options{}, err
	}
	opts := bootstrap.Options{
		Source:        src,
		Env:           p.env,
		StateDir:      g.stateDir,
		Events:        prog.observe,
		Terraform:     p.terraform,
		ToolsDir:      p.toolsDir,
		ReplayTimeout: p.replayTimeout,
		Parallel:      p.parallel,
		AgentImage:    p.agentImage,
	}
	if p.parallel < 0 {
		return bootstrap.Options{}, usageErrorf("--parallel must be 0 (the default) or more, got %d", p.parallel)
	}
	for _, f := range p.loadImages {
		abs, err := filepath.Abs(f)
		if err == nil {
			var fi os.FileInfo
			if fi, err = os.Stat(abs); err == nil && !fi.Mode().IsRegular() {
				err = fmt.Errorf("not a file")
			}
		}
		if err != nil {
			return bootstrap.Options{}, usageErrorf("--load-image %s: %v", f, err)
		}
		opts.LoadImages = append(opts.LoadImages, abs)
	}
	opts.Version, _ = Version()
	if g.verbosity >= 4 {
		opts.Log = g.streams.Err
	}
	if !g.quiet {
		opts.BuildLog = g.streams.Err
	}
	if dir := toolsModuleDir(); dir != "" {
		opts.ToolsModuleDir = dir
	}
	return opts, nil
}

// toolsModuleDir finds hack/tools of a rekindle checkout around the working
// directory, so missing kwok binaries can be built.
func toolsModuleDir() string {
	if d := os.Getenv("REKINDLE_TOOLS_MODULE"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "hack", "tools", "go.mod")); err == nil {
			return filepath.Join(d, "hack", "tools")
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func newBootstrapCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create or destroy a whole environment: infra, clusters, agent, workloads",
	}
	cmd.AddCommand(newBootstrapCreateCmd(g), newBootstrapDestroyCmd(g))
	return asGroup(cmd)
}

func newBootstrapCreateCmd(g *globals) *cobra.Command {
	var p pipelineFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Take an environment from nothing to running, verified workloads",
		Long: `Runs the pipeline on one environment of a blueprint:

  fetch -> validate -> infra -> clusters -> secrets -> agent -> replay -> verify -> report

Every step is idempotent and checkpointed under --state-dir: after a failure
or Ctrl-C, run the same command again and it resumes, creating nothing twice.
A second run on the same environment at the same time is refused.`,
		Example: `  # the bundled local example: kwok clusters and offline Terraform
  rekindle bootstrap create --blueprint blueprints/examples/local --env dev

  # a Git blueprint at a tag, planning only
  rekindle bootstrap create -b https://git.example.com/platform/fleet.git --ref v1.4.0 -e prod --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := p.options(g)
			if err != nil {
				return err
			}
			opts.DryRun = dryRun
			sum, err := bootstrap.Create(cmd.Context(), opts)
			printSummary(g, sum)
			return classify(err)
		},
	}
	p.add(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan (terraform plan, clusters, agent chart, workloads and object counts) and change nothing")
	return cmd
}

func newBootstrapDestroyCmd(g *globals) *cobra.Command {
	var p pipelineFlags
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Tear an environment down: agents, clusters, then terraform destroy",
		Long: `Tears an environment down in reverse order. It goes on past failures and
reports each at the end. Clusters of the existing provider are never deleted.
The (empty) Terraform state stays under --state-dir as a record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := p.options(g)
			if err != nil {
				return err
			}
			sum, err := bootstrap.Destroy(cmd.Context(), opts)
			if err == nil && g.output != "json" {
				fmt.Fprintf(g.streams.Out, "environment %q destroyed in %s\n", sum.Env, round(sum.Total))
			}
			return classify(err)
		},
	}
	p.add(cmd)
	return cmd
}

// printSummary prints the result of a pipeline run on stdout.
func printSummary(g *globals, sum *bootstrap.Summary) {
	if sum == nil || sum.Env == "" {
		return
	}
	if g.output == "json" {
		writeJSON(g.streams.Out, map[string]any{"event": "summary", "summary": sum})
		return
	}
	w := g.streams.Out
	verb := "environment"
	if sum.DryRun {
		verb = "plan for environment"
	}
	fmt.Fprintf(w, "\n%s %q of blueprint %q", verb, sum.Env, sum.Blueprint)
	if sum.Commit != "" {
		fmt.Fprintf(w, " at commit %.12s", sum.Commit)
	}
	fmt.Fprintf(w, " (%s)\n", round(sum.Total))
	if sum.InfraPlan != "" {
		fmt.Fprintf(w, "infra: %s\n", sum.InfraPlan)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if sum.DryRun {
		fmt.Fprintln(tw, "CLUSTER\tPROVIDER\tWORKLOAD\tSOURCE\tOBJECTS")
		for _, c := range sum.Clusters {
			for _, wl := range c.Workloads {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", c.Name, c.Provider, wl.Name, wl.Source, wl.Objects)
			}
		}
		tw.Flush()
		for _, c := range sum.Clusters {
			var plans []backupstore.RestorePlan
			for _, wl := range c.Workloads {
				if wl.Restore != nil {
					plans = append(plans, *wl.Restore)
				}
			}
			printRestorePlans(g, c.Name, plans)
		}
		return
	}
	fmt.Fprintln(tw, "CLUSTER\tPROVIDER\tRESULT\tAPI SERVER\tOBJECTS\tHEALTHY\tKUBECONFIG")
	for _, c := range sum.Clusters {
		result := "up"
		if c.Error != "" {
			result = "failed: " + firstLineOf(c.Error)
		} else if !c.Ready {
			result = "not ready"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", c.Name, c.Provider, result, dash(c.APIServer), c.Desired, c.Healthy, dash(c.Kubeconfig))
	}
	tw.Flush()
	if len(sum.Clusters) > 0 && sum.Clusters[0].Kubeconfig != "" {
		fmt.Fprintf(w, "\nUse a cluster: export KUBECONFIG=%s; kubectl get syncs -A\n", sum.Clusters[0].Kubeconfig)
	}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 80 {
		line = line[:77] + "..."
	}
	return line
}

// classify maps pipeline errors onto exit codes (bad input: 2).
func classify(err error) error {
	if err != nil && bootstrap.IsUsage(err) {
		return &usageError{msg: err.Error()}
	}
	return err
}
