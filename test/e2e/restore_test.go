package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"filippo.io/age"

	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/test/velerotest"
)

// TestRestoreStateGitDoesNotHold: bootstrap → backup → lose → recover, with
// the real parts: versitygw as the object store, velero server and its AWS
// plugin run by the host agent beside the kwok cluster, the credentials
// SOPS-encrypted in the blueprint. The first bootstrap finds no backup and,
// with whenNoBackup: skip, brings the app up with a warning. The cluster
// then generates a password and a sealed-secrets-style key; a backup is
// taken through the schedule; the cluster is lost for real; recover brings
// both Secrets back with identical data, created before the app's objects
// (the API server's own order: their resourceVersions). Neither the
// store's key nor a restored value appears in any output.
func TestRestoreStateGitDoesNotHold(t *testing.T) {
	needParts(t)
	bin := velerotest.BinDir(t)
	store := velerotest.NewStore(t, bin)
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()
	crds, err := velerotest.CRDs(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	id, keyFile := ageKeyFile(t, t.TempDir(), "age.txt")
	env := []string{"SOPS_AGE_KEY_FILE=" + keyFile, "REKINDLE_VELERO_BIN_DIR=" + bin}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rekindle.yaml"), `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: state}
spec:
  environments:
    - name: dev
      clusters:
        - name: state
          provider: kwok
          agent: {interval: 5s}
          workloads:
            - name: velero
              path: velero
            - name: restore-state
              restore:
                velero: {schedule: daily}
                includedNamespaces: [apps]
                includedResources: [secrets]
                whenNoBackup: skip
              dependsOn: [velero]
            - name: app
              path: app
              namespace: apps
              dependsOn: [restore-state]
`)
	writeVeleroWorkload(t, dir, crds, store, id)
	writeFile(t, filepath.Join(dir, "app/app.yaml"), `apiVersion: v1
kind: ConfigMap
metadata: {name: db-config}
data: {mode: primary}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: db
          image: registry.example/db:1
          env:
            - {name: PASSWORD, valueFrom: {secretKeyRef: {name: db-password, key: password}}}
`)

	state := t.TempDir()
	cleanupEnv(t, state, env, "-b", dir, "--env", "dev")
	var outputs []string
	run := func(args ...string) result {
		t.Helper()
		res := rk(t, state, env, args...)
		outputs = append(outputs, res.stdout, res.stderr)
		return res
	}

	// 1. The first bootstrap: nothing to restore; skip lets the app come up.
	res := run("-o", "json", "bootstrap", "create", "-b", dir, "--env", "dev")
	if res.code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s\n%s", res.code, res.stderr, agentLog(t, state))
	}
	kubeconfig := parseSummary(t, res.stdout).Clusters[0].Kubeconfig
	c := ctrlClient(t, kubeconfig)
	if got := agentLog(t, state); !strings.Contains(got, "WARNING: workload restore-state: nothing restored: schedule velero/daily has no Completed backup") {
		t.Fatalf("the agent's log lacks the skip warning:\n%s", got)
	}

	// 2. State the cluster generates and Git does not hold.
	password := []byte(hex.EncodeToString(random(t, 24)))
	key := []byte("-----BEGIN PRIVATE KEY-----\n" + hex.EncodeToString(random(t, 48)) + "\n-----END PRIVATE KEY-----\n")
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "db-password"}, Data: map[string][]byte{"password": password}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "sealed-secrets-key", Labels: map[string]string{"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
			Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), "tls.key": key}},
	} {
		if err := c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	// 3. A backup through the schedule, waited for.
	backup, err := (&restore.Runner{Client: c}).BackupNow(ctx, "velero", "daily")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, veleroLog(t, state))
	}
	t.Logf("backup %s: %d items", backup.Name, backup.Items)

	// 4. The cluster is lost for real: its control plane killed, its state deleted.
	clusterDir := filepath.Dir(kubeconfig)
	for _, p := range processesUnder(clusterDir) {
		pid, _, _ := strings.Cut(p, ": ")
		n, _ := strconv.Atoi(pid)
		_ = syscall.Kill(n, syscall.SIGKILL)
	}
	if err := os.RemoveAll(clusterDir); err != nil {
		t.Fatal(err)
	}

	// 5. Recover: the restore runs before the app.
	t0 := time.Now()
	res = run("-o", "json", "recover", "-b", dir, "--env", "dev")
	if res.code != 0 {
		t.Fatalf("recover: exit %d\n%s\n%s\n%s", res.code, res.stderr, agentLog(t, state), veleroLog(t, state))
	}
	t.Logf("recover with restore: %s", time.Since(t0).Round(time.Millisecond))
	// The restore is its own RTO phase, and the verify step compared what
	// came back with the backup's contents.
	var out struct {
		Result struct {
			Summary struct {
				Clusters []struct {
					Steps []struct{ Name, Detail string } `json:"steps"`
				} `json:"clusters"`
			} `json:"summary"`
			RTO struct {
				Total  time.Duration `json:"total"`
				Phases []struct {
					Name     string        `json:"name"`
					Duration time.Duration `json:"duration"`
					Detail   string        `json:"detail"`
				} `json:"phases"`
			} `json:"rto"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil || len(out.Result.Summary.Clusters) != 1 {
		t.Fatalf("recover -o json (err %v): want one recovery result with one cluster\n%s", err, res.stdout)
	}
	rec := out.Result
	var sum, restoreTook time.Duration
	for _, ph := range rec.RTO.Phases {
		sum += ph.Duration
		if ph.Name == "restore" {
			restoreTook += ph.Duration
			if !strings.Contains(ph.Detail, "from backup "+backup.Name) {
				t.Errorf("restore phase detail %q, want the backup %s named", ph.Detail, backup.Name)
			}
		}
	}
	if restoreTook <= 0 || sum != rec.RTO.Total {
		t.Errorf("RTO %s: restore phase %s, phases add up to %s; want a restore phase and phases that add up", rec.RTO.Total, restoreTook, sum)
	}
	t.Logf("RTO %s, of which restore %s", rec.RTO.Total.Round(time.Millisecond), restoreTook.Round(time.Millisecond))
	verified := ""
	for _, st := range rec.Summary.Clusters[0].Steps {
		if st.Name == "verify" {
			verified = st.Detail
		}
	}
	if !strings.Contains(verified, "restored state: 2 object(s) identical to backup "+backup.Name) {
		t.Errorf("verify step %q, want the 2 restored Secrets compared with backup %s", verified, backup.Name)
	}
	c = ctrlClient(t, kubeconfig)
	rv := func(o client.Object) int {
		t.Helper()
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			t.Fatalf("after recover: %v", err)
		}
		n, _ := strconv.Atoi(o.GetResourceVersion())
		return n
	}
	pw := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "db-password"}}
	sk := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "sealed-secrets-key"}}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "db-config"}}
	pwRV, skRV, cmRV := rv(pw), rv(sk), rv(cm)
	if string(pw.Data["password"]) != string(password) || string(sk.Data["tls.key"]) != string(key) {
		t.Fatal("the restored Secrets' data differ from what the lost cluster held")
	}
	// etcd's revisions order the writes: both Secrets were written before
	// the app's ConfigMap (which nothing updates after its creation).
	if pwRV == 0 || skRV == 0 || pwRV > cmRV || skRV > cmRV {
		t.Fatalf("resourceVersions: db-password %d, sealed-secrets-key %d, app ConfigMap %d; want the Secrets first", pwRV, skRV, cmRV)
	}
	if got := agentLog(t, state); !strings.Contains(got, "velero server started") {
		t.Errorf("the host agent did not say it started velero:\n%s", got)
	}

	// 6. drill --backup: a fresh backup through the schedule before the
	// loss, so the drill's recovery restores the password as it is now.
	pw.Data["password"] = []byte(hex.EncodeToString(random(t, 24)))
	rotated := string(pw.Data["password"])
	if err := c.Update(ctx, pw); err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	res = run("drill", "-b", dir, "--env", "dev", "--backup", "--keep", "--report-dir", reports)
	if res.code != 0 {
		t.Fatalf("drill --backup: exit %d\n%s\n%s", res.code, res.stderr, agentLog(t, state))
	}
	var drill struct {
		Phases []struct{ Name, Status, Detail string } `json:"phases"`
		Verify struct {
			Clusters []struct {
				Restores []restore.Comparison `json:"restores"`
			} `json:"clusters"`
		} `json:"verify"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(reports, "drill.json"))), &drill); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, ph := range drill.Phases {
		order = append(order, ph.Name)
		if ph.Name == "backup" && !strings.Contains(ph.Detail, "backed up state: velero/daily-") {
			t.Errorf("drill's backup phase: %+v", ph)
		}
	}
	if got := strings.Join(order, ","); !strings.Contains(got, "baseline,backup,lose,recover") {
		t.Errorf("drill phases %s, want backup between baseline and lose", got)
	}
	if cl := drill.Verify.Clusters; len(cl) != 1 || len(cl[0].Restores) != 1 || !cl[0].Restores[0].OK() || cl[0].Restores[0].Identical != 2 {
		t.Errorf("the drill's verify did not compare the 2 restored Secrets with the fresh backup: %+v", drill.Verify)
	}
	c = ctrlClient(t, kubeconfig)
	if rv(pw); string(pw.Data["password"]) != rotated {
		t.Error("after drill --backup the password is not the one the fresh backup held")
	}
	outputs = append(outputs, readFile(t, filepath.Join(reports, "drill.json")))

	// 7. verify --against-backup names a restored Secret changed since.
	pw.Data["password"] = []byte("changed-after-the-drill")
	if err := c.Update(ctx, pw); err != nil {
		t.Fatal(err)
	}
	if res = run("verify", "-b", dir, "--env", "dev"); res.code != 0 {
		t.Fatalf("verify (Git only) after a state change: exit %d, want 0\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = run("verify", "-b", dir, "--env", "dev", "--against-backup")
	if res.code != 1 || !strings.Contains(res.stdout, "Secret/apps/db-password: restored by Velero but data.password differ(s) from backup") {
		t.Fatalf("verify --against-backup: exit %d, want 1 naming the changed Secret\n%s%s", res.code, res.stdout, res.stderr)
	}

	// 8. Nothing secret in any output.
	outputs = append(outputs, agentLog(t, state), veleroLog(t, state))
	for i, out := range outputs {
		for what, v := range map[string]string{"the store's secret key": store.SecretKey, "the password": string(password), "the rotated password": rotated, "the key": string(key[28:80])} {
			if strings.Contains(out, v) {
				t.Errorf("output %d holds %s", i, what)
			}
		}
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func ctrlClient(t *testing.T, kubeconfig string) client.Client {
	t.Helper()
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func agentLog(t *testing.T, state string) string {
	logs, _ := filepath.Glob(filepath.Join(state, "envs", "*", "dev", "agents", "*.log"))
	var b strings.Builder
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		b.Write(data)
	}
	return b.String()
}

func veleroLog(t *testing.T, state string) string {
	logs, _ := filepath.Glob(filepath.Join(state, "velero", "*", "*.log"))
	var b strings.Builder
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		b.Write(data)
	}
	return b.String()
}

// writeVeleroWorkload writes a blueprint's velero workload into dir/velero:
// Velero's CRDs, the store's manifests (namespace, location, schedule,
// Deployment) and its credentials Secret, SOPS-encrypted to id as a real
// repo holds it.
func writeVeleroWorkload(t *testing.T, dir string, crds []byte, store *velerotest.Store, id *age.X25519Identity) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "velero/crds.yaml"), string(crds))
	writeFile(t, filepath.Join(dir, "velero/velero.yaml"), store.Manifests())
	creds := filepath.Join(dir, "velero/credentials.yaml")
	writeFile(t, creds, store.CredentialsSecret())
	if res := rk(t, t.TempDir(), nil, "secrets", "encrypt", creds, "--in-place", "--age", id.Recipient().String()); res.code != 0 {
		t.Fatalf("encrypt the store's credentials: exit %d", res.code)
	}
}
