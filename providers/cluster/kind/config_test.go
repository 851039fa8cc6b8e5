package kind

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

func TestClusterConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	own := write("own.yaml", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n")
	patched := write("patched.yaml", "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: KubeletConfiguration\n  failCgroupV1: false\n")
	for _, tc := range []struct {
		name          string
		spec          cluster.Spec
		cgroup        string
		nodes         int
		patches       int
		wantCgroupFix bool
	}{
		{"workers on cgroup v2", cluster.Spec{Nodes: 2}, "2", 3, 0, false},
		{"workers on cgroup v1", cluster.Spec{Nodes: 1}, "1", 2, 1, true},
		{"default on an engine that does not say", cluster.Spec{}, "", 1, 0, false},
		{"the blueprint's file on cgroup v1", cluster.Spec{Config: own}, "1", 3, 1, true},
		{"a file that has the patch already", cluster.Spec{Config: patched}, "1", 1, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := clusterConfig(tc.spec, tc.cgroup)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Nodes) != tc.nodes || cfg.Nodes[0].Role != "control-plane" {
				t.Errorf("nodes = %+v, want %d, a control plane first", cfg.Nodes, tc.nodes)
			}
			if len(cfg.KubeadmConfigPatches) != tc.patches {
				t.Errorf("patches = %q, want %d", cfg.KubeadmConfigPatches, tc.patches)
			}
			if got := hasPatch(cfg.KubeadmConfigPatches, "failCgroupV1: false"); got != tc.wantCgroupFix {
				t.Errorf("failCgroupV1: false patched = %t, want %t", got, tc.wantCgroupFix)
			}
		})
	}
	for _, bad := range []struct{ body, want string }{
		{"kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: []\n", `unknown field "nodez"`},
		{"kind: Config\napiVersion: v1\n", "kind and apiVersion must be Cluster and kind.x-k8s.io/v1alpha4"},
	} {
		_, err := clusterConfig(cluster.Spec{Config: write("bad.yaml", bad.body)}, "1")
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("config %q: err = %v, want %q naming the file", bad.body, err, bad.want)
		}
	}
}

// TestOfflineNodeImageVersion: the offline node image's tag is the
// Kubernetes version hack/kind-node-image.sh builds (hack/tools/kindnode).
func TestOfflineNodeImageVersion(t *testing.T) {
	mod, err := os.ReadFile("../../../hack/tools/kindnode/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "k8s.io/kubernetes" {
			version = f[1]
		}
	}
	if want := "rekindle.local/kind-node:" + version; version == "" || OfflineNodeImage != want {
		t.Errorf("OfflineNodeImage = %s, want %s (from hack/tools/kindnode/go.mod)", OfflineNodeImage, want)
	}
}
