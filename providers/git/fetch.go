package git

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Source is a repository and the ref to check out.
type Source struct {
	URL  string
	Ref  string
	Auth Auth
}

// Checkout is a fetched commit.
type Checkout struct {
	// Dir holds exactly the files of Commit (no .git). Treat it as read-only.
	Dir string
	// Commit is the full SHA Ref resolved to.
	Commit string
	// Ref is the requested ref, or the default branch's name when none was
	// requested.
	Ref string
	// URL is the normalized URL, without credentials.
	URL string
}

const (
	remoteName   = "origin"
	branchPrefix = "refs/remotes/" + remoteName + "/"
)

var fetchSpecs = []config.RefSpec{
	"+refs/heads/*:" + branchPrefix + "*",
	"+refs/tags/*:refs/tags/*",
}

// Fetch clones (first time) or fetches incrementally (afterwards) into a cache
// dir keyed by the normalized URL under cacheDir, then checks out Ref (branch,
// tag, full or short commit SHA; empty = remote HEAD/default branch) and
// returns the resolved commit.
func Fetch(ctx context.Context, cacheDir string, src Source) (*Checkout, error) {
	r, err := parseRemote(src.URL)
	if err != nil {
		return nil, redact(fmt.Errorf("fetch %q: %w", RedactURL(src.URL), err), src.Auth.secrets(r))
	}
	co, err := fetch(ctx, cacheDir, r, src)
	if err != nil {
		return nil, redact(fmt.Errorf("fetch %q at %q: %w", r.url, refLabel(src.Ref), err), src.Auth.secrets(r))
	}
	return co, nil
}

func refLabel(ref string) string {
	if ref == "" {
		return "HEAD"
	}
	return ref
}

func fetch(ctx context.Context, cacheDir string, r remote, src Source) (*Checkout, error) {
	if cacheDir == "" {
		return nil, errors.New("no cache directory")
	}
	dir := filepath.Join(cacheDir, cacheName(r))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	method, err := src.Auth.method(r)
	if err != nil {
		return nil, err
	}
	repo, err := openCache(filepath.Join(dir, "repo.git"), r.url)
	if err != nil {
		return nil, err
	}
	ref := strings.TrimSpace(src.Ref)
	var head *plumbing.Reference
	if !isFullSHA(ref) || !hasCommit(repo, ref) { // a cached pinned commit needs no network
		rem, err := repo.Remote(remoteName)
		if err != nil {
			return nil, err
		}
		if ref == "" {
			if head, err = remoteHead(ctx, rem, method); err != nil {
				return nil, authHint(err, r, src.Auth)
			}
		}
		err = rem.FetchContext(ctx, &gogit.FetchOptions{
			RefSpecs: fetchSpecs,
			Auth:     method,
			Tags:     gogit.NoTags, // the tag refspec fetches them all
			Force:    true,
			Prune:    true,
		})
		if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
			return nil, authHint(err, r, src.Auth)
		}
		if isFullSHA(ref) && !hasCommit(repo, ref) {
			fetchSHA(ctx, rem, method, ref) // not on any branch or tag: ask for it directly
		}
	}
	hash, name, err := resolve(repo, ref, head)
	if err != nil {
		return nil, err
	}
	wt, err := checkout(ctx, dir, repo, hash)
	if err != nil {
		return nil, err
	}
	return &Checkout{Dir: wt, Commit: hash.String(), Ref: name, URL: r.url}, nil
}

// openCache opens the bare cache repository at path, creating it (or
// recreating it, if it is unreadable) with remote origin = url.
func openCache(path, url string) (*gogit.Repository, error) {
	repo, err := gogit.PlainOpen(path)
	if err == nil {
		if rem, rerr := repo.Remote(remoteName); rerr == nil && slices.Equal(rem.Config().URLs, []string{url}) {
			return repo, nil
		}
	}
	if err != nil && !errors.Is(err, gogit.ErrRepositoryNotExists) {
		// A crash while it was created, or someone else's files: start over.
		if err := os.RemoveAll(path); err != nil {
			return nil, fmt.Errorf("reset cache %s: %w", path, err)
		}
	}
	if repo == nil {
		// Create it under a temporary name, so a half-made repository is never
		// mistaken for the cache.
		tmp, err := os.MkdirTemp(filepath.Dir(path), ".init-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if _, err := gogit.PlainInit(tmp, true); err != nil {
			return nil, fmt.Errorf("init cache %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
		if repo, err = gogit.PlainOpen(path); err != nil {
			return nil, err
		}
	}
	_ = repo.DeleteRemote(remoteName)
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: remoteName, URLs: []string{url}, Fetch: fetchSpecs}); err != nil {
		return nil, fmt.Errorf("configure cache %s: %w", path, err)
	}
	return repo, nil
}

// remoteHead returns the remote's HEAD: a symbolic reference to the default
// branch when the server says which it is, else a hash reference.
func remoteHead(ctx context.Context, rem *gogit.Remote, method transport.AuthMethod) (*plumbing.Reference, error) {
	refs, err := rem.ListContext(ctx, &gogit.ListOptions{Auth: method})
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD {
			return ref, nil
		}
	}
	return nil, errors.New("the remote has no HEAD (empty repository?): give a ref")
}

