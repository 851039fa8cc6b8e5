package agent

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// Event reasons on the Sync object.
const (
	EventPassFailed     = "SyncFailed"
	EventObjectsFailed  = "ObjectsFailed"
	EventDriftCorrected = "DriftCorrected"
	EventPruned         = "Pruned"
)

// Events writes Kubernetes Events on a cluster's Sync object
// (rekindle-system/<cluster>), as `kubectl describe sync` and
// `kubectl get events` show them: a pass that failed, objects that failed,
// hand edits reverted, objects pruned. Repeats are merged by client-go's
// event correlator (a count, not a new Event each retry).
type Events struct {
	applier     *Applier
	cluster     string
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
}

// NewEvents starts an event recorder for cluster's Sync; Stop flushes it.
func NewEvents(cfg *rest.Config, a *Applier, cluster string) (*Events, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("events client: %w", err)
	}
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events(SystemNamespace)})
	return &Events{applier: a, cluster: cluster, broadcaster: b,
		recorder: b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "rekindle-agent"})}, nil
}

// Stop flushes queued events and stops the recorder.
func (e *Events) Stop() { e.broadcaster.Shutdown() }

// Observe records the events of one pass.
func (e *Events) Observe(ctx context.Context, res *Result, err error) {
	ref := e.syncRef(ctx)
	if err != nil {
		e.recorder.Event(ref, corev1.EventTypeWarning, EventPassFailed, truncate(err.Error(), 1024))
		return
	}
	if res == nil {
		return
	}
	if len(res.Failed) > 0 {
		e.recorder.Eventf(ref, corev1.EventTypeWarning, EventObjectsFailed, "commit %.12s: %d failed: %s", res.Commit, len(res.Failed), listFailed(res.Failed, 5))
	}
	if len(res.Drifted) > 0 {
		e.recorder.Eventf(ref, corev1.EventTypeWarning, EventDriftCorrected, "reverted hand edits of %d object(s): %s", len(res.Drifted), listRefs(res.Drifted, 10))
	}
	if len(res.Pruned) > 0 {
		e.recorder.Eventf(ref, corev1.EventTypeNormal, EventPruned, "deleted %d object(s) that left Git at commit %.12s: %s", len(res.Pruned), res.Commit, listRefs(res.Pruned, 10))
	}
}

// syncRef refers to the Sync object, with its UID when it can be read (so
// that kubectl describe finds the events).
func (e *Events) syncRef(ctx context.Context) *corev1.ObjectReference {
	ref := &corev1.ObjectReference{APIVersion: SyncGVK.GroupVersion().String(), Kind: SyncGVK.Kind, Namespace: SystemNamespace, Name: e.cluster}
	if s, err := e.applier.GetSync(ctx, e.cluster); err == nil {
		ref.UID = s.UID
	}
	return ref
}

func listRefs(refs []ObjectRef, n int) string {
	var parts []string
	for i, r := range refs {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(refs)-n))
			break
		}
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

func listFailed(f []FailedObject, n int) string {
	var parts []string
	for i, o := range f {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(f)-n))
			break
		}
		parts = append(parts, truncate(o.String(), 200))
	}
	return strings.Join(parts, "; ")
}
