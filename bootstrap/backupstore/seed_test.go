package backupstore_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	"github.com/rekindle-dev/rekindle/bootstrap/backupstore"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/test/velerotest"
)

// velero-backup.json as Velero v1.18 writes it (trimmed): the Backup as
// the cluster that made it held it, namespace, uid, resourceVersion,
// managed fields, hooks and the Schedule owner reference included.
const backupJSON = `{"kind":"Backup","apiVersion":"velero.io/v1",
"metadata":{"name":"NAME","namespace":"velero-old","uid":"0d6f4a52-9e1f-4d44-a8a4-5b0e3c8e1a10","resourceVersion":"81234",
 "generation":2,"creationTimestamp":"2026-12-01T03:00:00Z",
 "labels":{"velero.io/schedule-name":"daily","velero.io/storage-location":"old-location"},
 "ownerReferences":[{"apiVersion":"velero.io/v1","kind":"Schedule","name":"daily","uid":"7b1d0c1e-old","controller":true}],
 "managedFields":[{"manager":"velero-server","operation":"Update","apiVersion":"velero.io/v1","time":"2026-12-01T03:00:02Z","fieldsType":"FieldsV1","fieldsV1":{"f:status":{}}}]},
"spec":{"includedNamespaces":["apps"],"storageLocation":"old-location","ttl":"720h0m0s",
 "hooks":{"resources":[{"name":"freeze","pre":[{"exec":{"command":["/sbin/fsfreeze","--freeze","/data"]}}]}]}},
"status":{"version":1,"formatVersion":"1.1.0","expiration":"2026-12-31T03:00:00Z","phase":"PHASE",
 "startTimestamp":"2026-12-01T03:00:00Z","completionTimestamp":"2026-12-01T03:00:02Z",
 "progress":{"totalItems":11,"itemsBackedUp":11}}}`

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

