package blueprints

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"

	"github.com/rekindle-dev/rekindle/test/registrytest"
)

// newOCIRegistry starts a real OCI registry on loopback (Debian's
// docker-registry, with TLS from a test CA and basic auth) and pushes
// capsdep 0.1.0, 0.1.2, 0.2.0 and capsdemo 1.0.0, 1.1.0, 2.0.0 (depending
// on capsdep ^0.1.0 from this registry) under charts/.
func newOCIRegistry(t *testing.T) *registrytest.Registry {
	t.Helper()
	o := registrytest.Start(t, registrytest.Options{Auth: true})
	client, err := registry.NewClient(registry.ClientOptHTTPClient(o.HTTPClient()),
		registry.ClientOptBasicAuth(o.User, o.Password), registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "helm-registry.json")))
	if err != nil {
		t.Fatal(err)
	}
	src, pkgs := t.TempDir(), t.TempDir()
	push := func(chartDir, name, version string) {
		ch, err := loader.LoadDir(chartDir)
		if err != nil {
			t.Fatal(err)
		}
		p, err := chartutil.Save(ch, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Push(data, o.Host+"/charts/"+name+":"+version); err != nil {
			t.Fatalf("push %s %s: %v", name, version, err)
		}
	}
	for _, v := range []string{"0.1.0", "0.1.2", "0.2.0"} {
		push(capsDepChart(t, filepath.Join(src, "capsdep-"+v), v), "capsdep", v)
	}
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		push(capsDemoChart(t, filepath.Join(src, "capsdemo-"+v), v, "^0.1.0", "oci://"+o.Host+"/charts"), "capsdemo", v)
	}
	return o
}

// useCredentials points Docker's config (where rekindle reads registry
// credentials) at the registry's, and keeps Helm's own config out of it.
func useCredentials(t *testing.T, o *registrytest.Registry) {
	t.Setenv("DOCKER_CONFIG", o.DockerConfig(t))
	t.Setenv("HELM_CONFIG_HOME", t.TempDir())
}

// TestOCIChart renders capsdemo from the registry: the range resolves
// among the tags, the dependency is pulled from the same registry, and
// the render equals the helm CLI's (registry login, pull, dependency
// build, template) on the same inputs.
func TestOCIChart(t *testing.T) {
	o := newOCIRegistry(t)
	useCredentials(t, o)
	r := remoteRepo(t, `{chart: "oci://`+o.Host+`/charts/capsdemo", version: "~1.0 || ^1.1", caFile: ca.pem, namespace: demo}`,
		map[string]string{"ca.pem": readFile(t, o.CA.CAFile)})
	rc, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	demo := workload(t, rc, "demo")
	if hr := demo.Helm; hr.ChartVersion != "1.1.0" || hr.Repo != "oci://"+o.Host+"/charts/capsdemo" || len(hr.Digest) != 64 {
		t.Errorf("RenderedHelm = %+v, want capsdemo 1.1.0 from the registry", hr)
	}
	ch, err := loader.Load(demo.Helm.ChartPath)
	if err != nil {
		t.Fatal(err)
	}
	if deps := ch.Dependencies(); len(deps) != 1 || deps[0].Metadata.Version != "0.1.2" {
		t.Errorf("dependencies %v, want capsdep 0.1.2", deps)
	}

	helm := helmBinary(t)
	homes := append(helmHomes(t), "SSL_CERT_FILE="+o.CA.CAFile, "DOCKER_CONFIG="+t.TempDir())
	cmd := exec.Command(helm, "registry", "login", o.Host, "--username", o.User, "--password-stdin")
	cmd.Env = append(os.Environ(), homes...)
	cmd.Stdin = bytesReader(o.Password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm registry login: %v\n%s", err, out)
	}
	pulled := t.TempDir()
	runHelm(t, helm, homes, "pull", "oci://"+o.Host+"/charts/capsdemo", "--version", "1.1.0", "--untar", "--untardir", pulled)
	runHelm(t, helm, homes, "dependency", "build", filepath.Join(pulled, "capsdemo"))
	args := []string{"template", "demo", filepath.Join(pulled, "capsdemo"), "--namespace", "demo", "--include-crds", "--kube-version", rc.Capabilities.KubeVersion}
	for _, a := range rc.Capabilities.APIVersions {
		args = append(args, "--api-versions", a)
	}
	compareObjects(t, runHelm(t, helm, homes, args...), "demo", demo.Objects, rc.AllObjects())
}

// TestOCIChartWithoutCredentials: no credentials in Docker's config stop
// the render naming the workload and the reference.
func TestOCIChartWithoutCredentials(t *testing.T) {
	o := newOCIRegistry(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HELM_CONFIG_HOME", t.TempDir())
	r := remoteRepo(t, `{chart: "oci://`+o.Host+`/charts/capsdemo", version: "1.1.0", caFile: ca.pem}`, map[string]string{"ca.pem": readFile(t, o.CA.CAFile)})
	_, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err == nil || !containsAll(err.Error(), `workload "demo"`, "oci://"+o.Host+"/charts/capsdemo") {
		t.Errorf("err = %v, want the workload and the reference named", err)
	}
}

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
