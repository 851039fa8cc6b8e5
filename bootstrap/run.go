package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/git"
	"github.com/rekindle-dev/rekindle/providers/sops"
)

// run is one execution of the pipeline on an environment.
type run struct {
	opts  Options
	repo  *blueprints.Repo
	env   string
	paths envPaths
	cp    *Checkpoint
	// outputs are the Terraform outputs (nil without infra).
	outputs map[string]any
	// expanded is the environment with outputs filled in.
	expanded *blueprints.Environment
	// pipeline is what Create or a recovery asked for.
	pipeline Pipeline
	started  time.Time
	// mu guards cp while clusters' pipelines run side by side.
	mu     sync.Mutex
	steps  []StepSummary
	unlock func()
	// cachedFallback lets a run that only tears down or reads (destroy,
	// status) use the cached checkout of the last run's commit when Git is
	// unreachable.
	cachedFallback bool
	// keys decrypt the environment's SOPS files (nil: none needed or set);
	// placeKey says the agents need them (the environment reads encrypted
	// files or sets secrets.sops). Both are set by the validate step.
	keys     *sops.Keys
	placeKey bool
}

// openReadOnly opens an environment to look at it: no lock, no checkpoint
// writes, the cached checkout when Git is down, and the Terraform outputs
// from the state when there is one.
func openReadOnly(ctx context.Context, opts Options) (*run, error) {
	opts.defaults()
	opts.DryRun = true
	r := &run{opts: opts, cachedFallback: true}
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	cp, err := readCheckpoint(r.paths.checkpoint)
	if err != nil {
		return nil, err
	}
	r.cp = cp
	if tf, err := r.provisioner(ctx); err == nil && tf != nil && fileExists(r.paths.terraform) {
		if out, err := tf.Outputs(ctx); err == nil {
			r.outputs = out.Values
		}
	}
	r.expand()
	return r, nil
}

// openCached opens the commit the last run of this source recorded, from
// the Git cache, after fetching failed with fetchErr.
func (r *run) openCached(ctx context.Context, fetchErr error) (*blueprints.Repo, error) {
	if !git.IsRemote(r.opts.Source.Location) {
		return nil, fetchErr
	}
	commit := lastCommit(r.opts.StateDir, git.RedactURL(r.opts.Source.Location), r.opts.Env)
	if commit == "" {
		return nil, fetchErr
	}
	src := r.opts.Source
	src.Ref = commit
	repo, err := blueprints.Open(ctx, src)
	if err != nil {
		return nil, fetchErr
	}
	r.info(StepFetch, "", "Git is unreachable (%s); using the cached checkout of commit %.12s from the last run", firstLine(fetchErr), commit)
	return repo, nil
}

// lastCommit finds the commit the checkpoint of source (and env, if given)
// records under the state dir.
func lastCommit(stateDir, source, env string) string {
	files, _ := filepath.Glob(filepath.Join(stateDir, "envs", "*", "*", "checkpoint.json"))
	for _, f := range files {
		cp, err := readCheckpoint(f)
		if err == nil && cp.Source == source && (env == "" || cp.Env == env) && cp.Commit != "" {
			return cp.Commit
		}
	}
	return ""
}

