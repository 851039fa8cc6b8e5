package agent

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// TestVerify replays a render into a real kwok cluster, then breaks the
// cluster in the ways an operator would (a hand edit, a deletion, a release
// behind Git, a Deployment that cannot become available) and checks that
// Verify names each one. The subtests share the cluster and run in order.
func TestVerify(t *testing.T) {
	c := newTestCluster(t, "agent-verify")
	ctx := t.Context()
	a, err := NewApplier(c.Config, ApplyOptions{WaitTimeout: 2 * time.Minute, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	cl := a.Client()
	full := testRender(t, c.Name, "c0ffee1")
	total := len(full.AllObjects())
	sync := func(t *testing.T) {
		t.Helper()
		if res, err := a.Sync(ctx, full, SyncOptions{}); err != nil {
			t.Fatalf("sync: %v (failed: %v)", err, res.Failed)
		}
	}
	verify := func(t *testing.T, rc *blueprints.RenderedCluster) *VerifyResult {
		t.Helper()
		res, err := a.Verify(ctx, rc)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		t.Logf("verify: %d desired, %d present, %d matching, %d healthy in %s; differences: %v",
			res.Desired, res.Present, res.Matching, res.Healthy, res.Duration.Round(time.Millisecond), res.Differences)
		return res
	}
	patch := func(t *testing.T, apiVersion, kind, ns, name, merge string) {
		t.Helper()
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName(name)
		if err := cl.Patch(ctx, u, client.RawPatch("application/merge-patch+json", []byte(merge)), client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatalf("patch %s/%s/%s: %v", kind, ns, name, err)
		}
	}

	t.Run("after a sync everything matches", func(t *testing.T) {
		sync(t)
		res := verify(t, full)
		if !res.OK() || res.Desired != total || res.Present != total || res.Matching != total || res.Healthy != total {
			t.Errorf("desired/present/matching/healthy = %d/%d/%d/%d, want %d each; differences %v",
				res.Desired, res.Present, res.Matching, res.Healthy, total, res.Differences)
		}
	})

	t.Run("a hand edit of a managed field names the field", func(t *testing.T) {
		patch(t, "apps/v1", "Deployment", "shop", "frontend", `{"spec":{"replicas":3}}`)
		patch(t, "v1", "ConfigMap", "tiny", "tiny-config", `{"data":{"message":"edited"}}`) // a Helm release's object
		res := verify(t, full)
		requireDifference(t, res, "Deployment/shop/frontend", "field spec.replicas differs")
		requireDifference(t, res, "ConfigMap/tiny/tiny-config", "field data.message differs")
		if res.OK() || res.Matching != total-2 || res.Present != total {
			t.Errorf("present %d matching %d, want %d and %d", res.Present, res.Matching, total, total-2)
		}
		// The agent reverts edits of plain objects; it leaves a release
		// whose chart and values did not change alone, so put that one back.
		sync(t)
		patch(t, "v1", "ConfigMap", "tiny", "tiny-config", `{"data":{"message":"from-rekindle"}}`)
		if res := verify(t, full); !res.OK() {
			t.Errorf("after the edits were reverted: %v", res.Differences)
		}
	})

	t.Run("a deleted object is missing", func(t *testing.T) {
		cm := &unstructured.Unstructured{}
		cm.SetAPIVersion("v1")
		cm.SetKind("ConfigMap")
		cm.SetNamespace("monitoring")
		cm.SetName("rules")
		if err := cl.Delete(ctx, cm); err != nil {
			t.Fatal(err)
		}
		res := verify(t, full)
		requireDifference(t, res, "ConfigMap/monitoring/rules", "missing")
		if res.Present != total-1 || res.Healthy != total-1 || len(res.Differences) != 1 {
			t.Errorf("present %d healthy %d differences %v, want %d, %d and one", res.Present, res.Healthy, res.Differences, total-1, total-1)
		}
		sync(t)
	})

	t.Run("a release behind Git names both chart versions", func(t *testing.T) {
		ahead := *full
		ahead.Workloads = slices.Clone(full.Workloads)
		h := *ahead.Workloads[4].Helm
		h.ChartVersion = "0.2.0"
		ahead.Workloads[4].Helm = &h
		res := verify(t, &ahead)
		requireDifference(t, res, "helm release tiny/tiny", "at chart tiny 0.1.0, want tiny 0.2.0")
		if len(res.Differences) != 1 || res.Matching != total {
			t.Errorf("differences %v matching %d, want only the release and %d", res.Differences, res.Matching, total)
		}
	})

	t.Run("a Namespace rekindle creates counts, and is missing until made", func(t *testing.T) {
		more := *full
		ns := &unstructured.Unstructured{}
		ns.SetAPIVersion("v1")
		ns.SetKind("Namespace")
		ns.SetName("verify-created")
		more.CreatedNamespaces = append(slices.Clone(full.CreatedNamespaces), ns)
		res := verify(t, &more)
		requireDifference(t, res, "Namespace/verify-created", "missing")
		if res.Desired != total+1 || res.Present != total {
			t.Errorf("desired %d present %d, want %d and %d", res.Desired, res.Present, total+1, total)
		}
		if r, err := a.Sync(ctx, &more, SyncOptions{}); err != nil {
			t.Fatalf("sync: %v (failed: %v)", err, r.Failed)
		}
		if res := verify(t, &more); !res.OK() || res.Healthy != total+1 {
			t.Errorf("after the sync made it: healthy %d of %d, differences %v", res.Healthy, res.Desired, res.Differences)
		}
		sync(t) // back to the render without it: the Namespace is pruned
	})

	t.Run("a Deployment that cannot become available is not healthy", func(t *testing.T) {
		// No node carries this label, so the new pods stay Pending. The
		// field is not one Git manages: the object still matches.
		patch(t, "apps/v1", "Deployment", "monitoring", "collector",
			`{"spec":{"template":{"spec":{"nodeSelector":{"rekindle.dev/no-such-node":"true"}}}}}`)
		// Right after the edit the Deployment is unobserved; wait until the
		// controller has acted and the rollout is stuck for good.
		deadline := time.Now().Add(30 * time.Second)
		res := verify(t, full)
		for time.Now().Before(deadline) && slices.ContainsFunc(res.Differences, func(d Difference) bool {
			return strings.Contains(d.Reason, "observed generation")
		}) {
			time.Sleep(500 * time.Millisecond)
			res = verify(t, full)
		}
		requireDifference(t, res, "Deployment/monitoring/collector", "not healthy: ")
		if res.Matching != total || res.Healthy != total-1 {
			t.Errorf("matching %d healthy %d, want %d and %d", res.Matching, res.Healthy, total, total-1)
		}
	})
}

// requireDifference fails unless res lists object with a reason starting with reason.
func requireDifference(t *testing.T, res *VerifyResult, object, reason string) {
	t.Helper()
	for _, d := range res.Differences {
		if d.Object == object && strings.HasPrefix(d.Reason, reason) {
			return
		}
	}
	t.Errorf("no difference %q: %q in %v", object, reason, res.Differences)
}

func TestFieldPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/spec/replicas", "spec.replicas"},
		{"/spec/template/spec/containers/0/image", "spec.template.spec.containers[0].image"},
		{"/data/a~1b", "data.a/b"},
		{"/data/x~0y", "data.x~y"},
		{"", "(the whole object)"},
	} {
		if got := fieldPath(tc.in); got != tc.want {
			t.Errorf("fieldPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestChangedFields(t *testing.T) {
	live := deployment("shop", "web", 3)
	live.SetLabels(map[string]string{"app": "web", LabelWorkload: "other"})
	want := deployment("shop", "web", 1)
	want.SetLabels(map[string]string{"app": "web", LabelWorkload: "web", LabelCluster: "c1"})
	git := deployment("shop", "web", 1)
	git.SetLabels(map[string]string{"app": "web", LabelWorkload: "web"})
	got, other := changedFields(live, want, git)
	wantFields := []string{"spec.replicas", "metadata.labels." + LabelWorkload}
	if !slices.Equal(got, wantFields) || !other {
		t.Errorf("changedFields = %v, %t; want %v, true (%s is not set by Git)", got, other, wantFields, LabelCluster)
	}
}
