package agent

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// TestSync replays a blueprint into a real kwok cluster and then changes it
// step by step; the subtests share the cluster and run in order.
func TestSync(t *testing.T) {
	c := newTestCluster(t, "agent-sync")
	ctx := t.Context()
	a, err := NewApplier(c.Config, ApplyOptions{WaitTimeout: 2 * time.Minute, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	cl := a.Client()
	full := testRender(t, c.Name, "c0ffee1")
	total := len(full.AllObjects())

	t.Run("first sync applies everything", func(t *testing.T) {
		res, err := a.Sync(ctx, full, SyncOptions{})
		if err != nil {
			t.Fatalf("sync: %v (failed: %v)", err, res.Failed)
		}
		if res.Desired != total || res.Applied != total || res.Healthy != total || !res.Ready() {
			t.Errorf("desired/applied/healthy = %d/%d/%d, want %d each", res.Desired, res.Applied, res.Healthy, total)
		}
		if plain := total - len(full.Workloads[4].Objects); res.Created != plain {
			t.Errorf("created %d, want %d", res.Created, plain)
		}
		for _, o := range full.AllObjects() {
			live := o.DeepCopy()
			if live.GetNamespace() == "" && live.GetKind() != "Namespace" && live.GetKind() != "CustomResourceDefinition" {
				live.SetNamespace("tiny") // helm objects land in the release namespace
			}
			if err := cl.Get(ctx, client.ObjectKeyFromObject(live), live); err != nil {
				t.Errorf("%s: %v", refOf(o), err)
			}
		}
		for _, d := range []types.NamespacedName{{Namespace: "shop", Name: "backend"}, {Namespace: "shop", Name: "frontend"},
			{Namespace: "monitoring", Name: "collector"}, {Namespace: "tiny", Name: "tiny"}} {
			requireAvailable(t, cl, d)
		}
		// Workloads in a chain become ready one after the other.
		ready := map[string]time.Duration{}
		for _, w := range res.Workloads {
			ready[w.Name] = w.Ready
		}
		if !(ready["platform"] <= ready["backend"] && ready["backend"] <= ready["frontend"]) {
			t.Errorf("dependsOn order not kept: %v", ready)
		}
		s := requireSync(t, a, c.Name, ConditionReady, metav1.ConditionTrue, ReasonSucceeded)
		if s.Status.LastAppliedCommit != "c0ffee1" || s.Status.LastAttemptedCommit != "c0ffee1" {
			t.Errorf("commits in status: applied %q attempted %q", s.Status.LastAppliedCommit, s.Status.LastAttemptedCommit)
		}
		if s.Status.Desired != total || s.Status.Applied != total || s.Status.Healthy != total {
			t.Errorf("status counts %d/%d/%d, want %d", s.Status.Desired, s.Status.Applied, s.Status.Healthy, total)
		}
		if s.Status.LastSyncTime == nil || s.Status.Duration == "" {
			t.Errorf("status lacks lastSyncTime/duration: %+v", s.Status)
		}
		if cond := s.Condition(ConditionStalled); cond == nil || cond.Status != metav1.ConditionFalse {
			t.Errorf("Stalled = %+v, want False", cond)
		}
		// Everything plain carries the rekindle labels.
		cm := &corev1.ConfigMap{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "backend-config"}, cm); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{LabelManagedBy: ManagedByValue, LabelCluster: c.Name, LabelWorkload: "backend"}
		for k, v := range want {
			if cm.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, cm.Labels[k], v)
			}
		}
	})

	t.Run("helm release is listed", func(t *testing.T) {
		rel := findRelease(t, c, "tiny", "tiny")
		if rel == nil {
			t.Fatal("release tiny/tiny not found by helm list -A")
		}
		if rel.Info.Status != release.StatusDeployed || rel.Chart.Metadata.Version != "0.1.0" {
			t.Errorf("release status %s chart %s", rel.Info.Status, rel.Chart.Metadata.Version)
		}
		cm := &corev1.ConfigMap{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "tiny", Name: "tiny-config"}, cm); err != nil {
			t.Fatal(err)
		}
		if cm.Data["message"] != "from-rekindle" || cm.Labels[LabelWorkload] != "tiny" {
			t.Errorf("tiny-config data %v labels %v", cm.Data, cm.Labels)
		}
	})

	t.Run("second sync changes nothing", func(t *testing.T) {
		res, err := a.Sync(ctx, full, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 0 || res.Configured != 0 || len(res.Drifted) != 0 || len(res.Pruned) != 0 {
			t.Errorf("created %d configured %d drifted %v pruned %v, want nothing", res.Created, res.Configured, res.Drifted, res.Pruned)
		}
		if len(res.Releases) != 1 || res.Releases[0].Action != "unchanged" || res.Releases[0].Revision != 1 {
			t.Errorf("releases %+v, want tiny unchanged at revision 1", res.Releases)
		}
	})

	t.Run("hand edits are reverted and reported as drift", func(t *testing.T) {
		patch := func(o client.Object, p string) {
			t.Helper()
			if err := cl.Patch(ctx, o, client.RawPatch(types.MergePatchType, []byte(p)), client.FieldOwner("kubectl-edit")); err != nil {
				t.Fatal(err)
			}
		}
		patch(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "backend-config"}}, `{"data":{"mode":"debug"}}`)
		patch(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "frontend"}}, `{"spec":{"replicas":5}}`)

		res, err := a.Sync(ctx, full, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := refStrings(res.Drifted)
		want := []string{"ConfigMap/shop/backend-config", "Deployment/shop/frontend"}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("drifted %v, want %v", got, want)
		}
		cm := &corev1.ConfigMap{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "backend-config"}, cm); err != nil {
			t.Fatal(err)
		}
		if cm.Data["mode"] != "prod" {
			t.Errorf("mode = %q after sync, want prod", cm.Data["mode"])
		}
		d := &appsv1.Deployment{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "frontend"}, d); err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != 1 {
			t.Errorf("replicas = %d after sync, want 1", *d.Spec.Replicas)
		}
		s := requireSync(t, a, c.Name, ConditionReady, metav1.ConditionTrue, ReasonSucceeded)
		if len(s.Status.Drifted) != 2 {
			t.Errorf("status drifted = %v", s.Status.Drifted)
		}
	})

	t.Run("a changed render is not drift", func(t *testing.T) {
		changed := testRender(t, c.Name, "c0ffee2")
		changed.Workloads[1].Objects[0] = configMap("shop", "backend-config", map[string]any{"mode": "prod", "workers": "8"})
		res, err := a.Sync(ctx, changed, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Configured != 1 || len(res.Drifted) != 0 {
			t.Errorf("configured %d drifted %v, want 1 and none", res.Configured, res.Drifted)
		}
		if _, err := a.Sync(ctx, full, SyncOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("render error leaves the cluster and stalls", func(t *testing.T) {
		ag := &Agent{Applier: a, Environment: "test", Cluster: c.Name,
			Source: func(context.Context) (*blueprints.RenderedCluster, error) {
				return nil, errors.New("fetch blueprint: dial tcp 127.0.0.1:9418: connection refused")
			}}
		if _, err := ag.Once(ctx); err == nil {
			t.Fatal("Once succeeded with a failing source")
		}
		s := requireSync(t, a, c.Name, ConditionStalled, metav1.ConditionTrue, ReasonRenderFailed)
		if msg := s.Condition(ConditionStalled).Message; !strings.Contains(msg, "connection refused") {
			t.Errorf("Stalled message %q lacks the reason", msg)
		}
		if cond := s.Condition(ConditionReady); cond.Status != metav1.ConditionFalse {
			t.Errorf("Ready = %s, want False", cond.Status)
		}
		if s.Status.LastAppliedCommit != "c0ffee1" {
			t.Errorf("lastAppliedCommit %q changed", s.Status.LastAppliedCommit)
		}
		requireAllLive(t, cl, full)

		// The next good render recovers.
		ag.Source = func(context.Context) (*blueprints.RenderedCluster, error) { return full, nil }
		if _, err := ag.Once(ctx); err != nil {
			t.Fatal(err)
		}
		requireSync(t, a, c.Name, ConditionStalled, metav1.ConditionFalse, ReasonSucceeded)
	})

	t.Run("empty render does not prune", func(t *testing.T) {
		empty := &blueprints.RenderedCluster{Environment: "test", Cluster: c.Name, Commit: "e0e0e0"}
		_, err := a.Sync(ctx, empty, SyncOptions{})
		if !errors.Is(err, ErrEmptyRender) {
			t.Fatalf("err = %v, want ErrEmptyRender", err)
		}
		requireAllLive(t, cl, full)
		requireSync(t, a, c.Name, ConditionStalled, metav1.ConditionTrue, ReasonEmptyRender)
		if findRelease(t, c, "tiny", "tiny") == nil {
			t.Error("helm release uninstalled by an empty render")
		}
	})

	t.Run("removed workload is pruned, and only it", func(t *testing.T) {
		// Not made by rekindle, in the namespace of the removed workload.
		handMade := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "hand-made"}, Data: map[string]string{"a": "b"}}
		if err := cl.Create(ctx, handMade); err != nil {
			t.Fatal(err)
		}
		// A hand-made object that reuses the name of a managed one but lost its labels is not deleted either.
		res, err := a.Sync(ctx, without(full, "frontend", "tiny"), SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := refStrings(res.Pruned)
		want := []string{"ConfigMap/shop/frontend-config", "Deployment/shop/frontend", "Service/shop/frontend"}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("pruned %v, want %v", got, want)
		}
		for _, o := range full.Workloads[2].Objects {
			requireGone(t, cl, o)
		}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(handMade), &corev1.ConfigMap{}); err != nil {
			t.Errorf("unlabelled ConfigMap/shop/hand-made: %v", err)
		}
		requireAllLive(t, cl, without(full, "frontend", "tiny"))
		if len(res.Releases) != 1 || res.Releases[0].Action != "uninstalled" {
			t.Errorf("releases %+v, want tiny uninstalled", res.Releases)
		}
		if findRelease(t, c, "tiny", "tiny") != nil {
			t.Error("release tiny/tiny still listed")
		}
		s := requireSync(t, a, c.Name, ConditionReady, metav1.ConditionTrue, ReasonSucceeded)
		if want := total - len(full.Workloads[2].Objects) - len(full.Workloads[4].Objects); s.Status.Desired != want {
			t.Errorf("status desired %d, want %d", s.Status.Desired, want)
		}
	})

	t.Run("an object without rekindle labels is never pruned", func(t *testing.T) {
		// monitoring/rules loses its labels by hand, then leaves Git.
		if err := cl.Patch(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "rules"}},
			client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/labels"}]`))); err != nil {
			t.Fatal(err)
		}
		rc := without(full, "frontend", "tiny")
		rc.Workloads[len(rc.Workloads)-1].Objects = rc.Workloads[len(rc.Workloads)-1].Objects[:1:1]
		rc.Workloads[len(rc.Workloads)-1].Objects = append(rc.Workloads[len(rc.Workloads)-1].Objects, deployment("monitoring", "collector", 1))
		res, err := a.Sync(ctx, rc, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Pruned) != 0 || len(res.PruneSkipped) != 1 || res.PruneSkipped[0].Object != "ConfigMap/monitoring/rules" {
			t.Errorf("pruned %v skipped %v, want only ConfigMap/monitoring/rules skipped", res.Pruned, res.PruneSkipped)
		}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "monitoring", Name: "rules"}, &corev1.ConfigMap{}); err != nil {
			t.Errorf("ConfigMap/monitoring/rules: %v", err)
		}
	})

	t.Run("a Namespace or CRD holding foreign objects is kept", func(t *testing.T) {
		gadgetCRD := fromYAML(t, strings.NewReplacer("widget", "gadget", "Widget", "Gadget").Replace(widgetCRD))
		gadget := func(ns, name string) *unstructured.Unstructured {
			return obj("example.rekindle.dev/v1", "Gadget", ns, name, map[string]any{"spec": map[string]any{"size": int64(1)}})
		}
		base := without(full, "frontend", "tiny")
		withScratch := without(full, "frontend", "tiny")
		withScratch.Workloads = append(withScratch.Workloads, blueprints.RenderedWorkload{Name: "scratch", DependsOn: []string{"platform"},
			Objects: []*unstructured.Unstructured{gadgetCRD, namespace("scratch-a"), namespace("scratch-b"),
				configMap("scratch-a", "cm", nil), configMap("scratch-b", "cm", nil), gadget("shop", "managed-gadget")}})
		if _, err := a.Sync(ctx, withScratch, SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cl.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "scratch-a", Name: "foreign"}}); err != nil {
			t.Fatal(err)
		}
		if err := cl.Create(ctx, gadget("shop", "hand-gadget")); err != nil {
			t.Fatal(err)
		}
		res, err := a.Sync(ctx, base, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := refStrings(res.Pruned)
		want := []string{"ConfigMap/scratch-a/cm", "ConfigMap/scratch-b/cm", "Gadget/shop/managed-gadget", "Namespace/scratch-b"}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("pruned %v, want %v", got, want)
		}
		var skipped []string
		for _, f := range res.PruneSkipped {
			skipped = append(skipped, f.String())
		}
		joined := strings.Join(skipped, "\n")
		if len(skipped) != 2 || !strings.Contains(joined, "Namespace/scratch-a: deleting it would delete") ||
			!strings.Contains(joined, "ConfigMap/scratch-a/foreign") || !strings.Contains(joined, "Gadget/shop/hand-gadget") {
			t.Errorf("skipped:\n%s", joined)
		}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "hand-gadget"}, gadget("shop", "hand-gadget")); err != nil {
			t.Errorf("Gadget/shop/hand-gadget: %v", err)
		}
		requireGone(t, cl, namespace("scratch-b"))
		ns := &corev1.Namespace{}
		if err := cl.Get(ctx, client.ObjectKey{Name: "scratch-a"}, ns); err != nil || ns.DeletionTimestamp != nil {
			t.Errorf("Namespace/scratch-a: %v (deleting %v)", err, ns.DeletionTimestamp)
		}
		// Once the foreign objects are gone, the next pass prunes what was kept.
		if err := cl.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "scratch-a", Name: "foreign"}}); err != nil {
			t.Fatal(err)
		}
		if err := cl.Delete(ctx, gadget("shop", "hand-gadget")); err != nil {
			t.Fatal(err)
		}
		res, err = a.Sync(ctx, base, SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got = refStrings(res.Pruned)
		slices.Sort(got)
		if want := []string{"CustomResourceDefinition/gadgets.example.rekindle.dev", "Namespace/scratch-a"}; !slices.Equal(got, want) {
			t.Errorf("pruned %v, want %v (skipped %v)", got, want, res.PruneSkipped)
		}
	})

	t.Run("wait timeout names the object and its message", func(t *testing.T) {
		short, err := NewApplier(c.Config, ApplyOptions{WaitTimeout: 4 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		stuck := deployment("shop", "stuck", 1)
		_ = unstructured.SetNestedField(stuck.Object, map[string]any{"no-such-node": "true"}, "spec", "template", "spec", "nodeSelector")
		rc := without(full, "frontend", "tiny")
		rc.Commit = "bad0001"
		rc.Workloads = append(rc.Workloads,
			blueprints.RenderedWorkload{Name: "stuck", DependsOn: []string{"platform"}, Objects: []*unstructured.Unstructured{stuck}},
			blueprints.RenderedWorkload{Name: "after-stuck", DependsOn: []string{"stuck"}, Objects: []*unstructured.Unstructured{configMap("shop", "after", nil)}},
		)
		res, err := short.Sync(ctx, rc, SyncOptions{})
		if err == nil {
			t.Fatal("sync succeeded with a Deployment that cannot become Available")
		}
		t.Logf("sync error: %v", err)
		if !strings.Contains(err.Error(), "Deployment/shop/stuck") {
			t.Errorf("error %q does not name Deployment/shop/stuck", err)
		}
		var names []string
		for _, f := range res.Failed {
			names = append(names, f.String())
		}
		joined := strings.Join(names, "\n")
		if !strings.Contains(joined, "Deployment/shop/stuck: InProgress") || !strings.Contains(joined, `dependency "stuck" is not ready`) {
			t.Errorf("failed objects:\n%s", joined)
		}
		s := requireSync(t, a, c.Name, ConditionStalled, metav1.ConditionTrue, ReasonApplyFailed)
		if s.Status.LastAppliedCommit != "c0ffee1" || s.Status.LastAttemptedCommit != "bad0001" || len(s.Status.Failed) == 0 {
			t.Errorf("status after failure: %+v", s.Status)
		}
		// Fixed in Git: the stuck Deployment goes away with the next pass.
		if _, err := a.Sync(ctx, without(full, "frontend", "tiny"), SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		requireGone(t, cl, stuck)
	})

	t.Run("printer columns", func(t *testing.T) {
		if _, err := exec.LookPath("kubectl"); err != nil {
			t.Skip("kubectl not on PATH")
		}
		out, err := exec.CommandContext(ctx, "kubectl", "--kubeconfig", c.Kubeconfig, "get", "syncs.rekindle.dev", "-n", SystemNamespace).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl get syncs: %v\n%s", err, out)
		}
		header := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
		want := []string{"NAME", "READY", "COMMIT", "DESIRED", "APPLIED", "HEALTHY", "AGE", "MESSAGE"}
		if !slices.Equal(header, want) {
			t.Errorf("columns %v, want %v\n%s", header, want, out)
		}
		if !strings.Contains(string(out), "True") || !strings.Contains(string(out), "c0ffee1") {
			t.Errorf("kubectl get syncs:\n%s", out)
		}
	})

	t.Run("run loops until cancelled", func(t *testing.T) {
		var passes atomic.Int32
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		rc := without(full, "frontend", "tiny")
		ag := &Agent{Applier: a, Cluster: c.Name, Interval: 200 * time.Millisecond,
			Source: func(context.Context) (*blueprints.RenderedCluster, error) {
				if passes.Add(1) >= 3 {
					cancel()
				}
				return rc, nil
			}}
		done := make(chan error, 1)
		go func() { done <- ag.Run(rctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("Run did not return after cancel")
		}
		if passes.Load() < 3 {
			t.Errorf("%d passes, want 3", passes.Load())
		}
	})
}

func requireSync(t *testing.T, a *Applier, cluster, condType string, status metav1.ConditionStatus, reason string) *Sync {
	t.Helper()
	s, err := a.GetSync(t.Context(), cluster)
	if err != nil {
		t.Fatalf("get Sync: %v", err)
	}
	cond := s.Condition(condType)
	if cond == nil || cond.Status != status || cond.Reason != reason {
		t.Fatalf("condition %s = %+v, want status %s reason %s", condType, cond, status, reason)
	}
	if cond.ObservedGeneration != s.Generation || cond.LastTransitionTime.IsZero() {
		t.Errorf("condition %s lacks observedGeneration/lastTransitionTime: %+v", condType, cond)
	}
	return s
}

func requireAvailable(t *testing.T, cl client.Client, key types.NamespacedName) {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := cl.Get(t.Context(), key, d); err != nil {
		t.Fatalf("Deployment %s: %v", key, err)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == *d.Spec.Replicas {
			return
		}
	}
	t.Errorf("Deployment %s not Available: %+v", key, d.Status)
}

// requireAllLive checks that every plain object of rc exists.
func requireAllLive(t *testing.T, cl client.Client, rc *blueprints.RenderedCluster) {
	t.Helper()
	for _, w := range rc.Workloads {
		if w.Helm != nil {
			continue
		}
		for _, o := range w.Objects {
			live := o.DeepCopy()
			if err := cl.Get(t.Context(), client.ObjectKeyFromObject(live), live); err != nil {
				t.Errorf("%s: %v", refOf(o), err)
			} else if live.GetDeletionTimestamp() != nil {
				t.Errorf("%s is being deleted", refOf(o))
			}
		}
	}
}

// requireGone waits a little for o to disappear (Deployments have a
// foreground finalizer for a moment).
func requireGone(t *testing.T, cl client.Client, o *unstructured.Unstructured) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		live := o.DeepCopy()
		err := cl.Get(t.Context(), client.ObjectKeyFromObject(live), live)
		if apierrors.IsNotFound(err) {
			return
		}
		if err == nil && live.GetDeletionTimestamp() != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s still exists (err %v)", refOf(o), err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// findRelease lists releases in all namespaces as `helm list -A` does.
func findRelease(t *testing.T, c *testCluster, namespace, name string) *release.Release {
	t.Helper()
	ac, err := helmConfig(c.Config, "", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	l := action.NewList(ac)
	l.AllNamespaces = true
	l.All = true
	rels, err := l.Run()
	if err != nil {
		t.Fatalf("helm list -A: %v", err)
	}
	for _, r := range rels {
		if r.Name == name && r.Namespace == namespace {
			return r
		}
	}
	return nil
}
