package agent

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/fluxcd/pkg/ssa"
)

// SyncCRD is the CustomResourceDefinition of Sync (syncs.rekindle.dev), shared
// with the embedded chart's crds/ directory.
//
//go:embed chart/crds/syncs.rekindle.dev.yaml
var SyncCRD []byte

// SyncGVK is the kind of the Sync custom resource.
var SyncGVK = schema.GroupVersionKind{Group: "rekindle.dev", Version: "v1alpha1", Kind: "Sync"}

// Condition types of a Sync.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Condition reasons of a Sync.
const (
	ReasonSucceeded    = "Succeeded"
	ReasonProgressing  = "Progressing"
	ReasonRenderFailed = "RenderFailed"
	ReasonEmptyRender  = "EmptyRender"
	ReasonApplyFailed  = "ApplyFailed"
	ReasonPruneFailed  = "PruneFailed"
	// ReasonBlocked: objects of the render were refused in a way no retry
	// fixes (see FailedObject.Permanent); the agent still retries, in case
	// the cluster changes, but a run waiting for it stops.
	ReasonBlocked = "Blocked"
)

// SyncSpec identifies the cluster a Sync reports on.
type SyncSpec struct {
	Environment string `json:"environment,omitempty"`
	Cluster     string `json:"cluster,omitempty"`
}

// SyncStatus is the status of a Sync.
type SyncStatus struct {
	ObservedGeneration  int64              `json:"observedGeneration,omitempty"`
	Conditions          []metav1.Condition `json:"conditions,omitempty"`
	LastAppliedCommit   string             `json:"lastAppliedCommit,omitempty"`
	LastAttemptedCommit string             `json:"lastAttemptedCommit,omitempty"`
	Desired             int                `json:"desired"`
	Applied             int                `json:"applied"`
	Healthy             int                `json:"healthy"`
	Drifted             []string           `json:"drifted,omitempty"`
	Pruned              []string           `json:"pruned,omitempty"`
	Failed              []FailedObject     `json:"failed,omitempty"`
	LastSyncTime        *metav1.Time       `json:"lastSyncTime,omitempty"`
	Duration            string             `json:"duration,omitempty"`
	// Restores are the restore workloads' last Restores (or skips), with
	// when each started and ended: a run's replay reads them to time its
	// restore phase. A later pass that finds the Restore done keeps them.
	Restores []RestoreStatus `json:"restores,omitempty"`
}

// RestoreStatus is one restore workload's Restore, as the pass that ran it saw it.
type RestoreStatus struct {
	Workload string           `json:"workload"`
	Restore  string           `json:"restore,omitempty"`
	Backup   string           `json:"backup,omitempty"`
	Phase    string           `json:"phase,omitempty"`
	Items    int              `json:"items,omitempty"`
	Skipped  bool             `json:"skipped,omitempty"`
	Started  metav1.MicroTime `json:"started"`
	Finished metav1.MicroTime `json:"finished"`
}

// Sync is the typed form of the Sync custom resource.
type Sync struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              SyncSpec   `json:"spec,omitempty"`
	Status            SyncStatus `json:"status,omitempty"`
}

// Condition returns the condition of type t, or nil.
func (s *Sync) Condition(t string) *metav1.Condition {
	return meta.FindStatusCondition(s.Status.Conditions, t)
}

// EnsureCRD installs (or updates) the Sync CRD and the rekindle-system
// namespace, and waits until the CRD is Established and discovery serves
// its kind, so that Sync objects can be written.
func (a *Applier) EnsureCRD(ctx context.Context) error { return a.ensureCRD(ctx, true) }

// ensureCRD is EnsureCRD; with served false it returns once the CRD is
// Established, for a caller that writes no Sync.
func (a *Applier) ensureCRD(ctx context.Context, served bool) error {
	a.crdOnce.Lock()
	defer a.crdOnce.Unlock()
	if a.crdDone {
		return nil
	}
	crd := &unstructured.Unstructured{}
	if err := sigsyaml.Unmarshal(SyncCRD, &crd.Object); err != nil {
		return fmt.Errorf("parse Sync CRD: %w", err)
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(SystemNamespace)
	ns.SetLabels(map[string]string{"app.kubernetes.io/name": "rekindle"})
	opts := ssa.DefaultApplyOptions()
	opts.WaitInterval = 100 * time.Millisecond // a new CRD is Established within a few hundred ms
	opts.WaitTimeout = time.Minute
	if _, err := a.rm.ApplyAllStaged(ctx, []*unstructured.Unstructured{crd, ns}, opts); err != nil {
		return fmt.Errorf("install Sync CRD: %w", err)
	}
	if !served {
		return nil
	}
	if err := a.waitServed(ctx, []*unstructured.Unstructured{crd}); err != nil {
		return fmt.Errorf("install Sync CRD: %w", err)
	}
	a.crdDone = true
	return nil
}

// GetSync reads the Sync object of cluster.
func (a *Applier) GetSync(ctx context.Context, cluster string) (*Sync, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(SyncGVK)
	if err := a.client.Get(ctx, client.ObjectKey{Namespace: SystemNamespace, Name: cluster}, u); err != nil {
		return nil, err
	}
	s := &Sync{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, s); err != nil {
		return nil, fmt.Errorf("decode Sync/%s/%s: %w", SystemNamespace, cluster, err)
	}
	return s, nil
}

// updateSync creates the Sync of cluster when missing and changes its status
// with mutate, retrying on conflicts.
func (a *Applier) updateSync(ctx context.Context, environment, cluster string, mutate func(s *Sync)) error {
	if err := a.EnsureCRD(ctx); err != nil {
		return err
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := a.GetSync(ctx, cluster)
		if apierrors.IsNotFound(err) {
			s = &Sync{ObjectMeta: metav1.ObjectMeta{Name: cluster, Namespace: SystemNamespace,
				Labels: map[string]string{LabelManagedBy: ManagedByValue, LabelCluster: cluster}},
				Spec: SyncSpec{Environment: environment, Cluster: cluster}}
			u, err := toUnstructured(s)
			if err != nil {
				return err
			}
			if err := a.client.Create(ctx, u); err != nil {
				return err
			}
			s.ResourceVersion = u.GetResourceVersion()
			s.Generation = u.GetGeneration()
		} else if err != nil {
			return err
		}
		mutate(s)
		s.Status.ObservedGeneration = s.Generation
		for i := range s.Status.Conditions {
			s.Status.Conditions[i].ObservedGeneration = s.Generation
		}
		u, err := toUnstructured(s)
		if err != nil {
			return err
		}
		return a.client.Status().Update(ctx, u)
	})
	if err != nil {
		return fmt.Errorf("update Sync/%s/%s: %w", SystemNamespace, cluster, err)
	}
	return nil
}

