package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/backupstore"
	"github.com/rekindle-dev/rekindle/providers/sops"
)

func newBlueprintCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "blueprint",
		Short: "Check and render a blueprint without touching any cluster",
	}
	cmd.AddCommand(newBlueprintValidateCmd(g), newBlueprintRenderCmd(g), newBlueprintPlanCmd(g))
	return asGroup(cmd)
}

func newBlueprintValidateCmd(g *globals) *cobra.Command {
	var src sourceFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check rekindle.yaml and render every workload (exit 2 on any problem)",
		Example: `  rekindle blueprint validate --blueprint blueprints/examples/local
  rekindle blueprint validate --blueprint https://git.example.com/platform/fleet.git --ref v1.4.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := src.open(cmd.Context(), g)
			if err != nil {
				return err
			}
			envs := []string{src.env}
			if src.env == "" {
				envs = envNames(r)
			} else if _, err := src.environment(r); err != nil {
				return err
			}
			objects := 0
			var problems []blueprints.Problem
			for _, env := range envs {
				rcs, err := renderEnv(cmd.Context(), r, &src, env)
				if err != nil {
					return err
				}
				for _, rc := range rcs {
					objects += len(rc.AllObjects())
					var inv *blueprints.InvalidError
					if err := r.CheckNamespaces(rc); errors.As(err, &inv) {
						problems = append(problems, inv.Problems...)
					}
				}
			}
			if len(problems) > 0 {
				return &blueprints.InvalidError{Problems: problems}
			}
			if g.output == "json" {
				return writeJSON(g.streams.Out, map[string]any{"valid": true, "blueprint": r.Blueprint.Metadata.Name, "commit": r.Commit, "environments": envs, "objects": objects})
			}
			fmt.Fprintf(g.streams.Out, "blueprint %q is valid%s: %d environment(s), %d object(s) rendered\n", r.Blueprint.Metadata.Name, commitNote(r), len(envs), objects)
			return nil
		},
	}
	src.add(cmd, false)
	return cmd
}

func newBlueprintRenderCmd(g *globals) *cobra.Command {
	var src sourceFlags
	var showSecrets bool
	var format string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print the objects each cluster must hold, in apply order",
		Long: `Print every object the environment's clusters must hold, as a stable YAML
stream (or JSON with --format json): CRDs first, then Namespaces, then the
rest in dependsOn order. Secret values are shown as <redacted> unless
--show-secrets is given.`,
		Example: `  rekindle blueprint render --blueprint blueprints/examples/local --env dev
  rekindle blueprint render -b . -e dev --cluster edge --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "yaml" && format != "json" {
				return usageErrorf("--format must be yaml or json, got %q", format)
			}
			if g.output == "json" {
				format = "json"
			}
			r, err := src.open(cmd.Context(), g)
			if err != nil {
				return err
			}
			env, err := src.environment(r)
			if err != nil {
				return err
			}
			rcs, err := renderEnv(cmd.Context(), r, &src, env)
			if err != nil {
				return err
			}
			for _, rc := range rcs {
				objs := applyOrder(rc)
				if !showSecrets {
					objs = redactSecrets(objs)
				}
				if err := printObjects(g, rc, objs, format); err != nil {
					return err
				}
			}
			return nil
		},
	}
	src.add(cmd, true)
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print Secret values instead of <redacted>")
	cmd.Flags().StringVar(&format, "format", "yaml", "yaml or json")
	return cmd
}

func newBlueprintPlanCmd(g *globals) *cobra.Command {
	var src sourceFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Summarize what each cluster will hold: workloads, sources, object counts by kind",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := src.open(cmd.Context(), g)
			if err != nil {
				return err
			}
			env, err := src.environment(r)
			if err != nil {
				return err
			}
			rcs, err := renderEnv(cmd.Context(), r, &src, env)
			if err != nil {
				return err
			}
			// Which backup each restore workload would restore, read from
			// the object store (the cluster is usually gone when it matters).
			restores := make([][]backupstore.RestorePlan, len(rcs))
			for i, rc := range rcs {
				restores[i] = backupstore.Plan(cmd.Context(), rc, backupstore.Options{})
			}
			if g.output == "json" {
				for i, rc := range rcs {
					if err := writeJSON(g.streams.Out, planJSON(rc, restores[i])); err != nil {
						return err
					}
				}
				return nil
			}
			fmt.Fprintf(g.streams.Out, "environment %q%s\n", env, commitNote(r))
			for _, rc := range rcs {
				fmt.Fprintf(g.streams.Out, "cluster %q: %s\n", rc.Cluster, capsNote(rc))
				if names := rc.CreatedNamespaceNames(); len(names) > 0 {
					fmt.Fprintf(g.streams.Out, "cluster %q: rekindle creates namespace(s) %s (labelled %s=true)\n", rc.Cluster, strings.Join(names, ", "), blueprints.CreatedNamespaceLabel)
				}
			}
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLUSTER\tWORKLOAD\tSOURCE\tDEPENDS ON\tOBJECTS\tKINDS")
			for _, rc := range rcs {
				for _, w := range rc.Workloads {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", rc.Cluster, w.Name, sourceNote(w), dash(strings.Join(w.DependsOn, ",")), len(w.Objects), kindCounts(w.Objects))
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for i, rc := range rcs {
				printRestorePlans(g, rc.Cluster, restores[i])
			}
			return nil
		},
	}
	src.add(cmd, true)
	return cmd
}

