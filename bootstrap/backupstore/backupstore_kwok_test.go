package backupstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/bootstrap/backupstore"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
	"github.com/rekindle-dev/rekindle/test/velerotest"
)

func init() { ctrllog.SetLogger(logr.Discard()) }

func decode(t *testing.T, b []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := d.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		switch {
		case len(u.Object) == 0:
		case u.IsList():
			// velero install --crds-only -o yaml prints a v1 List.
			l, err := u.ToList()
			if err != nil {
				t.Fatal(err)
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
		default:
			out = append(out, u)
		}
	}
}

// TestPlanReadsARealBackupFromTheBucket: a real velero server and its AWS
// plugin back up a kwok cluster's namespace into versitygw, under a
// location prefix; the cluster is then deleted, and Plan, from the
// blueprint's render alone, finds that backup in the bucket with the item
// count and completion Velero recorded, and a named backup as well.
func TestPlanReadsARealBackupFromTheBucket(t *testing.T) {
	bin := velerotest.BinDir(t)
	store := velerotest.NewStore(t, bin)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	crds, err := velerotest.CRDs(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	manifests := strings.Replace(store.Manifests(), "objectStorage: {bucket: "+store.Bucket+"}", "objectStorage: {bucket: "+store.Bucket+", prefix: fleet/apps}", 1)
	if manifests == store.Manifests() {
		t.Fatal("velerotest.Manifests changed: no objectStorage line to add a prefix to")
	}
	velero := append(decode(t, crds), decode(t, []byte(manifests+"---\n"+store.CredentialsSecret()))...)
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("apps")
	rc := &blueprints.RenderedCluster{Environment: "dev", Cluster: "rk-bstore", Provider: "kwok",
		Workloads: []blueprints.RenderedWorkload{
			{Name: "velero", Source: blueprints.SourcePlain, Objects: append(velero, ns)},
			{Name: "state", Source: blueprints.SourceRestore, DependsOn: []string{"velero"},
				Restore: &blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Schedule: "daily"}, WhenNoBackup: blueprints.WhenNoBackupSkip}},
		}}

	kc := kwoktest.New(t, "rk-bstore", 1)
	ap, err := agent.NewApplier(kc.Config, agent.ApplyOptions{WaitTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	velOnly := *rc
	velOnly.Workloads = rc.Workloads[:1]
	if _, err := ap.Sync(ctx, &velOnly, agent.SyncOptions{}); err != nil {
		t.Fatalf("apply the velero workload: %v", err)
	}
	c, err := client.New(kc.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "db-password"}, StringData: map[string]string{"password": "x"}}); err != nil {
		t.Fatal(err)
	}
	if p := backupstore.Plan(ctx, rc, backupstore.Options{}); len(p) != 1 || p[0].Backup != nil || !strings.Contains(p[0].NoBackup, "schedule velero/daily has no Completed backup") {
		t.Fatalf("plan of an empty bucket: %+v", p)
	}
	srv := velerotest.StartServer(t, bin, kc.Kubeconfig, "velero")
	backup, err := (&restore.Runner{Client: c}).BackupNow(ctx, "velero", "daily")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, srv.Tail())
	}
	t.Logf("backup %s: %d items", backup.Name, backup.Items)
	srv.Stop()
	kc.Delete()

	t0 := time.Now()
	plans := backupstore.Plan(ctx, rc, backupstore.Options{})
	t.Logf("plan from the bucket in %s: %s", time.Since(t0).Round(time.Millisecond), plans[0])
	p := plans[0]
	if p.Backup == nil || p.Warning != "" || p.Backup.Name != backup.Name || p.Backup.Items != backup.Items || p.Backup.Items < 2 ||
		!p.Backup.Completed.Equal(backup.Completed) || p.Backup.Schedule != "daily" || p.From == nil || p.From.Prefix != "fleet/apps" {
		raw, _ := os.ReadFile(filepath.Join(store.Dir, store.Bucket, "fleet/apps/backups", backup.Name, "velero-backup.json"))
		t.Fatalf("plan %+v (backup %+v), want %s with %d items; the bucket's velero-backup.json:\n%s", p, p.Backup, backup.Name, backup.Items, raw)
	}
	if !strings.Contains(p.String(), "from BackupStorageLocation velero/default (s3://"+store.Bucket+"/fleet/apps at "+store.URL+")") {
		t.Fatalf("line %q", p)
	}
	rc.Workloads[1].Restore = &blueprints.RestoreWorkload{Velero: blueprints.VeleroSource{Backup: backup.Name}}
	if p := backupstore.Plan(ctx, rc, backupstore.Options{})[0]; p.Backup == nil || p.Backup.Name != backup.Name {
		t.Fatalf("named backup: %+v", p)
	}
	if s := p.String(); strings.Contains(s, store.SecretKey) || strings.Contains(s, store.AccessKey) {
		t.Fatal("the plan holds the store's key")
	}
}
