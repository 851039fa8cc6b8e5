package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/dag"
)

// ClusterSteps are each cluster's own pipeline, in order.
var ClusterSteps = []string{StepClusters, StepSecrets, StepPreflight, StepAgent, StepReplay, StepVerify}

// lane is one cluster's pipeline in a run. Only its own goroutine writes it.
type lane struct {
	c   blueprints.Cluster
	sum *ClusterSummary
	// created is set when this run created the cluster: its host agent
	// restarts so that it syncs at once rather than at its next interval.
	created bool
	// fluxRestarted is set when this run started Flux's controllers on a
	// cluster it did not create: the tree's status is from before, and
	// the replay asks for a fresh reconcile of every object.
	fluxRestarted bool
}

// DefaultParallel is how many of clusters are created at once when
// Options.Parallel is 0: 4 per CPU core when any of them runs on this
// machine (kwok and kind control planes take CPU while they start, and
// little after), else 16 (a cloud's API does the work).
func DefaultParallel(clusters []blueprints.Cluster) int {
	for _, c := range clusters {
		if Capabilities(c.Provider).Local {
			return 4 * runtime.NumCPU()
		}
	}
	return 16
}

// fleet runs every cluster's pipeline: creation, secrets and agent holding
// one of Parallel slots, then the replay and verify waits. A cluster starts
// once the clusters it needs (dependsOn, its Cluster API management
// cluster) are done. Each ends done or failed on its own.
func (r *run) fleet(ctx context.Context, sum *Summary) error {
	clusters := r.expanded.Clusters
	if len(sum.Clusters) != len(clusters) {
		sum.Clusters = make([]ClusterSummary, len(clusters))
	}
	index := map[string]int{}
	for i, c := range clusters {
		index[c.Name] = i
	}
	lanes := make([]*lane, len(clusters))
	jobs := make([]dag.Job, len(clusters))
	for i, c := range clusters {
		sum.Clusters[i].Name, sum.Clusters[i].Provider = c.Name, c.Provider
		if isFlux(c) {
			sum.Clusters[i].Agent = blueprints.AgentFlux
		}
		l := &lane{c: c, sum: &sum.Clusters[i]}
		lanes[i] = l
		var deps []int
		for _, n := range c.Needs() {
			if j, ok := index[n]; ok {
				deps = append(deps, j)
			}
		}
		jobs[i] = dag.Job{Name: c.Name, Deps: deps,
			Apply: func(ctx context.Context) error {
				return r.laneSteps(ctx, l, namedStep{StepClusters, r.createCluster}, namedStep{StepSecrets, r.placeSecrets},
					namedStep{StepPreflight, r.preflight}, namedStep{StepAgent, r.installAgent})
			},
			Wait: func(ctx context.Context) error {
				return r.laneSteps(ctx, l, namedStep{StepReplay, r.replayCluster}, namedStep{StepVerify, r.verifyCluster})
			},
		}
	}
	parallel := r.opts.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel(clusters)
	}
	if len(clusters) > 1 {
		r.info(StepClusters, "", "%d clusters, up to %d created at once", len(clusters), min(parallel, len(clusters)))
	}
	var failed []string
	// Bad input (a preflight refusal, an agent with no image) stays bad
	// input, exit 2, when it is every lane's failure.
	allUsage := true
	for i, err := range dag.Run(ctx, jobs, parallel) {
		if err == nil {
			continue
		}
		allUsage = allUsage && IsUsage(err)
		l := lanes[i]
		var de *dag.DependencyError
		if errors.As(err, &de) {
			l.sum.Error = fmt.Sprintf("not started: cluster %q it needs failed", de.Dependency)
			r.opts.Events(Event{Time: time.Now(), Step: StepClusters, Status: StatusFailed, Cluster: l.c.Name, Detail: l.sum.Error})
		} else if l.sum.Error == "" {
			l.sum.Error = err.Error()
		}
		failed = append(failed, fmt.Sprintf("%s: %s", l.c.Name, l.sum.Error))
	}
	if len(failed) == 0 {
		return nil
	}
	// One line, as every error rekindle ends with: each cluster and why.
	up := len(clusters) - len(failed)
	msg := fmt.Sprintf("cluster %s (%d of %d clusters failed, %d up; a re-run resumes only what did not finish)", strings.Join(failed, "; cluster "), len(failed), len(clusters), up)
	if len(clusters) == 1 {
		msg = strings.TrimPrefix(failed[0], clusters[0].Name+": ")
	}
	if allUsage {
		return &UsageError{msg}
	}
	return errors.New(msg)
}

// laneStep is one step of a cluster's pipeline.
type laneStep func(ctx context.Context, l *lane) (detail string, skipped bool, err error)

// namedStep is a lane step and the step name it runs under.
type namedStep struct {
	name string
	fn   laneStep
}

// laneSteps runs steps of l in order, stopping at the first failure.
func (r *run) laneSteps(ctx context.Context, l *lane, steps ...namedStep) error {
	for _, s := range steps {
		if err := r.laneStep(ctx, l, s.name, s.fn); err != nil {
			return err
		}
	}
	return nil
}

// laneStep runs one step of l, emitting its events (with the cluster's
// name) and recording it in the cluster's summary and checkpoint record.
func (r *run) laneStep(ctx context.Context, l *lane, name string, fn laneStep) error {
	if err := ctx.Err(); err != nil {
		l.sum.Error = fmt.Sprintf("%s: %v", name, err)
		return err
	}
	start := time.Now()
	r.opts.Events(Event{Time: start, Step: name, Status: StatusStarted, Cluster: l.c.Name})
	detail, skipped, err := r.withRetry(ctx, name, func(ctx context.Context) (string, bool, error) { return fn(ctx, l) })
	took := time.Since(start)
	status := StatusDone
	switch {
	case err != nil:
		status, detail = StatusFailed, err.Error()
		l.sum.Error = name + ": " + detail
	case skipped:
		status = StatusSkipped
	}
	r.opts.Events(Event{Time: time.Now(), Step: name, Status: status, Duration: took, Cluster: l.c.Name, Detail: detail})
	l.sum.Steps = append(l.sum.Steps, StepSummary{Name: name, Status: status, Started: start, Duration: took, Detail: detail})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if r.opts.DryRun {
		return nil
	}
	return r.recordClusterStep(l.c.Name, name, StepRecord{Completed: time.Now().UTC(), Duration: took, Detail: detail})
}

// recordClusterStep saves a cluster's completed step in the checkpoint.
func (r *run) recordClusterStep(cluster, step string, rec StepRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cr := r.cp.Cluster(cluster)
	if cr == nil {
		r.cp.Clusters = append(r.cp.Clusters, ClusterRecord{Name: cluster})
		cr = &r.cp.Clusters[len(r.cp.Clusters)-1]
	}
	if cr.Steps == nil {
		cr.Steps = map[string]StepRecord{}
	}
	cr.Steps[step] = rec
	if err := r.cp.write(r.paths.checkpoint); err != nil {
		return fmt.Errorf("%s: save checkpoint: %w", step, err)
	}
	return nil
}

// clusterDone reports whether an earlier run at this commit completed step
// for cluster.
func (r *run) clusterDone(cluster, step string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	cr := r.cp.Cluster(cluster)
	if cr == nil {
		return false
	}
	_, ok := cr.Steps[step]
	return ok
}
