package recovery

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/providers/cluster/kind"
)

// RehearseOptions configure a rehearsal.
type RehearseOptions struct {
	bootstrap.Options
	// Provider replaces every cluster's provider: "kwok", "kind", or "auto"
	// (or empty): kind where a container runtime works, else kwok.
	Provider string
	// Keep leaves the rehearsal environment running.
	Keep bool
}

// Rehearse runs an environment of any blueprint on local clusters: every
// cluster's provider is replaced, Terraform runs when its module needs no
// cloud provider and is skipped with a notice otherwise, and everything
// lives under <StateDir>/rehearsals so the real environment's state is never
// touched. It tears down afterwards unless Keep, even when it fails.
func Rehearse(ctx context.Context, opts RehearseOptions) (*bootstrap.Summary, error) {
	switch opts.Provider {
	case "", "auto":
		var why string
		opts.Provider, why = autoProvider(ctx)
		if opts.Events != nil {
			opts.Events(bootstrap.Event{Time: time.Now(), Step: bootstrap.StepFetch, Status: bootstrap.StatusInfo, Detail: "rehearsing on " + opts.Provider + " clusters" + why})
		}
	case "kwok", "kind":
	default:
		return nil, &bootstrap.UsageError{Msg: fmt.Sprintf("rehearse: provider must be auto, kwok or kind, got %q", opts.Provider)}
	}
	opts.Options.Rehearse = opts.Provider
	opts.Options.StateDir = filepath.Join(opts.Options.StateDir, "rehearsals")
	sum, err := bootstrap.Create(ctx, opts.Options)
	if !opts.Keep {
		if _, derr := bootstrap.Destroy(context.WithoutCancel(ctx), opts.Options); derr != nil {
			err = errors.Join(err, fmt.Errorf("teardown: %w", derr))
		}
	}
	return sum, err
}

// autoProvider is the provider --provider auto picks: kind where kind can
// start a cluster (an engine that runs privileged containers, and a node
// image present or pullable: kind.Available), kwok everywhere else, with why.
func autoProvider(ctx context.Context) (provider, why string) {
	if err := kind.Available(ctx, ""); err != nil {
		return "kwok", " (kind cannot start a cluster here: " + err.Error() + ")"
	}
	return "kind", ""
}
