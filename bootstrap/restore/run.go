package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// ErrNoBackup is the failure of a restore workload whose policy is fail
// (the default) when there is nothing to restore.
var ErrNoBackup = errors.New("no backup to restore")

// Outcome is what a restore workload did. It never holds a restored value.
type Outcome struct {
	Workload string `json:"workload"`
	// Restore is the velero.io/v1 Restore, namespace/name ("" when skipped).
	Restore string `json:"restore,omitempty"`
	// Backup is what was (or is being) restored.
	Backup *Backup `json:"backup,omitempty"`
	Phase  string  `json:"phase,omitempty"`
	// ItemsRestored, Errors and Warnings are Velero's counts.
	ItemsRestored int `json:"itemsRestored,omitempty"`
	Errors        int `json:"errors,omitempty"`
	Warnings      int `json:"warnings,omitempty"`
	// Skipped: there was no backup and the policy is skip.
	Skipped bool `json:"skipped,omitempty"`
	// Warning says why, for the user (a skip, or a PartiallyFailed restore that was allowed).
	Warning string `json:"warning,omitempty"`
	// Earlier: the Restore (or the skip) was done by an earlier pass on
	// this cluster; a restore runs once per cluster life.
	Earlier bool `json:"earlier,omitempty"`
	// Started and Finished bound the workload: from the start of its apply
	// (the wait for Velero's backups to sync included) until its Restore
	// ended (or the skip); Finished is zero while it runs or when it failed.
	Started  time.Time `json:"started,omitempty"`
	Finished time.Time `json:"finished,omitempty"`
}

// Runner creates and waits for one cluster's Restores.
type Runner struct {
	Client client.Client
	// Interval is how often Wait polls (default 500ms).
	Interval time.Duration
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
	// Seed, when set, is called once Velero's locations in a namespace
	// are Available but one has not synced its backups into the cluster
	// yet. It should do what that sync does (bootstrap/backupstore.Seed
	// reads the buckets and creates the missing Backup objects) and say
	// whether every backup the buckets hold is now in the cluster; Start
	// then need not wait for Velero's first sync, which comes a minute
	// after Velero starts. An error, or an incomplete seed, is logged and
	// Start waits for Velero's sync as without Seed.
	Seed func(ctx context.Context, ns string) (SeedResult, error)
}

// SeedResult is what a Seed did.
type SeedResult struct {
	// Complete: every backup of the namespace's locations is in the cluster.
	Complete bool
	// Summary says what was created (and what was left to Velero, and why).
	Summary string
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

func (r *Runner) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return 500 * time.Millisecond
}

// restoreName is the Restore's name for a workload and backup: the same
// on every pass, so a pass that finds it goes on waiting for it.
func restoreName(workload, backup string) string {
	n := "rekindle-" + workload + "-" + backup
	if len(n) <= 253 {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	return n[:240] + "-" + hex.EncodeToString(sum[:])[:12]
}

// markerName is the ConfigMap that records a skipped restore.
func markerName(workload string) string { return "rekindle-restore-" + workload }

// Start runs a restore workload's apply: it waits for Velero's backup
// storage locations to be Available and their backups in the cluster
// (synced by Velero, or by Seed), then, unless an earlier
// pass on this cluster already restored (or skipped), finds the backup and
// creates the Restore. With no backup, it fails with ErrNoBackup or, with
// the skip policy, records the skip (a ConfigMap in Velero's namespace) and
// returns an Outcome with Skipped and a Warning.
func (r *Runner) Start(ctx context.Context, workload string, spec *blueprints.RestoreWorkload) (*Outcome, error) {
	ns := spec.VeleroNamespace()
	out := &Outcome{Workload: workload}
	if earlier, err := r.earlier(ctx, ns, workload, out); err != nil || earlier {
		return out, err
	}
	if err := r.waitBackups(ctx, ns); err != nil {
		return out, err
	}
	b, err := r.find(ctx, spec)
	if err != nil {
		return out, err
	}
	if b == nil {
		what := fmt.Sprintf("backup %s/%s does not exist", ns, spec.Velero.Backup)
		if spec.Velero.Schedule != "" {
			what = fmt.Sprintf("schedule %s/%s has no Completed backup", ns, spec.Velero.Schedule)
		}
		if spec.NoBackupPolicy() != blueprints.WhenNoBackupSkip {
			return out, fmt.Errorf("%w: %s (whenNoBackup: fail)", ErrNoBackup, what)
		}
		out.Skipped = true
		out.Warning = "nothing restored: " + what + "; the workloads that depend on it start from nothing (whenNoBackup: skip)"
		return out, r.markSkipped(ctx, ns, workload, out.Warning)
	}
	out.Backup = b
	name := restoreName(workload, b.Name)
	out.Restore = ns + "/" + name
	u := restoreObject(ns, name, workload, b.Name, spec)
	if err := r.Client.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
		return out, fmt.Errorf("create Restore/%s: %w", out.Restore, err)
	}
	r.logf("restore %s: Restore/%s created from backup %s (%d items, completed %s)", workload, out.Restore, b.Name, b.Items, b.Completed.Format(time.RFC3339))
	return out, nil
}

