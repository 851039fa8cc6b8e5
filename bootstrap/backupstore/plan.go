package backupstore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// RestorePlan is what a restore workload would restore, read from the
// object store: the backup, or why there is none, or why it could not be
// told. It never holds a credential.
type RestorePlan struct {
	Workload  string `json:"workload"`
	Namespace string `json:"namespace"`
	// Schedule or BackupName is what the workload asks for (velero.schedule, velero.backup).
	Schedule     string `json:"schedule,omitempty"`
	BackupName   string `json:"backupName,omitempty"`
	WhenNoBackup string `json:"whenNoBackup"`
	// Backup is the backup the restore would use; Age is how long ago it completed.
	Backup *restore.Backup `json:"backup,omitempty"`
	Age    time.Duration   `json:"age,omitempty"`
	// From is the location that holds Backup.
	From *Location `json:"from,omitempty"`
	// Locations are the ones read.
	Locations []Location `json:"locations"`
	// NoBackup says what the agent would do with no usable backup.
	NoBackup string `json:"noBackup,omitempty"`
	// Warning says why the plan could not be told (or told only in part):
	// a store that does not answer, missing credentials.
	Warning string `json:"warning,omitempty"`
}

// String is the plan in one line.
func (p RestorePlan) String() string {
	var s string
	switch {
	case p.Backup != nil:
		s = fmt.Sprintf("would restore backup %s/%s: %d object(s), completed %s ago (%s), from %s",
			p.Backup.Namespace, p.Backup.Name, p.Backup.Items, roundAge(p.Age), p.Backup.Completed.UTC().Format(time.RFC3339), p.From)
	case p.NoBackup != "":
		s = "no backup: " + p.NoBackup
	default:
		s = "cannot tell which backup would be restored"
	}
	if p.Warning != "" {
		s += "; WARNING: " + p.Warning
	}
	return s
}

func roundAge(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d < 0:
		return 0
	}
	return d.Round(time.Second)
}

// Options tune Plan.
type Options struct {
	// Now is the clock ages are measured against (default time.Now).
	Now func() time.Time
	// Timeout bounds the reads of one cluster's stores (default 20s).
	Timeout time.Duration
	// Getenv reads the AWS_* fallback credentials (default os.Getenv).
	Getenv func(string) string
}

// Plan reads, for every restore workload of the cluster's render, the
// backups of the BackupStorageLocations in its Velero namespace from their
// buckets, and picks the one the agent would restore: the newest Completed
// backup labelled with the schedule, or the named backup. A store it
// cannot read is a Warning, never an error.
func Plan(ctx context.Context, rc *blueprints.RenderedCluster, opts Options) []RestorePlan {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var plans []RestorePlan
	read := map[string]*nsBackups{}
	for _, w := range rc.Workloads {
		if w.Restore == nil {
			continue
		}
		spec := w.Restore
		ns := spec.VeleroNamespace()
		p := RestorePlan{Workload: w.Name, Namespace: ns, Schedule: spec.Velero.Schedule, BackupName: spec.Velero.Backup, WhenNoBackup: spec.NoBackupPolicy()}
		nb := read[ns]
		if nb == nil {
			nb = readNamespace(ctx, rc, ns, opts.Getenv)
			read[ns] = nb
		}
		p.Locations = nb.locations
		decide(&p, nb, opts.Now())
		plans = append(plans, p)
	}
	return plans
}

// nsBackups is what the stores of one Velero namespace hold.
type nsBackups struct {
	locations []Location
	backups   []restore.Backup
	// from names the location each backup was read from.
	from     map[string]int
	problems []string
}

func readNamespace(ctx context.Context, rc *blueprints.RenderedCluster, ns string, getenv func(string) string) *nsBackups {
	nb := &nsBackups{locations: Locations(rc, ns), from: map[string]int{}}
	if len(nb.locations) == 0 {
		nb.problems = append(nb.problems, fmt.Sprintf("the blueprint has no BackupStorageLocation in namespace %s: nothing says where the backups are", ns))
	}
	for i, l := range nb.locations {
		creds, _, err := credentialsFor(rc, l, getenv)
		if err != nil {
			nb.problems = append(nb.problems, err.Error())
			continue
		}
		s, err := Open(ctx, l, creds)
		if err != nil {
			nb.problems = append(nb.problems, err.Error())
			continue
		}
		bs, err := s.Backups(ctx)
		if err != nil {
			nb.problems = append(nb.problems, "could not read the store: "+err.Error())
			continue
		}
		for _, b := range bs {
			if _, dup := nb.from[b.Name]; !dup {
				nb.from[b.Name] = i
				nb.backups = append(nb.backups, b)
			}
		}
	}
	return nb
}

// decide fills the plan's outcome as the agent's restore.Runner would pick it.
func decide(p *RestorePlan, nb *nsBackups, now time.Time) {
	if len(nb.problems) > 0 {
		p.Warning = strings.Join(nb.problems, "; ")
	}
	var b *restore.Backup
	what := ""
	if p.Schedule != "" {
		b = restore.LatestOf(nb.backups, p.Schedule)
		what = fmt.Sprintf("schedule %s/%s has no Completed backup", p.Namespace, p.Schedule)
	} else {
		what = fmt.Sprintf("backup %s/%s does not exist", p.Namespace, p.BackupName)
		for i := range nb.backups {
			if nb.backups[i].Name != p.BackupName {
				continue
			}
			if nb.backups[i].Phase != restore.PhaseCompleted {
				p.NoBackup = fmt.Sprintf("backup %s/%s is %s, not Completed: the restore workload would fail, whatever whenNoBackup says", p.Namespace, p.BackupName, orUnknown(nb.backups[i].Phase))
				return
			}
			b = &nb.backups[i]
		}
	}
	if b != nil {
		p.Backup, p.Age = b, now.Sub(b.Completed)
		l := nb.locations[nb.from[b.Name]]
		p.From = &l
		return
	}
	if len(nb.problems) > 0 {
		// A store that could not be read may hold the backup.
		return
	}
	where := make([]string, len(nb.locations))
	for i, l := range nb.locations {
		where[i] = l.String()
	}
	p.NoBackup = fmt.Sprintf("%s in %s; whenNoBackup: %s", what, strings.Join(where, ", "), p.WhenNoBackup)
	if p.WhenNoBackup == blueprints.WhenNoBackupSkip {
		p.NoBackup += " would warn and start the workloads that depend on it from nothing"
	} else {
		p.NoBackup += " would fail the restore workload, and the workloads that depend on it would not start"
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "without a phase"
	}
	return s
}
