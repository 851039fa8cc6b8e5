package agent

import (
	"strings"
	"testing"
	"time"
)

// TestPreflight runs the preflight against a real kwok cluster: a whole
// render passes; without its platform workload (the CRD and the shop
// Namespace) every object that needs them is named with its own workload
// and why; once the cluster holds the CRD and the Namespace, the same
// partial render passes, because the cluster serves what the render lacks.
func TestPreflight(t *testing.T) {
	c := newTestCluster(t, "agent-preflight")
	ctx := t.Context()
	a, err := NewApplier(c.Config, ApplyOptions{WaitTimeout: 2 * time.Minute, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	full := testRender(t, c.Name, "c0ffee1")
	// A real render carries the Helm release's namespace as a created one.
	full.CreatedNamespaces = append(full.CreatedNamespaces, namespace("tiny"))
	partial := without(full, "platform")

	if blocked, err := a.Preflight(ctx, full); err != nil || len(blocked) != 0 {
		t.Fatalf("preflight of the whole render: %v, %v; want nothing blocked", blocked, err)
	}

	blocked, err := a.Preflight(ctx, partial)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range blocked {
		got[b.Object] = b.String()
		if !b.Permanent {
			t.Errorf("%s is not marked permanent", b)
		}
	}
	want := map[string][]string{
		"Widget/shop/backend-widget":    {`workload "backend"`, "no CRD in the render or the cluster serves example.rekindle.dev/v1 Widget"},
		"ConfigMap/shop/backend-config": {`workload "backend"`, `namespace "shop" is neither in the render nor in the cluster`},
		"Deployment/shop/frontend":      {`workload "frontend"`, `namespace "shop"`},
	}
	for obj, parts := range want {
		for _, p := range parts {
			if !strings.Contains(got[obj], p) {
				t.Errorf("preflight of the render without platform: %s: %q lacks %q", obj, got[obj], p)
			}
		}
	}
	// backend (4 objects) and frontend (3) live in shop; each is named once.
	if len(blocked) != 7 {
		t.Errorf("blocked %d objects, want 7: %v", len(blocked), blocked)
	}

	if res, err := a.Sync(ctx, full, SyncOptions{}); err != nil {
		t.Fatalf("sync: %v (failed: %v)", err, res.Failed)
	}
	if blocked, err := a.Preflight(ctx, partial); err != nil || len(blocked) != 0 {
		t.Errorf("preflight once the cluster serves Widget and holds shop: %v, %v; want nothing blocked", blocked, err)
	}
}
