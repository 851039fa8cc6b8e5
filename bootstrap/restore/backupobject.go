package restore

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// BackupOf is what rekindle knows of a velero.io/v1 Backup object, read
// from a cluster or from the velero-backup.json Velero keeps beside the
// backup in its object store.
func BackupOf(u *unstructured.Unstructured) Backup { return backupOf(u) }

// LatestOf is what LatestCompleted picks among backups already read: the
// newest Completed backup of schedule (by completion, then name), or nil.
func LatestOf(backups []Backup, schedule string) *Backup {
	var done []Backup
	for _, b := range backups {
		if b.Phase == PhaseCompleted && b.Schedule == schedule {
			done = append(done, b)
		}
	}
	if len(done) == 0 {
		return nil
	}
	sort.Slice(done, func(i, j int) bool {
		if !done[i].Completed.Equal(done[j].Completed) {
			return done[i].Completed.After(done[j].Completed)
		}
		return done[i].Name > done[j].Name
	})
	return &done[0]
}
