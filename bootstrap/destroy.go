package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/bootstrap/dag"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// Destroy tears an environment down in reverse order: agents, clusters,
// then Terraform. It goes on past failures and reports every one at the end.
// Clusters of the existing provider are left alone. The Terraform state file
// stays (empty) under the state dir, as a record.
func Destroy(ctx context.Context, opts Options) (*Summary, error) {
	opts.defaults()
	start := time.Now()
	r := &run{opts: opts, cachedFallback: true}
	defer r.close()
	sum, err := r.destroy(ctx)
	if sum == nil {
		sum = &Summary{}
	}
	sum.Steps = r.steps
	sum.Total = time.Since(start)
	return sum, err
}

func (r *run) destroy(ctx context.Context) (*Summary, error) {
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	sum := &Summary{Blueprint: r.repo.Blueprint.Metadata.Name, Env: r.env, Commit: r.repo.Commit}
	tf, tfErr := r.provisioner(ctx)
	if tf != nil && tfErr == nil {
		if out, err := tf.Outputs(ctx); err == nil {
			r.outputs = out.Values
		}
	}
	r.expand()
	var failed []error
	names := r.clusterNames()
	failed = append(failed, r.step(ctx, StepAgent, func(ctx context.Context) (string, bool, error) {
		var errs []error
		for _, n := range names {
			if err := newHostAgent(r.paths.agents, n).stop(); err != nil {
				errs = append(errs, fmt.Errorf("cluster %q: %w", n, err))
			}
			if err := r.fluxControllers(n, "").Stop(); err != nil {
				errs = append(errs, fmt.Errorf("cluster %q: stop the Flux controllers: %w", n, err))
			}
			if !Capabilities(r.providerName(n)).Deletable {
				// The cluster stays; the agent must stop syncing it.
				if err := r.uninstallAgent(ctx, n); err != nil {
					errs = append(errs, fmt.Errorf("cluster %q: %w", n, err))
				}
			}
		}
		return fmt.Sprintf("agents stopped for %d cluster(s)", len(names)), false, errors.Join(errs...)
	}))
	failed = append(failed, r.step(ctx, StepClusters, func(ctx context.Context) (string, bool, error) {
		return r.deleteClusters(ctx, names)
	}))
	failed = append(failed, r.step(ctx, StepInfra, func(ctx context.Context) (string, bool, error) {
		if tfErr != nil {
			return "", false, tfErr
		}
		if tf == nil {
			return "no infra in this environment", true, nil
		}
		if r.opts.Rehearse != "" && len(r.cloudResources()) > 0 {
			return "skipped in rehearsal: the module needs cloud providers and was never applied", true, nil
		}
		if err := tf.Destroy(ctx); err != nil {
			return "", false, err
		}
		return "terraform destroy complete (the empty state is kept under " + r.paths.terraform + ")", false, nil
	}))
	if err := errors.Join(failed...); err != nil {
		return sum, fmt.Errorf("destroy finished with errors (the checkpoint is kept; run destroy again once fixed):\n%w", err)
	}
	for _, p := range []string{r.paths.checkpoint, r.outputsFile()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return sum, err
		}
	}
	os.RemoveAll(r.paths.agents)
	return sum, nil
}

// uninstallAgent removes the agent release from an existing cluster.
func (r *run) uninstallAgent(ctx context.Context, name string) error {
	kubeconfig := ""
	if rec := r.cp.Cluster(name); rec != nil {
		kubeconfig = rec.Kubeconfig
	}
	if kubeconfig == "" {
		return nil // never bootstrapped: no agent to remove
	}
	if c := r.blueprintCluster(name); isFlux(c) {
		return r.uninstallFlux(ctx, c, kubeconfig)
	}
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return err
	}
	return agent.Uninstall(ctx, cfg)
}

// clusterNames lists the environment's clusters: those in the blueprint
// (expanded with the outputs) and any the checkpoint recorded besides.
func (r *run) clusterNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, c := range r.expanded.Clusters {
		if !strings.Contains(c.Name, "{{") && !seen[c.Name] {
			names = append(names, c.Name)
			seen[c.Name] = true
		}
	}
	for _, c := range r.cp.Clusters {
		if !seen[c.Name] {
			names = append(names, c.Name)
			seen[c.Name] = true
		}
	}
	return names
}

func (r *run) providerName(name string) string {
	for _, c := range r.expanded.Clusters {
		if c.Name == name {
			return c.Provider
		}
	}
	if rec := r.cp.Cluster(name); rec != nil {
		return rec.Provider
	}
	return ""
}

// deleteClusters deletes the named clusters side by side, in reverse
// dependency order: a cluster goes only after every cluster that needs it
// (a Cluster API management cluster after the clusters it manages). A
// failure does not stop the others, nor wait those it blocks forever: they
// are reported.
func (r *run) deleteClusters(ctx context.Context, names []string) (string, bool, error) {
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	jobs := make([]dag.Job, len(names))
	outcome := make([]string, len(names))
	for i, n := range names {
		jobs[i] = dag.Job{Name: n, Apply: func(ctx context.Context) error {
			var err error
			outcome[i], err = r.deleteCluster(ctx, n)
			return err
		}}
	}
	for i, n := range names {
		for _, need := range r.blueprintCluster(n).Needs() {
			if j, ok := index[need]; ok {
				jobs[j].Deps = append(jobs[j].Deps, i) // need goes after n
			}
		}
	}
	parallel := r.opts.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel(r.expanded.Clusters)
	}
	var errs []error
	count := map[string]int{}
	for i, err := range dag.Run(ctx, jobs, parallel) {
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %q: %w", names[i], err))
			continue
		}
		count[outcome[i]]++
	}
	return fmt.Sprintf("%d deleted, %d already gone, %d left alone", count["deleted"], count["absent"], count["kept"]), false, errors.Join(errs...)
}

// deleteCluster deletes cluster n unless rekindle may not, and says which
// of deleted, absent or kept happened.
func (r *run) deleteCluster(ctx context.Context, n string) (string, error) {
	prov := r.providerName(n)
	if !Capabilities(prov).Deletable {
		r.info(StepClusters, n, "left alone: rekindle never deletes a cluster it did not create")
		return "kept", nil
	}
	c := r.blueprintCluster(n)
	c.Provider = prov
	p, err := r.provider(c, StepClusters)
	if err != nil && r.cp.Cluster(n) == nil {
		return "absent", nil // never created: no provider could have made it
	}
	if err != nil {
		return "", err
	}
	info, err := p.Get(ctx, n)
	if err == nil && info.State == cluster.Missing {
		return "absent", nil
	}
	if err := p.Delete(ctx, n); err != nil {
		return "", fmt.Errorf("delete cluster %q: %w", n, err)
	}
	return "deleted", nil
}
