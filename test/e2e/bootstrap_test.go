package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/test/gitserver"
)

const example = "../../blueprints/examples/local"

// TestBootstrapFromPrivateGit bootstraps the example from a private repo
// served over HTTP on loopback: Terraform output names a cluster, two kwok
// clusters come up, the agents replay every workload, verify passes; a second
// run changes nothing; destroy leaves only the Terraform state.
func TestBootstrapFromPrivateGit(t *testing.T) {
	needParts(t)
	base := t.TempDir()
	_, commit := blueprintRepo(t, base, "fleet", example)
	token := "tok-" + strings.ReplaceAll(t.Name(), "/", "-") + "-9f3a1c"
	url := gitserver.NewHTTP(t, base, token) + "/org/fleet"
	state := t.TempDir()
	env := []string{"REKINDLE_GIT_TOKEN=" + token}
	cleanupEnv(t, state, env, "-b", url, "--env", "dev")

	res := rk(t, state, env, "-o", "json", "bootstrap", "create", "-b", url, "--env", "dev")
	if res.code != 0 {
		t.Fatalf("bootstrap create: exit %d", res.code)
	}
	sum := parseSummary(t, res.stdout)
	if sum.Commit != commit {
		t.Errorf("summary commit = %q, want the repo's %q", sum.Commit, commit)
	}
	// dev-apps is named by a Terraform output; its 12 objects include the
	// Namespace rekindle creates for the Helm release it installs.
	want := map[string]int{"dev-apps": 12, "edge": 3}
	if len(sum.Clusters) != len(want) {
		t.Fatalf("clusters = %+v, want %v", sum.Clusters, want)
	}
	for _, c := range sum.Clusters {
		if n, ok := want[c.Name]; !ok || !c.Ready || c.Desired != n || c.Healthy != n {
			t.Errorf("cluster %s: ready=%t desired=%d healthy=%d, want %d ready and healthy", c.Name, c.Ready, c.Desired, c.Healthy, want[c.Name])
		}
	}
	apps := sum.Clusters[0].Kubeconfig
	checkDeploymentAvailable(t, apps, "podinfo", "dev-podinfo", 2)
	checkDeploymentAvailable(t, apps, "hello", "hello-hello", 2)
	checkHelmRelease(t, apps, "hello", "hello")
	checkHostAgentMetrics(t, state, env, url)

	for _, out := range []string{res.stdout, res.stderr} {
		if strings.Contains(out, token) {
			t.Errorf("the Git token appears in rekindle's output")
		}
	}
	checkNoSecretInFiles(t, state, token)

	again := rk(t, state, env, "-o", "json", "bootstrap", "create", "-b", url, "--env", "dev")
	if again.code != 0 {
		t.Fatalf("second bootstrap create: exit %d", again.code)
	}
	for _, c := range parseSummary(t, again.stdout).Clusters {
		if c.Kubeconfig == apps && c.APIServer != sum.Clusters[0].APIServer {
			t.Errorf("second run changed the API server of %s: a second cluster was created", c.Name)
		}
	}
	if !strings.Contains(again.stderr, `"status":"skipped"`) {
		t.Errorf("second run skipped no step:\n%s", again.stderr)
	}

	del := rk(t, state, env, "bootstrap", "destroy", "-b", url, "--env", "dev")
	if del.code != 0 {
		t.Fatalf("bootstrap destroy: exit %d", del.code)
	}
	checkDestroyed(t, state, "local") // metadata.name of the example
}

func checkDeploymentAvailable(t *testing.T, kubeconfig, ns, name string, replicas int32) {
	t.Helper()
	cs := clientset(t, kubeconfig)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var d *appsv1.Deployment
	var err error
	for ctx.Err() == nil {
		d, err = cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.AvailableReplicas == replicas {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("deployment %s/%s not available with %d replicas: %v %+v", ns, name, replicas, err, d)
}

func checkHelmRelease(t *testing.T, kubeconfig, ns, release string) {
	t.Helper()
	secrets, err := clientset(t, kubeconfig).CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil || len(secrets.Items) == 0 {
		t.Errorf("helm release %s/%s not found (helm list -A would not show it): %v", ns, release, err)
	}
}

func clientset(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// checkNoSecretInFiles greps the state dir's small files for a secret.
func checkNoSecretInFiles(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || fi.Size() > 1<<20 {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), secret) {
			t.Errorf("the Git token is written to %s", p)
		}
		return nil
	})
}

// checkDestroyed asserts no process, cluster or pipeline state is left,
// only the Terraform state (kept by design).
func checkDestroyed(t *testing.T, state, blueprint string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(processesUnder(state)) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range processesUnder(state) {
		t.Errorf("process left after destroy: %s", p)
	}
	if entries, _ := os.ReadDir(filepath.Join(state, "clusters", "kwok")); len(nonHidden(entries)) > 0 {
		t.Errorf("cluster state left after destroy: %v", nonHidden(entries))
	}
	envDir := filepath.Join(state, "envs", blueprint, "dev")
	if _, err := os.Stat(filepath.Join(envDir, "checkpoint.json")); err == nil {
		t.Error("checkpoint left after destroy")
	}
	tfstate := filepath.Join(envDir, "terraform", "terraform.tfstate")
	data, err := os.ReadFile(tfstate)
	if err != nil {
		t.Fatalf("the Terraform state must be kept: %v", err)
	}
	var st struct {
		Resources []any `json:"resources"`
	}
	if err := json.Unmarshal(data, &st); err != nil || len(st.Resources) != 0 {
		t.Errorf("terraform state after destroy: %d resources (err %v), want 0", len(st.Resources), err)
	}
}

func nonHidden(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// checkHostAgentMetrics reads where each host agent serves its metrics from
// rekindle status and scrapes them.
func checkHostAgentMetrics(t *testing.T, state string, env []string, url string) {
	t.Helper()
	st := rk(t, state, env, "-o", "json", "status", "-b", url, "--env", "dev")
	var status struct {
		Clusters []struct{ Name, Agent, Metrics string }
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(st.stdout)), &status); err != nil || len(status.Clusters) == 0 {
		t.Fatalf("status -o json: %v\n%s", err, st.stdout)
	}
	for _, c := range status.Clusters {
		if !strings.HasPrefix(c.Metrics, "http://127.0.0.1:") || !strings.HasSuffix(c.Metrics, "/metrics") {
			t.Errorf("cluster %s (%s): metrics at %q, want a loopback URL", c.Name, c.Agent, c.Metrics)
			continue
		}
		body := httpGet(t, c.Metrics, 200)
		if want := `rekindle_agent_passes_total{cluster="` + c.Name + `",result="success"}`; !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", c.Metrics, want)
		}
	}
	text := rk(t, state, env, "status", "-b", url, "--env", "dev")
	if !strings.Contains(text.stdout, "agent metrics at http://127.0.0.1:") {
		t.Errorf("rekindle status does not say where the metrics are:\n%s", text.stdout)
	}
}
