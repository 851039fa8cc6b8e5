package blueprints

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
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
)

// ociRegistry is a real OCI registry on loopback (Debian's docker-registry,
// the distribution registry) with TLS from a test CA and htpasswd auth.
type ociRegistry struct {
	host           string // 127.0.0.1:port
	caFile         string
	user, password string
	dockerConfig   string // a DOCKER_CONFIG directory with the credentials
}

func dockerRegistryBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("docker-registry")
	if err == nil {
		return p
	}
	msg := "docker-registry is not installed (apt-get install docker-registry); it is the OCI registry this test serves charts from"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newOCIRegistry starts the registry and pushes capsdep 0.1.0, 0.1.2,
// 0.2.0 and capsdemo 1.0.0, 1.1.0, 2.0.0 (depending on capsdep ^0.1.0 from
// this registry) under charts/.
func newOCIRegistry(t *testing.T) *ociRegistry {
	t.Helper()
	bin := dockerRegistryBinary(t)
	dir := t.TempDir()
	o := &ociRegistry{user: "puller", password: "oci-" + filepath.Base(t.TempDir())}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	o.caFile = filepath.Join(dir, "ca.pem")
	writeTestCA(t, o.caFile, certFile, keyFile)
	hash, err := bcrypt.GenerateFromPassword([]byte(o.password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "htpasswd"), o.user+":"+string(hash)+"\n")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.host = l.Addr().String()
	l.Close()
	write(filepath.Join(dir, "config.yml"), fmt.Sprintf(`version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: %s}
http:
  addr: %s
  tls: {certificate: %s, key: %s}
auth:
  htpasswd: {realm: charts, path: %s}
`, filepath.Join(dir, "data"), o.host, certFile, keyFile, filepath.Join(dir, "htpasswd")))
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(t, o.caFile)}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := (&http.Client{Transport: tr, Timeout: time.Second}).Get("https://" + o.host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", o.host, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	o.dockerConfig = t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(o.user + ":" + o.password))
	write(filepath.Join(o.dockerConfig, "config.json"), `{"auths": {"`+o.host+`": {"auth": "`+auth+`"}}}`)

	client, err := registry.NewClient(registry.ClientOptHTTPClient(&http.Client{Transport: tr}),
		registry.ClientOptBasicAuth(o.user, o.password), registry.ClientOptCredentialsFile(filepath.Join(dir, "helm-registry.json")))
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
		if _, err := client.Push(data, o.host+"/charts/"+name+":"+version); err != nil {
			t.Fatalf("push %s %s: %v", name, version, err)
		}
	}
	for _, v := range []string{"0.1.0", "0.1.2", "0.2.0"} {
		push(capsDepChart(t, filepath.Join(src, "capsdep-"+v), v), "capsdep", v)
	}
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		push(capsDemoChart(t, filepath.Join(src, "capsdemo-"+v), v, "^0.1.0", "oci://"+o.host+"/charts"), "capsdemo", v)
	}
	return o
}

// useCredentials points Docker's config (where rekindle reads registry
// credentials) at the registry's, and keeps Helm's own config out of it.
func (o *ociRegistry) useCredentials(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", o.dockerConfig)
	t.Setenv("HELM_CONFIG_HOME", t.TempDir())
}

func poolOf(t *testing.T, caFile string) *x509.CertPool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, caFile))) {
		t.Fatal("no CA")
	}
	return pool
}

// writeTestCA writes a CA and a certificate it signs for 127.0.0.1.
func writeTestCA(t *testing.T, caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rekindle test CA"},
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
		if err := os.WriteFile(p, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOCIChart renders capsdemo from the registry: the range resolves
// among the tags, the dependency is pulled from the same registry, and
// the render equals the helm CLI's (registry login, pull, dependency
// build, template) on the same inputs.
func TestOCIChart(t *testing.T) {
	o := newOCIRegistry(t)
	o.useCredentials(t)
	r := remoteRepo(t, `{chart: "oci://`+o.host+`/charts/capsdemo", version: "~1.0 || ^1.1", caFile: ca.pem, namespace: demo}`,
		map[string]string{"ca.pem": readFile(t, o.caFile)})
	rc, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	demo := workload(t, rc, "demo")
	if hr := demo.Helm; hr.ChartVersion != "1.1.0" || hr.Repo != "oci://"+o.host+"/charts/capsdemo" || len(hr.Digest) != 64 {
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
	homes := append(helmHomes(t), "SSL_CERT_FILE="+o.caFile, "DOCKER_CONFIG="+t.TempDir())
	cmd := exec.Command(helm, "registry", "login", o.host, "--username", o.user, "--password-stdin")
	cmd.Env = append(os.Environ(), homes...)
	cmd.Stdin = bytesReader(o.password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm registry login: %v\n%s", err, out)
	}
	pulled := t.TempDir()
	runHelm(t, helm, homes, "pull", "oci://"+o.host+"/charts/capsdemo", "--version", "1.1.0", "--untar", "--untardir", pulled)
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
	r := remoteRepo(t, `{chart: "oci://`+o.host+`/charts/capsdemo", version: "1.1.0", caFile: ca.pem}`, map[string]string{"ca.pem": readFile(t, o.caFile)})
	_, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err == nil || !containsAll(err.Error(), `workload "demo"`, "oci://"+o.host+"/charts/capsdemo") {
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