// restoreObject is the velero.io/v1 Restore of backup for a workload.
func restoreObject(ns, name, workload, backup string, spec *blueprints.RestoreWorkload) *unstructured.Unstructured {
	s := map[string]any{"backupName": backup}
	if len(spec.IncludedNamespaces) > 0 {
		s["includedNamespaces"] = toAny(spec.IncludedNamespaces)
	}
	if len(spec.IncludedResources) > 0 {
		s["includedResources"] = toAny(spec.IncludedResources)
	}
	if spec.ExistingResourcePolicy != "" {
		s["existingResourcePolicy"] = spec.ExistingResourcePolicy
	}
	if spec.RestorePVs != nil {
		s["restorePVs"] = *spec.RestorePVs
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": s}}
	u.SetGroupVersionKind(RestoreGVK)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(map[string]string{LabelWorkload: workload})
	return u
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// earlier fills out from a Restore or skip marker an earlier pass left, and
// reports whether there was one.
func (r *Runner) earlier(ctx context.Context, ns, workload string, out *Outcome) (bool, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(RestoreGVK.GroupVersion().WithKind("RestoreList"))
	if err := r.Client.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{LabelWorkload: workload}); err != nil {
		return false, fmt.Errorf("list Restores of workload %q in %s: %w", workload, ns, err)
	}
	if len(list.Items) > 0 {
		u := &list.Items[len(list.Items)-1]
		out.Restore = ns + "/" + u.GetName()
		bn, _, _ := unstructured.NestedString(u.Object, "spec", "backupName")
		out.Backup = &Backup{Name: bn, Namespace: ns}
		out.Earlier = true
		return true, nil
	}
	cm := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: markerName(workload)}, cm)
	switch {
	case err == nil && cm.Labels[LabelWorkload] == workload:
		out.Skipped, out.Earlier = true, true
		out.Warning = cm.Data["warning"]
		return true, nil
	case err != nil && !apierrors.IsNotFound(err):
		return false, fmt.Errorf("read ConfigMap/%s/%s: %w", ns, markerName(workload), err)
	}
	return false, nil
}

func (r *Runner) markSkipped(ctx context.Context, ns, workload, warning string) error {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: markerName(workload), Labels: map[string]string{LabelWorkload: workload}},
		Data:       map[string]string{"outcome": "skipped", "warning": warning, "at": time.Now().UTC().Format(time.RFC3339)},
	}
	if err := r.Client.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("record the skipped restore in ConfigMap/%s/%s: %w", ns, cm.Name, err)
	}
	return nil
}

func (r *Runner) find(ctx context.Context, spec *blueprints.RestoreWorkload) (*Backup, error) {
	if spec.Velero.Schedule != "" {
		return LatestCompleted(ctx, r.Client, spec.VeleroNamespace(), spec.Velero.Schedule)
	}
	b, err := Named(ctx, r.Client, spec.VeleroNamespace(), spec.Velero.Backup)
	if err != nil || b == nil {
		return b, err
	}
	if b.Phase != PhaseCompleted {
		return nil, fmt.Errorf("backup %s/%s is %s, not Completed", b.Namespace, b.Name, orUnknown(b.Phase))
	}
	return b, nil
}

