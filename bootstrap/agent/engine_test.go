package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// newFakeApplier is an Applier on controller-runtime's fake client: enough
// for planning, scheduling, applying missing objects and waiting, without a
// cluster. What needs an API server (dry runs, Helm, discovery) is tested
// against kwok in sync_test.go.
func newFakeApplier(t *testing.T, opts ApplyOptions, objs ...client.Object) (*Applier, client.Client) {
	t.Helper()
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range []struct{ g, v, k string }{
		{"", "v1", "Namespace"}, {"", "v1", "ConfigMap"}, {"", "v1", "Service"}, {"apps", "v1", "Deployment"}, {"batch", "v1", "Job"},
	} {
		scope := meta.RESTScopeNamespace
		if gvk.k == "Namespace" {
			scope = meta.RESTScopeRoot
		}
		mapper.Add(schema.GroupVersionKind{Group: gvk.g, Version: gvk.v, Kind: gvk.k}, scope)
	}
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithRESTMapper(mapper).WithObjects(objs...).Build()
	opts.defaults()
	return &Applier{client: c, mapper: mapper, rm: ssa.NewResourceManager(c, nil, ssa.Owner{Field: FieldManager}), opts: opts,
		inFlight: make(requestSlots, opts.Concurrency)}, c
}

func notAvailable(ns, name string) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec:       appsv1.DeploymentSpec{Replicas: &one},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1},
	}
}

func TestWaitExplainsEveryObjectNotReady(t *testing.T) {
	a, _ := newFakeApplier(t, ApplyOptions{WaitTimeout: 300 * time.Millisecond, WaitInterval: 50 * time.Millisecond},
		notAvailable("shop", "web"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "config"}})
	refs := []ObjectRef{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "config"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "missing"},
	}
	healthy, notReady, err := a.waitHealthy(context.Background(), refs, nil)
	if err == nil {
		t.Fatal("want an error: a Deployment is not available and a ConfigMap is missing")
	}
	if healthy != 1 {
		t.Errorf("healthy %d, want 1 (the ConfigMap that exists)", healthy)
	}
	want := map[string]string{
		"Deployment/shop/web":    "InProgress: ",
		"ConfigMap/shop/missing": "NotFound: not found",
	}
	if len(notReady) != len(want) {
		t.Fatalf("not ready: %v, want %d entries", notReady, len(want))
	}
	for _, f := range notReady {
		prefix, ok := want[f.Object]
		if !ok || !strings.HasPrefix(f.Reason, prefix) {
			t.Errorf("%s: reason %q, want it to start with %q", f.Object, f.Reason, prefix)
		}
		if !strings.Contains(err.Error(), f.Object) {
			t.Errorf("error %q does not name %s", err, f.Object)
		}
	}
	if !strings.Contains(err.Error(), "not ready after 300ms") {
		t.Errorf("error %q should say how long it waited", err)
	}
}

func TestWaitFailsFastOnAFailedObject(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "migrate"},
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Message: "BackoffLimitExceeded"}}}}
	a, _ := newFakeApplier(t, ApplyOptions{WaitTimeout: time.Minute}, job, notAvailable("ops", "web"))
	start := time.Now()
	_, notReady, err := a.waitHealthy(context.Background(), []ObjectRef{
		{Group: "batch", Version: "v1", Kind: "Job", Namespace: "ops", Name: "migrate"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ops", Name: "web"},
	}, nil)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s; a Failed object should end the wait at the first poll", took)
	}
	if err == nil || !strings.Contains(err.Error(), "Job/ops/migrate") {
		t.Fatalf("error %v should name the failed Job", err)
	}
	if len(notReady) != 2 || notReady[0].Object != "Job/ops/migrate" || !strings.HasPrefix(notReady[0].Reason, "Failed") {
		t.Errorf("not ready %v: want the failed Job first, then the Deployment still in progress", notReady)
	}
}

func TestWaitSeesObjectsBecomeHealthy(t *testing.T) {
	d := notAvailable("shop", "web")
	a, c := newFakeApplier(t, ApplyOptions{WaitTimeout: 10 * time.Second, WaitInterval: 50 * time.Millisecond}, d)
	go func() {
		time.Sleep(150 * time.Millisecond)
		live := &appsv1.Deployment{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(d), live); err != nil {
			return
		}
		live.Status.AvailableReplicas, live.Status.ReadyReplicas = 1, 1
		live.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}
		_ = c.Status().Update(context.Background(), live)
	}()
	healthy, notReady, err := a.waitHealthy(context.Background(), []ObjectRef{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}}, nil)
	if err != nil || healthy != 1 || len(notReady) != 0 {
		t.Fatalf("healthy %d, not ready %v, err %v: want the Deployment healthy once available", healthy, notReady, err)
	}
}

