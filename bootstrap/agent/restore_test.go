package agent

import (
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// TestRestoreStatusesKeepTheTimedPass: the pass that ran a Restore records
// when it began and ended; a later pass that only finds it done keeps that.
func TestRestoreStatusesKeepTheTimedPass(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	ran := []WorkloadResult{{Name: "state", Restore: &restore.Outcome{Restore: "velero/r", Backup: &restore.Backup{Name: "daily-1"},
		Phase: restore.PhaseCompleted, ItemsRestored: 2, Started: t0, Finished: t0.Add(61 * time.Second)}}}
	st := restoreStatuses(nil, ran)
	if len(st) != 1 || st[0].Backup != "daily-1" || st[0].Items != 2 || !st[0].Started.Time.Equal(t0) || st[0].Finished.Time.Sub(st[0].Started.Time) != 61*time.Second {
		t.Fatalf("after the restoring pass: %+v", st)
	}
	later := []WorkloadResult{{Name: "state", Restore: &restore.Outcome{Restore: "velero/r", Earlier: true}}}
	if got := restoreStatuses(st, later); len(got) != 1 || !got[0].Started.Time.Equal(t0) {
		t.Fatalf("a later pass replaced the timed entry: %+v", got)
	}
	failed := []WorkloadResult{{Name: "other", Restore: &restore.Outcome{Started: t0}}}
	if got := restoreStatuses(st, failed); len(got) != 1 {
		t.Fatalf("an unfinished restore was recorded: %+v", got)
	}
}
