package blueprints

import (
	"context"
	"fmt"

	"github.com/rekindle-dev/rekindle/providers/git"
)

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
	// ChartCacheDir keeps remote Helm charts by digest (Repo.ChartCacheDir).
	ChartCacheDir string
}

// Open fetches the blueprint (for a Git URL) and loads it. The returned Repo
// records the resolved commit.
func Open(ctx context.Context, src Source) (*Repo, error) {
	if src.Location == "" {
		return nil, fmt.Errorf("no blueprint given: pass --blueprint DIR or a Git URL")
	}
	if !git.IsRemote(src.Location) {
		if src.Ref != "" {
			return nil, fmt.Errorf("ref %q needs a Git URL; %q is a local directory", src.Ref, src.Location)
		}
		r, err := Load(src.Location)
		if err != nil {
			return nil, err
		}
		r.Commit, _ = git.CommitOf(r.Dir)
		r.setSource(src)
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
	r.setSource(src)
	return r, nil
}

// setSource keeps what later fetches need: the chart cache, and the Git
// cache and credentials for kustomize's remote bases.
func (r *Repo) setSource(src Source) {
	r.ChartCacheDir = src.ChartCacheDir
	r.gitCacheDir = src.CacheDir
	auth := src.Auth
	r.gitAuth = &auth
}
