package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSecretsSurviveADrill bootstraps the example with three kinds of
// SOPS-encrypted secret added to its edge cluster (a plain Secret, a
// kustomize secretGenerator from an encrypted env file and an encrypted
// file, a Helm chart with an encrypted values file), with an age key
// generated here. A wrong key fails the preflight naming every file, before
// any infra or cluster exists. With the right key the live Secrets hold the
// plaintext; a drill loses the edge cluster and recovers it, and the
// Secrets are back. No output stream, report or state file shows a value or
// the key.
func TestSecretsSurviveADrill(t *testing.T) {
	needParts(t)
	keys := t.TempDir()
	id, keyFile := ageKeyFile(t, keys, "key.txt")
	wrong, wrongFile := ageKeyFile(t, keys, "wrong.txt")
	suffix := randomHex(t)
	values := map[string]string{
		"plain": "plain-" + suffix,
		"env":   "env-" + suffix,
		"file":  "file-" + suffix,
		"helm":  "helm-" + suffix,
	}
	var outputs []string // every stdout and stderr, to grep at the end
	run := func(state string, env []string, args ...string) result {
		t.Helper()
		res := rk(t, state, env, args...)
		outputs = append(outputs, res.stdout, res.stderr)
		return res
	}

	scratch := t.TempDir()
	dir := brokenCopy(t, func(dir string) {
		bp := filepath.Join(dir, "rekindle.yaml")
		writeFile(t, bp, strings.Replace(readFile(t, bp), "              path: workloads/edge\n              namespace: edge\n", `              path: workloads/edge
              namespace: edge
            - name: sealed-plain
              path: workloads/sealed/plain
              namespace: edge
              dependsOn: [edge]
            - name: sealed-gen
              path: workloads/sealed/gen
              dependsOn: [edge]
            - name: sealed-chart
              helm:
                chart: charts/creds
                namespace: edge
                valuesFiles: [workloads/sealed/chart-values.yaml]
              dependsOn: [edge]
`, 1))
		writeFile(t, filepath.Join(dir, "workloads/sealed/plain/secret.yaml"), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: "+values["plain"]+"\n")
		writeFile(t, filepath.Join(dir, "workloads/sealed/gen/kustomization.yaml"), "namespace: edge\ngeneratorOptions:\n  disableNameSuffixHash: true\nsecretGenerator:\n  - name: app\n    envs: [app.env]\n    files: [token.txt]\n")
		writeFile(t, filepath.Join(dir, "workloads/sealed/gen/app.env"), "API_KEY="+values["env"]+"\n")
		writeFile(t, filepath.Join(dir, "workloads/sealed/gen/token.txt"), values["file"])
		writeFile(t, filepath.Join(dir, "charts/creds/Chart.yaml"), "apiVersion: v2\nname: creds\nversion: 0.1.0\n")
		writeFile(t, filepath.Join(dir, "charts/creds/values.yaml"), "password: \"\"\n")
		writeFile(t, filepath.Join(dir, "charts/creds/templates/secret.yaml"), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-creds\nstringData:\n  password: {{ .Values.password | quote }}\n")
		writeFile(t, filepath.Join(dir, "workloads/sealed/chart-values.yaml"), "password: "+values["helm"]+"\n")
		for _, f := range []string{"workloads/sealed/plain/secret.yaml", "workloads/sealed/gen/app.env", "workloads/sealed/gen/token.txt", "workloads/sealed/chart-values.yaml"} {
			args := []string{"secrets", "encrypt", filepath.Join(dir, f), "--in-place", "--age", id.Recipient().String()}
			if f == "workloads/sealed/chart-values.yaml" {
				args = append(args, "--encrypted-regex", "^password$")
			}
			if res := run(scratch, nil, args...); res.code != 0 {
				t.Fatalf("encrypt %s: exit %d", f, res.code)
			}
			if data := readFile(t, filepath.Join(dir, f)); strings.Contains(data, suffix) {
				t.Fatalf("%s holds a plaintext value after encryption", f)
			}
		}
	})
	encrypted := []string{"workloads/sealed/chart-values.yaml", "workloads/sealed/gen/app.env", "workloads/sealed/gen/token.txt", "workloads/sealed/plain/secret.yaml"}

	// A wrong key: the preflight names every file and its recipient, and
	// nothing is built.
	wrongState := t.TempDir()
	cleanupEnv(t, wrongState, []string{"SOPS_AGE_KEY_FILE=" + wrongFile}, "-b", dir, "--env", "dev")
	res := run(wrongState, []string{"SOPS_AGE_KEY_FILE=" + wrongFile}, "bootstrap", "create", "-b", dir, "--env", "dev")
	if res.code != 2 {
		t.Errorf("bootstrap with the wrong key: exit %d, want 2", res.code)
	}
	for _, want := range append([]string{"validate: 4 SOPS-encrypted file(s) do not decrypt", id.Recipient().String(), wrong.Recipient().String()}, encrypted...) {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("wrong-key error lacks %q", want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(wrongState, "clusters", "kwok")); len(nonHidden(entries)) > 0 {
		t.Errorf("clusters created despite the failed preflight: %v", nonHidden(entries))
	}
	if _, err := os.Stat(filepath.Join(wrongState, "envs", "local", "dev", "terraform", "terraform.tfstate")); err == nil {
		t.Error("terraform ran despite the failed preflight")
	}

	// The check command agrees, and passes with the right key.
	if res := run(scratch, []string{"SOPS_AGE_KEY_FILE=" + wrongFile}, "secrets", "check", "-b", dir, "--env", "dev"); res.code != 1 {
		t.Errorf("secrets check with the wrong key: exit %d, want 1", res.code)
	}
	env := []string{"SOPS_AGE_KEY_FILE=" + keyFile}
	if res := run(scratch, env, "-o", "json", "secrets", "check", "-b", dir, "--env", "dev"); res.code != 0 || strings.Count(res.stdout, `"decrypts":true`) != 4 {
		t.Errorf("secrets check with the key: exit %d\n%s", res.code, res.stdout)
	}

	state := t.TempDir()
	cleanupEnv(t, state, env, "-b", dir, "--env", "dev")
	res = run(state, env, "-o", "json", "-v", "9", "bootstrap", "create", "-b", dir, "--env", "dev")
	if res.code != 0 {
		t.Fatalf("bootstrap create: exit %d", res.code)
	}
	var edge string
	for _, c := range parseSummary(t, res.stdout).Clusters {
		if c.Name == "edge" {
			edge = c.Kubeconfig
			if !c.Ready || c.Healthy != c.Desired || c.Desired != 6 {
				t.Errorf("edge: ready=%t %d/%d healthy, want 6 objects", c.Ready, c.Healthy, c.Desired)
			}
		}
	}
	if edge == "" {
		t.Fatal("no edge cluster in the summary")
	}
	checkSecrets(t, edge, values)
	checkAgentKey(t, edge, id.String())

	reports := t.TempDir()
	res = run(state, env, "-v", "9", "drill", "-b", dir, "--env", "dev", "--scope", "edge", "--report-dir", reports, "--keep")
	if res.code != 0 {
		t.Fatalf("drill: exit %d\n%s", res.code, res.stdout)
	}
	checkSecrets(t, edge, values)

	res = run(state, env, "bootstrap", "destroy", "-b", dir, "--env", "dev")
	if res.code != 0 {
		t.Errorf("destroy: exit %d", res.code)
	}

	secrets := []string{id.String(), "AGE-SECRET-KEY-"}
	for _, v := range values {
		secrets = append(secrets, v)
	}
	for i, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output stream %d shows a secret (%.12s...)", i, s)
			}
		}
	}
	reportFiles := grepFiles(t, reports, "", secrets)
	// The state dir, apart from the clusters' own etcd data.
	grepFiles(t, state, filepath.Join(state, "clusters"), secrets)
	grepFiles(t, wrongState, filepath.Join(wrongState, "clusters"), secrets)
	if reportFiles < 3 {
		t.Errorf("only %d report file(s) in %s", reportFiles, reports)
	}
}