func put(t *testing.T, store *velerotest.Store, key string, data []byte) {
	t.Helper()
	p := filepath.Join(store.Dir, store.Bucket, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func putBackup(t *testing.T, store *velerotest.Store, name, phase, podVolumes string) {
	put(t, store, "backups/"+name+"/velero-backup.json", []byte(strings.NewReplacer("NAME", name, "PHASE", phase).Replace(backupJSON)))
	put(t, store, "backups/"+name+"/"+name+".tar.gz", gz(t, ""))
	if podVolumes != "" {
		put(t, store, "backups/"+name+"/"+name+"-podvolumebackups.json.gz", gz(t, podVolumes))
	}
}

// Seed against a real S3 server (versitygw) holding Velero's layout, and a
// fake cluster: it creates what Velero's backup sync would create, leaves
// to Velero what it cannot do alone, and touches no other backup.
func TestSeedCreatesBackupsAsVeleroSyncDoes(t *testing.T) {
	store := velerotest.NewStore(t, velerotest.BinDir(t))
	putBackup(t, store, "daily-20261201030000", "Completed", "null")
	putBackup(t, store, "daily-20261130030000", "PartiallyFailed", "[]")
	putBackup(t, store, "daily-20261129030000", "Completed", `[{"metadata":{"name":"pvb-1"}}]`)
	putBackup(t, store, "manual-1", "InProgress", "")
	putBackup(t, store, "kept", "Completed", "")

	var objs []client.Object
	for _, doc := range strings.Split(store.Manifests(), "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if u.GetKind() == "BackupStorageLocation" {
			u.Object["status"] = map[string]any{"phase": "Available"}
			objs = append(objs, u)
		}
		if u.GetKind() == "Schedule" {
			u.SetUID(types.UID("7b1d0c1e-new")) // Git's Schedule on the new cluster
			objs = append(objs, u)
		}
	}
	kept := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"phase": "Completed"}}}
	kept.SetGroupVersionKind(restore.BackupGVK)
	kept.SetNamespace("velero")
	kept.SetName("kept")
	kept.SetLabels(map[string]string{"already": "here"})
	objs = append(objs, kept, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: "cloud-credentials"},
		Data: map[string][]byte{"cloud": store.CloudCredentials()}})
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).Build()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := backupstore.Seed(ctx, c, "velero")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	for _, want := range []string{"2 Backup object(s) created from the bucket", "daily-20261201030000", "daily-20261130030000",
		"left to Velero's sync: daily-20261129030000 (1 pod volume backup(s))", "not finished, so not synced (nor by Velero): manual-1 (phase InProgress)"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary lacks %q: %s", want, res.Summary)
		}
	}
	if res.Complete || strings.Contains(res.Summary, store.SecretKey) {
		t.Errorf("result %+v: want not Complete (a backup left to Velero), and no key", res)
	}
	// Velero's sync, too, skips a backup that is not finished: it does not
	// make the seed incomplete.
	if err := os.RemoveAll(filepath.Join(store.Dir, store.Bucket, "backups/daily-20261129030000")); err != nil {
		t.Fatal(err)
	}
	if res, err := backupstore.Seed(ctx, c, "velero"); err != nil || !res.Complete || !strings.HasPrefix(res.Summary, "0 Backup object(s)") {
		t.Fatalf("with only an unfinished backup left: %+v %v; want Complete", res, err)
	}

	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(restore.BackupGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: "velero", Name: "daily-20261201030000"}, got); err != nil {
		t.Fatal(err)
	}
	loc, _, _ := unstructured.NestedString(got.Object, "spec", "storageLocation")
	hooks, _, _ := unstructured.NestedMap(got.Object, "spec", "hooks")
	phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
	items, _, _ := unstructured.NestedInt64(got.Object, "status", "progress", "itemsBackedUp")
	if loc != "default" || got.GetLabels()["velero.io/storage-location"] != "default" || got.GetLabels()["velero.io/schedule-name"] != "daily" ||
		len(hooks) != 0 || len(got.GetOwnerReferences()) != 0 || phase != "Completed" || items != 11 || got.GetUID() == "0d6f4a52-9e1f-4d44-a8a4-5b0e3c8e1a10" {
		t.Errorf("seeded Backup: location %q, labels %v, hooks %v, owners %v, phase %q, items %d, uid %s",
			loc, got.GetLabels(), hooks, got.GetOwnerReferences(), phase, items, got.GetUID())
	}
	if b := restore.BackupOf(got); b.Name != "daily-20261201030000" || b.Schedule != "daily" {
		t.Errorf("the restore runner would read it as %+v", b)
	}
	k := &unstructured.Unstructured{}
	k.SetGroupVersionKind(restore.BackupGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: "velero", Name: "kept"}, k); err != nil || k.GetLabels()["already"] != "here" {
		t.Errorf("the Backup the cluster had was changed: %v %v", k.GetLabels(), err)
	}
	for _, name := range []string{"daily-20261129030000", "manual-1"} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "velero", Name: name}, k); err == nil {
			t.Errorf("Backup %s was created; it is Velero's to sync", name)
		}
	}

	// Once Velero has synced the location, Seed leaves it alone.
	bsl := &unstructured.Unstructured{}
	bsl.SetGroupVersionKind(restore.LocationGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: "velero", Name: "default"}, bsl); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(bsl.Object, "2026-12-02T01:00:00Z", "status", "lastSyncedTime")
	if err := c.Update(ctx, bsl); err != nil {
		t.Fatal(err)
	}
	if res, err := backupstore.Seed(ctx, c, "velero"); err != nil || !res.Complete || !strings.HasPrefix(res.Summary, "0 Backup object(s)") {
		t.Fatalf("after Velero's sync: %+v %v", res, err)
	}
}

// Without the location's credentials in the cluster Seed fails, naming the
// Secret, and the runner waits for Velero's sync instead.
func TestSeedWithoutCredentials(t *testing.T) {
	bsl := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": "b"},
			"credential": map[string]any{"name": "s3-key", "key": "cloud"}, "config": map[string]any{"region": "us-east-1", "s3Url": "http://127.0.0.1:1"}},
		"status": map[string]any{"phase": "Available"}}}
	bsl.SetGroupVersionKind(restore.LocationGVK)
	bsl.SetNamespace("velero")
	bsl.SetName("default")
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(bsl).Build()
	_, err := backupstore.Seed(t.Context(), c, "velero")
	if err == nil || !strings.Contains(err.Error(), "read Secret velero/s3-key") {
		t.Fatalf("Seed without the Secret: %v", err)
	}
}