func TestApplyCreatesMissingObjectsWithoutADriftCheck(t *testing.T) {
	a, c := newFakeApplier(t, ApplyOptions{})
	objs := []*unstructured.Unstructured{configMap("shop", "a", map[string]any{"k": "1"}), configMap("shop", "b", nil)}
	changes, failed := a.apply(context.Background(), objs, held{})
	if len(failed) != 0 {
		t.Fatalf("failed: %v", failed)
	}
	if len(changes) != 2 || changes[0].Action != ssa.CreatedAction || changes[1].Action != ssa.CreatedAction {
		t.Fatalf("changes %v, want two created", changes)
	}
	got := &corev1.ConfigMap{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "a"}, got); err != nil || got.Data["k"] != "1" {
		t.Fatalf("ConfigMap/shop/a after apply: %v %v", got.Data, err)
	}
}

func TestCancelledPassFailsEveryUnfinishedWorkloadAndPrunesNothing(t *testing.T) {
	stale := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "stale",
		Labels: map[string]string{LabelManagedBy: ManagedByValue, LabelCluster: "c1", LabelWorkload: "old"}}}
	a, c := newFakeApplier(t, ApplyOptions{WaitTimeout: time.Minute, WaitInterval: 20 * time.Millisecond}, stale)
	old := &Inventory{Cluster: "c1", Objects: []InventoryEntry{{ObjectRef: ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "stale"}, Workload: "old"}}}
	if err := a.writeInventory(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	rc := &blueprints.RenderedCluster{Cluster: "c1", Commit: "abc", Workloads: []blueprints.RenderedWorkload{
		{Name: "web", Objects: []*unstructured.Unstructured{deployment("shop", "web", 1)}}, // never Available on a fake client
		{Name: "after", DependsOn: []string{"web"}, Objects: []*unstructured.Unstructured{configMap("shop", "after", nil)}},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := &Result{Cluster: "c1", Started: time.Now()}
	err := a.sync(ctx, rc, SyncOptions{}, res)
	if err == nil {
		t.Fatal("a cancelled pass must fail")
	}
	if n := countFailedWorkloads(res.Workloads); n != 2 {
		t.Errorf("%d workloads failed, want both (web cancelled while waiting, after never started): %+v", n, res.Workloads)
	}
	for _, w := range res.Workloads {
		// Cancelled while waiting for web, or ended because web failed.
		if w.Name == "after" && !strings.Contains(w.Error, `dependency "web"`) {
			t.Errorf("after: %q", w.Error)
		}
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(stale), &corev1.ConfigMap{}); err != nil {
		t.Fatalf("the stale ConfigMap was pruned by a cancelled pass: %v", err)
	}
	inv, err := a.LoadInventory(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, e := range inv.Objects {
		keys[e.String()] = true
	}
	for _, want := range []string{"ConfigMap/shop/stale", "Deployment/shop/web", "ConfigMap/shop/after"} {
		if !keys[want] {
			t.Errorf("inventory after the cancelled pass lacks %s (has %v)", want, keys)
		}
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("ctx: %v", ctx.Err())
	}
}

func TestPermanentFailures(t *testing.T) {
	gr := schema.GroupResource{Resource: "namespaces"}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewNotFound(gr, "guestbook"), true},
		{&meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "example.com", Kind: "Widget"}}, true},
		{apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "web", nil), true},
		{apierrors.NewForbidden(gr, "x", errors.New("rbac")), true},
		{apierrors.NewConflict(gr, "x", errors.New("changed")), false},
		{apierrors.NewServiceUnavailable("restarting"), false},
		{apierrors.NewTimeoutError("slow", 1), false},
		{context.DeadlineExceeded, false},
	} {
		if got := permanent(fmt.Errorf("apply: %w", tc.err)); got != tc.want {
			t.Errorf("permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Objects in a Namespace the pass created are applied without asking the
// cluster whether it holds them; elsewhere one LIST per kind and
// namespace tells, and the definitions' change set names the created
// Namespaces.
func TestApplySkipsTheProbeInNamespacesThePassCreated(t *testing.T) {
	a, _ := newFakeApplier(t, ApplyOptions{})
	var lists []string
	c := interceptor.NewClient(a.client.(client.WithWatch), interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			lo := &client.ListOptions{}
			lo.ApplyOptions(opts)
			lists = append(lists, lo.Namespace)
			return c.List(ctx, list, opts...)
		},
	})
	a.client = c
	objs := []*unstructured.Unstructured{configMap("fresh", "a", nil), configMap("fresh", "b", nil), configMap("old", "c", nil), configMap("old", "d", nil)}
	emptyNS := createdNamespaces([]ssa.ChangeSetEntry{
		{ObjMetadata: object.ObjMetadata{GroupKind: schema.GroupKind{Kind: "Namespace"}, Name: "fresh"}, Action: ssa.CreatedAction},
		{ObjMetadata: object.ObjMetadata{GroupKind: schema.GroupKind{Kind: "Namespace"}, Name: "old"}, Action: ssa.UnchangedAction},
	})
	changes, failed := a.apply(context.Background(), objs, held{emptyNS: emptyNS})
	if len(failed) != 0 || len(changes) != 4 {
		t.Fatalf("changes %v, failed %v", changes, failed)
	}
	if fmt.Sprint(lists) != "[old]" {
		t.Fatalf("LISTs in namespaces %v, want only [old]", lists)
	}
}

// Workloads applying at once share Concurrency: together they never have
// more requests in flight, and one applying alone gets them all.
func TestWorkloadsShareTheRequestsInFlight(t *testing.T) {
	a, _ := newFakeApplier(t, ApplyOptions{Concurrency: 4})
	inFlight := countPatchesInFlight(a)
	workload := func(ns string) []*unstructured.Unstructured {
		var objs []*unstructured.Unstructured
		for i := range 12 {
			objs = append(objs, configMap(ns, fmt.Sprintf("cm-%d", i), nil))
		}
		return objs
	}
	empty := held{emptyNS: map[string]bool{"alone": true, "a": true, "b": true, "c": true}}
	if _, failed := a.apply(context.Background(), workload("alone"), empty); len(failed) != 0 {
		t.Fatalf("failed: %v", failed)
	}
	if peak := inFlight.peak(""); peak != 4 {
		t.Fatalf("a workload applying alone had at most %d requests in flight, want all 4", peak)
	}
	inFlight.reset()
	applyAtOnce(t, a, empty, workload, "a", "b", "c")
	if peak := inFlight.peak(""); peak != 4 {
		t.Fatalf("3 workloads applying at once had %d requests in flight, want 4 (Concurrency, shared)", peak)
	}
}

// Services, which the API server creates one at a time, go a few at a time
// across every workload applying at once, while the other kinds use the
// rest of the request budget.
func TestServicesAreCreatedAFewAtATime(t *testing.T) {
	a, _ := newFakeApplier(t, ApplyOptions{Concurrency: 8})
	a.serialLane = make(requestSlots, 2)
	inFlight := countPatchesInFlight(a)
	workload := func(ns string) []*unstructured.Unstructured {
		var objs []*unstructured.Unstructured
		for i := range 10 {
			objs = append(objs, service(ns, fmt.Sprintf("svc-%d", i)), configMap(ns, fmt.Sprintf("cm-%d", i), nil))
		}
		return objs
	}
	empty := held{emptyNS: map[string]bool{"a": true, "b": true}}
	applyAtOnce(t, a, empty, workload, "a", "b")
	if peak := inFlight.peak("Service"); peak != 2 {
		t.Errorf("two workloads had at most %d Service creates in flight, want the lane's 2", peak)
	}
	if peak := inFlight.peak("ConfigMap"); peak < 4 {
		t.Errorf("ConfigMaps had at most %d requests in flight beside the Services, want at least 4 of the other 6", peak)
	}
}

// patchesInFlight counts the applier's patches in flight, by kind and in
// all (""), each held for 5 ms.
type patchesInFlight struct {
	mu        sync.Mutex
	now, high map[string]int
}

func countPatchesInFlight(a *Applier) *patchesInFlight {
	p := &patchesInFlight{now: map[string]int{}, high: map[string]int{}}
	add := func(kind string, d int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, k := range []string{kind, ""} {
			p.now[k] += d
			p.high[k] = max(p.high[k], p.now[k])
		}
	}
	a.client = interceptor.NewClient(a.client.(client.WithWatch), interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			kind := obj.GetObjectKind().GroupVersionKind().Kind
			add(kind, 1)
			time.Sleep(5 * time.Millisecond)
			add(kind, -1)
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
	return p
}

func (p *patchesInFlight) peak(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.high[kind]
}

func (p *patchesInFlight) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.high = map[string]int{}
}

// applyAtOnce applies the workload of every namespace in nss at the same
// time and fails t for any object not applied.
func applyAtOnce(t *testing.T, a *Applier, h held, workload func(ns string) []*unstructured.Unstructured, nss ...string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, ns := range nss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, failed := a.apply(context.Background(), workload(ns), h); len(failed) != 0 {
				t.Errorf("%s failed: %v", ns, failed)
			}
		}()
	}
	wg.Wait()
}
