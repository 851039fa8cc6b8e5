package blueprints

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
)

// TestLiveCapabilities reads a real kwok cluster's capabilities after the
// Widget CRD is installed there, and renders the capability chart with
// them for a cluster whose render has no CRD: the Widget appears because
// the cluster serves its API, and the version is the server's.
func TestLiveCapabilities(t *testing.T) {
	if _, err := kwok.FindBinDir(os.Getenv("REKINDLE_KWOK_BIN_DIR")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the kwok cluster binaries are missing: %v", err)
		}
		t.Skipf("skipping: needs a kwok cluster: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p, err := kwok.New(kwok.Options{StateDir: t.TempDir(), BinDir: os.Getenv("REKINDLE_KWOK_BIN_DIR")})
	if err != nil {
		t.Fatal(err)
	}
	name := "rk-caps-" + time.Now().Format("150405")
	info, err := p.Create(ctx, cluster.Spec{Name: name, Nodes: 1})
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if err := p.Delete(dctx, name); err != nil {
			t.Errorf("delete kwok cluster %s: %v", name, err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := sigsyaml.Unmarshal([]byte(widgetCRD), &crd.Object); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	var caps *Capabilities
	for {
		if caps, err = LiveCapabilities(ctx, dc); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(caps.APIVersions, "example.rekindle.dev/v1/Widget") {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the cluster never served the Widget API")
		}
		time.Sleep(200 * time.Millisecond)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if caps.KubeVersion != v.GitVersion || !slices.Contains(caps.APIVersions, "apps/v1/Deployment") {
		t.Errorf("caps = %s, %d API versions; want %s and apps/v1/Deployment", caps.KubeVersion, len(caps.APIVersions), v.GitVersion)
	}
	r := capsRepo(t)
	rc, err := r.Render(ctx, "dev", "old", RenderOptions{Live: caps})
	if err != nil {
		t.Fatal(err)
	}
	d := workload(t, rc, "demo")
	if data := configMapData(t, d, "demo-caps"); data["kubeVersion"] != v.GitVersion || data["widgets"] != "true" || len(d.Objects) != 3 {
		t.Errorf("live render: %v, objects %v; want %s and the Widget", data, refs(d.Objects), v.GitVersion)
	}
}
