package registrytest

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rekindle-dev/rekindle/test/testenv"
)

// Registry is a running docker-registry.
type Registry struct {
	// Host is 127.0.0.1:port, as image and chart references name it.
	Host string
	CA   CA
	// User and Password are its basic-auth credentials; empty without auth.
	User, Password string
}

// Options say how the registry is started.
type Options struct {
	// Auth turns on htpasswd basic auth with a generated user and password.
	Auth bool
}

// Start runs docker-registry on a free loopback port with TLS from a new
// CA, stopped when the test ends (its log is printed if the test failed),
// and waits until /v2/ answers.
func Start(tb testing.TB, opts Options) *Registry {
	tb.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		testenv.Need(tb, "docker-registry (apt-get install docker-registry), the OCI registry the test pulls from", errors.New("not on PATH"))
	}
	dir := tb.TempDir()
	r := &Registry{CA: NewCA(tb)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r.Host = l.Addr().String()
	l.Close()
	auth := ""
	if opts.Auth {
		r.User, r.Password = "puller", "registry-"+filepath.Base(dir)
		hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
		if err != nil {
			tb.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(r.User+":"+string(hash)+"\n"), 0o600); err != nil {
			tb.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd: {realm: registry, path: %s}\n", htpasswd)
	}
	conf := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: %s}\n"+
		"http:\n  addr: %s\n  tls: {certificate: %s, key: %s}\n%s",
		filepath.Join(dir, "data"), r.Host, r.CA.CertFile, r.CA.KeyFile, auth)), 0o600); err != nil {
		tb.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if tb.Failed() {
			b, _ := os.ReadFile(logf.Name())
			tb.Logf("registry log:\n%s", b)
		}
	})
	want := http.StatusOK
	if opts.Auth {
		want = http.StatusUnauthorized
	}
	client := r.HTTPClient()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return r
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("docker-registry did not answer on https://%s/v2/ within 30s: %v", r.Host, err)
		}
	}
}

// HTTPClient is a client that trusts the registry's CA.
func (r *Registry) HTTPClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.CA.Pool}}}
}

// DockerConfig writes a DOCKER_CONFIG directory whose config.json holds the
// registry's credentials, as `docker login` leaves it, and returns it.
func (r *Registry) DockerConfig(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths": {"`+r.Host+`": {"auth": "`+auth+`"}}}`), 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir
}
