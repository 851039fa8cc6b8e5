// Package velerotest gives tests the real parts a restore needs: an S3
// object store (versitygw with its posix backend, serving a temporary
// directory on a loopback port, with an access key and secret generated per
// test), and the Velero server with its AWS object-store plugin running as a
// host process against a test's kwok cluster (kwok simulates pods, so Velero
// runs beside the cluster as rekindle's host agent does). The binaries come
// from hack/install-velero.sh.
package velerotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// BinDir returns the directory holding velero, plugins/velero-plugin-for-aws
// and versitygw (REKINDLE_VELERO_BIN_DIR, else hack/install-velero.sh's
// cache). Without them the test fails in CI and is skipped elsewhere,
// naming the script that builds them.
func BinDir(tb testing.TB) string {
	tb.Helper()
	dir, err := restore.FindBinDir("", "versitygw")
	testenv.Need(tb, "velero, velero-plugin-for-aws and versitygw (hack/install-velero.sh builds them)", err)
	return dir
}

// Store is a versitygw S3 gateway on loopback, with one bucket.
type Store struct {
	// URL is the S3 endpoint, http://127.0.0.1:PORT.
	URL    string
	Bucket string
	Region string
	// AccessKey and SecretKey are generated for the test; never log them.
	AccessKey, SecretKey string
	// Dir is the directory versitygw serves (a bucket is a directory in it).
	Dir string
}

// CloudCredentials is the store's key in the AWS shared credentials file
// format that velero-plugin-for-aws reads (a Secret's "cloud" key).
func (s *Store) CloudCredentials() []byte {
	return []byte(fmt.Sprintf("[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", s.AccessKey, s.SecretKey))
}

// CredentialsSecret is the Secret cloud-credentials (namespace velero)
// whose "cloud" key holds CloudCredentials, as YAML a blueprint would hold
// (encrypted, in a real one).
func (s *Store) CredentialsSecret() string {
	return "apiVersion: v1\nkind: Secret\nmetadata: {name: cloud-credentials, namespace: velero}\nstringData:\n  cloud: |\n    " +
		strings.ReplaceAll(strings.TrimSpace(string(s.CloudCredentials())), "\n", "\n    ") + "\n"
}

// Manifests are a blueprint's velero workload for this store, its CRDs and
// credentials aside: the velero Namespace, the BackupStorageLocation
// "default" on the store (its key from CredentialsSecret), a Schedule
// "daily" of namespace apps, and Velero's Deployment (its pods are
// simulated on kwok, but Velero's restore item actions read its image from
// it, and fail a restore without it).
func (s *Store) Manifests() string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: velero}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: velero}
spec:
  provider: aws
  default: true
  objectStorage: {bucket: %s}
  credential: {name: cloud-credentials, key: cloud}
  config: {region: %s, s3ForcePathStyle: "true", s3Url: "%s"}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: daily, namespace: velero}
spec:
  schedule: "0 3 * * *"
  template: {includedNamespaces: [apps], ttl: 720h}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: velero, namespace: velero}
spec:
  replicas: 1
  selector: {matchLabels: {name: velero}}
  template:
    metadata: {labels: {name: velero}}
    spec:
      containers:
        - {name: velero, image: "velero/velero:v1.18.3", args: [server]}
`, s.Bucket, s.Region, s.URL)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// NewStore starts versitygw (posix backend) on a loopback port with a new
// bucket, and stops it when the test ends.
func NewStore(tb testing.TB, bin string) *Store {
	tb.Helper()
	root := tb.TempDir()
	s := &Store{Bucket: "rekindle-backups", Region: "us-east-1", AccessKey: "rk" + randomHex(8), SecretKey: randomHex(20),
		Dir: filepath.Join(root, "data")}
	meta := filepath.Join(root, "meta")
	for _, d := range []string{filepath.Join(s.Dir, s.Bucket), meta} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	port := freePort(tb)
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	// The key goes through the environment, not argv: /proc/*/cmdline is world-readable.
	cmd := exec.Command(filepath.Join(bin, "versitygw"), "--port", fmt.Sprintf("127.0.0.1:%d", port), "--region", s.Region,
		"posix", "--sidecar", meta, s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	logf := filepath.Join(root, "versitygw.log")
	start(tb, cmd, logf, "versitygw")
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("versitygw did not answer on %s: %v\n%s", s.URL, err, tail(logf))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// start runs cmd with its output in logf and returns what stops it, which
// runs when the test ends too.
func start(tb testing.TB, cmd *exec.Cmd, logf, name string) func() {
	tb.Helper()
	f, err := os.Create(logf)
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			f.Close()
		})
	}
	tb.Cleanup(stop)
	return stop
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// CRDs returns Velero's CustomResourceDefinitions as YAML, from the built
// binary: velero install --crds-only --dry-run -o yaml.
func CRDs(ctx context.Context, bin string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "velero"), "install", "--crds-only", "--dry-run", "-o", "yaml")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("velero install --crds-only --dry-run: %w: %s", err, errb.String())
	}
	return out.Bytes(), nil
}

// Server is a velero server process against one cluster.
type Server struct {
	Log  string
	stop func()
}

// Stop ends the server now (it ends with the test anyway).
func (s *Server) Stop() { s.stop() }

// StartServer runs `velero server` as a host process against the cluster of
// kubeconfig, in namespace ns, with the AWS plugin from bin/plugins. Its
// CRDs, BackupStorageLocation and credentials Secret must exist (the
// server validates the location at start). Syncs and validations run every
// second, as a test needs, not every minute.
func StartServer(tb testing.TB, bin, kubeconfig, ns string) *Server {
	tb.Helper()
	dir := tb.TempDir()
	s := &Server{Log: filepath.Join(dir, "velero.log")}
	cmd := exec.Command(filepath.Join(bin, "velero"), "server",
		"--kubeconfig", kubeconfig, "--namespace", ns,
		"--plugin-dir", filepath.Join(bin, "plugins"),
		"--features=", "--uploader-type=kopia",
		"--metrics-address", fmt.Sprintf("127.0.0.1:%d", freePort(tb)),
		"--profiler-address", fmt.Sprintf("127.0.0.1:%d", freePort(tb)),
		"--backup-sync-period", "1s", "--store-validation-frequency", "1s",
		"--log-level", "info")
	// Velero writes credential files under os.TempDir(): keep them in the test's directory.
	cmd.Env = append(os.Environ(), "TMPDIR="+dir, "VELERO_NAMESPACE="+ns)
	s.stop = start(tb, cmd, s.Log, "velero server")
	return s
}

// Tail is the end of the server's log, for a failure message. Velero does
// not log credentials; the test asserts it.
func (s *Server) Tail() string { return tail(s.Log) }
