package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// Fast tests of the decisions, on controller-runtime's fake client; the
// real thing, with Velero on kwok, is TestRestoreAfterClusterLoss.

func withMeta(u *unstructured.Unstructured, ns, name string, labels map[string]string) *unstructured.Unstructured {
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	return u
}

func backupObj(name, schedule, phase string, completed time.Time, items int64) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{
		"phase": phase, "completionTimestamp": completed.UTC().Format(time.RFC3339),
		"progress": map[string]any{"itemsBackedUp": items},
	}}}
	u.SetGroupVersionKind(BackupGVK)
	return withMeta(u, "velero", name, map[string]string{ScheduleLabel: schedule})
}

func syncedLocation() *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"phase": "Available", "lastSyncedTime": "2026-12-02T01:00:00Z"}}}
	u.SetGroupVersionKind(LocationGVK)
	return withMeta(u, "velero", "default", nil)
}

func fakeRunner(objs ...client.Object) (*Runner, client.Client) {
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).Build()
	return &Runner{Client: c, Interval: 10 * time.Millisecond}, c
}

func TestLatestCompletedSkipsPartialAndOtherSchedules(t *testing.T) {
	now := time.Now()
	r, c := fakeRunner(
		backupObj("daily-1", "daily", PhaseCompleted, now.Add(-48*time.Hour), 10),
		backupObj("daily-2", "daily", PhaseCompleted, now.Add(-24*time.Hour), 12),
		backupObj("daily-3", "daily", PhasePartiallyFailed, now.Add(-1*time.Hour), 3),
		backupObj("hourly-1", "hourly", PhaseCompleted, now.Add(-time.Minute), 5),
	)
	b, err := LatestCompleted(context.Background(), r.Client, "velero", "daily")
	if err != nil || b == nil || b.Name != "daily-2" || b.Items != 12 {
		t.Fatalf("LatestCompleted = %+v, %v; want daily-2 with 12 items", b, err)
	}
	if b, _ := LatestCompleted(context.Background(), c, "velero", "weekly"); b != nil {
		t.Fatalf("weekly has no backup, got %+v", b)
	}
}

func TestStartNoBackupPolicies(t *testing.T) {
	ctx := context.Background()
	spec := &blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Schedule: "daily"}}
	r, c := fakeRunner(syncedLocation())
	if _, err := r.Start(ctx, "state", spec); !errors.Is(err, ErrNoBackup) || !strings.Contains(err.Error(), "schedule velero/daily has no Completed backup") {
		t.Fatalf("fail policy: %v, want ErrNoBackup naming the schedule", err)
	}
	spec.WhenNoBackup = blueprints.WhenNoBackupSkip
	out, err := r.Start(ctx, "state", spec)
	if err != nil || !out.Skipped || !strings.Contains(out.Warning, "nothing restored") {
		t.Fatalf("skip policy: %+v, %v", out, err)
	}
	// A later pass, even once a backup exists, does not restore over live state.
	if err := c.Create(ctx, backupObj("daily-1", "daily", PhaseCompleted, time.Now(), 4)); err != nil {
		t.Fatal(err)
	}
	out, err = r.Start(ctx, "state", spec)
	if err != nil || !out.Earlier || !out.Skipped || out.Restore != "" {
		t.Fatalf("second pass after a skip: %+v, %v; want the earlier skip, no Restore", out, err)
	}
}

