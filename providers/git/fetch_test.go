package git

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gittransport "github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/rekindle-dev/rekindle/test/gitserver"
)

// served is one way of serving the blueprint repository.
type served struct {
	name string
	url  string
	auth Auth
}

func servings(t *testing.T, b *blueprint) []served {
	t.Helper()
	const token = "tkn-4f7a9c2e"
	keyDir := t.TempDir()
	key := writeSSHKey(t, keyDir, "")
	sshSrv := gitserver.NewSSH(t, b.base, readPublicKey(t, key))
	knownHosts := filepath.Join(keyDir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(sshSrv.KnownHostsLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []served{
		{name: "file", url: "file://" + b.dir},
		{name: "git-daemon", url: gitserver.NewDaemon(t, b.base) + "/org/blueprint"},
		{name: "http-token", url: gitserver.NewHTTP(t, b.base, token) + "/org/blueprint", auth: Auth{Token: token}},
		{name: "ssh", url: sshSrv.URL + "/org/blueprint", auth: Auth{SSHKeyFile: key, KnownHostsFile: knownHosts}},
	}
}

func TestFetchRefs(t *testing.T) {
	b := newBlueprint(t)
	for _, tr := range servings(t, b) {
		t.Run(tr.name, func(t *testing.T) {
			cache := t.TempDir() // shared by the refs below: later fetches are incremental
			tests := []struct {
				ref, wantCommit, wantRef, wantReadme string
			}{
				{"", b.c2, "main", "v2\n"},
				{"main", b.c2, "main", "v2\n"},
				{"refs/heads/main", b.c2, "refs/heads/main", "v2\n"},
				{"dev", b.dev, "dev", "v1\n"},
				{"v1.0", b.c1, "v1.0", "v1\n"}, // annotated tag
				{"refs/tags/v1.0", b.c1, "refs/tags/v1.0", "v1\n"},
				{"light", b.c1, "light", "v1\n"}, // lightweight tag
				{b.c1, b.c1, b.c1, "v1\n"},
				{b.c1[:7], b.c1, b.c1[:7], "v1\n"},
				{strings.ToUpper(b.dev[:10]), b.dev, strings.ToUpper(b.dev[:10]), "v1\n"},
			}
			for _, tt := range tests {
				t.Run(refLabel(tt.ref), func(t *testing.T) {
					co, err := Fetch(testContext(t), cache, Source{URL: tr.url, Ref: tt.ref, Auth: tr.auth})
					if err != nil {
						t.Fatal(err)
					}
					if co.Commit != tt.wantCommit || co.Ref != tt.wantRef {
						t.Errorf("commit, ref = %s, %q; want %s, %q", co.Commit, co.Ref, tt.wantCommit, tt.wantRef)
					}
					if co.URL != strings.TrimRight(tr.url, "/") && !strings.HasPrefix(tr.url, "ssh://") {
						t.Errorf("URL = %q, want %q", co.URL, tr.url)
					}
					if got := readFile(t, co.Dir, "README.md"); got != tt.wantReadme {
						t.Errorf("README.md = %q, want %q", got, tt.wantReadme)
					}
					if got := exists(filepath.Join(co.Dir, "dev.txt")); got != (tt.wantCommit == b.dev) {
						t.Errorf("dev.txt exists = %v at %s", got, tt.wantCommit)
					}
					if got := exists(filepath.Join(co.Dir, "old.txt")); got != (tt.wantCommit != b.c2) {
						t.Errorf("old.txt exists = %v at %s (it is deleted in c2)", got, tt.wantCommit)
					}
					if exists(filepath.Join(co.Dir, ".git")) {
						t.Errorf("checkout has a .git")
					}
				})
			}
		})
	}
}

func TestFetchFileModes(t *testing.T) {
	b := newBlueprint(t)
	co, err := Fetch(testContext(t), t.TempDir(), Source{URL: "file://" + b.dir, Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(co.Dir, "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh mode = %v, want executable", info.Mode())
	}
	if target, err := os.Readlink(filepath.Join(co.Dir, "link")); err != nil || target != "README.md" {
		t.Errorf("link -> %q, %v; want a symlink to README.md", target, err)
	}
	if got := readFile(t, co.Dir, "deploy/app.yaml"); got != "kind: ConfigMap\n" {
		t.Errorf("deploy/app.yaml = %q", got)
	}
}

// TestFetchIncremental checks that a second Fetch reuses the cache (same
// repository directory, a marker file survives) and sees a commit pushed
// upstream in between, including a deleted file.
func TestFetchIncremental(t *testing.T) {
	b := newBlueprint(t)
	url := gitserver.NewHTTP(t, b.base, "") + "/org/blueprint"
	cache := t.TempDir()
	ctx := testContext(t)

	first, err := Fetch(ctx, cache, Source{URL: url, Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(filepath.Dir(filepath.Dir(first.Dir)), "repo.git")
	marker := filepath.Join(repoDir, "rekindle-test-marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inode := func() uint64 {
		info, err := os.Stat(repoDir)
		if err != nil {
			t.Fatal(err)
		}
		return info.Sys().(*syscall.Stat_t).Ino
	}
	before := inode()

	gitserver.WriteFile(t, b.dir, "deploy/new.yaml", "kind: Secret\n")
	if err := os.Remove(filepath.Join(b.dir, "deploy", "app.yaml")); err != nil {
		t.Fatal(err)
	}
	c3 := gitserver.Commit(t, b.dir, "c3")

	second, err := Fetch(ctx, cache, Source{URL: url, Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Commit != c3 {
		t.Errorf("second fetch: commit = %s, want the new %s", second.Commit, c3)
	}
	if inode() != before || !exists(marker) {
		t.Errorf("the cache repository was re-created instead of fetched into")
	}
	if exists(filepath.Join(second.Dir, "deploy", "app.yaml")) {
		t.Errorf("deploy/app.yaml, deleted upstream, is still in the checkout")
	}
	if got := readFile(t, second.Dir, "deploy/new.yaml"); got != "kind: Secret\n" {
		t.Errorf("deploy/new.yaml = %q", got)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 1 {
		t.Errorf("cache has %d entries, want one directory for the one URL", len(entries))
	}
	// The first checkout is untouched: each commit has its own directory.
	if first.Dir == second.Dir || readFile(t, first.Dir, "deploy/app.yaml") != "kind: ConfigMap\n" {
		t.Errorf("the checkout of the first commit changed")
	}
}

// TestFetchRestoresModifiedCheckout checks that a checkout someone changed is
// made clean again by the next Fetch.
func TestFetchRestoresModifiedCheckout(t *testing.T) {
	b := newBlueprint(t)
	cache := t.TempDir()
	src := Source{URL: "file://" + b.dir, Ref: "v1.0"}
	co, err := Fetch(testContext(t), cache, src)
	if err != nil {
		t.Fatal(err)
	}
	tamper := []func(){
		func() { gitserver.WriteFile(t, co.Dir, "stray.txt", "x") },
		func() { gitserver.WriteFile(t, co.Dir, "README.md", "v9\n") },
		func() { gitserver.WriteFile(t, co.Dir, "README.md", "V1\n") }, // same size
		func() { _ = os.Remove(filepath.Join(co.Dir, "deploy", "app.yaml")) },
		func() { _ = os.Chmod(filepath.Join(co.Dir, "run.sh"), 0o644) },
	}
	for i, f := range tamper {
		f()
		again, err := Fetch(testContext(t), cache, src)
		if err != nil {
			t.Fatal(err)
		}
		if again.Dir != co.Dir {
			t.Fatalf("dir changed: %s -> %s", co.Dir, again.Dir)
		}
		if exists(filepath.Join(co.Dir, "stray.txt")) || readFile(t, co.Dir, "README.md") != "v1\n" ||
			!exists(filepath.Join(co.Dir, "deploy", "app.yaml")) {
			t.Errorf("tamper %d: checkout not restored", i)
		}
		if info, err := os.Stat(filepath.Join(co.Dir, "run.sh")); err != nil || info.Mode().Perm()&0o100 == 0 {
			t.Errorf("tamper %d: run.sh not executable again", i)
		}
	}
}

func TestFetchUnknownRef(t *testing.T) {
	b := newBlueprint(t)
	url := gitserver.NewDaemon(t, b.base) + "/org/blueprint"
	for _, ref := range []string{"nope", "v9.9", "refs/heads/nope", "deadbeef", strings.Repeat("ab", 20)} {
		t.Run(ref, func(t *testing.T) {
			_, err := Fetch(testContext(t), t.TempDir(), Source{URL: url, Ref: ref})
			if !errors.Is(err, ErrRefNotFound) {
				t.Fatalf("err = %v, want ErrRefNotFound", err)
			}
			want := fmt.Sprintf("fetch %q at %q: reference not found (branches: dev, main; tags: light, v1.0; or give a commit SHA)", url, ref)
			if err.Error() != want {
				t.Errorf("err =\n  %s\nwant\n  %s", err, want)
			}
		})
	}
}

func TestFetchHTTPAuth(t *testing.T) {
	const token = "tkn-9d3b61aa"
	b := newBlueprint(t)
	srv := gitserver.NewHTTP(t, b.base, token)
	url := srv + "/org/blueprint"
	hostURL := strings.TrimPrefix(srv, "http://")

	t.Run("ok", func(t *testing.T) {
		co, err := Fetch(testContext(t), t.TempDir(), Source{URL: url, Ref: "main", Auth: Auth{Token: token}})
		if err != nil {
			t.Fatal(err)
		}
		if co.Commit != b.c2 {
			t.Errorf("commit = %s, want %s", co.Commit, b.c2)
		}
	})
	t.Run("token in URL", func(t *testing.T) {
		cache := t.TempDir()
		co, err := Fetch(testContext(t), cache, Source{URL: "http://git:" + token + "@" + hostURL + "/org/blueprint", Ref: "main"})
		if err != nil {
			t.Fatal(err)
		}
		if co.URL != url {
			t.Errorf("URL = %q, want %q (no credentials)", co.URL, url)
		}
		assertNoSecretInTree(t, cache, token)
	})

	tests := []struct {
		name     string
		url      string
		auth     Auth
		wantHint string
		secret   string
	}{
		{"missing token", url, Auth{}, "set REKINDLE_GIT_TOKEN", ""},
		{"wrong token", url, Auth{Token: "wrong-tkn-77"}, "rejected the credentials", "wrong-tkn-77"},
		{"wrong password", url, Auth{Username: "me", Password: "hunter2-pw"}, "rejected the credentials", "hunter2-pw"},
		{"wrong token in URL", "http://git:url-tkn-55@" + hostURL + "/org/blueprint", Auth{}, "rejected the credentials", "url-tkn-55"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			for _, ref := range []string{"main", ""} { // fetch, and list for the default branch
				_, err := Fetch(testContext(t), cache, Source{URL: tt.url, Ref: ref, Auth: tt.auth})
				if !errors.Is(err, ErrAuthRequired) {
					t.Fatalf("ref %q: err = %v, want ErrAuthRequired", ref, err)
				}
				msg := err.Error()
				wantPrefix := fmt.Sprintf("fetch %q at %q: authentication required: ", url, refLabel(ref))
				if !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, tt.wantHint) || !strings.Contains(msg, EnvToken) {
					t.Errorf("err = %q\nwant prefix %q and %q", msg, wantPrefix, tt.wantHint)
				}
				for _, s := range []string{token, tt.secret} {
					if s != "" && strings.Contains(msg, s) {
						t.Errorf("error leaks a secret: %q", msg)
					}
				}
			}
			assertNoSecretInTree(t, cache, tt.secret)
		})
	}
}

// assertNoSecretInTree fails if secret appears in a path or in a config file
// under dir.
func assertNoSecretInTree(t *testing.T, dir, secret string) {
	t.Helper()
	if secret == "" {
		return
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(p, secret) {
			t.Errorf("path %s contains the secret", p)
		}
		if !d.IsDir() && d.Name() == "config" && strings.Contains(string(mustRead(t, p)), secret) {
			t.Errorf("%s contains the secret", p)
		}
		return nil
	})
}

func TestFetchSSHErrors(t *testing.T) {
	b := newBlueprint(t)
	dir := t.TempDir()
	key := writeSSHKey(t, dir, "")
	srv := gitserver.NewSSH(t, b.base, readPublicKey(t, key))
	url := srv.URL + "/org/blueprint"
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := gitserver.NewSSH(t, b.base, readPublicKey(t, key)) // a different host key
	strangerKnownHosts := filepath.Join(dir, "stranger_known_hosts")
	line := strings.Replace(other.KnownHostsLine, other.Addr[strings.LastIndex(other.Addr, ":")+1:], srv.Addr[strings.LastIndex(srv.Addr, ":")+1:], 1)
	if err := os.WriteFile(strangerKnownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyKnownHosts := filepath.Join(dir, "empty_known_hosts")
	if err := os.WriteFile(emptyKnownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wrongKey := writeSSHKey(t, t.TempDir(), "")
	encDir := t.TempDir()
	encKey := writeSSHKey(t, encDir, "open sesame")
	encSrv := gitserver.NewSSH(t, b.base, readPublicKey(t, encKey))
	encKnownHosts := filepath.Join(encDir, "known_hosts")
	if err := os.WriteFile(encKnownHosts, []byte(encSrv.KnownHostsLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("encrypted key with passphrase", func(t *testing.T) {
		co, err := Fetch(testContext(t), t.TempDir(), Source{URL: encSrv.URL + "/org/blueprint", Ref: "dev",
			Auth: Auth{SSHKeyFile: encKey, SSHKeyPassphrase: "open sesame", KnownHostsFile: encKnownHosts}})
		if err != nil {
			t.Fatal(err)
		}
		if co.Commit != b.dev {
			t.Errorf("commit = %s, want %s", co.Commit, b.dev)
		}
	})

	tests := []struct {
		name    string
		auth    Auth
		wantErr error
		want    string
	}{
		{"wrong key", Auth{SSHKeyFile: wrongKey, KnownHostsFile: knownHosts}, ErrAuthRequired, EnvSSHKey},
		{"host key mismatch", Auth{SSHKeyFile: key, KnownHostsFile: strangerKnownHosts}, ErrHostKey, EnvKnownHosts},
		{"unknown host", Auth{SSHKeyFile: key, KnownHostsFile: emptyKnownHosts}, ErrHostKey, EnvKnownHosts},
		{"missing known_hosts", Auth{SSHKeyFile: key, KnownHostsFile: filepath.Join(dir, "nope")}, ErrHostKey, EnvKnownHosts},
		{"wrong passphrase", Auth{SSHKeyFile: encKey, SSHKeyPassphrase: "close sesame", KnownHostsFile: knownHosts}, nil, "load SSH key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Fetch(testContext(t), t.TempDir(), Source{URL: url, Ref: "main", Auth: tt.auth})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), fmt.Sprintf("fetch %q at \"main\": ", "ssh://"+srv.Addr+"/org/blueprint")) {
				t.Errorf("err = %v, want the URL and %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "sesame") {
				t.Errorf("error leaks the passphrase: %v", err)
			}
		})
	}
}

// TestFetchPinnedCommitOffline checks that a full SHA already in the cache is
// checked out without the remote, which may be down during a recovery.
func TestFetchPinnedCommitOffline(t *testing.T) {
	b := newBlueprint(t)
	cache := t.TempDir()
	url := "file://" + b.dir
	if _, err := Fetch(testContext(t), cache, Source{URL: url, Ref: "main"}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(b.base); err != nil {
		t.Fatal(err)
	}
	co, err := Fetch(testContext(t), cache, Source{URL: url, Ref: b.c1})
	if err != nil {
		t.Fatalf("pinned commit with the remote gone: %v", err)
	}
	if co.Commit != b.c1 || readFile(t, co.Dir, "README.md") != "v1\n" {
		t.Errorf("got %s", co.Commit)
	}
	if _, err := Fetch(testContext(t), cache, Source{URL: url, Ref: "main"}); err == nil {
		t.Errorf("branch with the remote gone: no error, want one (a branch must be fetched)")
	}
}

// TestFetchUnadvertisedCommit checks that a full SHA no branch or tag points
// at any more is fetched by SHA where the server allows it.
func TestFetchUnadvertisedCommit(t *testing.T) {
	b := newBlueprint(t)
	gitserver.Git(t, b.dir, "config", "uploadpack.allowAnySHA1InWant", "true")
	gitserver.Git(t, b.dir, "checkout", "--quiet", "-b", "tmp")
	gitserver.WriteFile(t, b.dir, "pr.txt", "pr\n")
	pr := gitserver.Commit(t, b.dir, "pr")
	gitserver.Git(t, b.dir, "checkout", "--quiet", "main")
	gitserver.Git(t, b.dir, "branch", "-D", "tmp")

	co, err := Fetch(testContext(t), t.TempDir(), Source{URL: "file://" + b.dir, Ref: pr})
	if err != nil {
		t.Fatal(err)
	}
	if co.Commit != pr || readFile(t, co.Dir, "pr.txt") != "pr\n" {
		t.Errorf("got %s, want %s with pr.txt", co.Commit, pr)
	}
}

func TestFetchPrunesDeletedBranch(t *testing.T) {
	b := newBlueprint(t)
	cache := t.TempDir()
	url := "file://" + b.dir
	if _, err := Fetch(testContext(t), cache, Source{URL: url, Ref: "dev"}); err != nil {
		t.Fatal(err)
	}
	gitserver.Git(t, b.dir, "branch", "-D", "dev")
	_, err := Fetch(testContext(t), cache, Source{URL: url, Ref: "dev"})
	if !errors.Is(err, ErrRefNotFound) {
		t.Errorf("deleted branch: err = %v, want ErrRefNotFound", err)
	}
}

func TestFetchConcurrent(t *testing.T) {
	b := newBlueprint(t)
	url := gitserver.NewHTTP(t, b.base, "") + "/org/blueprint"
	cache := t.TempDir()
	refs := map[string]string{"main": b.c2, "dev": b.dev, "v1.0": b.c1, b.c1[:8]: b.c1, "": b.c2, "light": b.c1}
	var wg sync.WaitGroup
	for ref, want := range refs {
		for range 2 {
			wg.Go(func() {
				co, err := Fetch(testContext(t), cache, Source{URL: url, Ref: ref})
				if err != nil {
					t.Errorf("ref %q: %v", ref, err)
					return
				}
				if co.Commit != want {
					t.Errorf("ref %q: commit %s, want %s", ref, co.Commit, want)
				}
			})
		}
	}
	wg.Wait()
}

func TestFetchHonorsContext(t *testing.T) {
	b := newBlueprint(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	url := gitserver.NewHTTP(t, b.base, "") + "/org/blueprint"
	_, err := Fetch(ctx, t.TempDir(), Source{URL: url, Ref: "main"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestFetchBadInput(t *testing.T) {
	tests := []struct {
		name, cache, url, want string
	}{
		{"bad scheme", t.TempDir(), "ftp://u:pw-secret@h/o/r", `fetch "ftp://h/o/r": unsupported Git URL scheme "ftp"`},
		{"no cache dir", "", "https://h/o/r", `fetch "https://h/o/r" at "HEAD": no cache directory`},
		{"missing repo", t.TempDir(), "file://" + filepath.Join(t.TempDir(), "none"), "repository not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Fetch(testContext(t), tt.cache, Source{URL: tt.url})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "pw-secret") {
				t.Errorf("error leaks the password")
			}
		})
	}
}

func TestRedact(t *testing.T) {
	base := errors.New("server said: token abc123 is invalid")
	err := redact(fmt.Errorf("fetch: %w", base), []string{"", "abc123"})
	if err.Error() != "fetch: server said: token *** is invalid" || !errors.Is(err, base) {
		t.Errorf("redact = %q (Is base: %v)", err, errors.Is(err, base))
	}
}

func TestFetchMissingRepository(t *testing.T) {
	b := newBlueprint(t)
	for _, s := range servings(t, b) {
		t.Run(s.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			url := strings.TrimSuffix(s.url, "/org/blueprint") + "/org/missing"
			_, err := Fetch(ctx, t.TempDir(), Source{URL: url, Ref: "main", Auth: s.auth})
			if !errors.Is(err, gittransport.ErrRepositoryNotFound) {
				t.Fatalf("err = %v, want repository not found", err)
			}
			want := fmt.Sprintf("fetch %q at \"main\": repository not found (check the URL", url)
			if s.name == "ssh" {
				want = fmt.Sprintf("fetch %q at \"main\": repository not found (check the URL", strings.Replace(url, "git@", "", 1))
			}
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err = %v, want prefix %q", err, want)
			}
		})
	}
}
