package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/test/gitserver"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
	"github.com/rekindle-dev/rekindle/test/registrytest"
)

// TestAgentRunsAsPod runs the agent as the kubelet would run its pod: the
// image rekindle builds, pushed to a real registry on loopback (Debian's
// docker-registry, TLS from a test CA), pulled and run by Docker with the
// ServiceAccount token from the TokenRequest API and the cluster CA mounted
// at /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST
// and _PORT, a read-only root filesystem, uid 65532, and the host network to
// reach a kwok API server. Inside, with agent.rbac: scoped rights, it
// replays the example's apps cluster from Git over HTTPS with a token (from
// the credentials Secret), writes its Sync status and serves /metrics; a
// write outside the allow-list with its token is refused by the API server.
func TestAgentRunsAsPod(t *testing.T) {
	needParts(t)
	needEngine(t)
	ctrllog.SetLogger(logr.Discard()) // the Applier's controller-runtime client

	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	state := t.TempDir()

	// A registry on loopback with TLS from a test CA, and the image pushed there.
	reg := registrytest.Start(t, registrytest.Options{})
	res := rk(t, state, nil, "-o", "json", "agent", "image", "--binary", rekindleBin, "--push", reg.Host+"/rekindle:e2e", "--ca-file", reg.CA.CAFile)
	if res.code != 0 {
		t.Fatalf("agent image: exit %d\n%s", res.code, res.stderr)
	}
	var built struct{ Digest, Reference string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(res.stdout)), &built); err != nil || !strings.HasSuffix(built.Reference, "@"+built.Digest) {
		t.Fatalf("agent image output %q: %v", res.stdout, err)
	}
	again := rk(t, state, nil, "-o", "json", "agent", "image", "--binary", rekindleBin)
	if !strings.Contains(again.stdout, built.Digest) {
		t.Errorf("a second build of the same binary gave another digest: %s, first %s", again.stdout, built.Digest)
	}
	docker(t, "pull", built.Reference)
	var inspect []struct {
		Config struct {
			User       string
			Entrypoint []string
		}
	}
	if err := json.Unmarshal([]byte(docker(t, "image", "inspect", built.Reference)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("docker image inspect: %v", err)
	}
	if c := inspect[0].Config; c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "/rekindle agent" {
		t.Errorf("pulled image runs %q as %q", c.Entrypoint, c.User)
	}

	// The blueprint in Git, behind a token.
	const token = "e2e-agent-token-s3cr3t"
	base := t.TempDir()
	repoDir, commit := blueprintRepo(t, base, "local", "../../blueprints/examples/local")
	gitURL := gitserver.NewHTTP(t, base, token) + "/org/local"
	outputs := map[string]any{"apps_cluster": "apps"}
	repo, err := blueprints.Load(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := repo.Render(ctx, "dev", "apps", blueprints.RenderOptions{Outputs: outputs})
	if err != nil {
		t.Fatal(err)
	}
	allow := allowFor(rc)

	// A kwok cluster with the chart's CRD, scoped RBAC and credentials Secret.
	kc := kwoktest.New(t, "rk-pod", 3)
	cfg := kc.Config
	if err := agent.Install(ctx, cfg, agent.InstallValues{SkipDeployment: true, GitToken: token, Scope: agent.ScopeFor(allow, rc), Log: t.Logf}); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cs.CoreV1().Secrets(agent.SystemNamespace).Get(ctx, agent.CredentialsSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// What the kubelet mounts for the pod's ServiceAccount.
	tr, err := cs.CoreV1().ServiceAccounts(agent.SystemNamespace).CreateToken(ctx, "rekindle-agent",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	sa := t.TempDir()
	os.Chmod(sa, 0o755)
	writeFile(t, filepath.Join(sa, "token"), tr.Status.Token)
	writeFile(t, filepath.Join(sa, "ca.crt"), string(cfg.CAData))
	writeFile(t, filepath.Join(sa, "namespace"), agent.SystemNamespace)
	etc := t.TempDir()
	os.Chmod(etc, 0o755)
	out, _ := json.Marshal(outputs)
	writeFile(t, filepath.Join(etc, "outputs.json"), string(out))
	api, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	metricsPort := freeLoopbackPort(t)
	container := "rekindle-agent-" + kc.Name
	run := exec.CommandContext(ctx, "docker", "run", "-d", "--name", container,
		"--network", "host", "--read-only", "--tmpfs", "/tmp:rw,mode=1777", "--user", "65532:65532",
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"-v", sa+":/var/run/secrets/kubernetes.io/serviceaccount:ro",
		"-v", etc+":/etc/rekindle:ro",
		"-e", "KUBERNETES_SERVICE_HOST="+api.Hostname(), "-e", "KUBERNETES_SERVICE_PORT="+api.Port(),
		"-e", "REKINDLE_GIT_TOKEN", // from the credentials Secret, as secretKeyRef would
		built.Reference,
		"--blueprint", gitURL, "--env", "dev", "--cluster", "apps", "--interval", "5s",
		"--outputs-file", "/etc/rekindle/outputs.json", "--metrics-address", fmt.Sprintf("127.0.0.1:%d", metricsPort))
	run.Env = append(os.Environ(), "REKINDLE_GIT_TOKEN="+string(creds.Data["git-token"]))
	if b, err := run.CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, b)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("docker", "logs", container).CombinedOutput()
			t.Logf("agent container logs:\n%s", logs)
		}
		_ = exec.Command("docker", "rm", "-f", container).Run()
	})

	// Its Sync status says Ready at the blueprint's commit.
	ap, err := agent.NewApplier(cfg, agent.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		s, err := ap.GetSync(ctx, "apps")
		if err == nil {
			if c := s.Condition(agent.ConditionReady); c != nil && c.Status == metav1.ConditionTrue && s.Status.LastAppliedCommit == commit {
				t.Logf("Sync Ready at %.12s: %d/%d healthy", commit, s.Status.Healthy, s.Status.Desired)
				// The agent renders against the live cluster (Namespaces that
				// already exist are not created), so its count may differ from
				// this render's by those.
				if s.Status.Desired < len(rc.AllObjects())-3 || s.Status.Healthy != s.Status.Desired {
					t.Errorf("Sync counts %d desired, %d healthy; this render has %d objects", s.Status.Desired, s.Status.Healthy, len(rc.AllObjects()))
				}
				break
			}
		}
		if time.Now().After(deadline) {
			st, _ := exec.Command("docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", container).CombinedOutput()
			t.Fatalf("no Ready Sync within 5m (last: %v; container %s)", err, strings.TrimSpace(string(st)))
		}
		time.Sleep(2 * time.Second)
	}

	// /metrics and the probes, from the container on the host network.
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d", metricsPort)
	body := httpGet(t, metricsURL+"/metrics", http.StatusOK)
	for _, want := range []string{
		`rekindle_agent_last_applied_commit_info{cluster="apps",commit="` + commit + `"} 1`,
		`rekindle_agent_ready{cluster="apps"} 1`,
		`rekindle_agent_workload_objects_applied{cluster="apps",workload="hello"}`,
		`rekindle_agent_pass_duration_seconds_count{cluster="apps",result="success"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	httpGet(t, metricsURL+"/readyz", http.StatusOK)
	httpGet(t, metricsURL+"/healthz", http.StatusOK)

	// Its token may not write outside the allow-list: the API server refuses.
	saCfg := &rest.Config{Host: cfg.Host, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData}}
	saClient, err := kubernetes.NewForConfig(saCfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = saClient.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "outside-allow-list"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("the agent's token wrote kube-system/outside-allow-list: %v, want Forbidden", err)
	}
	if logs, _ := exec.Command("docker", "logs", container).CombinedOutput(); strings.Contains(string(logs), token) {
		t.Error("the agent logged the Git token")
	}
}

// allowFor is an allow-list covering exactly what rc holds.
func allowFor(rc *blueprints.RenderedCluster) *blueprints.Allow {
	ns, kinds := map[string]bool{}, map[string]bool{}
	for _, o := range rc.AllObjects() {
		switch {
		case o.GetKind() == "Namespace":
			ns[o.GetName()] = true
		case o.GetNamespace() != "":
			ns[o.GetNamespace()] = true
		default:
			kinds[o.GetKind()] = true
		}
	}
	a := &blueprints.Allow{}
	for n := range ns {
		a.Namespaces = append(a.Namespaces, n)
	}
	for k := range kinds {
		a.ClusterScopedKinds = append(a.ClusterScopedKinds, k)
	}
	sort.Strings(a.Namespaces)
	sort.Strings(a.ClusterScopedKinds)
	return a
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func httpGet(t *testing.T, u string, want int) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("GET %s: %d, want %d: %s", u, resp.StatusCode, want, b)
	}
	return string(b)
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func ptr[T any](v T) *T { return &v }
