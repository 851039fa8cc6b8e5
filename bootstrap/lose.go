package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lose simulates the loss of clusters for a drill: each named cluster (all
// of the environment's when names is empty) is deleted and its host agent
// stopped, leaving infrastructure and the checkpoint as a real loss would.
// Clusters of the existing provider are refused.
func Lose(ctx context.Context, opts Options, names []string) ([]string, error) {
	opts.defaults()
	r := &run{opts: opts}
	defer r.close()
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	if tf, err := r.provisioner(ctx); err == nil && tf != nil {
		if out, err := tf.Outputs(ctx); err == nil {
			r.outputs = out.Values
		}
	}
	r.expand()
	if len(names) == 0 {
		names = r.clusterNames()
	}
	var errs []error
	var lost []string
	start := time.Now()
	r.opts.Events(Event{Time: start, Step: StepLose, Status: StatusStarted})
	for _, n := range names {
		prov := r.providerName(n)
		switch prov {
		case "":
			errs = append(errs, &UsageError{fmt.Sprintf("cluster %q is not part of environment %q", n, r.env)})
			continue
		case "existing":
			errs = append(errs, &UsageError{fmt.Sprintf("cluster %q is an existing cluster: rekindle never deletes a cluster it did not create", n)})
			continue
		}
		if err := newHostAgent(r.paths.agents, n).stop(); err != nil {
			errs = append(errs, err)
		}
		c := r.blueprintCluster(n)
		c.Provider = prov
		p, err := r.provider(c, StepLose)
		if err == nil {
			err = p.Delete(ctx, n)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete cluster %q: %w", n, err))
			continue
		}
		lost = append(lost, n)
	}
	err := errors.Join(errs...)
	ev := Event{Time: time.Now(), Step: StepLose, Status: StatusDone, Duration: time.Since(start), Detail: fmt.Sprintf("deleted %v", lost)}
	if err != nil {
		ev.Status, ev.Detail = StatusFailed, err.Error()
	}
	r.opts.Events(ev)
	return lost, err
}
