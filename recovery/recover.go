package recovery

import (
	"context"
	"fmt"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

// Result is what a recovery did and how long it took.
type Result struct {
	Summary *bootstrap.Summary `json:"summary"`
	// RTO is nil for a dry run: nothing was recovered, so nothing is timed
	// against the objective.
	RTO *RTO `json:"rto,omitempty"`
}

// ErrObjectiveMissed is returned (wrapped) when a recovery succeeded but
// took longer than the environment's recovery.rto.
var ErrObjectiveMissed = fmt.Errorf("recovery time objective missed")

// Recover rebuilds what is missing of an environment: Terraform only where
// infrastructure is missing (a plan that would replace or destroy stops
// unless AllowReplace), lost clusters, the agents, then waits for the replay
// and verifies. Healthy clusters are only re-synced. It reads Git only.
// With opts.DryRun it detects what is lost, runs terraform plan and says
// what each cluster's steps would do, changing nothing.
func Recover(ctx context.Context, opts bootstrap.Options) (*Result, error) {
	start := time.Now()
	sum, err := bootstrap.Run(ctx, opts, bootstrap.Pipeline{Detect: detect, Replan: true, ReplaceUnhealthy: true})
	res := &Result{Summary: sum}
	if opts.DryRun {
		return res, err
	}
	rto := newRTO(sum, start, time.Since(start), objective(sum))
	res.RTO = &rto
	if err != nil {
		return res, err
	}
	if !res.RTO.Met {
		return res, fmt.Errorf("%w: %s", ErrObjectiveMissed, res.RTO.Overage())
	}
	return res, nil
}

// objective is the environment's recovery.rto, as the summary carries it.
func objective(sum *bootstrap.Summary) time.Duration {
	if sum == nil {
		return 0
	}
	return sum.RTOObjective
}
