package blueprints

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rekindle-dev/rekindle/providers/git"
)

// ErrRefOnDir is returned when a ref is asked of a local directory.
var ErrRefOnDir = errors.New("a ref needs a Git URL")

// Source says where a blueprint repo is: a local directory or a Git URL.
type Source struct {
	// Location is a directory or a Git URL (https://, ssh://, git@host:org/repo, file://).
	Location string
	// Ref is a branch, tag or commit for Git URLs; empty means the default branch.
	Ref string
	// Auth holds Git credentials.
	Auth git.Auth
	// CacheDir keeps clones between runs (fetched incrementally).
	CacheDir string
}

// Open fetches the blueprint (for a Git URL) and loads it. The returned Repo
// records the resolved commit.
func Open(ctx context.Context, src Source) (*Repo, error) {
	if src.Location == "" {
		return nil, fmt.Errorf("no blueprint given: pass --blueprint DIR or a Git URL")
	}
	if !git.IsRemote(src.Location) {
		if src.Ref != "" {
			return nil, fmt.Errorf("ref %q: %w; %q is a local directory (use file://%s to read it as a Git repo)", src.Ref, ErrRefOnDir, src.Location, mustAbs(src.Location))
		}
		r, err := Load(src.Location)
		if err != nil {
			return nil, err
		}
		r.Commit, _ = git.CommitOf(r.Dir)
		return r, nil
	}
	co, err := git.Fetch(ctx, src.CacheDir, git.Source{URL: src.Location, Ref: src.Ref, Auth: src.Auth})
	if err != nil {
		return nil, err
	}
	r, err := Load(co.Dir)
	if err != nil {
		return nil, err
	}
	r.Commit = co.Commit
	return r, nil
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