// renderEnv renders the selected clusters of env. Rendering problems are bad input (exit 2).
func renderEnv(ctx context.Context, r *blueprints.Repo, src *sourceFlags, env string) ([]*blueprints.RenderedCluster, error) {
	names, err := src.clusters(r, env, nil)
	if err != nil {
		return nil, err
	}
	// SOPS files decrypt with the environment's age key; Secrets print
	// <redacted> unless --show-secrets, decrypted ones included.
	var keys *sops.Keys
	var keyErr error
	if e, err := r.Blueprint.Environment(env); err == nil {
		keys, keyErr = bootstrap.LoadKeys(e)
	}
	var out []*blueprints.RenderedCluster
	for _, c := range names {
		rc, err := r.Render(ctx, env, c, blueprints.RenderOptions{Keys: keys})
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			if keyErr != nil && sops.IsDecryptError(err) {
				return nil, usageErrorf("environment %q: %v (%v)", env, err, keyErr)
			}
			return nil, usageErrorf("environment %q: %v", env, err)
		}
		out = append(out, rc)
	}
	return out, nil
}

func envNames(r *blueprints.Repo) []string {
	var out []string
	for _, e := range r.Blueprint.Spec.Environments {
		out = append(out, e.Name)
	}
	return out
}

func commitNote(r *blueprints.Repo) string {
	if r.Commit == "" {
		return ""
	}
	return fmt.Sprintf(" at commit %.12s", r.Commit)
}

// applyOrder lists a cluster's objects as they are applied: every CRD, then
// every Namespace, then the rest workload by workload.
func applyOrder(rc *blueprints.RenderedCluster) []*unstructured.Unstructured {
	var crds, nss, rest []*unstructured.Unstructured
	for _, o := range rc.AllObjects() {
		switch {
		case blueprints.IsCRD(o):
			crds = append(crds, o)
		case blueprints.IsNamespace(o):
			nss = append(nss, o)
		default:
			rest = append(rest, o)
		}
	}
	return append(append(crds, nss...), rest...)
}

const redacted = "<redacted>"

// redactSecrets returns the objects with every Secret value replaced.
func redactSecrets(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		if o.GetKind() != "Secret" || o.GetAPIVersion() != "v1" {
			out[i] = o
			continue
		}
		c := o.DeepCopy()
		for _, field := range []string{"data", "stringData"} {
			if m, ok := c.Object[field].(map[string]any); ok {
				for k := range m {
					m[k] = redacted
				}
			}
		}
		out[i] = c
	}
	return out
}

func printObjects(g *globals, rc *blueprints.RenderedCluster, objs []*unstructured.Unstructured, format string) error {
	if format == "json" {
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o.Object
		}
		return writeJSON(g.streams.Out, map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"annotations": map[string]string{"rekindle.dev/environment": rc.Environment, "rekindle.dev/cluster": rc.Cluster}}, "items": items})
	}
	fmt.Fprintf(g.streams.Out, "# environment: %s, cluster: %s, objects: %d\n# %s\n", rc.Environment, rc.Cluster, len(objs), capsNote(rc))
	if names := rc.CreatedNamespaceNames(); len(names) > 0 {
		fmt.Fprintf(g.streams.Out, "# namespaces created by rekindle (no object of the render declares them): %s\n", strings.Join(names, ", "))
	}
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return fmt.Errorf("print %s: %w", blueprints.ObjectRef(o), err)
		}
		fmt.Fprintf(g.streams.Out, "---\n%s", b)
	}
	return nil
}

func kindCounts(objs []*unstructured.Unstructured) string {
	counts := map[string]int{}
	for _, o := range objs {
		counts[o.GetKind()]++
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s=%d", k, counts[k])
	}
	return strings.Join(parts, " ")
}

func planJSON(rc *blueprints.RenderedCluster, restores []backupstore.RestorePlan) map[string]any {
	var ws []map[string]any
	for _, w := range rc.Workloads {
		counts := map[string]int{}
		for _, o := range w.Objects {
			counts[o.GetKind()]++
		}
		m := map[string]any{"name": w.Name, "source": w.Source, "dependsOn": w.DependsOn, "objects": len(w.Objects), "kinds": counts}
		for i := range restores {
			if restores[i].Workload == w.Name {
				m["restore"] = restores[i]
			}
		}
		if w.Helm != nil {
			m["chart"] = map[string]string{"name": w.Helm.ChartName, "version": w.Helm.ChartVersion, "repo": w.Helm.Repo, "digest": w.Helm.Digest}
		}
		ws = append(ws, m)
	}
	return map[string]any{"environment": rc.Environment, "cluster": rc.Cluster, "commit": rc.Commit, "workloads": ws,
		"createdNamespaces": rc.CreatedNamespaceNames(), "kubeVersion": rc.Capabilities.KubeVersion, "kubeVersionFrom": rc.Capabilities.KubeVersionFrom}
}

// sourceNote is the workload's source, with the chart and its exact version for Helm.
func sourceNote(w blueprints.RenderedWorkload) string {
	if w.Helm == nil {
		return w.Source
	}
	return fmt.Sprintf("%s %s@%s", w.Source, w.Helm.ChartName, w.Helm.ChartVersion)
}

// capsNote says which Kubernetes version the charts were rendered for.
func capsNote(rc *blueprints.RenderedCluster) string {
	return fmt.Sprintf("charts rendered for Kubernetes %s (from %s)", rc.Capabilities.KubeVersion, rc.Capabilities.KubeVersionFrom)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
