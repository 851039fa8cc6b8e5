package bootstrap

import (
	"context"
	"fmt"
	"time"
)

// Pipeline says how a run treats what already exists. Create runs the zero
// Pipeline; recovery (package recovery) runs its own: a detect step, a fresh
// Terraform plan, and unhealthy clusters replaced. The steps themselves are
// the same.
type Pipeline struct {
	// Detect, when set, runs after validate and before infra, and says what
	// is lost. It must change nothing.
	Detect func(ctx context.Context, env *Env) ([]Loss, string, error)
	// Replan runs terraform plan (and apply, when it changes anything) even
	// when the checkpoint says infra was applied at this commit: lost
	// infrastructure shows up only in a plan.
	Replan bool
	// ReplaceUnhealthy deletes and re-creates a cluster that exists but does
	// not answer, when its provider may delete it and does not remediate it
	// itself.
	ReplaceUnhealthy bool
}

// Create takes an environment from nothing to running, verified workloads.
// Re-running it resumes an interrupted run and changes nothing on a complete one.
func Create(ctx context.Context, opts Options) (*Summary, error) {
	return Run(ctx, opts, Pipeline{})
}

// Run runs the pipeline on the environment of opts: fetch, validate,
// (detect), infra once for the environment, then each cluster's own
// pipeline (clusters, secrets, agent, replay, verify) concurrently, in the
// order clusters' dependencies require, and a report. A cluster that fails
// does not stop the others; the run then fails naming each.
func Run(ctx context.Context, opts Options, p Pipeline) (*Summary, error) {
	opts.defaults()
	start := time.Now()
	r := &run{opts: opts, pipeline: p, started: start}
	defer r.close()
	sum, err := r.create(ctx)
	if sum == nil {
		sum = &Summary{}
	}
	sum.Steps = r.steps
	sum.Total = time.Since(start)
	return sum, err
}

func (r *run) create(ctx context.Context) (*Summary, error) {
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	sum := &Summary{Blueprint: r.repo.Blueprint.Metadata.Name, Env: r.env, Commit: r.repo.Commit, DryRun: r.opts.DryRun}
	if env, err := r.repo.Blueprint.Environment(r.env); err == nil && env.Recovery != nil {
		sum.RTOObjective = env.Recovery.RTO.Duration
	}
	if err := r.step(ctx, StepValidate, func(ctx context.Context) (string, bool, error) { return r.validate(ctx, sum) }); err != nil {
		return sum, err
	}
	if r.pipeline.Detect != nil {
		err := r.step(ctx, StepDetect, func(ctx context.Context) (string, bool, error) {
			losses, detail, err := r.pipeline.Detect(ctx, &Env{r: r})
			sum.Losses = losses
			return detail, false, err
		})
		if err != nil {
			return sum, err
		}
	}
	if err := r.step(ctx, StepInfra, func(ctx context.Context) (string, bool, error) { return r.infra(ctx, sum) }); err != nil {
		return sum, err
	}
	if err := r.fleet(ctx, sum); err != nil {
		return sum, err
	}
	return sum, r.step(ctx, StepReport, func(context.Context) (string, bool, error) {
		if r.opts.DryRun {
			return "dry run: nothing was changed", false, nil
		}
		return fmt.Sprintf("%d cluster(s), %d object(s) healthy", len(sum.Clusters), healthyTotal(sum)), false, nil
	})
}
