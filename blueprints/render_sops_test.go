package blueprints

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/providers/sops"
)

// Plaintext values of the encrypted fixture; none may leak into an error.
const (
	plainSecretValue = "plain-secret-value"
	envSecretValue   = "env-secret-value"
	fileSecretValue  = "file-secret-value"
	helmSecretValue  = "helm-secret-value"
	failSecretValue  = "fail-secret-value"
)

// sopsRepo writes a blueprint whose three kinds of workload read files
// encrypted for id: a plain Secret, a kustomize secretGenerator from an
// encrypted env file and an encrypted binary file (plus an encrypted
// resource), and a Helm chart with an encrypted values file.
func sopsRepo(t *testing.T, id *age.X25519Identity) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	enc := func(rel, content, regex string) {
		out, err := sops.Encrypt(rel, []byte(content), sops.EncryptOptions{Recipients: []string{id.Recipient().String()}, EncryptedRegex: regex})
		if err != nil {
			t.Fatal(err)
		}
		write(rel, string(out))
	}
	write(FileName, `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: sealed}
spec:
  environments:
  - name: dev
    clusters:
    - name: a
      provider: kwok
      workloads:
      - {name: plain, path: workloads/plain, namespace: plain}
      - {name: gen, path: workloads/gen}
      - name: chart
        helm: {chart: charts/creds, namespace: chart, valuesFiles: [workloads/chart/values.yaml]}
  - name: bad
    clusters:
    - name: b
      provider: kwok
      workloads:
      - name: chart
        helm: {chart: charts/creds, namespace: chart, valuesFiles: [workloads/chart/values.yaml, workloads/chart/fail.yaml]}
`)
	write("workloads/plain/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: prod}\n")
	enc("workloads/plain/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: "+plainSecretValue+"\n", sops.SecretDataRegex)
	write("workloads/gen/kustomization.yaml", `namespace: gen
resources: [resource.yaml]
generatorOptions: {disableNameSuffixHash: true}
secretGenerator:
- name: app
  envs: [app.env]
  files: [token.txt]
`)
	enc("workloads/gen/resource.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: extra}\nstringData:\n  key: "+plainSecretValue+"-kustomize\n", sops.SecretDataRegex)
	enc("workloads/gen/app.env", "API_KEY="+envSecretValue+"\n", "")
	enc("workloads/gen/token.txt", fileSecretValue, "")
	write("charts/creds/Chart.yaml", "apiVersion: v2\nname: creds\nversion: 0.1.0\n")
	write("charts/creds/values.yaml", "password: \"\"\nfailWith: \"\"\n")
	write("charts/creds/templates/secret.yaml", `{{- if .Values.failWith }}{{ fail (printf "refused: %s" .Values.failWith) }}{{ end -}}
apiVersion: v1
kind: Secret
metadata: {name: {{ .Release.Name }}-creds}
stringData:
  password: {{ .Values.password | quote }}
`)
	enc("workloads/chart/values.yaml", "password: "+helmSecretValue+"\n", "")
	enc("workloads/chart/fail.yaml", "failWith: "+failSecretValue+"\n", "")
	return dir
}

func ageKey(t *testing.T) (*age.X25519Identity, *sops.Keys) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	k, err := sops.ParseKeys(id.String(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return id, k
}

func secretValue(t *testing.T, rc *RenderedCluster, ns, name, key string) string {
	t.Helper()
	for _, o := range rc.AllObjects() {
		if o.GetKind() != "Secret" || o.GetNamespace() != ns || o.GetName() != name {
			continue
		}
		if v, ok, _ := unstructured.NestedString(o.Object, "stringData", key); ok {
			return v
		}
		v, _, _ := unstructured.NestedString(o.Object, "data", key)
		dec, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("Secret %s/%s data.%s: %v", ns, name, key, err)
		}
		return string(dec)
	}
	t.Fatalf("no Secret %s/%s in %v", ns, name, refs(rc.AllObjects()))
	return ""
}

