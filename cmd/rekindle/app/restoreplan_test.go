package app

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// A restore workload whose store does not answer: blueprint plan still
// succeeds, says it cannot tell the backup, warns on stderr naming the
// location, and prints no credential.
func TestPlanRestoreUnreachableStore(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rekindle.yaml"), `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: plan}
spec:
  environments:
    - name: dev
      clusters:
        - name: c1
          provider: kwok
          workloads:
            - name: velero
              path: velero
            - name: state
              restore:
                velero: {backup: nightly-1}
              dependsOn: [velero]
`)
	const secret = "do-not-print-this-secret-key"
	writeFile(t, filepath.Join(dir, "velero/velero.yaml"), `apiVersion: v1
kind: Namespace
metadata: {name: velero}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: velero}
spec:
  provider: aws
  objectStorage: {bucket: backups}
  credential: {name: cloud-credentials, key: cloud}
  config: {region: us-east-1, s3ForcePathStyle: "true", s3Url: "`+url+`"}
---
apiVersion: v1
kind: Secret
metadata: {name: cloud-credentials, namespace: velero}
stringData:
  cloud: |
    [default]
    aws_access_key_id=AKIDPLAN
    aws_secret_access_key=`+secret+`
`)
	code, stdout, stderr := run(t, "blueprint", "plan", "-b", dir, "--env", "dev")
	line := `restore: cluster "c1" workload "state": cannot tell which backup would be restored; WARNING: could not read the store: BackupStorageLocation velero/default (s3://backups at ` + url + `)`
	if code != 0 || !strings.Contains(stdout, line) || !strings.Contains(stderr, `WARNING: cluster "c1" restore workload "state": could not read the store:`) {
		t.Fatalf("exit %d, want 0 and the line\n%s\nstdout:\n%s\nstderr:\n%s", code, line, stdout, stderr)
	}
	code, jsonOut, jsonErr := run(t, "-o", "json", "blueprint", "plan", "-b", dir, "--env", "dev")
	var plan struct {
		Workloads []struct {
			Name    string `json:"name"`
			Restore *struct {
				BackupName string `json:"backupName"`
				Warning    string `json:"warning"`
			} `json:"restore"`
		} `json:"workloads"`
	}
	if err := json.Unmarshal([]byte(jsonOut), &plan); err != nil || code != 0 || len(plan.Workloads) != 2 || plan.Workloads[1].Restore == nil ||
		plan.Workloads[1].Restore.BackupName != "nightly-1" || !strings.Contains(plan.Workloads[1].Restore.Warning, "connection refused") {
		t.Fatalf("-o json: exit %d, %v\n%s", code, err, jsonOut)
	}
	for _, out := range []string{stdout, stderr, jsonOut, jsonErr} {
		if strings.Contains(out, secret) {
			t.Fatal("an output holds the store's secret key")
		}
	}
}
