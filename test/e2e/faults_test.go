package e2e

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/test/gitserver"
)

// TestAPIServerRestartDuringRun stops the apps cluster's kube-apiserver as
// its preflight starts, in the middle of its agent step, and in the middle
// of its replay, starts it again a few seconds later, and expects bootstrap
// to retry and finish.
func TestAPIServerRestartDuringRun(t *testing.T) {
	needParts(t)
	for _, tc := range []struct {
		step  string
		delay time.Duration
	}{{"preflight", 0}, {"agent", 0}, {"replay", 300 * time.Millisecond}} {
		t.Run(tc.step, func(t *testing.T) {
			state := t.TempDir()
			cleanupEnv(t, state, nil, "-b", example, "--env", "dev")
			run := startRun(t, state, "bootstrap", "create", "-b", example, "--env", "dev")
			// The step of the cluster whose API server is killed: the
			// clusters run side by side, so edge's may come first.
			run.until(tc.step, "dev-apps")
			time.Sleep(tc.delay)
			killAPIServer(t, state, "dev-apps")
			time.Sleep(3 * time.Second)
			if res := rk(t, state, nil, "cluster", "create", "--provider", "kwok", "--name", "dev-apps", "--nodes", "3"); res.code != 0 {
				t.Fatalf("restart dev-apps: exit %d", res.code)
			}
			if err := run.wait(); err != nil {
				t.Fatalf("bootstrap did not survive the API server restart: %v\n%s", err, run.log())
			}
			for _, c := range parseSummary(t, run.stdout.String()).Clusters {
				if !c.Ready || c.Healthy != c.Desired {
					t.Errorf("cluster %s: %d/%d healthy", c.Name, c.Healthy, c.Desired)
				}
			}
		})
	}
}

// killAPIServer SIGKILLs the kube-apiserver of a kwok cluster.
func killAPIServer(t *testing.T, state, name string) {
	t.Helper()
	for _, p := range processesUnder(filepath.Join(state, "clusters", "kwok", name)) {
		pid, rest, _ := strings.Cut(p, ": ")
		if !strings.Contains(strings.Fields(rest)[0], "kube-apiserver") {
			continue
		}
		n, _ := strconv.Atoi(pid)
		if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		t.Logf("killed kube-apiserver pid %d of %s", n, name)
		return
	}
	t.Fatalf("no kube-apiserver running for %s", name)
}

// TestGitDown: with the blueprint's Git server down, the agent keeps the
// cluster as it is and reports Stalled with the reason, and recover fails
// before touching anything, with one clear line.
func TestGitDown(t *testing.T) {
	needParts(t)
	base := t.TempDir()
	dir, _ := blueprintRepo(t, base, "fleet", example)
	bp := filepath.Join(dir, "rekindle.yaml")
	writeFile(t, bp, strings.Replace(readFile(t, bp), "interval: 30s", "interval: 2s", 1))
	gitserver.Commit(t, dir, "sync every 2s")
	backend, _ := url.Parse(gitserver.NewHTTP(t, base, ""))
	front := httptest.NewServer(httputil.NewSingleHostReverseProxy(backend))
	t.Cleanup(front.Close)
	src := front.URL + "/org/fleet"
	state := t.TempDir()
	cleanupEnv(t, state, nil, "-b", src, "--env", "dev")
	res := rk(t, state, nil, "-o", "json", "bootstrap", "create", "-b", src, "--env", "dev")
	if res.code != 0 {
		t.Fatalf("bootstrap: exit %d", res.code)
	}
	before := parseSummary(t, res.stdout)
	kubeconfig := before.Clusters[0].Kubeconfig
	front.Close() // the Git server goes down

	deadline := time.Now().Add(time.Minute)
	var stalled string
	for time.Now().Before(deadline) && stalled == "" {
		out, _ := exec.Command("kubectl", "--kubeconfig", kubeconfig, "get", "sync", "-n", "rekindle-system", "dev-apps",
			"-o", `jsonpath={.status.conditions[?(@.type=="Stalled")].status}/{.status.conditions[?(@.type=="Stalled")].message}`).Output()
		if s := string(out); strings.HasPrefix(s, "True/") {
			stalled = s
		}
		time.Sleep(time.Second)
	}
	if !strings.Contains(stalled, "fetch") {
		t.Fatalf("the agent did not report Stalled with the fetch failure within a minute (got %q)", stalled)
	}
	checkDeploymentAvailable(t, kubeconfig, "podinfo", "dev-podinfo", 2)

	rec := rk(t, state, nil, "recover", "-b", src, "--env", "dev")
	if rec.code != 1 {
		t.Errorf("recover with Git down: exit %d, want 1", rec.code)
	}
	if n := strings.Count(rec.stderr, "ERROR: "); n != 1 || !strings.Contains(rec.stderr, "ERROR: fetch: fetch \""+src) {
		t.Errorf("want one ERROR line naming the fetch of %s", src)
	}
	if strings.Contains(rec.stderr, `"step":"infra"`) || strings.Contains(rec.stderr, "infra") {
		t.Error("recover went past the fetch with Git down")
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Errorf("recover touched the cluster: %v", err)
	}
}

// TestHostAgentExitsDuringReplay: the host agent of a kwok cluster dies
// while the run waits for its replay (here a PersistentVolumeClaim that no
// provisioner binds keeps the replay waiting). Nobody would write the Sync
// again, so the run stops at once, naming the agent's log, instead of
// waiting out the replay timeout.
func TestHostAgentExitsDuringReplay(t *testing.T) {
	needParts(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rekindle.yaml"), `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: stuck}
spec:
  environments:
  - name: dev
    clusters:
    - name: stuck
      provider: kwok
      workloads:
      - {name: data, path: data, namespace: data}
`)
	writeFile(t, filepath.Join(dir, "data", "claim.yaml"), "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"+
		"spec: {accessModes: [ReadWriteOnce], storageClassName: nobody-provisions-this, resources: {requests: {storage: 1Gi}}}\n")
	state := t.TempDir()
	cleanupEnv(t, state, nil, "-b", dir, "--env", "dev")
	run := startRun(t, state, "bootstrap", "create", "-b", dir, "--env", "dev")
	run.until("replay", "")
	pidFile := filepath.Join(state, "envs", "stuck", "dev", "agents", "stuck.pid")
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the host agent's pid file: %v\n%s", err, run.log())
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	time.Sleep(time.Second) // the replay is waiting for the claim
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	err = run.wait()
	took := time.Since(killed)
	out := run.log()
	if err == nil || !strings.Contains(out, "the host agent exited during the replay") || !strings.Contains(out, "stuck.log") {
		t.Fatalf("bootstrap after the host agent died: %v, want a failure naming the agent's exit and log\n%s", err, out)
	}
	if took > 30*time.Second {
		t.Errorf("the run ended %s after the agent died, want within seconds", took.Round(time.Millisecond))
	}
	t.Logf("the run stopped %s after the host agent was killed", took.Round(time.Millisecond))
}
