package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/test/velerotest"
)

// TestPlanNamesTheBackupToRestore: `blueprint plan` and `bootstrap create
// --dry-run` read the backups where Velero keeps them, in the object store,
// so they can tell what a recovery would restore once the cluster is gone.
// Real parts: versitygw, the velero server run by the host agent, a real
// backup through the schedule, the store's credentials SOPS-encrypted in
// the blueprint. Before any backup the plan says what whenNoBackup: skip
// would do; after the backup and the cluster's destruction it names the
// backup, its object count and its age, and never the store's key.
func TestPlanNamesTheBackupToRestore(t *testing.T) {
	needParts(t)
	bin := velerotest.BinDir(t)
	store := velerotest.NewStore(t, bin)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
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
metadata: {name: plan}
spec:
  environments:
    - name: dev
      clusters:
        - name: rplan
          provider: kwok
          agent: {interval: 5s}
          workloads:
            - name: velero
              path: velero
            - name: restore-state
              restore:
                velero: {schedule: daily}
                includedNamespaces: [apps]
                whenNoBackup: skip
              dependsOn: [velero]
            - name: app
              path: app
              namespace: apps
              dependsOn: [restore-state]
`)
	writeVeleroWorkload(t, dir, crds, store, id)
	writeFile(t, filepath.Join(dir, "app/app.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db-config}\ndata: {mode: primary}\n")
	state := t.TempDir()
	cleanupEnv(t, state, env, "-b", dir, "--env", "dev")
	var outputs []string
	run := func(args ...string) result {
		t.Helper()
		res := rk(t, state, env, args...)
		outputs = append(outputs, res.stdout, res.stderr)
		return res
	}
	location := fmt.Sprintf("BackupStorageLocation velero/default (s3://%s at %s)", store.Bucket, store.URL)
	prefix := `restore: cluster "rplan" workload "restore-state": `

	// 1. An empty bucket: the plan says what skip would do.
	res := run("blueprint", "plan", "-b", dir, "--env", "dev")
	want := prefix + "no backup: schedule velero/daily has no Completed backup in " + location + "; whenNoBackup: skip would warn and start the workloads that depend on it from nothing"
	if res.code != 0 || !strings.Contains(res.stdout, want) {
		t.Fatalf("plan on an empty bucket: exit %d, want the line\n%s\nstdout:\n%s", res.code, want, res.stdout)
	}

	// 2. A cluster that makes state, and a real backup of it.
	res = run("-o", "json", "bootstrap", "create", "-b", dir, "--env", "dev")
	if res.code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s\n%s", res.code, res.stderr, agentLog(t, state))
	}
	c := ctrlClient(t, parseSummary(t, res.stdout).Clusters[0].Kubeconfig)
	for _, name := range []string{"db-password", "api-token"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name}, StringData: map[string]string{"v": name}}
		if err := c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	backup, err := (&restore.Runner{Client: c}).BackupNow(ctx, "velero", "daily")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, veleroLog(t, state))
	}
	t.Logf("backup %s: %d items, completed %s", backup.Name, backup.Items, backup.Completed.Format(time.RFC3339))

	// 3. The cluster is gone; the bucket still holds the backup.
	if res := run("bootstrap", "destroy", "-b", dir, "--env", "dev"); res.code != 0 {
		t.Fatalf("destroy: exit %d", res.code)
	}
	want = fmt.Sprintf("%swould restore backup velero/%s: %d object(s), completed ", prefix, backup.Name, backup.Items)
	t0 := time.Now()
	res = run("blueprint", "plan", "-b", dir, "--env", "dev")
	t.Logf("blueprint plan read the bucket in %s", time.Since(t0).Round(time.Millisecond))
	if res.code != 0 || !strings.Contains(res.stdout, want) || !strings.Contains(res.stdout, "ago ("+backup.Completed.UTC().Format(time.RFC3339)+"), from "+location) {
		t.Fatalf("plan after the loss: exit %d, want a line starting\n%s\nstdout:\n%s\nstderr:\n%s", res.code, want, res.stdout, res.stderr)
	}
	res = run("bootstrap", "create", "-b", dir, "--env", "dev", "--dry-run")
	if res.code != 0 || !strings.Contains(res.stdout, want) {
		t.Fatalf("bootstrap create --dry-run: exit %d, want\n%s\nstdout:\n%s", res.code, want, res.stdout)
	}

	// 4. The same in JSON, from both commands.
	res = run("-o", "json", "blueprint", "plan", "-b", dir, "--env", "dev")
	var plan struct {
		Workloads []struct {
			Name    string          `json:"name"`
			Restore json.RawMessage `json:"restore"`
		} `json:"workloads"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &plan); err != nil || len(plan.Workloads) != 3 {
		t.Fatalf("plan -o json: %v\n%s", err, res.stdout)
	}
	checkRestoreJSON(t, "blueprint plan -o json", plan.Workloads[1].Restore, backup, store.URL)
	res = run("-o", "json", "bootstrap", "create", "-b", dir, "--env", "dev", "--dry-run")
	var dry struct {
		Summary struct {
			Clusters []struct {
				Workloads []struct {
					Restore json.RawMessage `json:"restore"`
				} `json:"workloads"`
			} `json:"clusters"`
		} `json:"summary"`
	}
	for _, line := range strings.Split(res.stdout, "\n") {
		if strings.Contains(line, `"event":"summary"`) {
			if err := json.Unmarshal([]byte(line), &dry); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(dry.Summary.Clusters) != 1 || len(dry.Summary.Clusters[0].Workloads) != 3 {
		t.Fatalf("dry-run summary: %s", res.stdout)
	}
	checkRestoreJSON(t, "bootstrap create --dry-run -o json", dry.Summary.Clusters[0].Workloads[1].Restore, backup, store.URL)

	// 5. No credential in any output.
	for i, out := range outputs {
		if strings.Contains(out, store.SecretKey) {
			t.Errorf("output %d holds the store's secret key", i)
		}
	}
}

func checkRestoreJSON(t *testing.T, what string, raw json.RawMessage, want *restore.Backup, url string) {
	t.Helper()
	var p struct {
		Workload     string `json:"workload"`
		WhenNoBackup string `json:"whenNoBackup"`
		Backup       *struct {
			Name  string `json:"name"`
			Items int    `json:"items"`
		} `json:"backup"`
		Age  time.Duration `json:"age"`
		From *struct {
			Name   string `json:"name"`
			Bucket string `json:"bucket"`
			URL    string `json:"url"`
		} `json:"from"`
		Warning string `json:"warning"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.Backup == nil || p.From == nil {
		t.Fatalf("%s: restore %s (%v), want a backup", what, raw, err)
	}
	if p.Workload != "restore-state" || p.Backup.Name != want.Name || p.Backup.Items != want.Items || p.Age <= 0 || p.Age > 10*time.Minute ||
		p.From.Name != "default" || p.From.URL != url || p.WhenNoBackup != "skip" || p.Warning != "" {
		t.Fatalf("%s: restore %s, want backup %s with %d items from location default at %s", what, raw, want.Name, want.Items, url)
	}
}
