// Package restore runs a blueprint's restore workloads: it finds the Velero
// backup to restore (the latest Completed backup of a schedule, found by
// Velero's velero.io/schedule-name label, or a backup named in the
// blueprint), creates a velero.io/v1 Restore from it and waits until Velero
// reports it Completed, so that the workloads that depend on it start only
// once the state Git does not hold is back.
//
// Velero's objects are read and written as unstructured objects: rekindle
// does not link Velero's Go module, whose Kubernetes libraries are older
// than rekindle's. The agent (bootstrap/agent) calls Start and Wait as a
// restore workload's apply and wait.
package restore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Velero's API group and the kinds rekindle reads or writes.
var (
	BackupGVK   = schema.GroupVersionKind{Group: "velero.io", Version: "v1", Kind: "Backup"}
	RestoreGVK  = schema.GroupVersionKind{Group: "velero.io", Version: "v1", Kind: "Restore"}
	ScheduleGVK = schema.GroupVersionKind{Group: "velero.io", Version: "v1", Kind: "Schedule"}
	LocationGVK = schema.GroupVersionKind{Group: "velero.io", Version: "v1", Kind: "BackupStorageLocation"}
)

// Labels on what rekindle creates for a restore workload.
const (
	// LabelWorkload names the restore workload a Restore (or a skip marker) is for.
	LabelWorkload = "rekindle.dev/restore-workload"
	// ScheduleLabel is Velero's label on a schedule's backups.
	ScheduleLabel = "velero.io/schedule-name"
)

// Phases of a Velero Backup or Restore that rekindle acts on.
const (
	PhaseCompleted        = "Completed"
	PhasePartiallyFailed  = "PartiallyFailed"
	PhaseFailed           = "Failed"
	PhaseFailedValidation = "FailedValidation"
	PhaseAvailable        = "Available"
)

// Backup is what rekindle knows of one Velero backup.
type Backup struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Schedule  string    `json:"schedule,omitempty"`
	Phase     string    `json:"phase"`
	Completed time.Time `json:"completed"`
	// Items is how many objects the backup holds (status.progress.itemsBackedUp).
	Items int `json:"items"`
	// Location is the BackupStorageLocation it is stored in.
	Location string `json:"location,omitempty"`
}

// Age is how long ago the backup completed.
func (b Backup) Age(now time.Time) time.Duration { return now.Sub(b.Completed) }

func backupOf(u *unstructured.Unstructured) Backup {
	b := Backup{Name: u.GetName(), Namespace: u.GetNamespace(), Schedule: u.GetLabels()[ScheduleLabel]}
	b.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
	if s, _, _ := unstructured.NestedString(u.Object, "status", "completionTimestamp"); s != "" {
		b.Completed, _ = time.Parse(time.RFC3339, s)
	}
	if n, ok, _ := unstructured.NestedInt64(u.Object, "status", "progress", "itemsBackedUp"); ok {
		b.Items = int(n)
	}
	b.Location, _, _ = unstructured.NestedString(u.Object, "spec", "storageLocation")
	return b
}

// LatestCompleted returns the newest Completed backup of schedule in
// namespace ns, or nil when there is none. A PartiallyFailed backup is not
// restored from: it lacks objects by definition.
func LatestCompleted(ctx context.Context, c client.Reader, ns, schedule string) (*Backup, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(BackupGVK.GroupVersion().WithKind("BackupList"))
	if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{ScheduleLabel: schedule}); err != nil {
		return nil, fmt.Errorf("list backups of schedule %s/%s: %w", ns, schedule, err)
	}
	var done []Backup
	for i := range list.Items {
		if b := backupOf(&list.Items[i]); b.Phase == PhaseCompleted {
			done = append(done, b)
		}
	}
	if len(done) == 0 {
		return nil, nil
	}
	sort.Slice(done, func(i, j int) bool {
		if !done[i].Completed.Equal(done[j].Completed) {
			return done[i].Completed.After(done[j].Completed)
		}
		return done[i].Name > done[j].Name
	})
	return &done[0], nil
}

// Named returns the backup called name in namespace ns, or nil when it does not exist.
func Named(ctx context.Context, c client.Reader, ns, name string) (*Backup, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(BackupGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("read Backup/%s/%s: %w", ns, name, err)
	}
	b := backupOf(u)
	return &b, nil
}

// locationsSynced reports whether every BackupStorageLocation in ns is
// Available and has synced its backups into the cluster at least once
// (status.lastSyncedTime): until then, an empty list of Backups on a new
// cluster means only that Velero has not read the bucket yet. It returns
// what is still missing when not.
// With synced false only Available is asked for (enough to take a backup).
func locationsSynced(ctx context.Context, c client.Reader, ns string, synced bool) (bool, string, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(LocationGVK.GroupVersion().WithKind("BackupStorageLocationList"))
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return false, "", fmt.Errorf("list BackupStorageLocations in %s: %w", ns, err)
	}
	if len(list.Items) == 0 {
		return false, fmt.Sprintf("no BackupStorageLocation in namespace %s", ns), nil
	}
	for _, l := range list.Items {
		phase, _, _ := unstructured.NestedString(l.Object, "status", "phase")
		if phase != PhaseAvailable {
			msg, _, _ := unstructured.NestedString(l.Object, "status", "message")
			if phase == "" {
				phase = "not validated yet"
			}
			return false, fmt.Sprintf("BackupStorageLocation/%s/%s is %s %s", ns, l.GetName(), phase, msg), nil
		}
		if last, _, _ := unstructured.NestedString(l.Object, "status", "lastSyncedTime"); synced && last == "" {
			return false, fmt.Sprintf("BackupStorageLocation/%s/%s has not synced its backups yet", ns, l.GetName()), nil
		}
	}
	return true, "", nil
}