// fetchSHA fetches one commit by SHA, which servers that allow it (GitHub,
// GitLab, git with uploadpack.allowReachableSHA1InWant) serve even when no
// branch or tag points at it any more. Failure is not an error here: resolve
// reports the ref as not found.
func fetchSHA(ctx context.Context, rem *gogit.Remote, method transport.AuthMethod, sha string) {
	_ = rem.FetchContext(ctx, &gogit.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec(sha + ":refs/rekindle/pinned/" + sha)},
		Auth:     method,
		Tags:     gogit.NoTags,
	})
}

func isFullSHA(s string) bool { return len(s) == 40 && isHex(s) }

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return s != ""
}

func hasCommit(repo *gogit.Repository, sha string) bool {
	_, err := repo.CommitObject(plumbing.NewHash(strings.ToLower(sha)))
	return err == nil
}

// resolve finds the commit for ref: a branch, a tag, refs/heads/X or
// refs/tags/X, a full or a short (at least 4 hex digits) commit SHA; or for
// "", the remote's HEAD. It returns the commit and the ref's display name.
func resolve(repo *gogit.Repository, ref string, head *plumbing.Reference) (plumbing.Hash, string, error) {
	if ref == "" {
		if head.Type() == plumbing.SymbolicReference {
			branch := head.Target().Short()
			h, err := peel(repo, plumbing.ReferenceName(branchPrefix+branch))
			return h, branch, err
		}
		h, err := commitOf(repo, head.Hash())
		return h, "HEAD", err
	}
	var candidates []plumbing.ReferenceName
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(branchPrefix + strings.TrimPrefix(ref, "refs/heads/"))}
	case strings.HasPrefix(ref, "refs/"):
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	default:
		candidates = []plumbing.ReferenceName{
			plumbing.ReferenceName(branchPrefix + ref),
			plumbing.NewTagReferenceName(ref),
		}
	}
	for _, name := range candidates {
		h, err := peel(repo, name)
		if err == nil {
			return h, ref, nil
		}
		if !errors.Is(err, plumbing.ErrReferenceNotFound) {
			return plumbing.ZeroHash, "", err
		}
	}
	if len(ref) >= 4 && len(ref) <= 40 && isHex(ref) {
		h, err := findCommit(repo, strings.ToLower(ref))
		if err == nil || !errors.Is(err, ErrRefNotFound) {
			return h, ref, err
		}
	}
	return plumbing.ZeroHash, "", fmt.Errorf("%w%s", ErrRefNotFound, refHint(repo))
}

// peel resolves a reference to the commit it (or the tag it names) points at.
func peel(repo *gogit.Repository, name plumbing.ReferenceName) (plumbing.Hash, error) {
	ref, err := repo.Reference(name, true)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return commitOf(repo, ref.Hash())
}

// commitOf follows annotated tags from h to a commit.
func commitOf(repo *gogit.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := repo.Object(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("object %s: %w", h, err)
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o.Hash, nil
		case *object.Tag:
			h = o.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: tags nested too deeply", h)
}

// findCommit finds the one commit whose SHA starts with prefix.
func findCommit(repo *gogit.Repository, prefix string) (plumbing.Hash, error) {
	if len(prefix) == 40 {
		if hasCommit(repo, prefix) {
			return plumbing.NewHash(prefix), nil
		}
		return plumbing.ZeroHash, ErrRefNotFound
	}
	iter, err := repo.CommitObjects()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer iter.Close()
	var found []plumbing.Hash
	err = iter.ForEach(func(c *object.Commit) error {
		if strings.HasPrefix(c.Hash.String(), prefix) {
			found = append(found, c.Hash)
		}
		return nil
	})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	switch len(found) {
	case 0:
		return plumbing.ZeroHash, ErrRefNotFound
	case 1:
		return found[0], nil
	}
	return plumbing.ZeroHash, fmt.Errorf("short SHA %s is ambiguous (%d commits match): give more digits", prefix, len(found))
}

// refHint lists some branches and tags, to help with a typo.
func refHint(repo *gogit.Repository) string {
	var branches, tags []string
	iter, err := repo.References()
	if err != nil {
		return ""
	}
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		switch {
		case strings.HasPrefix(name, branchPrefix):
			branches = append(branches, strings.TrimPrefix(name, branchPrefix))
		case ref.Name().IsTag():
			tags = append(tags, ref.Name().Short())
		}
		return nil
	})
	slices.Sort(branches)
	slices.Sort(tags)
	return fmt.Sprintf(" (branches: %s; tags: %s; or give a commit SHA)", listSome(branches), listSome(tags))
}

func listSome(names []string) string {
	const limit = 10
	switch {
	case len(names) == 0:
		return "none"
	case len(names) > limit:
		return strings.Join(names[:limit], ", ") + fmt.Sprintf(", and %d more", len(names)-limit)
	}
	return strings.Join(names, ", ")
}
