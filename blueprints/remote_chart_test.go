package blueprints

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
)

// remoteRepo writes a blueprint whose kwok cluster has the Widget CRD and
// the Helm workload given as a YAML flow mapping, and loads it with its
// own chart cache.
func remoteRepo(t *testing.T, helm string, files map[string]string) *Repo {
	t.Helper()
	dir := t.TempDir()
	bp := "apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: remote}\nspec:\n  environments:\n  - name: dev\n    clusters:\n" +
		"    - name: tools\n      provider: kwok\n      workloads:\n      - {name: crds, path: crds}\n" +
		"      - {name: demo, dependsOn: [crds], helm: " + helm + "}\n"
	all := map[string]string{FileName: bp, "crds/widget.yaml": widgetCRD}
	for k, v := range files {
		all[k] = v
	}
	writeChart(t, dir, all)
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.ChartCacheDir = filepath.Join(t.TempDir(), "charts")
	return r
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHelmRepositoryChart renders a chart from an HTTPS Helm repository
// with basic auth and a test CA: the range resolves to the highest match,
// the dependency comes from the same repository, what the agent loads is
// the same chart, and each archive is fetched once.
func TestHelmRepositoryChart(t *testing.T) {
	h := newHelmRepo(t)
	h.setCredentials(t)
	r := remoteRepo(t, `{repo: "`+h.srv.URL+`", chart: capsdemo, version: "^1.0.0", caFile: ca.pem, namespace: demo}`,
		map[string]string{"ca.pem": readFile(t, h.caFile)})
	ctx := context.Background()
	rc, err := r.Render(ctx, "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	demo := workload(t, rc, "demo")
	if got := strings.Join(refs(demo.Objects), " "); got != "ConfigMap/demo/demo-caps ConfigMap/demo/demo-dep Widget/demo/demo-widget" {
		t.Errorf("objects = %s", got)
	}
	hr := demo.Helm
	if hr.ChartName != "capsdemo" || hr.ChartVersion != "1.1.0" || hr.Repo != h.srv.URL || len(hr.Digest) != 64 {
		t.Errorf("RenderedHelm = %+v, want capsdemo 1.1.0 from %s with a digest", hr, h.srv.URL)
	}
	if !strings.HasPrefix(hr.ChartPath, r.ChartCacheDir) {
		t.Errorf("ChartPath %s is not in the chart cache %s", hr.ChartPath, r.ChartCacheDir)
	}
	ch, err := loader.Load(hr.ChartPath)
	if err != nil {
		t.Fatalf("the agent cannot load %s: %v", hr.ChartPath, err)
	}
	if deps := ch.Dependencies(); len(deps) != 1 || deps[0].Name() != "capsdep" || deps[0].Metadata.Version != "0.1.2" {
		t.Errorf("chart at ChartPath has dependencies %v, want capsdep 0.1.2", deps)
	}
	if _, err := r.Render(ctx, "dev", "tools", RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"/capsdemo-1.1.0.tgz", "/capsdep-0.1.2.tgz"} {
		if n := h.hitsOf(f); n != 1 {
			t.Errorf("%s fetched %d times in two renders, want once", f, n)
		}
	}
	if n := h.hitsOf("/capsdemo-2.0.0.tgz") + h.hitsOf("/capsdep-0.2.0.tgz"); n != 0 {
		t.Errorf("versions outside the ranges were fetched %d times", n)
	}
}

// TestHelmRepositoryExactVersionOffline: an exact version fetched once
// renders from the cache when the repository is gone.
func TestHelmRepositoryExactVersionOffline(t *testing.T) {
	h := newHelmRepo(t)
	h.setCredentials(t)
	r := remoteRepo(t, `{repo: "`+h.srv.URL+`", chart: capsdep, version: "0.1.0", caFile: ca.pem}`, map[string]string{"ca.pem": readFile(t, h.caFile)})
	if _, err := r.Render(context.Background(), "dev", "tools", RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	rc, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatalf("render from the cache with the repository down: %v", err)
	}
	if v := workload(t, rc, "demo").Helm.ChartVersion; v != "0.1.0" {
		t.Errorf("version %s, want 0.1.0", v)
	}
}

// TestHelmRepositoryRefusals: wrong credentials, no matching version and
// an unknown CA stop the render naming the workload and the URL, and never
// print the password.
func TestHelmRepositoryRefusals(t *testing.T) {
	h := newHelmRepo(t)
	ca := map[string]string{"ca.pem": readFile(t, h.caFile)}
	cases := []struct {
		name, helm string
		env        func(t *testing.T)
		want       string
	}{
		{"bad password", `{repo: "` + h.srv.URL + `", chart: capsdemo, caFile: ca.pem}`, func(t *testing.T) {
			u, p := HelmCredentialEnv(h.srv.URL)
			t.Setenv(u, h.user)
			t.Setenv(p, "wrong-"+h.password)
		}, "401"},
		{"no such version", `{repo: "` + h.srv.URL + `", chart: capsdemo, version: "^9.0.0", caFile: ca.pem}`, h.setCredentials, `no version matches "^9.0.0"`},
		{"unknown CA", `{repo: "` + h.srv.URL + `", chart: capsdemo}`, h.setCredentials, "certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.env(t)
			r := remoteRepo(t, tc.helm, ca)
			_, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
			if err == nil {
				t.Fatal("render succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, `workload "demo"`) || !strings.Contains(msg, h.srv.URL) || !strings.Contains(msg, tc.want) {
				t.Errorf("err = %v, want the workload, %s and %q named", err, h.srv.URL, tc.want)
			}
			if strings.Contains(msg, h.password) {
				t.Errorf("the error prints the password: %v", err)
			}
		})
	}
}

// TestHelmRepositoryMatchesHelmCLI compares the render with what the helm
// CLI makes of the same repository: repo add (credentials, CA), pull,
// dependency build, template --kube-version --api-versions.
func TestHelmRepositoryMatchesHelmCLI(t *testing.T) {
	helm := helmBinary(t)
	h := newHelmRepo(t)
	h.setCredentials(t)
	r := remoteRepo(t, `{repo: "`+h.srv.URL+`", chart: capsdemo, version: "^1.0.0", caFile: ca.pem, namespace: demo, values: {size: 2}}`,
		map[string]string{"ca.pem": readFile(t, h.caFile)})
	rc, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	homes := helmHomes(t)
	runHelm(t, helm, homes, "repo", "add", "rk", h.srv.URL, "--username", h.user, "--password", h.password, "--ca-file", h.caFile)
	pulled := t.TempDir()
	runHelm(t, helm, homes, "pull", "rk/capsdemo", "--version", "^1.0.0", "--untar", "--untardir", pulled)
	runHelm(t, helm, homes, "dependency", "build", filepath.Join(pulled, "capsdemo"))
	args := []string{"template", "demo", filepath.Join(pulled, "capsdemo"), "--namespace", "demo", "--include-crds",
		"--set-json", "size=2", "--kube-version", rc.Capabilities.KubeVersion}
	for _, a := range rc.Capabilities.APIVersions {
		args = append(args, "--api-versions", a)
	}
	compareObjects(t, runHelm(t, helm, homes, args...), "demo", workload(t, rc, "demo").Objects, rc.AllObjects())
}

// helmHomes are private HELM_* directories for one test's helm commands.
func helmHomes(t *testing.T) []string {
	return []string{"HELM_CACHE_HOME=" + t.TempDir(), "HELM_CONFIG_HOME=" + t.TempDir(), "HELM_DATA_HOME=" + t.TempDir()}
}

func runHelm(t *testing.T, helm string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helm, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", args[0], err, stderr.String())
	}
	return out
}
