package agent

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// oldSecretTemplate is the Secret template of the chart rekindle shipped
// before credentials left Helm: it rendered the values into the release.
const oldSecretTemplate = `apiVersion: v1
kind: Secret
metadata:
  name: rekindle-agent-credentials
  namespace: {{ .Release.Namespace }}
type: Opaque
data:
  {{- with .Values.git.username }}
  git-username: {{ . | b64enc | quote }}
  {{- end }}
  {{- with .Values.git.token }}
  git-token: {{ . | b64enc | quote }}
  {{- end }}
  {{- with .Values.sops.ageKey }}
  sops-age-key: {{ . | b64enc | quote }}
  {{- end }}
`

// logSink collects log lines, to check that no secret is ever printed.
type logSink struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

// TestCredentialsOutOfHelm upgrades an install made the old way (credentials
// as Helm values, rendered into a chart Secret, two revisions) with Install,
// then rotates the credentials, and checks that no credential is left in any
// Helm release Secret (decoded: base64, gzip, JSON), in `helm get values`,
// or in anything logged, while the agent's Secret holds exactly the current ones.
func TestCredentialsOutOfHelm(t *testing.T) {
	c := newTestCluster(t, "agent-creds")
	ctx := t.Context()
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"tok-old-1-s3cr3t", "tok-old-2-s3cr3t", "AGE-SECRET-KEY-OLDX", "tok-new-3-s3cr3t", "AGE-SECRET-KEY-NEWX", "tok-rotated-4-s3cr3t", "old-user-name"}
	logs := &logSink{}

	// The previous version's install: two revisions holding credentials.
	old, err := Chart()
	if err != nil {
		t.Fatal(err)
	}
	old.Templates = append(old.Templates, &chart.File{Name: "templates/secret.yaml", Data: []byte(oldSecretTemplate)})
	for i, tok := range secrets[:2] {
		vals := InstallValues{SkipDeployment: true}.helmValues()
		vals["git"] = map[string]any{"username": "old-user-name", "token": tok}
		vals["sops"] = map[string]any{"ageKey": secrets[2]}
		if _, rev, err := upsertRelease(ctx, c.Config, releaseSpec{Name: ReleaseName, Namespace: SystemNamespace, Chart: old, Values: vals, Timeout: time.Minute}, logs.logf); err != nil || rev != i+1 {
			t.Fatalf("old-style install %d: revision %d, %v", i+1, rev, err)
		}
	}
	if n := len(releaseSecretsHolding(t, cs, secrets)); n != 2 {
		t.Fatalf("the old-style install left %d release revisions with credentials, want 2 (the test does not reproduce it)", n)
	}

	credential := func() *corev1.Secret {
		t.Helper()
		s, err := cs.CoreV1().Secrets(SystemNamespace).Get(ctx, CredentialsSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("credentials Secret: %v", err)
		}
		return s
	}
	deployed := func(token, age string) InstallValues {
		return InstallValues{Version: "v0.3.0", ImageRef: "registry.example/rekindle:v0.3.0", Blueprint: "https://git.example/acme/blueprint.git",
			Environment: "prod", Cluster: "eu-1", GitToken: token, AgeKey: age, Log: logs.logf}
	}
	annotation := func() string {
		t.Helper()
		d, err := cs.AppsV1().Deployments(SystemNamespace).Get(ctx, "rekindle-agent", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("agent Deployment: %v", err)
		}
		return d.Spec.Template.Annotations["rekindle.dev/credentials-revision"]
	}

	// This version's install moves them out.
	if err := Install(ctx, c.Config, deployed(secrets[3], secrets[4])); err != nil {
		t.Fatal(err)
	}
	s := credential()
	if string(s.Data[keyGitToken]) != secrets[3] || string(s.Data[keyAgeKey]) != secrets[4] {
		t.Errorf("credentials Secret holds keys %v, not the new token and age key", keys(s.Data))
	}
	if _, ok := s.Data[keyGitUsername]; ok {
		t.Errorf("credentials Secret kept the old %s", keyGitUsername)
	}
	rev1 := annotation()
	if rev1 == "" || rev1 != s.ResourceVersion {
		t.Errorf("Deployment credentials-revision %q, Secret resourceVersion %s", rev1, s.ResourceVersion)
	}
	checkNoCredentialsInHelm(t, c, cs, secrets)

	// Installing again changes nothing.
	if err := Install(ctx, c.Config, deployed(secrets[3], secrets[4])); err != nil {
		t.Fatal(err)
	}
	if again := credential(); again.ResourceVersion != s.ResourceVersion {
		t.Errorf("an identical install rewrote the Secret (%s -> %s)", s.ResourceVersion, again.ResourceVersion)
	}

	// Rotation: a new token, no age key; the old ones are gone and the pod restarts.
	if err := Install(ctx, c.Config, deployed(secrets[5], "")); err != nil {
		t.Fatal(err)
	}
	s = credential()
	if string(s.Data[keyGitToken]) != secrets[5] || len(s.Data) != 1 {
		t.Errorf("after rotation the Secret holds keys %v, want only %s with the new token", keys(s.Data), keyGitToken)
	}
	if rev2 := annotation(); rev2 == rev1 || rev2 != s.ResourceVersion {
		t.Errorf("rotation: Deployment credentials-revision %q (was %q), Secret at %s", rev2, rev1, s.ResourceVersion)
	}
	checkNoCredentialsInHelm(t, c, cs, secrets)

	if out := logs.b.String(); containsAny(out, secrets) != "" {
		t.Errorf("a credential was logged (%q):\n%s", containsAny(out, secrets), out)
	}
	if err := Uninstall(ctx, c.Config); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Secrets(SystemNamespace).Get(ctx, CredentialsSecret, metav1.GetOptions{}); err == nil {
		t.Error("Uninstall left the credentials Secret")
	}
}

