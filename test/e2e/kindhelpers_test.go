package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kind"
	"github.com/rekindle-dev/rekindle/providers/image"
	"github.com/rekindle-dev/rekindle/test/gitserver"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// helloImageRef is the image the kind example's Deployment runs.
const helloImageRef = "rekindle.local/hello:v1"

// needKind skips (fails in CI) where kind cannot start a cluster: an engine
// that runs privileged containers and a node image present or pullable.
func needKind(t *testing.T) {
	t.Helper()
	testenv.Need(t, "a container engine that runs kind's privileged nodes (hack/container-engine.sh) and a node image (hack/kind-node-image.sh builds "+kind.OfflineNodeImage+")", kind.Available(t.Context(), ""))
}

// kindExample commits blueprints/examples/kind to a Git repo served by git
// daemon on the Docker bridge's gateway, an address of this machine that
// the kind nodes' pods reach (their traffic leaves masqueraded), and returns
// its URL.
func kindExample(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	blueprintRepo(t, base, "kind", "../../blueprints/examples/kind")
	return gitserver.NewDaemonOn(t, base, dockerGateway(t)) + "/org/kind"
}

// dockerGateway is the host's address on Docker's default bridge. Docker
// lists it in the network's IPAM config only when it was configured; a
// bridge it set up itself (docker0, as on a fresh machine) has only its
// subnet there, and the address is the bridge interface's own.
func dockerGateway(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("docker", "network", "inspect", "bridge", "--format",
		`{{range .IPAM.Config}}{{.Gateway}} {{end}}|{{index .Options "com.docker.network.bridge.name"}}`).Output()
	if err != nil {
		t.Fatalf("docker network inspect bridge: %v", err)
	}
	gws, name, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	if gw := strings.Fields(gws); len(gw) > 0 {
		return gw[0]
	}
	if name == "" {
		name = "docker0"
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatalf("the Docker bridge's gateway: not in its IPAM config, and its interface %s: %v", name, err)
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil {
			return ip.IP.String()
		}
	}
	t.Fatalf("the Docker bridge's gateway: interface %s has no IPv4 address (%v)", name, addrs)
	return ""
}

// helloImage builds the example's HTTP server (static) into an image FROM
// scratch, as an OCI layout tarball tagged helloImageRef.
func helloImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "hello")
	build := exec.Command("go", "build", "-o", bin, "../../blueprints/examples/kind/hello")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint, cf.Config.User = []string{"/hello"}, "65532:65532"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := image.WriteLayout(t.Context(), &out, image.Artifact{Image: img}, helloImageRef); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "hello.tar")
	if err := os.WriteFile(archive, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return archive
}

// deleteKindCluster removes a kind cluster a test left behind.
func deleteKindCluster(t *testing.T, stateDir, name string) {
	t.Helper()
	p, err := kind.New(kind.Options{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 2*time.Minute)
	defer cancel()
	if err := p.Delete(ctx, name); err != nil {
		t.Errorf("delete kind cluster %s: %v", name, err)
	}
}

// checkHelloRuns: the agent runs as a pod of its own loaded image, the
// example's pods are Running, and its Service answers from inside the node.
func checkHelloRuns(t *testing.T, kubeconfig, clusterName string) {
	t.Helper()
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	checkSystemPods(t, cs)
	agents, err := cs.CoreV1().Pods("rekindle-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, p := range agents.Items {
		img := p.Spec.Containers[0].Image
		t.Logf("agent pod %s: %s, image %s", p.Name, p.Status.Phase, img)
		if p.Status.Phase == corev1.PodRunning && strings.HasPrefix(img, "rekindle.local/rekindle:") {
			running++
		}
	}
	if running != 1 {
		t.Errorf("%d agent pods Running rekindle's loaded image, want 1", running)
	}
	pods, err := cs.CoreV1().Pods("hello").List(ctx, metav1.ListOptions{LabelSelector: "app=hello"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			t.Errorf("pod hello/%s: %s, IP %q", p.Name, p.Status.Phase, p.Status.PodIP)
		}
	}
	if len(pods.Items) != 2 {
		t.Errorf("%d hello pods, want 2", len(pods.Items))
	}
	svc, err := cs.CoreV1().Services("hello").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Through kube-proxy's rules and the CNI, from the node itself.
	var body []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		body, err = exec.CommandContext(ctx, "docker", "exec", clusterName+"-control-plane",
			"curl", "-sS", "--max-time", "5", "http://"+svc.Spec.ClusterIP+"/").CombinedOutput()
		if (err == nil && strings.HasPrefix(string(body), "hello from hello-")) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !strings.HasPrefix(string(body), "hello from hello-") {
		t.Errorf("Service hello/hello at %s: %v: %q", svc.Spec.ClusterIP, err, body)
	} else {
		t.Logf("Service hello/hello at %s answers: %s", svc.Spec.ClusterIP, strings.TrimSpace(string(body)))
	}
}

// checkSystemPods: every kube-system pod (control plane, kube-proxy,
// kindnetd, CoreDNS: all from the node image's preloaded images) is Running
// and Ready; CoreDNS's readiness means its kubernetes plugin has synced.
func checkSystemPods(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	var notReady []string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Second) {
		pods, err := cs.CoreV1().Pods("kube-system").List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		notReady = notReady[:0]
		dns := 0
		for _, p := range pods.Items {
			ready := p.Status.Phase == corev1.PodRunning
			for _, c := range p.Status.ContainerStatuses {
				ready = ready && c.Ready
			}
			if !ready {
				notReady = append(notReady, p.Name+" ("+string(p.Status.Phase)+")")
			}
			if p.Labels["k8s-app"] == "kube-dns" {
				dns++
			}
		}
		if dns == 0 {
			notReady = append(notReady, "no CoreDNS pod")
		}
		if len(notReady) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(notReady) > 0 {
		t.Errorf("kube-system pods not Running and Ready: %v", notReady)
	}
}