func ageKeyFile(t *testing.T, dir, name string) (*age.X25519Identity, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("# public key: "+id.Recipient().String()+"\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, p
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// checkSecrets waits for the three Secrets in the edge namespace and
// compares their values.
func checkSecrets(t *testing.T, kubeconfig string, values map[string]string) {
	t.Helper()
	cs := clientset(t, kubeconfig)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := []struct{ name, key, value string }{
		{"db", "password", values["plain"]},
		{"app", "API_KEY", values["env"]},
		{"app", "token.txt", values["file"]},
		{"sealed-chart-creds", "password", values["helm"]},
	}
	for _, w := range want {
		var got string
		for ctx.Err() == nil {
			s, err := cs.CoreV1().Secrets("edge").Get(ctx, w.name, metav1.GetOptions{})
			if err == nil {
				got = string(s.Data[w.key])
				if got == w.value {
					break
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
		if got != w.value {
			t.Errorf("Secret edge/%s %s does not hold the decrypted value (got %d bytes)", w.name, w.key, len(got))
		}
	}
}

// checkAgentKey checks that the age key is in the agent's Secret.
func checkAgentKey(t *testing.T, kubeconfig, identity string) {
	t.Helper()
	s, err := clientset(t, kubeconfig).CoreV1().Secrets("rekindle-system").Get(context.Background(), "rekindle-agent-credentials", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("agent Secret: %v", err)
	}
	if got := string(s.Data["sops-age-key"]); !strings.Contains(got, identity) {
		t.Errorf("rekindle-system/rekindle-agent-credentials sops-age-key does not hold the age key (%d bytes)", len(got))
	}
}

// grepFiles reports every file under dir (but not under skip) holding one of
// secrets, and returns how many files it read.
func grepFiles(t *testing.T, dir, skip string, secrets []string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if fi.IsDir() {
			if skip != "" && p == skip {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		n++
		for _, s := range secrets {
			if strings.Contains(string(data), s) {
				t.Errorf("%s holds a secret (%.12s...)", p, s)
			}
		}
		return nil
	})
	return n
}
