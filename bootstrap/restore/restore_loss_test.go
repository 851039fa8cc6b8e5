package restore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
	"github.com/rekindle-dev/rekindle/test/velerotest"
)

// TestRestoreAfterClusterLoss runs the whole story on real parts: versitygw
// as the object store, the velero server and its AWS plugin as host
// processes against kwok clusters, and the agent's Sync. A first bootstrap
// finds no backup (fail stops the app, skip starts it with a warning); the
// cluster then generates state Git does not hold (a password and a
// sealed-secrets-style key), a backup is taken through the schedule, the
// cluster is lost, and the replay on a new cluster restores both Secrets,
// byte for byte, before the workload that depends on them starts.
func TestRestoreAfterClusterLoss(t *testing.T) {
	bin := velerotest.BinDir(t)
	store := velerotest.NewStore(t, bin)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	crds, err := velerotest.CRDs(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	velero, app := veleroObjects(t, crds, store), appObjects(t)

	// 1. The first bootstrap: the bucket is empty.
	a := kwoktest.New(t, "rk-restore-a", 1)
	ca := newClient(t, a.Config)
	serverA := veleroWhenReady(ctx, t, bin, a, ca)
	var logA lines
	apA, err := agent.NewApplier(a.Config, agent.ApplyOptions{Log: logA.logf, WaitTimeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	res, err := apA.Sync(ctx, render(a.Name, velero, app, "fail"), agent.SyncOptions{})
	if err == nil || !strings.Contains(res.Workloads[1].Error, "no backup to restore") {
		t.Fatalf("whenNoBackup fail on an empty bucket: err %v, state workload %+v; want it failed with no backup\n%s\nvelero server:\n%s", err, res.Workloads, logA.text(), serverA.tail())
	}
	if got := (&metav1.PartialObjectMetadata{}); true {
		got.SetGroupVersionKind(appObjects(t)[0].GroupVersionKind())
		if err := ca.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "db"}, got); !apierrors.IsNotFound(err) {
			t.Fatalf("the app was applied although its restore failed: %v", err)
		}
	}
	res, err = apA.Sync(ctx, render(a.Name, velero, app, "skip"), agent.SyncOptions{})
	if err != nil || !res.Ready() {
		t.Fatalf("whenNoBackup skip: %v\n%s", err, logA.text())
	}
	if out := res.Workloads[1].Restore; out == nil || !out.Skipped || !strings.Contains(logA.text(), "WARNING: workload state: nothing restored: schedule velero/daily has no Completed backup") {
		t.Fatalf("skip: outcome %+v, want skipped with a warning in the log:\n%s", out, logA.text())
	}

	// 2. State the cluster generates and Git does not hold.
	password := []byte(hex.EncodeToString(randBytes(t, 24)))
	key := []byte("-----BEGIN PRIVATE KEY-----\n" + hex.EncodeToString(randBytes(t, 48)) + "\n-----END PRIVATE KEY-----\n")
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "db-password"}, Data: map[string][]byte{"password": password}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "sealed-secrets-key", Labels: map[string]string{"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
			Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), "tls.key": key}},
	} {
		if err := ca.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	wantPw, _ := secretData(ctx, ca, "db-password")
	wantKey, _ := secretData(ctx, ca, "sealed-secrets-key")

	// 3. A backup through the schedule, as drill --backup takes it.
	runner := &restore.Runner{Client: ca, Log: logA.logf}
	t0 := time.Now()
	backup, err := runner.BackupNow(ctx, "velero", "daily")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, serverA.tail())
	}
	t.Logf("backup %s Completed with %d items in %s", backup.Name, backup.Items, time.Since(t0).Round(time.Millisecond))
	if backup.Items < 3 {
		t.Fatalf("backup holds %d items, want at least the namespace's two Secrets and its Deployment", backup.Items)
	}

	// 4. The cluster is lost.
	srvA := serverA.get()
	srvA.Stop()
	a.Delete()

	// 5. The replay on a new cluster restores, then starts the app.
	b := kwoktest.New(t, "rk-restore-b", 1)
	cb := newClient(t, b.Config)
	serverB := veleroWhenReady(ctx, t, bin, b, cb)
	var logB lines
	type seen struct {
		pw, key map[string][]byte
		err     error
	}
	atReady := make(chan seen, 1)
	logB.check = func(s string) {
		if strings.HasPrefix(s, "workload state ready") {
			var v seen
			v.pw, v.err = secretData(ctx, cb, "db-password")
			if v.err == nil {
				v.key, v.err = secretData(ctx, cb, "sealed-secrets-key")
			}
			atReady <- v
		}
	}
	apB, err := agent.NewApplier(b.Config, agent.ApplyOptions{Log: logB.logf, WaitTimeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	res, err = apB.Sync(ctx, render(b.Name, velero, app, "fail"), agent.SyncOptions{})
	if err != nil || !res.Ready() {
		t.Fatalf("replay with restore: %v\n%s\n%s", err, logB.text(), serverB.tail())
	}
	st := res.Workloads[1]
	t.Logf("replay with restore ready in %s; restore workload: apply %s, wait %s, %d items from %s",
		time.Since(t0).Round(time.Millisecond), st.Applying.Round(time.Millisecond), st.Waiting.Round(time.Millisecond), st.Restore.ItemsRestored, st.Restore.Backup.Name)
	if st.Restore == nil || st.Restore.Backup.Name != backup.Name || st.Restore.Phase != restore.PhaseCompleted {
		t.Fatalf("restore outcome %+v, want Completed from %s", st.Restore, backup.Name)
	}
	// The Backup came from the bucket through rekindle's seed, not a
	// minute later from Velero's own first sync.
	if !strings.Contains(logB.text(), "Backup object(s) created from the bucket, as Velero's backup sync would") || !strings.Contains(logB.text(), backup.Name) {
		t.Errorf("the agent did not create the Backup from the bucket:\n%s", logB.text())
	}
	seeded := &unstructured.Unstructured{}
	seeded.SetGroupVersionKind(restore.BackupGVK)
	if err := cb.Get(ctx, client.ObjectKey{Namespace: "velero", Name: backup.Name}, seeded); err != nil {
		t.Fatal(err)
	}
	if mf := seeded.GetManagedFields(); len(mf) == 0 || strings.Contains(mf[0].Manager, "velero") || seeded.GetLabels()["velero.io/storage-location"] != "default" {
		t.Errorf("Backup/velero/%s: managed by %v, labels %v; want created by the agent with the location's label", backup.Name, mf, seeded.GetLabels())
	}
	v := <-atReady
	if v.err != nil || !sameData(v.pw, wantPw) || !sameData(v.key, wantKey) {
		t.Fatalf("when the restore workload was ready, the Secrets were not back with identical data (err %v)", v.err)
	}
	logs := logB.text()
	ready, applied := strings.Index(logs, "workload state ready"), strings.Index(logs, "workload app applied")
	if ready < 0 || applied < 0 || ready > applied {
		t.Fatalf("want 'workload state ready' before 'workload app applied':\n%s", logs)
	}

	// 5b. Verify proves it against the backup's own contents (read
	// through a real DownloadRequest), and names what is missing or
	// different once the restored state is changed.
	rcB := render(b.Name, velero, app, "fail")
	cmps, diffs, err := apB.CompareRestores(ctx, rcB, nil)
	if err != nil || len(cmps) != 1 || !cmps[0].OK() || cmps[0].Identical != 2 || cmps[0].Compared != 2 || len(diffs) != 0 {
		t.Fatalf("compare with the backup right after the restore: err %v, %+v, differences %v; want the 2 Secrets identical", err, cmps, diffs)
	}
	t.Logf("restored state compared with backup %s: %s", backup.Name, verifyNote(cmps[0]))
	pwLive := &corev1.Secret{}
	if err := cb.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "db-password"}, pwLive); err != nil {
		t.Fatal(err)
	}
	pwLive.Data["password"] = []byte("changed-after-the-restore")
	if err := cb.Update(ctx, pwLive); err != nil {
		t.Fatal(err)
	}
	if err := cb.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "sealed-secrets-key"}}); err != nil {
		t.Fatal(err)
	}
	cmps, diffs, err = apB.CompareRestores(ctx, rcB, nil)
	if err != nil || len(cmps) != 1 {
		t.Fatalf("second comparison: %v %+v", err, cmps)
	}
	got := fmt.Sprint(diffs)
	if cmps[0].OK() || len(diffs) != 2 || !strings.Contains(got, "Secret/apps/db-password") || !strings.Contains(got, "data.password") ||
		!strings.Contains(got, "Secret/apps/sealed-secrets-key") || !strings.Contains(got, "missing after the restore") {
		t.Fatalf("after changing one Secret and deleting the other: %+v\ndifferences %s; want both named", cmps[0], got)
	}
	outputs := map[string]string{"the comparison": got + fmt.Sprintf("%+v", cmps)}

	// 6. No credential or restored value in any output.
	outputs["agent log (first cluster)"], outputs["agent log (new cluster)"] = logA.text(), logs
	for name, path := range map[string]string{"velero server log (first)": srvA.Log, "velero server log (new)": serverB.get().Log} {
		raw, _ := os.ReadFile(path)
		outputs[name] = string(raw)
	}
	for name, out := range outputs {
		for what, secret := range map[string]string{"the object store's secret key": store.SecretKey, "the password": string(password), "the key": hex.EncodeToString(key[28:60])} {
			if strings.Contains(out, secret) {
				t.Errorf("%s holds %s", name, what)
			}
		}
	}
}

func verifyNote(c restore.Comparison) string {
	return fmt.Sprintf("%d compared, %d identical, %d held by Git, %d kept", c.Compared, c.Identical, c.HeldByGit, len(c.Kept))
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
