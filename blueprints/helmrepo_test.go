package blueprints

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
)

// helmRepo is a real Helm repository on loopback: index.yaml and .tgz
// files made by the Helm SDK, served over HTTPS (a test CA) with basic auth.
type helmRepo struct {
	srv      *httptest.Server
	dir      string
	caFile   string
	user     string
	password string

	mu   sync.Mutex
	hits map[string]int
}

// newHelmRepo serves capsdemo 1.0.0, 1.1.0 and 2.0.0 (each depending on
// capsdep ^0.1.0 from this repository) and capsdep 0.1.0, 0.1.2, 0.2.0.
func newHelmRepo(t *testing.T) *helmRepo {
	t.Helper()
	h := &helmRepo{dir: t.TempDir(), user: "reader", password: "s3cret-" + filepath.Base(t.TempDir()), hits: map[string]int{}}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != h.user || p != h.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.mu.Lock()
		h.hits[r.URL.Path]++
		h.mu.Unlock()
		name := filepath.Base(r.URL.Path)
		if strings.Contains(name, "..") {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(h.dir, name))
	}))
	t.Cleanup(h.srv.Close)
	h.caFile = filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw})
	if err := os.WriteFile(h.caFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for _, v := range []string{"0.1.0", "0.1.2", "0.2.0"} {
		h.pack(t, capsDepChart(t, filepath.Join(src, "capsdep-"+v), v))
	}
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		h.pack(t, capsDemoChart(t, filepath.Join(src, "capsdemo-"+v), v, "^0.1.0", h.srv.URL))
	}
	idx, err := repo.IndexDirectory(h.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(h.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

// pack packages a chart directory into the repository, as `helm package` does.
func (h *helmRepo) pack(t *testing.T, dir string) {
	t.Helper()
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(ch, h.dir); err != nil {
		t.Fatal(err)
	}
}

// setCredentials puts the repository's credentials where rekindle reads them.
func (h *helmRepo) setCredentials(t *testing.T) {
	u, p := HelmCredentialEnv(h.srv.URL)
	t.Setenv(u, h.user)
	t.Setenv(p, h.password)
}

func (h *helmRepo) hitsOf(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[path]
}
