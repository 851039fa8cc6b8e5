package git

import (
	"strings"
	"testing"
)

func TestIsRemote(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"https://github.com/acme/blueprint", true},
		{"HTTPS://github.com/acme/blueprint.git", true},
		{"http://127.0.0.1:8080/org/repo", true},
		{"ssh://git@github.com/acme/blueprint.git", true},
		{"git://127.0.0.1/org/repo", true},
		{"file:///srv/git/repo", true},
		{"git@github.com:acme/blueprint.git", true},
		{"deploy@git.example.com:/srv/repo", true},
		{"git@[::1]:org/repo", true},
		{"  https://github.com/acme/blueprint  ", true},
		{".", false},
		{"./blueprints/examples/local", false},
		{"/abs/path/to/blueprint", false},
		{"blueprints/examples/local", false},
		{"github.com/acme/blueprint", false},
		{"dir:with:colons", false},
		{"C:\\blueprints\\acme", false},
		{"user@host", false},
		{"git@host://org/repo", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsRemote(tt.in); got != tt.want {
			t.Errorf("IsRemote(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseRemote(t *testing.T) {
	tests := []struct {
		in                   string
		url, scheme          string
		host, user, password string
		wantErr              string
	}{
		{in: "https://github.com/acme/blueprint.git", url: "https://github.com/acme/blueprint.git", scheme: "https", host: "github.com"},
		{in: "HTTPS://GitHub.com/acme/Blueprint/", url: "https://github.com/acme/Blueprint", scheme: "https", host: "github.com"},
		{in: "https://git:s3cret-token@github.com/acme/blueprint", url: "https://github.com/acme/blueprint", scheme: "https", host: "github.com", user: "git", password: "s3cret-token"},
		{in: "git@github.com:acme/blueprint.git", url: "ssh://github.com/acme/blueprint.git", scheme: "ssh", host: "github.com", user: "git"},
		{in: "deploy@git.example.com:/srv/repo", url: "ssh://git.example.com/srv/repo", scheme: "ssh", host: "git.example.com", user: "deploy"},
		{in: "ssh://git@127.0.0.1:2222/org/repo", url: "ssh://127.0.0.1:2222/org/repo", scheme: "ssh", host: "127.0.0.1:2222", user: "git"},
		{in: "git://127.0.0.1:9418/org/repo", url: "git://127.0.0.1:9418/org/repo", scheme: "git", host: "127.0.0.1:9418"},
		{in: "file:///srv/git/repo", url: "file:///srv/git/repo", scheme: "file"},
		{in: "ftp://host/repo", wantErr: "unsupported Git URL scheme"},
		{in: "https:///repo", wantErr: "no host"},
		{in: "https://host", wantErr: "no repository path"},
		{in: "https://user:pa%zzss@host/repo", wantErr: "invalid Git URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := parseRemote(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "pa%zzss") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := [5]string{r.url, r.scheme, r.host, r.user, r.password}
			want := [5]string{tt.url, tt.scheme, tt.host, tt.user, tt.password}
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestCacheName(t *testing.T) {
	mustParse := func(s string) remote {
		t.Helper()
		r, err := parseRemote(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := cacheName(mustParse("https://github.com/acme/blueprint"))
	if !strings.HasPrefix(a, "github.com_acme_blueprint-") || len(a) != len("github.com_acme_blueprint-")+16 {
		t.Errorf("cacheName = %q, want github.com_acme_blueprint-<16 hex>", a)
	}
	same := []string{
		"https://github.com/acme/blueprint/",
		"HTTPS://GITHUB.COM/acme/blueprint",
		"https://git:s3cret@github.com/acme/blueprint",
	}
	for _, s := range same {
		if got := cacheName(mustParse(s)); got != a {
			t.Errorf("cacheName(%q) = %q, want %q (same repository)", s, got, a)
		}
		if strings.Contains(cacheName(mustParse(s)), "s3cret") {
			t.Errorf("cache name leaks a secret")
		}
	}
	different := []string{
		"https://github.com/acme/blueprint.git",
		"http://github.com/acme/blueprint",
		"https://github.com/acme/Blueprint",
		"git@github.com:acme/blueprint",
	}
	for _, s := range different {
		if got := cacheName(mustParse(s)); got == a {
			t.Errorf("cacheName(%q) = %q, same as for a different URL", s, got)
		}
	}
	long := cacheName(mustParse("https://example.com/" + strings.Repeat("very-long-group/", 10) + "repo"))
	if len(long) > 48+1+16 || !strings.Contains(long, "repo-") {
		t.Errorf("long cacheName = %q: want at most 65 characters ending in the repo name and hash", long)
	}
	if f := cacheName(mustParse("file:///tmp/x y/repo")); strings.ContainsAny(f, " /") {
		t.Errorf("cacheName for file URL = %q: has unsafe characters", f)
	}
}
