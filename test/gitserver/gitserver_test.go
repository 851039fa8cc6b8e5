package gitserver

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func newRepo(t *testing.T) (base, sha string) {
	t.Helper()
	base = t.TempDir()
	dir := filepath.Join(base, "org", "repo")
	InitRepo(t, dir)
	WriteFile(t, dir, "a/b.txt", "hello\n")
	return base, Commit(t, dir, "first")
}

// lsRemote runs the git CLI (not go-git) against url and returns its output
// and error.
func lsRemote(url string) (string, error) {
	cmd := exec.Command("git", "ls-remote", url)
	cmd.Env = append(Env(), "GIT_ASKPASS=/bin/false")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCommitIsReproducible(t *testing.T) {
	_, a := newRepo(t)
	_, b := newRepo(t)
	if a != b || len(a) != 40 {
		t.Errorf("commits %q and %q: want the same SHA for the same content (fixed author and date)", a, b)
	}
}

func TestServers(t *testing.T) {
	base, sha := newRepo(t)
	const token = "gs-token-1"
	httpURL := NewHTTP(t, base, token)
	hostPort := strings.TrimPrefix(httpURL, "http://")
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{"daemon", NewDaemon(t, base) + "/org/repo", ""},
		{"http open", NewHTTP(t, base, "") + "/org/repo", ""},
		{"http token", "http://git:" + token + "@" + hostPort + "/org/repo", ""},
		{"http no token", httpURL + "/org/repo", "could not read Username"},
		{"http wrong token", "http://git:nope@" + hostPort + "/org/repo", "Authentication failed"},
		{"http missing repo", "http://git:" + token + "@" + hostPort + "/org/none", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := lsRemote(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(out, tt.wantErr) {
					t.Errorf("ls-remote: %v\n%s\nwant an error with %q", err, out, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ls-remote: %v\n%s", err, out)
			}
			if !strings.Contains(out, sha+"\trefs/heads/main") {
				t.Errorf("ls-remote output %q lacks main at %s", out, sha)
			}
		})
	}
}

func TestParseGitCommand(t *testing.T) {
	tests := []struct {
		cmd, want, wantErr string
	}{
		{"git-upload-pack '/org/repo'", "/base/org/repo", ""},
		{"git upload-pack 'org/repo'", "/base/org/repo", ""},
		{"git-upload-pack '/../../etc'", "/base/etc", ""},
		{"git-receive-pack '/org/repo'", "", "not allowed"},
		{"sh -c id", "", "not allowed"},
	}
	for _, tt := range tests {
		service, repo, err := parseGitCommand(tt.cmd, "/base")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.cmd, err, tt.wantErr)
			}
			continue
		}
		if err != nil || service != "upload-pack" || repo != tt.want {
			t.Errorf("%q: got %q, %q, %v; want upload-pack, %q", tt.cmd, service, repo, err, tt.want)
		}
	}
}