// checkNoCredentialsInHelm decodes every Helm release Secret of the cluster
// and reads `helm get values --all` (the SDK, and the helm CLI when
// REKINDLE_HELM names one).
func checkNoCredentialsInHelm(t *testing.T, c *testCluster, cs *kubernetes.Clientset, secrets []string) {
	t.Helper()
	if held := releaseSecretsHolding(t, cs, secrets); len(held) > 0 {
		t.Errorf("Helm release Secrets hold credentials: %v", held)
	}
	ac, err := helmConfig(c.Config, SystemNamespace, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	gv := action.NewGetValues(ac)
	gv.AllValues = true
	vals, err := gv.Run(ReleaseName)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(vals)
	if s := containsAny(string(out), secrets); s != "" {
		t.Errorf("helm get values --all shows %q:\n%s", s, out)
	}
	if helm := os.Getenv("REKINDLE_HELM"); helm != "" {
		cli, err := exec.Command(helm, "get", "values", "--all", "-n", SystemNamespace, ReleaseName, "--kubeconfig", c.Kubeconfig).CombinedOutput()
		if err != nil {
			t.Fatalf("helm get values: %v\n%s", err, cli)
		}
		if s := containsAny(string(cli), secrets); s != "" {
			t.Errorf("the helm CLI's get values shows %q", s)
		}
	}
}

// releaseSecretsHolding names the Helm release Secrets (owner=helm) whose
// decoded release holds one of secrets.
func releaseSecretsHolding(t *testing.T, cs *kubernetes.Clientset, secrets []string) []string {
	t.Helper()
	list, err := cs.CoreV1().Secrets("").List(t.Context(), metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) == 0 {
		t.Fatal("no Helm release Secret found: the check would pass vacuously")
	}
	var held []string
	for _, s := range list.Items {
		raw, err := base64.StdEncoding.DecodeString(string(s.Data["release"]))
		if err != nil {
			t.Fatalf("%s: release is not base64: %v", s.Name, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: release is not gzip: %v", s.Name, err)
		}
		js, err := io.ReadAll(zr)
		if err != nil || !json.Valid(js) {
			t.Fatalf("%s: release is not gzipped JSON: %v", s.Name, err)
		}
		// Credentials may sit in the values or, base64-encoded, in the manifest.
		text := string(js)
		for _, sec := range secrets {
			if strings.Contains(text, sec) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(sec))) {
				held = append(held, s.Name)
				break
			}
		}
	}
	return held
}

func containsAny(s string, subs []string) string {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return x
		}
	}
	return ""
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }
