package blueprints

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/test/gitserver"
)

func TestParseRemoteBase(t *testing.T) {
	cases := []struct {
		in   string
		want remoteBase
		ok   bool
	}{
		{"https://git.example.com/org/base//deploy/prod?ref=v1.2.0", remoteBase{"https://git.example.com/org/base", "deploy/prod", "v1.2.0"}, true},
		{"https://git.example.com/org/base.git/deploy?ref=main", remoteBase{"https://git.example.com/org/base.git", "deploy", "main"}, true},
		{"https://git.example.com/org/base.git?version=v2", remoteBase{"https://git.example.com/org/base.git", "", "v2"}, true},
		{"github.com/argoproj/argocd-example-apps/guestbook?ref=53e28ff", remoteBase{"https://github.com/argoproj/argocd-example-apps", "guestbook", "53e28ff"}, true},
		{"git::https://git.example.com/org/base//x?ref=v1", remoteBase{"https://git.example.com/org/base", "x", "v1"}, true},
		{"ssh://git@git.example.com/org/base//x?ref=v1", remoteBase{"ssh://git@git.example.com/org/base", "x", "v1"}, true},
		{"git@github.com:org/base.git/x?ref=v1", remoteBase{"git@github.com:org/base.git", "x", "v1"}, true},
		{"https://raw.example.com/org/repo/main/crds.yaml", remoteBase{}, false},
		{"../base", remoteBase{}, false},
		{"deployment.yaml", remoteBase{}, false},
	}
	for _, tc := range cases {
		got, ok := parseRemoteBase(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseRemoteBase(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestKustomizeRemoteBase builds an overlay whose base is a Git URL served
// over HTTP with a token on loopback: the base comes from the ref in the
// URL, through rekindle's Git code and clone cache (with no git on PATH,
// so kustomize cannot shell out), and a bad token stops the render naming
// the workload and the URL without printing the token.
func TestKustomizeRemoteBase(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "org", "base")
	gitserver.InitRepo(t, src)
	gitserver.WriteFile(t, src, "deploy/kustomization.yaml", "resources: [config.yaml]\n")
	gitserver.WriteFile(t, src, "deploy/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {release: one}\n")
	gitserver.Commit(t, src, "one")
	gitserver.Git(t, src, "tag", "v1")
	gitserver.WriteFile(t, src, "deploy/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {release: two}\n")
	gitserver.Commit(t, src, "two")
	token := "tok-" + filepath.Base(t.TempDir())
	url := gitserver.NewHTTP(t, base, token) + "/org/base"

	dir := t.TempDir()
	writeChart(t, dir, map[string]string{
		FileName:                     "apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: k}\nspec:\n  environments:\n  - name: dev\n    clusters:\n    - name: a\n      provider: kwok\n      workloads:\n      - {name: web, path: overlay, namespace: web}\n",
		"overlay/kustomization.yaml": "resources:\n- " + url + "//deploy?ref=v1\nnamePrefix: web-\n",
	})
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.gitCacheDir = filepath.Join(t.TempDir(), "git")
	t.Setenv("PATH", t.TempDir()) // no git CLI for kustomize to run
	t.Setenv("REKINDLE_GIT_TOKEN", token)
	rc, err := r.Render(context.Background(), "dev", "a", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs := workload(t, rc, "web").Objects
	if len(objs) != 1 || ObjectRef(objs[0]) != "ConfigMap/web/web-settings" {
		t.Fatalf("objects = %v", refs(objs))
	}
	if v, _, _ := unstructured.NestedString(objs[0].Object, "data", "release"); v != "one" {
		t.Errorf("release = %q, want one (the base at ref v1, not the branch head)", v)
	}

	t.Setenv("REKINDLE_GIT_TOKEN", "wrong-"+token)
	r.gitCacheDir = filepath.Join(t.TempDir(), "git")
	_, err = r.Render(context.Background(), "dev", "a", RenderOptions{})
	if err == nil || !strings.Contains(err.Error(), `workload "web"`) || !strings.Contains(err.Error(), url) || strings.Contains(err.Error(), token) {
		t.Errorf("bad token: err = %v, want the workload and %s named, the token not", err, url)
	}
}
