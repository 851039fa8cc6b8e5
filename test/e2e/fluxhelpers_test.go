package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rekindle-dev/rekindle/bootstrap/flux"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/test/gitserver"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// needFlux skips (locally) or fails (in CI, where .ci/run builds them) when
// the Flux controllers are not built.
func needFlux(t *testing.T) {
	t.Helper()
	needParts(t)
	if missing := flux.MissingBinaries(); len(missing) > 0 {
		testenv.Need(t, "the Flux controllers", fmt.Errorf("%s not built in %s: run hack/install-flux.sh", strings.Join(missing, ", "), flux.BinDir()))
	}
}

// podinfoRepo serves a plain-HTTP Helm repository on loopback, as a
// HelmRepository reads one: index.yaml and podinfo-<version>.tgz, a chart
// with a Deployment, Service and ConfigMap (made with the Helm SDK).
func podinfoRepo(t *testing.T, version string) string {
	t.Helper()
	return podinfoRepoOn(t, version, "127.0.0.1")
}

// podinfoRepoOn is podinfoRepo listening on host (the Docker bridge's
// gateway, for pods in kind). The chart's image is ghcr.io's podinfo unless
// the values set image (kind, which pulls nothing, runs a loaded one).
func podinfoRepoOn(t *testing.T, version, host string) string {
	t.Helper()
	src, dir := t.TempDir(), t.TempDir()
	files := map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: podinfo\nversion: " + version + "\nappVersion: " + version + "\n",
		"values.yaml": "replicaCount: 1\n",
		"templates/all.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  chartVersion: {{ .Chart.Version | quote }}
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
      - name: podinfo
        image: {{ .Values.image | default (printf "ghcr.io/stefanprodan/podinfo:%s" .Chart.AppVersion) }}
        ports: [{name: http, containerPort: 9898}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{name: http, port: 9898, targetPort: http}]
`,
	}
	for name, content := range files {
		writeFile(t, filepath.Join(src, name), content)
	}
	ch, err := loader.LoadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(ch, dir); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.FileServer(http.Dir(dir)))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	idx, err := repo.IndexDirectory(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL
}

// fluxRepo makes the Git repo base/org/flux from blueprints/examples/flux,
// as `flux bootstrap` would have written it for gitURL: gotk-sync pointing
// at gitURL, the e2e fixture's gotk-components, the HelmRepository at
// chartURL, the HelmRelease asking for chartVersion, and the app's Secret
// holding secret, SOPS-encrypted for recipient. It returns the commit.
func fluxRepo(t *testing.T, base, gitURL, chartURL, chartVersion, recipient, secret, state string, more ...fileEdit) string {
	t.Helper()
	work := t.TempDir()
	from := "../../blueprints/examples/flux"
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(work, rel), string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(rel, old, new string) {
		p := filepath.Join(work, rel)
		s := readFile(t, p)
		if !strings.Contains(s, old) {
			t.Fatalf("%s lacks %q", rel, old)
		}
		writeFile(t, p, strings.Replace(s, old, new, 1))
	}
	edit("clusters/dev/flux-system/gotk-sync.yaml", "ssh://git@github.com/example-org/fleet-infra", gitURL)
	edit("infrastructure/controllers/podinfo-repository.yaml", "https://stefanprodan.github.io/podinfo", chartURL)
	edit("infrastructure/controllers/podinfo-repository.yaml", "interval: 24h", "interval: 1m")
	edit("apps/dev/podinfo-values.yaml", `version: ">=6.0.0"`, `version: "`+chartVersion+`"`)
	for _, e := range more {
		edit(e.file, e.old, e.new)
	}
	writeFile(t, filepath.Join(work, "clusters/dev/flux-system/gotk-components.yaml"), readFile(t, "testdata/flux/gotk-components.yaml"))
	writeFile(t, filepath.Join(work, "apps/dev/podinfo-secret.yaml"),
		"apiVersion: v1\nkind: Secret\nmetadata:\n  name: podinfo-credentials\n  namespace: podinfo\ntype: Opaque\nstringData:\n  token: "+secret+"\n")
	if res := rk(t, state, nil, "secrets", "encrypt", filepath.Join(work, "apps/dev/podinfo-secret.yaml"), "--in-place", "--age", recipient); res.code != 0 {
		t.Fatalf("encrypt the app's Secret: exit %d", res.code)
	}
	if strings.Contains(readFile(t, filepath.Join(work, "apps/dev/podinfo-secret.yaml")), secret) {
		t.Fatal("the encrypted Secret still holds the value")
	}
	_, commit := blueprintRepo(t, base, "flux", work)
	return commit
}

// fileEdit replaces the first old in file (relative to the repo) with new.
type fileEdit struct{ file, old, new string }

// fluxObject reads a Flux object's condition of type cond from the cluster.
func fluxCondition(t *testing.T, kubeconfig string, gvk schema.GroupVersionKind, ns, name, cond string) (status, message string, at time.Time) {
	t.Helper()
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard()) // else controller-runtime prints a stack trace
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, u); err != nil {
		t.Fatalf("read %s %s/%s: %v", gvk.Kind, ns, name, err)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, x := range conds {
		m, _ := x.(map[string]any)
		if m["type"] == cond {
			status, _ = m["status"].(string)
			message, _ = m["message"].(string)
			ts, _ := m["lastTransitionTime"].(string)
			at, _ = time.Parse(time.RFC3339, ts)
			return status, message, at
		}
	}
	return "", "", time.Time{}
}

var metaGet = metav1.GetOptions{}

// gitServerURL serves base's repos over smart HTTP with basic auth.
func gitServerURL(t *testing.T, base, token string) string { return gitserver.NewHTTP(t, base, token) }

// fluxDir is where the flux example's host-process controllers keep their files.
func fluxDir(state string) string {
	return filepath.Join(state, "envs", "flux", "dev", "agents", "flux-dev.flux")
}

// fluxPids are the running host-process controllers, by name.
func fluxPids(t *testing.T, state string) map[string]int {
	t.Helper()
	return flux.HostControllers{Dir: fluxDir(state)}.Running()
}

// logFluxControllers puts the end of each controller's log in the test log.
func logFluxControllers(t *testing.T, state string) {
	t.Helper()
	for _, c := range flux.Controllers {
		data, _ := os.ReadFile(filepath.Join(fluxDir(state), c+".log"))
		if len(data) > 6000 {
			data = data[len(data)-6000:]
		}
		t.Logf("%s log (end):\n%s", c, data)
	}
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, c := range flux.Controllers {
		out = append(out, m[c])
	}
	return out
}

func zombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(stat))
	return len(f) > 2 && f[2] == "Z"
}
