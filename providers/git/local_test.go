package git

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rekindle-dev/rekindle/test/gitserver"
)

func TestCommitOf(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, repo string) // after one commit
		dir       string                          // relative to the repo
		noRepo    bool
		wantDirty bool
	}{
		{name: "not a repository", noRepo: true},
		{name: "clean", dir: "."},
		{name: "clean subdir", dir: "bp"},
		{name: "modified file", dir: ".", wantDirty: true,
			setup: func(t *testing.T, r string) { gitserver.WriteFile(t, r, "bp/rekindle.yaml", "changed\n") }},
		{name: "untracked file", dir: "bp", wantDirty: true,
			setup: func(t *testing.T, r string) { gitserver.WriteFile(t, r, "bp/new.yaml", "x\n") }},
		{name: "deleted file", dir: "bp", wantDirty: true,
			setup: func(t *testing.T, r string) { _ = os.Remove(filepath.Join(r, "bp", "rekindle.yaml")) }},
		{name: "staged change", dir: ".", wantDirty: true,
			setup: func(t *testing.T, r string) {
				gitserver.WriteFile(t, r, "bp/rekindle.yaml", "staged\n")
				gitserver.Git(t, r, "add", "bp/rekindle.yaml")
			}},
		{name: "ignored file", dir: "bp",
			setup: func(t *testing.T, r string) { gitserver.WriteFile(t, r, "bp/out/render.yaml", "x\n") }},
		{name: "change outside the blueprint dir", dir: "bp",
			setup: func(t *testing.T, r string) { gitserver.WriteFile(t, r, "other/notes.txt", "x\n") }},
		{name: "change outside, whole repo", dir: ".", wantDirty: true,
			setup: func(t *testing.T, r string) { gitserver.WriteFile(t, r, "other/notes.txt", "x\n") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := t.TempDir()
			var want string
			if !tt.noRepo {
				gitserver.InitRepo(t, repo)
				gitserver.WriteFile(t, repo, "bp/rekindle.yaml", "kind: Blueprint\n")
				gitserver.WriteFile(t, repo, ".gitignore", "out/\n")
				want = gitserver.Commit(t, repo, "init")
				if tt.setup != nil {
					tt.setup(t, repo)
				}
			}
			commit, dirty := CommitOf(filepath.Join(repo, tt.dir))
			if commit != want || dirty != tt.wantDirty {
				t.Errorf("CommitOf = %q, %v; want %q, %v", commit, dirty, want, tt.wantDirty)
			}
		})
	}

	t.Run("no commit yet", func(t *testing.T) {
		repo := t.TempDir()
		gitserver.InitRepo(t, repo)
		if commit, dirty := CommitOf(repo); commit != "" || dirty {
			t.Errorf("CommitOf = %q, %v; want \"\", false", commit, dirty)
		}
	})
}