func TestRenderDecryptsSOPS(t *testing.T) {
	id, keys := ageKey(t)
	r, err := Load(sopsRepo(t, id))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	rc, err := r.Render(context.Background(), "dev", "a", RenderOptions{Keys: keys, OnEncrypted: func(f string, err error) {
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		seen = append(seen, f)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ns, name, key, want string }{
		{"plain", "db", "password", plainSecretValue},
		{"gen", "app", "API_KEY", envSecretValue},
		{"gen", "app", "token.txt", fileSecretValue},
		{"gen", "extra", "key", plainSecretValue + "-kustomize"},
		{"chart", "chart-creds", "password", helmSecretValue},
	} {
		if got := secretValue(t, rc, c.ns, c.name, c.key); got != c.want {
			t.Errorf("Secret %s/%s %s = %q, want %q", c.ns, c.name, c.key, got, c.want)
		}
	}
	for _, o := range rc.AllObjects() {
		if _, ok := o.Object["sops"]; ok {
			t.Errorf("%s still carries SOPS metadata", ObjectRef(o))
		}
	}
	if got := rc.Workloads[2].Helm.Values["password"]; got != helmSecretValue {
		t.Errorf("Helm values password = %v", got)
	}
	sort.Strings(seen)
	want := []string{"workloads/chart/values.yaml", "workloads/gen/app.env", "workloads/gen/resource.yaml", "workloads/gen/token.txt", "workloads/plain/secret.yaml"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("encrypted files = %v, want %v", seen, want)
	}
}

func TestRenderEncryptedWithoutKey(t *testing.T) {
	id, _ := ageKey(t)
	r, err := Load(sopsRepo(t, id))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Render(context.Background(), "dev", "a", RenderOptions{})
	if err == nil {
		t.Fatal("render without a key succeeded")
	}
	for _, want := range []string{"workloads/plain/secret.yaml", id.Recipient().String(), "SOPS_AGE_KEY_FILE", "secrets.sops.ageKeyFile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestRenderWrongKeyFindsEveryFile: with OnEncrypted a render that meets
// files the key cannot open goes on, so one pass names them all.
func TestRenderWrongKeyFindsEveryFile(t *testing.T) {
	id, _ := ageKey(t)
	wrong, wrongKeys := ageKey(t)
	r, err := Load(sopsRepo(t, id))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	_, _ = r.Render(context.Background(), "dev", "a", RenderOptions{Keys: wrongKeys, OnEncrypted: func(f string, err error) {
		if err != nil {
			failed[f] = err.Error()
		}
	}})
	if len(failed) != 5 {
		t.Errorf("failed files = %v, want all 5", failed)
	}
	for f, msg := range failed {
		if !strings.Contains(msg, f) || !strings.Contains(msg, id.Recipient().String()) || !strings.Contains(msg, wrong.Recipient().String()) {
			t.Errorf("%s: %s", f, msg)
		}
	}
}

// TestRenderErrorsHideDecryptedValues: a chart that fails quoting a value
// from an encrypted values file does not leak it.
func TestRenderErrorsHideDecryptedValues(t *testing.T) {
	id, keys := ageKey(t)
	r, err := Load(sopsRepo(t, id))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Render(context.Background(), "bad", "b", RenderOptions{Keys: keys})
	if err == nil || !strings.Contains(err.Error(), "refused: <redacted>") || strings.Contains(err.Error(), failSecretValue) {
		t.Errorf("err = %v, want the failure with the value redacted", err)
	}
}

func TestEncryptedFiles(t *testing.T) {
	id, keys := ageKey(t)
	_, wrongKeys := ageKey(t)
	r, err := Load(sopsRepo(t, id))
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.EncryptedFiles(context.Background(), "dev", RenderOptions{Keys: keys})
	if err != nil || len(files) != 5 {
		t.Fatalf("EncryptedFiles = %v, %v", files, err)
	}
	for _, f := range files {
		if f.Err != nil || len(f.Clusters) != 1 || f.Clusters[0] != "a" {
			t.Errorf("%+v", f)
		}
	}
	files, err = r.EncryptedFiles(context.Background(), "dev", RenderOptions{Keys: wrongKeys})
	if err != nil || len(files) != 5 {
		t.Fatalf("wrong key: %v, %v", files, err)
	}
	for _, f := range files {
		if !sops.IsDecryptError(f.Err) {
			t.Errorf("%s: err = %v", f.Path, f.Err)
		}
	}
}
