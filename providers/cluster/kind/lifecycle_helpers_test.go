package kind

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/image"
)

// checkKubeconfig: the kubeconfig is rekindle's own, 0600, under the state dir.
func checkKubeconfig(t *testing.T, p cluster.Provider, name string, info cluster.Info) {
	t.Helper()
	want := p.(*provider).kubeconfigPath(name)
	if info.Kubeconfig != want {
		t.Errorf("kubeconfig = %s, want %s", info.Kubeconfig, want)
	}
	fi, err := os.Stat(info.Kubeconfig)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig %s: %v, mode %v; want 0600", info.Kubeconfig, err, fi)
	}
}

// checkNodes: n Ready nodes, running the default node image, at its
// Kubernetes version, with the kubelet configured by rekindle's kind config.
func checkNodes(t *testing.T, name string, info cluster.Info, n int) {
	t.Helper()
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != n {
		t.Fatalf("%d nodes, want %d (one control plane, %d workers)", len(nodes.Items), n, n-1)
	}
	wantImage := defaultNodeImage(t.Context(), "docker")
	for _, node := range nodes.Items {
		ready := false
		for _, c := range node.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if !ready {
			t.Errorf("node %s is not Ready", node.Name)
		}
		img := docker(t, "inspect", "--format", "{{.Config.Image}}", node.Name)
		if img != wantImage {
			t.Errorf("node %s runs image %s, want %s", node.Name, img, wantImage)
		}
		if tag := wantImage[strings.LastIndex(wantImage, ":")+1:]; node.Status.NodeInfo.KubeletVersion != tag {
			t.Errorf("node %s: kubelet %s, want the image's %s", node.Name, node.Status.NodeInfo.KubeletVersion, tag)
		}
		kubelet := docker(t, "exec", node.Name, "cat", "/var/lib/kubelet/config.yaml")
		if v1 := cgroupVersion(t.Context(), "docker") == "1"; v1 != strings.Contains(kubelet, "failCgroupV1: false") {
			t.Errorf("node %s: engine on cgroup v1 = %t, but its kubelet config says:\n%s", node.Name, v1, kubelet)
		}
	}
	checkRoutes(t, nodes.Items)
}

// checkRoutes: kindnetd (the node image's) routes each node's podCIDR
// through that node's address on every other node.
func checkRoutes(t *testing.T, nodes []corev1.Node) {
	t.Helper()
	for _, from := range nodes {
		for _, to := range nodes {
			if from.Name == to.Name {
				continue
			}
			ip := ""
			for _, a := range to.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					ip = a.Address
				}
			}
			var route string
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
				if route = docker(t, "exec", from.Name, "ip", "route", "show", to.Spec.PodCIDR); strings.Contains(route, "via "+ip) {
					break
				}
			}
			if !strings.Contains(route, "via "+ip) {
				t.Errorf("node %s: route to %s's pods %s = %q, want via %s", from.Name, to.Name, to.Spec.PodCIDR, route, ip)
			}
		}
	}
}

// checkLoadImage: an image archive (OCI layout, as rekindle agent image
// writes) loaded into the cluster is in every node's containerd.
func checkLoadImage(t *testing.T, p cluster.Provider, name string) {
	t.Helper()
	layer, err := random.Layer(1024, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref := "rekindle.local/load-test:" + name
	archive := filepath.Join(t.TempDir(), "image.tar")
	var buf bytes.Buffer
	if err := image.WriteLayout(t.Context(), &buf, image.Artifact{Image: img}, ref); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	loader, ok := p.(cluster.ImageLoader)
	if !ok || !Capabilities.LoadsImages {
		t.Fatal("the kind provider does not load images")
	}
	if err := loader.LoadImageArchive(t.Context(), name, archive); err != nil {
		t.Fatal(err)
	}
	for _, node := range strings.Fields(docker(t, "ps", "-q", "--filter", "label=io.x-k8s.kind.cluster="+name)) {
		if images := docker(t, "exec", node, "ctr", "-n", "k8s.io", "images", "list", "-q"); !strings.Contains(images, ref) {
			t.Errorf("node %s has no %s after LoadImageArchive:\n%s", node, ref, images)
		}
	}
}

// checkStorage: a PersistentVolumeClaim of the default StorageClass is
// provisioned (local-path-provisioner and its helper pod, from the node
// image) once a pod uses it.
func checkStorage(t *testing.T, info cluster.Info) {
	t.Helper()
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "uses-data", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10.2", ImagePullPolicy: corev1.PullNever,
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var phase corev1.PersistentVolumeClaimPhase
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		got, err := cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if phase = got.Status.Phase; phase == corev1.ClaimBound {
			t.Logf("PersistentVolumeClaim default/data Bound to %s", got.Spec.VolumeName)
			return
		}
	}
	t.Errorf("PersistentVolumeClaim default/data is %s after 2m, want Bound (local-path-provisioner)", phase)
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
