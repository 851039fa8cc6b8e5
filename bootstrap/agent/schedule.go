package agent

import (
	"context"
	"fmt"
)

// job is one node of a dependsOn graph: apply runs holding one of the
// schedule's slots, wait runs after the slot is given back.
type job struct {
	name string
	// deps are indexes of jobs that must succeed before this one starts;
	// each is smaller than the job's own index (plan checks it).
	deps  []int
	apply func(ctx context.Context) error
	wait  func(ctx context.Context) error
}

// DependencyError is a job's outcome when a job it depends on failed; it
// unwraps to the dependency's own error.
type DependencyError struct {
	Dependency string
	Err        error
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("dependency %q is not ready", e.Dependency)
}

func (e *DependencyError) Unwrap() error { return e.Err }

// schedule runs every job once all of its dependencies succeeded, with at
// most slots applies in flight (waits for health take no slot: they are
// polls, and holding a slot through one made independent workloads queue
// behind slow ones). A job whose dependency failed does not run and ends
// with a DependencyError at once. A job still waiting for a dependency or a
// slot when ctx ends fails with ctx's error. The result holds one error per
// job, nil for a success.
//
// Each job's goroutine writes only its own entry of the result, and closes
// its done channel after writing it; a dependent reads a dependency's entry
// only after that channel is closed. No map or counter is shared.
func schedule(ctx context.Context, jobs []job, slots int) []error {
	if slots < 1 {
		slots = 1
	}
	errs := make([]error, len(jobs))
	done := make([]chan struct{}, len(jobs))
	for i := range jobs {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, slots)
	for i := range jobs {
		go func() {
			defer close(done[i])
			errs[i] = runJob(ctx, jobs, i, done, errs, sem)
		}()
	}
	for i := range jobs {
		<-done[i]
	}
	return errs
}

func runJob(ctx context.Context, jobs []job, i int, done []chan struct{}, errs []error, sem chan struct{}) error {
	j := jobs[i]
	for _, d := range j.deps {
		select {
		case <-done[d]:
		case <-ctx.Done():
			return fmt.Errorf("waiting for dependency %q: %w", jobs[d].name, ctx.Err())
		}
		if errs[d] != nil {
			return &DependencyError{Dependency: jobs[d].name, Err: errs[d]}
		}
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for an apply slot: %w", ctx.Err())
	}
	err := ctx.Err()
	if err == nil && j.apply != nil {
		err = j.apply(ctx)
	}
	<-sem
	if err != nil {
		return err
	}
	if j.wait != nil {
		return j.wait(ctx)
	}
	return nil
}
