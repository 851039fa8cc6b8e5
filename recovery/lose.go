package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap"
)

// Lose simulates the loss of clusters for a drill: each named cluster (all
// of the environment's when names is empty) is deleted and its host agent
// stopped, side by side, leaving infrastructure and the checkpoint as a real
// loss would. Clusters rekindle may not delete (existing ones) are refused.
func Lose(ctx context.Context, opts bootstrap.Options, names []string) ([]string, error) {
	env, err := bootstrap.OpenEnv(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	if len(names) == 0 {
		names = env.ClusterNames()
	}
	events := env.Events()
	start := time.Now()
	events(bootstrap.Event{Time: start, Step: bootstrap.StepLose, Status: bootstrap.StatusStarted})
	errs := make([]error, len(names))
	done := make(chan int, len(names))
	for i, n := range names {
		go func() {
			errs[i] = lose(ctx, env, n)
			done <- i
		}()
	}
	var lost []string
	for range names {
		<-done
	}
	for i, n := range names {
		if errs[i] == nil {
			lost = append(lost, n)
		}
	}
	err = errors.Join(errs...)
	ev := bootstrap.Event{Time: time.Now(), Step: bootstrap.StepLose, Status: bootstrap.StatusDone, Duration: time.Since(start), Detail: fmt.Sprintf("deleted %v", lost)}
	if err != nil {
		ev.Status, ev.Detail = bootstrap.StatusFailed, err.Error()
	}
	events(ev)
	return lost, err
}

func lose(ctx context.Context, env *bootstrap.Env, name string) error {
	c, ok := env.Cluster(name)
	switch {
	case !ok:
		return &bootstrap.UsageError{Msg: fmt.Sprintf("cluster %q is not part of environment %q", name, env.Name())}
	case !bootstrap.Capabilities(c.Provider).Deletable:
		return &bootstrap.UsageError{Msg: fmt.Sprintf("cluster %q is an existing cluster: rekindle never deletes a cluster it did not create", name)}
	}
	if err := env.StopHostAgent(name); err != nil {
		return err
	}
	p, err := env.Provider(c, bootstrap.StepLose)
	if err == nil {
		err = p.Delete(ctx, name)
	}
	if err != nil {
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	return nil
}