// waitBackups returns once the backups of ns's locations are in the
// cluster: Velero has synced every location, or, once they are Available,
// Seed put them there.
func (r *Runner) waitBackups(ctx context.Context, ns string) error {
	if r.Seed == nil {
		return r.waitSynced(ctx, ns, true)
	}
	if err := r.waitSynced(ctx, ns, false); err != nil {
		return err
	}
	if ok, _, err := locationsSynced(ctx, r.Client, ns, true); err == nil && ok {
		return nil
	}
	res, err := r.Seed(ctx, ns)
	switch {
	case err != nil:
		r.logf("restore: could not read the backups from the bucket: %v; waiting for Velero's backup sync instead", err)
	case !res.Complete:
		r.logf("restore: %s; waiting for Velero's backup sync for the rest", res.Summary)
	default:
		r.logf("restore: %s", res.Summary)
		return nil
	}
	return r.waitSynced(ctx, ns, true)
}

// waitSynced polls until locationsSynced holds (with synced: the backups
// read from the bucket too), or ctx ends (naming what is missing).
func (r *Runner) waitSynced(ctx context.Context, ns string, synced bool) error {
	last := ""
	for {
		ok, why, err := locationsSynced(ctx, r.Client, ns, synced)
		switch {
		case err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) && !strings.Contains(err.Error(), "no matches for kind"):
			return err
		case ok:
			return nil
		case err != nil:
			why = err.Error()
		}
		if why != last {
			r.logf("restore: waiting: %s", why)
			last = why
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for Velero's backups to sync: %s: %w", why, ctx.Err())
		case <-time.After(r.interval()):
		}
	}
}

// Wait polls the Restore of out until Velero reports a final phase.
// Completed is done; PartiallyFailed is done with a Warning when allowed
// and an error naming Velero's counts otherwise; Failed is an error. A
// skipped outcome is done at once.
func (r *Runner) Wait(ctx context.Context, out *Outcome, spec *blueprints.RestoreWorkload) error {
	if out.Skipped || out.Restore == "" {
		return nil
	}
	ns, name, _ := strings.Cut(out.Restore, "/")
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(RestoreGVK)
	for {
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("wait for Restore/%s: %w", out.Restore, ctx.Err())
			}
			return fmt.Errorf("read Restore/%s: %w", out.Restore, err)
		}
		out.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
		n, _, _ := unstructured.NestedInt64(u.Object, "status", "progress", "itemsRestored")
		out.ItemsRestored = int(n)
		e, _, _ := unstructured.NestedInt64(u.Object, "status", "errors")
		w, _, _ := unstructured.NestedInt64(u.Object, "status", "warnings")
		out.Errors, out.Warnings = int(e), int(w)
		switch out.Phase {
		case PhaseCompleted:
			return nil
		case PhasePartiallyFailed:
			msg := fmt.Sprintf("Restore/%s PartiallyFailed: %d errors, %d warnings (velero restore describe %s --details -n %s lists them)", out.Restore, out.Errors, out.Warnings, name, ns)
			if spec.AllowPartiallyFailed {
				out.Warning = msg + "; allowed (allowPartiallyFailed)"
				return nil
			}
			return errors.New(msg)
		case PhaseFailed, PhaseFailedValidation:
			reason, _, _ := unstructured.NestedString(u.Object, "status", "failureReason")
			verrs, _, _ := unstructured.NestedStringSlice(u.Object, "status", "validationErrors")
			if len(verrs) > 0 {
				reason = strings.TrimPrefix(reason+"; ", "; ") + strings.Join(verrs, "; ")
			}
			return fmt.Errorf("Restore/%s %s: %s", out.Restore, out.Phase, orUnknown(reason))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Restore/%s still %s (%d items restored): %w", out.Restore, orUnknown(out.Phase), out.ItemsRestored, ctx.Err())
		case <-time.After(r.interval()):
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "without a phase yet"
	}
	return s
}
