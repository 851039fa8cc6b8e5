// Package dag runs jobs in the order of a dependsOn graph: workloads in a
// cluster (the agent), clusters in an environment (the pipeline). A job
// starts when every job it depends on succeeded, at most a given number
// hold a slot at once, and a failure ends its dependents at once.
package dag

import (
	"context"
	"fmt"
)

// Job is one node of a dependsOn graph: Apply runs holding one of the run's
// slots, Wait runs after the slot is given back.
type Job struct {
	Name string
	// Deps are indexes of jobs that must succeed before this one starts.
	// The graph must be acyclic; callers check it (a cycle never starts).
	Deps  []int
	Apply func(ctx context.Context) error
	Wait  func(ctx context.Context) error
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

// Run runs every job once all of its dependencies succeeded, with at
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
func Run(ctx context.Context, jobs []Job, slots int) []error {
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

func runJob(ctx context.Context, jobs []Job, i int, done []chan struct{}, errs []error, sem chan struct{}) error {
	j := jobs[i]
	for _, d := range j.Deps {
		select {
		case <-done[d]:
		case <-ctx.Done():
			return fmt.Errorf("waiting for dependency %q: %w", jobs[d].Name, ctx.Err())
		}
		if errs[d] != nil {
			return &DependencyError{Dependency: jobs[d].Name, Err: errs[d]}
		}
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for an apply slot: %w", ctx.Err())
	}
	err := ctx.Err()
	if err == nil && j.Apply != nil {
		err = j.Apply(ctx)
	}
	<-sem
	if err != nil {
		return err
	}
	if j.Wait != nil {
		return j.Wait(ctx)
	}
	return nil
}
