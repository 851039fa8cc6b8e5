package blueprints

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"

	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
)

// Capabilities are what Helm charts see as .Capabilities: the Kubernetes
// version (also checked against a chart's kubeVersion) and the API versions
// .Capabilities.APIVersions.Has finds.
type Capabilities struct {
	// KubeVersion is a version like v1.36.3.
	KubeVersion string `json:"kubeVersion"`
	// KubeVersionFrom says where KubeVersion came from, for people.
	KubeVersionFrom string `json:"kubeVersionFrom,omitempty"`
	// APIVersions are "group/version" and "group/version/Kind" entries.
	// In RenderOptions.Live: every one the live cluster serves (from
	// discovery). In a RenderedCluster: those charts saw beyond Helm's
	// built-in list (chartutil.DefaultVersionSet): the live ones and the
	// CRDs of the render, sorted.
	APIVersions []string `json:"apiVersions,omitempty"`
}

// Where a Kubernetes version came from.
const (
	KubeVersionFromBlueprint = "clusters[].kubernetesVersion"
	KubeVersionFromLive      = "the live cluster"
)

// KubeVersionFor is the Kubernetes version charts of cluster c render for
// offline, and where it comes from: clusters[].kubernetesVersion; else the
// provider's own (kwok: the version of the pinned cluster tools; kind: the
// node image's tag); else (capi, existing) the pinned tools' version, with
// a note to set kubernetesVersion. Never Helm's compiled-in v1.20.0.
func KubeVersionFor(c Cluster) (version, from string) {
	if c.KubernetesVersion != "" {
		return normalizeKubeVersion(c.KubernetesVersion), KubeVersionFromBlueprint
	}
	tools := toolsKubeVersion()
	switch c.Provider {
	case "kwok":
		return tools, "kwok's pinned cluster tools " + kwok.ToolsVersion
	case "kind":
		image := kinddefaults.Image
		if c.Kind != nil && c.Kind.NodeImage != "" {
			image = c.Kind.NodeImage
		}
		if v := imageTag(image); v != "" {
			return normalizeKubeVersion(v), "kind node image " + strings.SplitN(image, "@", 2)[0]
		}
	}
	return tools, "rekindle's default, the pinned cluster tools' (set clusters[].kubernetesVersion to the cluster's)"
}

// toolsKubeVersion is the Kubernetes version of hack/tools: "k8s-v1.36.3_..." gives v1.36.3.
func toolsKubeVersion() string {
	first, _, _ := strings.Cut(kwok.ToolsVersion, "_")
	return strings.TrimPrefix(first, "k8s-")
}

// imageTag returns the tag of an image reference (kindest/node:v1.37.0@sha256:...).
func imageTag(image string) string {
	ref, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

func normalizeKubeVersion(v string) string {
	if !strings.HasPrefix(v, "v") {
		return "v" + v
	}
	return v
}

// crdAPIVersions lists group/version and group/version/Kind for every
// served version of every CRD in objs.
func crdAPIVersions(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if !IsCRD(o) {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		for _, v := range versions {
			vm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if served, ok := vm["served"].(bool); ok && !served {
				continue
			}
			name, _ := vm["name"].(string)
			if name == "" {
				continue
			}
			out = append(out, group+"/"+name, group+"/"+name+"/"+kind)
		}
	}
	return out
}

// helmCaps is what a chart is rendered with: the version and the API
// versions beyond Helm's defaults (the base's, plus the render's CRDs).
type helmCaps struct {
	kube *chartutil.KubeVersion
	apis []string
}

func newHelmCaps(base Capabilities, crds []string) (*helmCaps, error) {
	kv, err := chartutil.ParseKubeVersion(base.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kubernetes version %q (from %s): %w", base.KubeVersion, base.KubeVersionFrom, err)
	}
	apis := append(slices.Clone(base.APIVersions), crds...)
	slices.Sort(apis)
	return &helmCaps{kube: kv, apis: slices.Compact(apis)}, nil
}

func (h *helmCaps) has(apiVersion string) bool {
	_, found := slices.BinarySearch(h.apis, apiVersion)
	return found
}

// LiveCapabilities reads a cluster's capabilities as `helm install` does:
// its server version, and every group/version and group/version/Kind its
// discovery serves (Helm's own action.GetVersionSet). The agent passes the
// result as RenderOptions.Live.
func LiveCapabilities(ctx context.Context, dc discovery.DiscoveryInterface) (*Capabilities, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("read the cluster's version: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	apis, err := action.GetVersionSet(dc)
	if err != nil {
		return nil, fmt.Errorf("read the cluster's API versions: %w", err)
	}
	out := slices.Clone([]string(apis))
	slices.Sort(out)
	return &Capabilities{KubeVersion: v.GitVersion, KubeVersionFrom: KubeVersionFromLive, APIVersions: out}, nil
}
