package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// RenderFunc produces what the cluster must hold, typically by fetching the
// blueprint from Git and rendering it. An error (Git unreachable, invalid
// YAML) leaves the cluster as it is.
type RenderFunc func(ctx context.Context) (*blueprints.RenderedCluster, error)

// Agent keeps one cluster in sync with its blueprint.
type Agent struct {
	// Applier talks to the cluster.
	Applier *Applier
	// Source renders the desired state at each pass.
	Source RenderFunc
	// Environment and Cluster name the Sync object status is written to when
	// Source fails (a successful render names them itself).
	Environment string
	Cluster     string
	// Interval between the end of one pass and the start of the next. Default 1m.
	Interval time.Duration
	// RetryMin is the first wait after a failed pass; it doubles up to
	// Interval while passes keep failing. Default 1s.
	RetryMin time.Duration
	// Options apply to every pass.
	Options SyncOptions
	// Log receives one line per pass; nil discards them.
	Log func(format string, args ...any)
	// OnPassStart and OnPass, when set, are called by Run around each pass
	// (metrics, events, probes). res is nil when the pass failed as a whole.
	OnPassStart func(start time.Time)
	OnPass      func(ctx context.Context, res *Result, err error, took time.Duration)
}

func (a *Agent) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
	}
}

// Once runs one pass: render, then Sync. When rendering fails the cluster is
// left untouched (nothing is pruned) and the Sync object is marked Stalled
// with reason RenderFailed.
func (a *Agent) Once(ctx context.Context) (*Result, error) {
	if a.Applier == nil || a.Source == nil {
		return nil, errors.New("agent: Applier and Source are required")
	}
	rc, err := a.Source(ctx)
	if err == nil && rc == nil {
		err = errors.New("render returned nothing")
	}
	if err != nil {
		err = fmt.Errorf("render: %w", err)
		if a.Cluster != "" {
			if serr := a.Applier.MarkStalled(ctx, a.Environment, a.Cluster, ReasonRenderFailed, truncate(err.Error(), 1024)); serr != nil {
				a.logf("record render failure: %v", serr)
			}
		}
		return nil, err
	}
	if a.Cluster != "" && rc.Cluster != a.Cluster {
		err := fmt.Errorf("render is for cluster %q, this agent syncs %q", rc.Cluster, a.Cluster)
		if serr := a.Applier.MarkStalled(ctx, a.Environment, a.Cluster, ReasonRenderFailed, err.Error()); serr != nil {
			a.logf("record render failure: %v", serr)
		}
		return nil, err
	}
	return a.Applier.Sync(ctx, rc, a.Options)
}

// Run passes immediately and then every Interval until ctx is done. A failed
// pass (API server down, Git unreachable) is logged, recorded in the Sync
// status, and retried sooner, with a backoff that starts at RetryMin and
// doubles up to Interval, so that a cluster coming back is converged within
// seconds rather than at the next interval. Run returns nil when ctx is
// cancelled.
func (a *Agent) Run(ctx context.Context) error {
	interval := a.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	retry := a.RetryMin
	if retry <= 0 {
		retry = time.Second
	}
	backoff := retry
	for {
		start := time.Now()
		if a.OnPassStart != nil {
			a.OnPassStart(start)
		}
		res, err := a.Once(ctx)
		if a.OnPass != nil && ctx.Err() == nil {
			a.OnPass(ctx, res, err, time.Since(start))
		}
		wait := interval
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			wait = min(backoff, interval)
			backoff = min(2*backoff, interval)
			a.logf("sync failed (retrying in %s): %v", wait, err)
		default:
			backoff = retry
			a.logf("synced commit %q: %d objects applied, %d healthy, %d drifted, %d pruned in %s",
				res.Commit, res.Applied, res.Healthy, len(res.Drifted), len(res.Pruned), res.Duration.Round(time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
