package agent

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// TestRunEventsAndMetrics runs the agent's loop on a real cluster with the
// hooks rekindle agent installs, through a drift, a prune and a failed
// render, and checks the Events on the Sync object and the metrics.
func TestRunEventsAndMetrics(t *testing.T) {
	c := newTestCluster(t, "agent-events")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	ap, err := NewApplier(c.Config, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.EnsureCRD(ctx); err != nil {
		t.Fatal(err)
	}
	render := func(cms ...string) *blueprints.RenderedCluster {
		objs := []*unstructured.Unstructured{namespace("shop")}
		for _, n := range cms {
			objs = append(objs, configMap("shop", n, map[string]any{"mode": "prod"}))
		}
		return &blueprints.RenderedCluster{Environment: "test", Cluster: "ev", Commit: "c0ffee0000000000000000000000000000000000",
			Workloads: []blueprints.RenderedWorkload{{Name: "app", Source: blueprints.SourcePlain, Objects: objs}}}
	}
	// Each pass takes the next step; the loop is stopped after the last.
	steps := []func() (*blueprints.RenderedCluster, error){
		func() (*blueprints.RenderedCluster, error) { return render("a", "b"), nil },
		func() (*blueprints.RenderedCluster, error) {
			// A hand edit before this pass: drift.
			err := ap.Client().Patch(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "a"}},
				client.RawPatch(types.MergePatchType, []byte(`{"data":{"mode":"debug"}}`)), client.FieldOwner("kubectl-edit"))
			return render("a", "b"), err
		},
		func() (*blueprints.RenderedCluster, error) { return render("a"), nil }, // b pruned
		func() (*blueprints.RenderedCluster, error) {
			return nil, errors.New("fetch blueprint: connection refused")
		},
	}
	var mu sync.Mutex
	step, starts := 0, 0
	metrics := NewMetrics("ev")
	events, err := NewEvents(c.Config, ap, "ev")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	a := &Agent{Applier: ap, Environment: "test", Cluster: "ev", Interval: 50 * time.Millisecond, RetryMin: 50 * time.Millisecond,
		Source: func(context.Context) (*blueprints.RenderedCluster, error) {
			mu.Lock()
			defer mu.Unlock()
			if step >= len(steps) {
				stop()
				return nil, context.Canceled
			}
			s := steps[step]
			step++
			return s()
		},
		OnPassStart: func(time.Time) { mu.Lock(); starts++; mu.Unlock() },
		OnPass: func(ctx context.Context, res *Result, err error, took time.Duration) {
			metrics.Observe(res, err, took, time.Now())
			events.Observe(ctx, res, err)
		},
	}
	if err := a.Run(runCtx); err != nil {
		t.Fatal(err)
	}
	events.Stop()
	if starts < len(steps) {
		t.Errorf("OnPassStart called %d times for %d passes", starts, len(steps))
	}

	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{EventDriftCorrected: "ConfigMap/shop/a", EventPruned: "ConfigMap/shop/b", EventPassFailed: "connection refused"}
	var got []corev1.Event
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		list, err := cs.CoreV1().Events(SystemNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Sync,involvedObject.name=ev"})
		if err != nil {
			t.Fatal(err)
		}
		got = list.Items
		found := 0
		for _, e := range got {
			if m, ok := want[e.Reason]; ok && strings.Contains(e.Message, m) {
				found++
			}
		}
		if found == len(want) {
			break
		}
	}
	sync, err := ap.GetSync(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	for reason, msg := range want {
		ok := false
		for _, e := range got {
			if e.Reason == reason && strings.Contains(e.Message, msg) {
				ok = e.InvolvedObject.UID == sync.UID
			}
		}
		if !ok {
			t.Errorf("no Event %s mentioning %q on Sync %s (uid %s); got %d events:", reason, msg, sync.Name, sync.UID, len(got))
			for _, e := range got {
				t.Logf("  %s %s: %s (uid %s)", e.Type, e.Reason, e.Message, e.InvolvedObject.UID)
			}
		}
	}

	m := map[string]float64{}
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			v := mm.GetCounter().GetValue() + mm.GetGauge().GetValue()
			key := mf.GetName()
			for _, l := range mm.GetLabel() {
				if l.GetName() != "cluster" {
					key += "," + l.GetName() + "=" + l.GetValue()
				}
			}
			m[key] = v
		}
	}
	for key, v := range map[string]float64{
		"rekindle_agent_drift_corrections_total,kind=ConfigMap": 1,
		"rekindle_agent_objects_pruned_total,kind=ConfigMap":    1,
		"rekindle_agent_passes_total,result=success":            3,
		"rekindle_agent_workload_objects_applied,workload=app":  2, // Namespace and ConfigMap a
	} {
		if m[key] != v {
			t.Errorf("%s = %v, want %v", key, m[key], v)
		}
	}
	if m["rekindle_agent_passes_total,result=error"] < 1 {
		t.Errorf("no failed pass counted: %v", m)
	}
}
