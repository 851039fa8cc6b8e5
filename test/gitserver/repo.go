package gitserver

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Fixed identity and date, so commit SHAs are reproducible across runs.
const (
	AuthorName  = "Rekindle Test"
	AuthorEmail = "test@rekindle.invalid"
	CommitDate  = "2024-01-01T00:00:00Z"
)

// Env returns the environment git commands run with: the caller's environment
// minus its git configuration, plus a fixed author and committer.
func Env() []string {
	env := make([]string, 0, len(os.Environ())+8)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") {
			continue // e.g. GIT_DIR from a hook would redirect every command
		}
		env = append(env, kv)
	}
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME="+AuthorName,
		"GIT_AUTHOR_EMAIL="+AuthorEmail,
		"GIT_AUTHOR_DATE="+CommitDate,
		"GIT_COMMITTER_NAME="+AuthorName,
		"GIT_COMMITTER_EMAIL="+AuthorEmail,
		"GIT_COMMITTER_DATE="+CommitDate,
		"GIT_TERMINAL_PROMPT=0",
	)
}

// Git runs `git args...` in dir and returns its trimmed stdout. It fails the
// test with git's stderr when the command fails.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// InitRepo creates dir (if needed) and initializes a non-bare repository in it
// whose initial branch is "main".
func InitRepo(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	Git(t, dir, "init", "--quiet", "--initial-branch=main")
}

// WriteFile writes content to dir/name, creating parent directories.
func WriteFile(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Commit stages every change in dir (additions, modifications and deletions)
// and commits it with msg, returning the new commit's full SHA. Empty commits
// are allowed.
func Commit(t testing.TB, dir, msg string) string {
	t.Helper()
	Git(t, dir, "add", "--all")
	Git(t, dir, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}
