package backupstore

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

const secretKey = "s3cr3t-never-printed-0123456789"

// cluster is a render with a velero workload (a location at url, and the
// credentials Secret when creds) and a restore workload.
func cluster(t *testing.T, url string, creds bool, spec blueprints.RestoreWorkload) *blueprints.RenderedCluster {
	t.Helper()
	docs := []string{fmt.Sprintf(`apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: velero}
spec:
  provider: aws
  objectStorage: {bucket: backups, prefix: team-a}
  credential: {name: cloud-credentials, key: cloud}
  config: {region: us-east-1, s3ForcePathStyle: "true", s3Url: "%s"}`, url)}
	if creds {
		docs = append(docs, `apiVersion: v1
kind: Secret
metadata: {name: cloud-credentials, namespace: velero}
stringData:
  cloud: |
    [default]
    aws_access_key_id=rkaccess
    aws_secret_access_key=`+secretKey)
	}
	var objs []*unstructured.Unstructured
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	return &blueprints.RenderedCluster{Cluster: "c", Workloads: []blueprints.RenderedWorkload{
		{Name: "velero", Source: blueprints.SourcePlain, Objects: objs},
		{Name: "state", Source: blueprints.SourceRestore, DependsOn: []string{"velero"}, Restore: &spec},
	}}
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func noEnv(string) string { return "" }

func one(t *testing.T, rc *blueprints.RenderedCluster) RestorePlan {
	t.Helper()
	start := time.Now()
	plans := Plan(context.Background(), rc, Options{Getenv: noEnv, Timeout: 15 * time.Second})
	t.Logf("plan in %s: %+v", time.Since(start).Round(time.Millisecond), plans)
	if len(plans) != 1 {
		t.Fatalf("%d plans, want 1", len(plans))
	}
	if s := fmt.Sprintf("%+v %s", plans[0], plans[0]); strings.Contains(s, secretKey) {
		t.Fatalf("the plan holds the secret key: %s", s)
	}
	return plans[0]
}

// A store that does not answer is a warning that names it, not a crash,
// and no "no backup" verdict: it may hold one.
func TestPlanUnreachableStore(t *testing.T) {
	url := closedPort(t)
	p := one(t, cluster(t, url, true, blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Schedule: "daily"}}))
	if p.Backup != nil || p.NoBackup != "" || !strings.Contains(p.Warning, "could not read the store: BackupStorageLocation velero/default (s3://backups/team-a at "+url+")") ||
		!strings.Contains(p.Warning, "connection refused") {
		t.Fatalf("plan %+v, want a warning naming the location and the refused connection", p)
	}
	if !strings.HasPrefix(p.String(), "cannot tell which backup would be restored; WARNING: ") {
		t.Fatalf("line %q", p.String())
	}
}

func TestPlanMissingCredentials(t *testing.T) {
	p := one(t, cluster(t, closedPort(t), false, blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Schedule: "daily"}}))
	if p.Backup != nil || p.NoBackup != "" || !strings.Contains(p.Warning, "missing credentials: Secret velero/cloud-credentials (spec.credential of BackupStorageLocation velero/default") {
		t.Fatalf("plan %+v, want a missing-credentials warning", p)
	}
	rc := cluster(t, closedPort(t), true, blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Schedule: "daily"}})
	rc.Workloads[0].Objects[1].Object["stringData"] = map[string]any{"cloud": "[other]\naws_access_key_id=a\naws_secret_access_key=" + secretKey + "\n"}
	if p := one(t, rc); !strings.Contains(p.Warning, "credentials in Secret velero/cloud-credentials key cloud: no [default] profile") {
		t.Fatalf("plan %+v, want the missing profile named", p)
	}
}

func TestPlanNoLocation(t *testing.T) {
	rc := cluster(t, closedPort(t), true, blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Schedule: "daily", Namespace: "backup"}})
	if p := one(t, rc); !strings.Contains(p.Warning, "no BackupStorageLocation in namespace backup") {
		t.Fatalf("plan %+v", p)
	}
}

// decide picks as the agent's Runner does; with no usable backup it says
// what whenNoBackup would do.
func TestDecideNoBackup(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	loc := Location{Namespace: "velero", Name: "default", Bucket: "backups"}
	nb := &nsBackups{locations: []Location{loc}, from: map[string]int{}, backups: []restore.Backup{
		{Name: "daily-1", Schedule: "daily", Phase: restore.PhasePartiallyFailed, Completed: now.Add(-time.Hour)},
		{Name: "weekly-1", Schedule: "weekly", Phase: restore.PhaseCompleted, Completed: now.Add(-time.Hour)},
	}}
	for _, tc := range []struct {
		name string
		p    RestorePlan
		want string
	}{
		{"skip", RestorePlan{Namespace: "velero", Schedule: "daily", WhenNoBackup: "skip"},
			"schedule velero/daily has no Completed backup in BackupStorageLocation velero/default (s3://backups); whenNoBackup: skip would warn and start the workloads that depend on it from nothing"},
		{"fail", RestorePlan{Namespace: "velero", Schedule: "daily", WhenNoBackup: "fail"},
			"whenNoBackup: fail would fail the restore workload, and the workloads that depend on it would not start"},
		{"named missing", RestorePlan{Namespace: "velero", BackupName: "gone", WhenNoBackup: "skip"}, "backup velero/gone does not exist in"},
		{"named not completed", RestorePlan{Namespace: "velero", BackupName: "daily-1", WhenNoBackup: "skip"}, "backup velero/daily-1 is PartiallyFailed, not Completed: the restore workload would fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			decide(&p, nb, now)
			if p.Backup != nil || !strings.Contains(p.NoBackup, tc.want) || !strings.HasPrefix(p.String(), "no backup: ") {
				t.Fatalf("plan %+v\nwant no backup with %q", p, tc.want)
			}
		})
	}
	nb.backups = append(nb.backups, restore.Backup{Name: "daily-2", Schedule: "daily", Phase: restore.PhaseCompleted, Completed: now.Add(-90 * time.Minute), Items: 7},
		restore.Backup{Name: "daily-3", Schedule: "daily", Phase: restore.PhaseCompleted, Completed: now.Add(-30 * time.Minute), Items: 9})
	p := RestorePlan{Namespace: "velero", Schedule: "daily", WhenNoBackup: "fail"}
	decide(&p, nb, now)
	if p.Backup == nil || p.Backup.Name != "daily-3" || p.Age != 30*time.Minute || p.Backup.Items != 9 {
		t.Fatalf("plan %+v, want the newest Completed backup daily-3", p)
	}
}

func TestParseCloudFile(t *testing.T) {
	c, err := parseCloudFile([]byte("# comment\n[default]\naws_access_key_id = AK\naws_secret_access_key=SK\n[profile x]\naws_access_key_id=X\naws_secret_access_key=Y\n"), "x")
	if err != nil || c.accessKey != "X" || c.secretKey != "Y" {
		t.Fatalf("%v %v", c, err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "Y") {
		t.Fatalf("credentials print their values: %s", s)
	}
	if _, err := parseCloudFile([]byte("[default]\naws_access_key_id=AK\n"), "default"); err == nil || strings.Contains(err.Error(), "AK") {
		t.Fatalf("a profile without its secret: %v", err)
	}
}
