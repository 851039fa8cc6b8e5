package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/test/testenv"
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

// tlsFiles writes a test CA and a certificate it signs for 127.0.0.1.
func tlsFiles(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rekindle e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	for p, b := range map[string]*pem.Block{caFile: {Type: "CERTIFICATE", Bytes: caDER}, certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		writeFile(t, p, string(pem.EncodeToMemory(b)))
	}
	return caFile, certFile, keyFile
}

func caPool(t *testing.T, caFile string) *x509.CertPool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, caFile))) {
		t.Fatal("no CA in " + caFile)
	}
	return pool
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
	caFile, certFile, keyFile := tlsFiles(t, dir)
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
	go func() { _ = srv.ServeTLS(l, certFile, keyFile) }()
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
	return chartServer{URL: url, CAFile: caFile, Env: []string{u + "=" + user, p + "=" + password}}
}

// newOCIServer starts docker-registry on loopback and pushes <name> 2.0.0
// and 2.1.0 (and <name>-lib 0.1.0) under charts/. Without docker-registry
// it skips, or fails in CI, where .ci/run installs it.
func newOCIServer(t *testing.T, name string) chartServer {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		testenv.Need(t, "docker-registry (apt-get install docker-registry), the OCI registry charts are pulled from", errors.New("not on PATH"))
	}
	dir := t.TempDir()
	caFile, certFile, keyFile := tlsFiles(t, dir)
	user, password := "puller", "oci-"+filepath.Base(t.TempDir())
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "htpasswd"), user+":"+string(hash)+"\n")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	writeFile(t, filepath.Join(dir, "config.yml"), fmt.Sprintf("version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\n"+
		"http:\n  addr: %s\n  tls: {certificate: %s, key: %s}\nauth:\n  htpasswd: {realm: charts, path: %s}\n",
		filepath.Join(dir, "data"), host, certFile, keyFile, filepath.Join(dir, "htpasswd")))
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, caFile)}}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := (&http.Client{Transport: tr, Timeout: time.Second}).Get("https://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", host, err, readFile(t, logf.Name()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	client, err := registry.NewClient(registry.ClientOptHTTPClient(&http.Client{Transport: tr}),
		registry.ClientOptBasicAuth(user, password), registry.ClientOptCredentialsFile(filepath.Join(dir, "helm-registry.json")))
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
	dockerConfig := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	writeFile(t, filepath.Join(dockerConfig, "config.json"), `{"auths": {"`+host+`": {"auth": "`+auth+`"}}}`)
	return chartServer{URL: "oci://" + host + "/charts", CAFile: caFile,
		Env: []string{"DOCKER_CONFIG=" + dockerConfig, "HELM_CONFIG_HOME=" + t.TempDir()}}
}
