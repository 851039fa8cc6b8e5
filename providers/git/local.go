package git

import (
	"path/filepath"
	"strings"

	gogit "github.com/go-git/go-git/v5"
)

// CommitOf returns the HEAD commit of the Git worktree that contains dir, and
// whether anything below dir differs from it (modified, staged, deleted or
// untracked files that are not ignored). It returns "", false when dir is not
// inside a Git worktree or HEAD has no commit yet.
func CommitOf(dir string) (commit string, dirty bool) {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return "", false
	}
	head, err := repo.Head()
	if err != nil {
		return "", false
	}
	commit = head.Hash().String()
	wt, err := repo.Worktree()
	if err != nil {
		return commit, false // bare repository: nothing to be dirty
	}
	status, err := wt.Status()
	if err != nil {
		return commit, true // cannot tell: do not claim it is clean
	}
	prefix := subdir(wt.Filesystem.Root(), dir)
	for name, s := range status {
		if s.Staging == gogit.Unmodified && s.Worktree == gogit.Unmodified {
			continue
		}
		if prefix == "" || name == prefix || strings.HasPrefix(name, prefix+"/") {
			return commit, true
		}
	}
	return commit, false
}

// subdir returns dir relative to root, slash-separated ("" for root itself or
// when it cannot be computed, which widens the dirty check to the whole repo).
func subdir(root, dir string) string {
	r, err1 := filepath.EvalSymlinks(root)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return ""
	}
	if resolved, err := filepath.EvalSymlinks(d); err == nil {
		d = resolved
	}
	rel, err := filepath.Rel(r, d)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		return ""
	}
	return filepath.ToSlash(rel)
}