// step runs fn as a named step, emitting events and, on success (unless a
// dry run), recording it in the checkpoint.
func (r *run) step(ctx context.Context, name string, fn func(ctx context.Context) (detail string, skipped bool, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	r.opts.Events(Event{Time: start, Step: name, Status: StatusStarted})
	detail, skipped, err := r.withRetry(ctx, name, fn)
	took := time.Since(start)
	status := StatusDone
	switch {
	case err != nil:
		status = StatusFailed
		detail = err.Error()
	case skipped:
		status = StatusSkipped
	}
	r.opts.Events(Event{Time: time.Now(), Step: name, Status: status, Duration: took, Detail: detail})
	r.steps = append(r.steps, StepSummary{Name: name, Status: status, Started: start, Duration: took, Detail: detail})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if r.cp != nil && !r.opts.DryRun {
		r.cp.Steps[name] = StepRecord{Completed: time.Now().UTC(), Duration: took, Detail: detail}
		if err := r.cp.write(r.paths.checkpoint); err != nil {
			return fmt.Errorf("%s: save checkpoint: %w", name, err)
		}
	}
	return nil
}

func (r *run) info(step, clusterName, format string, args ...any) {
	r.opts.Events(Event{Time: time.Now(), Step: step, Status: StatusInfo, Cluster: clusterName, Detail: fmt.Sprintf(format, args...)})
}

// open fetches and loads the blueprint, picks the environment, takes its
// lock and reads its checkpoint.
func (r *run) open(ctx context.Context) error {
	err := r.step(ctx, StepFetch, func(ctx context.Context) (string, bool, error) {
		repo, err := blueprints.Open(ctx, r.opts.Source)
		if err != nil && r.cachedFallback {
			repo, err = r.openCached(ctx, err)
		}
		if err != nil {
			return "", false, err
		}
		r.repo = repo
		if repo.Commit == "" {
			return fmt.Sprintf("%s (not a Git checkout: no commit recorded)", r.opts.Source.Location), false, nil
		}
		return fmt.Sprintf("%s at commit %.12s", r.opts.Source.Location, repo.Commit), false, nil
	})
	if err != nil {
		return err
	}
	env, err := pickEnv(r.repo, r.opts.Env)
	if err != nil {
		return err
	}
	r.env = env
	r.paths = newEnvPaths(r.opts.StateDir, r.repo.Blueprint.Metadata.Name, env)
	if r.opts.DryRun {
		r.cp = &Checkpoint{Steps: map[string]StepRecord{}}
		return nil
	}
	if r.unlock, err = lockEnv(r.paths.lock); err != nil {
		return err
	}
	if r.cp, err = readCheckpoint(r.paths.checkpoint); err != nil {
		return err
	}
	if r.cp.Commit != "" && r.cp.Commit != r.repo.Commit {
		r.info(StepFetch, "", "the last run stopped at commit %.12s; this run is at %.12s, so every step runs again for the new commit", r.cp.Commit, r.repo.Commit)
		r.cp.Steps = map[string]StepRecord{}
	} else if len(r.cp.Steps) > 0 {
		r.info(StepFetch, "", "resuming: %d step(s) completed by an earlier run are checked and skipped", len(r.cp.Steps))
	}
	r.cp.Blueprint = r.repo.Blueprint.Metadata.Name
	r.cp.Source = git.RedactURL(r.opts.Source.Location)
	r.cp.Ref = r.opts.Source.Ref
	r.cp.Env = env
	r.cp.Commit = r.repo.Commit
	r.cp.Steps[StepFetch] = StepRecord{Completed: time.Now().UTC(), Detail: fmt.Sprintf("commit %.12s", r.repo.Commit)}
	return nil
}

func (r *run) close() {
	if r.unlock != nil {
		r.unlock()
	}
}

// pickEnv returns env, or the blueprint's only environment when env is empty.
func pickEnv(repo *blueprints.Repo, env string) (string, error) {
	envs := repo.Blueprint.Spec.Environments
	if env == "" {
		if len(envs) != 1 {
			return "", &UsageError{fmt.Sprintf("the blueprint has %d environments: choose one with --env", len(envs))}
		}
		return envs[0].Name, nil
	}
	if _, err := repo.Blueprint.Environment(env); err != nil {
		return "", &UsageError{err.Error()}
	}
	return env, nil
}

// UsageError is bad input from the user (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// IsUsage reports whether err is bad input rather than a failure.
func IsUsage(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}

// writeOutputs saves the non-sensitive Terraform outputs for host-process
// agents, which need them to expand cluster names.
func (r *run) outputsFile() string { return filepath.Join(r.paths.dir, "outputs.json") }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (r *run) renderOptions() blueprints.RenderOptions {
	return blueprints.RenderOptions{Outputs: r.outputs, Keys: r.keys}
}