func TestStartCreatesRestoreOnceAndWaitReadsPhases(t *testing.T) {
	ctx := context.Background()
	no := false
	spec := &blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Schedule: "daily"}, IncludedNamespaces: []string{"apps"},
		IncludedResources: []string{"secrets"}, ExistingResourcePolicy: "update", RestorePVs: &no}
	r, c := fakeRunner(syncedLocation(), backupObj("daily-1", "daily", PhaseCompleted, time.Now(), 4))
	out, err := r.Start(ctx, "state", spec)
	if err != nil || out.Restore != "velero/rekindle-state-daily-1" || out.Backup.Name != "daily-1" {
		t.Fatalf("Start = %+v, %v", out, err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(RestoreGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: "velero", Name: "rekindle-state-daily-1"}, u); err != nil {
		t.Fatal(err)
	}
	s := u.Object["spec"].(map[string]any)
	if s["backupName"] != "daily-1" || s["existingResourcePolicy"] != "update" || s["restorePVs"] != false ||
		s["includedNamespaces"].([]any)[0] != "apps" || s["includedResources"].([]any)[0] != "secrets" {
		t.Fatalf("Restore spec = %v", s)
	}
	set := func(phase string, errs int64) {
		t.Helper()
		_ = unstructured.SetNestedField(u.Object, map[string]any{"phase": phase, "errors": errs, "warnings": int64(2),
			"progress": map[string]any{"itemsRestored": int64(3)}}, "status")
		if err := c.Update(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	set(PhasePartiallyFailed, 1)
	if err := r.Wait(ctx, out, spec); err == nil || !strings.Contains(err.Error(), "PartiallyFailed: 1 errors, 2 warnings") {
		t.Fatalf("PartiallyFailed not allowed: %v", err)
	}
	spec.AllowPartiallyFailed = true
	if err := r.Wait(ctx, out, spec); err != nil || !strings.Contains(out.Warning, "allowed") {
		t.Fatalf("PartiallyFailed allowed: %v, warning %q", err, out.Warning)
	}
	set(PhaseCompleted, 0)
	if err := r.Wait(ctx, out, spec); err != nil || out.ItemsRestored != 3 {
		t.Fatalf("Completed: %v, %+v", err, out)
	}
	// The next pass finds its Restore and creates no other, even from a newer backup.
	if err := c.Create(ctx, backupObj("daily-2", "daily", PhaseCompleted, time.Now().Add(time.Hour), 5)); err != nil {
		t.Fatal(err)
	}
	again, err := r.Start(ctx, "state", spec)
	if err != nil || !again.Earlier || again.Restore != out.Restore {
		t.Fatalf("second pass: %+v, %v; want the earlier Restore", again, err)
	}
}

func TestStartWaitsForTheLocationToSync(t *testing.T) {
	loc := syncedLocation()
	_ = unstructured.SetNestedField(loc.Object, map[string]any{"phase": "Unavailable", "message": "bucket not found"}, "status")
	r, _ := fakeRunner(loc)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := r.Start(ctx, "state", &blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Backup: "b1"}})
	if err == nil || !strings.Contains(err.Error(), "BackupStorageLocation/velero/default is Unavailable bucket not found") {
		t.Fatalf("Start with an unavailable location = %v, want it named", err)
	}
}

// With a Seed, an Available location that has not synced yet does not
// hold the restore back once the seed has put every backup in the
// cluster; a failed or incomplete seed waits for Velero's sync.
func TestStartSeedsBeforeVeleroSyncs(t *testing.T) {
	loc := syncedLocation()
	unstructured.RemoveNestedField(loc.Object, "status", "lastSyncedTime")
	spec := &blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Schedule: "daily"}}
	for _, tc := range []struct {
		name     string
		seed     func(c client.Client) (SeedResult, error)
		restored bool
		log      string
	}{
		{"complete", func(c client.Client) (SeedResult, error) {
			return SeedResult{Complete: true, Summary: "1 Backup object(s) created from the bucket"}, c.Create(context.Background(), backupObj("daily-1", "daily", PhaseCompleted, time.Now(), 3))
		}, true, "restore: 1 Backup object(s) created from the bucket"},
		{"failed", func(client.Client) (SeedResult, error) {
			return SeedResult{}, errors.New("read Secret velero/s3-key: not found")
		},
			false, "could not read the backups from the bucket: read Secret velero/s3-key: not found; waiting for Velero's backup sync instead"},
		{"incomplete", func(client.Client) (SeedResult, error) {
			return SeedResult{Summary: "0 Backup object(s) created; left to Velero's sync: daily-1 (1 pod volume backup(s))"}, nil
		}, false, "left to Velero's sync: daily-1 (1 pod volume backup(s)); waiting for Velero's backup sync for the rest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := fakeRunner(loc.DeepCopy())
			var logs []string
			r.Log = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
			r.Seed = func(context.Context, string) (SeedResult, error) { return tc.seed(c) }
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			out, err := r.Start(ctx, "state", spec)
			if got := strings.Join(logs, "\n"); !strings.Contains(got, tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, got)
			}
			if tc.restored {
				if err != nil || out.Backup == nil || out.Backup.Name != "daily-1" {
					t.Fatalf("Start after a complete seed: %+v, %v", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "has not synced its backups yet") {
				t.Fatalf("Start after a %s seed: %v; want it waiting for Velero's sync", tc.name, err)
			}
		})
	}
}