func toUnstructured(s *Sync) (*unstructured.Unstructured, error) {
	s.SetGroupVersionKind(SyncGVK)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

func setCondition(s *Sync, t string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{
		Type: t, Status: status, Reason: reason, Message: message, ObservedGeneration: s.Generation,
	})
}

// markReconciling records the start of a pass at commit.
func (a *Applier) markReconciling(ctx context.Context, environment, cluster, commit string) error {
	return a.updateSync(ctx, environment, cluster, func(s *Sync) {
		s.Status.LastAttemptedCommit = commit
		msg := "applying commit " + commit
		if commit == "" {
			msg = "applying"
		}
		setCondition(s, ConditionReconciling, metav1.ConditionTrue, ReasonProgressing, msg)
		if s.Condition(ConditionReady) == nil {
			setCondition(s, ConditionReady, metav1.ConditionUnknown, ReasonProgressing, msg)
		}
	})
}

// MarkStalled records a pass that could not run or failed: the cluster was left
// as it is. reason is a CamelCase condition reason.
func (a *Applier) MarkStalled(ctx context.Context, environment, cluster, reason, message string) error {
	return a.updateSync(ctx, environment, cluster, func(s *Sync) {
		now := metav1.Now()
		s.Status.LastSyncTime = &now
		setCondition(s, ConditionReconciling, metav1.ConditionFalse, reason, message)
		setCondition(s, ConditionStalled, metav1.ConditionTrue, reason, message)
		setCondition(s, ConditionReady, metav1.ConditionFalse, reason, message)
	})
}

// recordResult writes the outcome of a pass.
func (a *Applier) recordResult(ctx context.Context, environment string, res *Result, syncErr error) error {
	return a.updateSync(ctx, environment, res.Cluster, func(s *Sync) {
		now := metav1.Now()
		st := &s.Status
		st.LastAttemptedCommit = res.Commit
		st.LastSyncTime = &now
		st.Duration = res.Duration.Round(time.Millisecond).String()
		st.Desired, st.Applied, st.Healthy = res.Desired, res.Applied, res.Healthy
		st.Drifted = refStrings(res.Drifted)
		st.Pruned = refStrings(res.Pruned)
		st.Failed = truncateFailed(res.Failed, 50)
		st.Restores = restoreStatuses(st.Restores, res.Workloads)
		if syncErr == nil {
			st.LastAppliedCommit = res.Commit
			msg := fmt.Sprintf("applied %d objects, %d healthy", res.Applied, res.Healthy)
			if res.Commit != "" {
				msg = fmt.Sprintf("applied commit %s: %d objects, %d healthy", res.Commit, res.Applied, res.Healthy)
			}
			msg += restoreWarnings(res.Workloads)
			setCondition(s, ConditionReady, metav1.ConditionTrue, ReasonSucceeded, msg)
			setCondition(s, ConditionReconciling, metav1.ConditionFalse, ReasonSucceeded, msg)
			setCondition(s, ConditionStalled, metav1.ConditionFalse, ReasonSucceeded, msg)
			return
		}
		reason := ReasonApplyFailed
		switch {
		case errors.Is(syncErr, ErrEmptyRender):
			reason = ReasonEmptyRender
		case errors.Is(syncErr, errPrune):
			reason = ReasonPruneFailed
		case errors.Is(syncErr, ErrBlocked):
			reason = ReasonBlocked
		}
		msg := truncate(syncErr.Error(), 1024)
		setCondition(s, ConditionReady, metav1.ConditionFalse, reason, msg)
		setCondition(s, ConditionReconciling, metav1.ConditionFalse, reason, msg)
		setCondition(s, ConditionStalled, metav1.ConditionTrue, reason, msg)
	})
}

func refStrings(refs []ObjectRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.String())
	}
	if len(out) > 100 {
		out = append(out[:100], fmt.Sprintf("... and %d more", len(out)-100))
	}
	return out
}

func truncateFailed(f []FailedObject, n int) []FailedObject {
	if len(f) <= n {
		return f
	}
	out := append([]FailedObject(nil), f[:n]...)
	return append(out, FailedObject{Reason: fmt.Sprintf("... and %d more", len(f)-n)})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
