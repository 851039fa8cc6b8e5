package e2e

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/test/registrytest"
)

// Real chart servers on loopback for the e2e tests, as public charts are
// published: an https Helm repository (index.yaml and .tgz files made by
// the Helm SDK, basic auth, a test CA) and an OCI registry (Debian's
// docker-registry, TLS and htpasswd). Copied in spirit from the blueprints
// package's tests, whose helpers _test files cannot share.

// appChart writes a chart shaped like a public one: kubeVersion
// >=1.25.0-0, a Deployment, Service and ConfigMap, and a dependency on
// "<name>-lib" (^0.1.0) from depRepo.
func appChart(t *testing.T, dir, name, version, depRepo string) string {
	t.Helper()
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: " + name + "\nversion: " + version + "\nkubeVersion: \">=1.25.0-0\"\n" +
			"dependencies:\n- name: " + name + "-lib\n  version: \"^0.1.0\"\n  repository: \"" + depRepo + "\"\n",
		"values.yaml": "replicaCount: 1\nport: 8080\n",
		"templates/all.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  chartVersion: {{ .Chart.Version | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: app
        image: registry.example/app:1
        ports: [{name: http, containerPort: {{ .Values.port }}}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{name: http, port: 80, targetPort: http}]
`,
	}
	return writeTree(t, dir, files)
}

// libChart is the dependency: one ConfigMap.
func libChart(t *testing.T, dir, name, version string) string {
	return writeTree(t, dir, map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"templates/lib.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-lib\ndata: {from: " + name + "}\n",
	})
}

func writeTree(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for rel, content := range files {
		writeFile(t, filepath.Join(dir, rel), content)
	}
	return dir
}

// packChart packages a chart directory into out, as `helm package` does.
func packChart(t *testing.T, dir, out string) string {
	t.Helper()
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := chartutil.Save(ch, out)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// chartServer is one of the loopback chart servers.
type chartServer struct {
	URL    string   // the Helm repository URL, or oci://host/charts
	CAFile string   // the test CA its certificate chains to
	Env    []string // what rekindle needs in its environment to read it
}

// newHelmRepoServer serves <name> 1.0.0 and 1.1.0 (and <name>-lib 0.1.0)
// as an https Helm repository that wants basic auth.
func newHelmRepoServer(t *testing.T, name string) chartServer {
	t.Helper()
	dir := t.TempDir()
	ca := registrytest.NewCA(t)
	repoDir := filepath.Join(dir, "repo")
	user, password := "reader", "helm-"+filepath.Base(t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + l.Addr().String() + "/stable"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		file := strings.TrimPrefix(r.URL.Path, "/stable/")
		if file == r.URL.Path || strings.Contains(file, "/") || strings.Contains(file, "..") {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(repoDir, file))
	})}
	go func() { _ = srv.ServeTLS(l, ca.CertFile, ca.KeyFile) }()
	t.Cleanup(func() { _ = srv.Close() })
	src := t.TempDir()
	packChart(t, libChart(t, filepath.Join(src, "lib"), name+"-lib", "0.1.0"), repoDir)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		packChart(t, appChart(t, filepath.Join(src, v), name, v, url), repoDir)
	}
	idx, err := repo.IndexDirectory(repoDir, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(repoDir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	u, p := blueprints.HelmCredentialEnv(url)
	return chartServer{URL: url, CAFile: ca.CAFile, Env: []string{u + "=" + user, p + "=" + password}}
}

// newOCIServer starts docker-registry on loopback and pushes <name> 2.0.0
// and 2.1.0 (and <name>-lib 0.1.0) under charts/. Without docker-registry
// it skips, or fails in CI, where .ci/run installs it.
func newOCIServer(t *testing.T, name string) chartServer {
	t.Helper()
	reg := registrytest.Start(t, registrytest.Options{Auth: true})
	host := reg.Host
	client, err := registry.NewClient(registry.ClientOptHTTPClient(reg.HTTPClient()),
		registry.ClientOptBasicAuth(reg.User, reg.Password), registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "helm-registry.json")))
	if err != nil {
		t.Fatal(err)
	}
	src, pkgs := t.TempDir(), t.TempDir()
	push := func(chartDir, chartName, version string) {
		data, err := os.ReadFile(packChart(t, chartDir, pkgs))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Push(data, host+"/charts/"+chartName+":"+version); err != nil {
			t.Fatalf("push %s %s: %v", chartName, version, err)
		}
	}
	push(libChart(t, filepath.Join(src, "lib"), name+"-lib", "0.1.0"), name+"-lib", "0.1.0")
	for _, v := range []string{"2.0.0", "2.1.0"} {
		push(appChart(t, filepath.Join(src, v), name, v, "oci://"+host+"/charts"), name, v)
	}
	return chartServer{URL: "oci://" + host + "/charts", CAFile: reg.CA.CAFile,
		Env: []string{"DOCKER_CONFIG=" + reg.DockerConfig(t), "HELM_CONFIG_HOME=" + t.TempDir()}}
}
