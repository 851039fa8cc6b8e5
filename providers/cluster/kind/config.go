package kind

import (
	"context"
	"fmt"
	"os"
	"strings"

	kindv1alpha4 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// CgroupV1Patch is the kubeadm config patch rekindle adds to every kind
// config on an engine whose cgroups are v1: Kubernetes 1.35 and later
// kubelets refuse to start on cgroup v1 unless their KubeletConfiguration
// says failCgroupV1: false.
const CgroupV1Patch = "kind: KubeletConfiguration\nfailCgroupV1: false\n"

// clusterConfig is the kind config a cluster is created with: the
// blueprint's file (spec.Config) when given, else one control plane and
// spec.Nodes workers; with CgroupV1Patch when the engine runs cgroup v1.
func clusterConfig(spec cluster.Spec, cgroupVersion string) (*kindv1alpha4.Cluster, error) {
	cfg := workers(spec.Nodes)
	if spec.Config != "" {
		raw, err := os.ReadFile(spec.Config)
		if err != nil {
			return nil, fmt.Errorf("read kind config: %w", err)
		}
		cfg = &kindv1alpha4.Cluster{}
		if err := yaml.UnmarshalStrict(raw, cfg); err != nil {
			return nil, fmt.Errorf("kind config %s: %w", spec.Config, err)
		}
		if cfg.Kind != "Cluster" || cfg.APIVersion != "kind.x-k8s.io/v1alpha4" {
			return nil, fmt.Errorf("kind config %s: kind and apiVersion must be Cluster and kind.x-k8s.io/v1alpha4, got %q and %q", spec.Config, cfg.Kind, cfg.APIVersion)
		}
		if len(cfg.Nodes) == 0 {
			cfg.Nodes = []kindv1alpha4.Node{{Role: kindv1alpha4.ControlPlaneRole}}
		}
	}
	if cgroupVersion == "1" && !hasPatch(cfg.KubeadmConfigPatches, "failCgroupV1") {
		cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, CgroupV1Patch)
	}
	return cfg, nil
}

func hasPatch(patches []string, field string) bool {
	for _, p := range patches {
		if strings.Contains(p, field) {
			return true
		}
	}
	return false
}

// workers is a kind config with one control plane and n workers.
func workers(n int) *kindv1alpha4.Cluster {
	c := &kindv1alpha4.Cluster{
		TypeMeta: kindv1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Nodes:    []kindv1alpha4.Node{{Role: kindv1alpha4.ControlPlaneRole}},
	}
	for range n {
		c.Nodes = append(c.Nodes, kindv1alpha4.Node{Role: kindv1alpha4.WorkerRole})
	}
	return c
}

// cgroupVersion is the cgroup version ("1" or "2") of the engine's host,
// which kind's nodes share: Docker's CgroupVersion, Podman's
// host.cgroupVersion ("v1"/"v2"). Empty when the engine does not say.
func cgroupVersion(ctx context.Context, engine string) string {
	format := "{{.CgroupVersion}}"
	if engine == "podman" {
		format = "{{.Host.CgroupsVersion}}"
	}
	out, err := run(ctx, engine, "info", "--format", format)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(out), "v")
}
