package restore

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BackupNow takes a backup through schedule, as `velero backup create
// --from-schedule` does: a Backup with the schedule's template as its spec
// and the velero.io/schedule-name label, so that it counts as the
// schedule's latest. It first waits for Velero's locations to be Available,
// then until Velero ends the backup and returns it; a phase
// other than Completed is an error that names Velero's counts.
func (r *Runner) BackupNow(ctx context.Context, ns, schedule string) (*Backup, error) {
	// A Backup created before its location is Available ends
	// FailedValidation at once: on a server just started, wait for it.
	if err := r.waitSynced(ctx, ns, false); err != nil {
		return nil, fmt.Errorf("back up through schedule %s/%s: %w", ns, schedule, err)
	}
	s := &unstructured.Unstructured{}
	s.SetGroupVersionKind(ScheduleGVK)
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: schedule}, s); err != nil {
		return nil, fmt.Errorf("read Schedule/%s/%s: %w", ns, schedule, err)
	}
	tmpl, _, _ := unstructured.NestedMap(s.Object, "spec", "template")
	if tmpl == nil {
		tmpl = map[string]any{}
	}
	b := &unstructured.Unstructured{Object: map[string]any{"spec": tmpl}}
	b.SetGroupVersionKind(BackupGVK)
	b.SetNamespace(ns)
	b.SetName(fmt.Sprintf("%s-%s", schedule, time.Now().UTC().Format("20060102150405")))
	b.SetLabels(map[string]string{ScheduleLabel: schedule})
	if err := r.Client.Create(ctx, b); err != nil {
		return nil, fmt.Errorf("create Backup/%s/%s: %w", ns, b.GetName(), err)
	}
	r.logf("backup: Backup/%s/%s created from schedule %s", ns, b.GetName(), schedule)
	for {
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return nil, fmt.Errorf("read Backup/%s/%s: %w", ns, b.GetName(), err)
		}
		got := backupOf(b)
		switch got.Phase {
		case PhaseCompleted:
			return &got, nil
		case PhasePartiallyFailed, PhaseFailed, PhaseFailedValidation:
			e, _, _ := unstructured.NestedInt64(b.Object, "status", "errors")
			reason, _, _ := unstructured.NestedString(b.Object, "status", "failureReason")
			verrs, _, _ := unstructured.NestedStringSlice(b.Object, "status", "validationErrors")
			return &got, fmt.Errorf("Backup/%s/%s %s: %d errors %s %v", ns, got.Name, got.Phase, e, reason, verrs)
		}
		select {
		case <-ctx.Done():
			return &got, fmt.Errorf("Backup/%s/%s still %s: %w", ns, got.Name, orUnknown(got.Phase), ctx.Err())
		case <-time.After(r.interval()):
		}
	}
}
