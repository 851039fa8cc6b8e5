package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/flux"
)

// TestFluxClusterLifecycle rebuilds a cluster whose repo `flux bootstrap`
// laid out, with the real Flux controllers (host processes against kwok):
// a private Git repo on loopback, infrastructure and apps Kustomizations
// linked by dependsOn, a HelmRelease from a HelmRepository on loopback and a
// SOPS Secret that kustomize-controller decrypts with the age key rekindle
// placed. bootstrap, status, verify, a drill (lose, recover, verify) whose
// report holds Flux's RTO phases, and destroy, which stops the controllers.
// The decrypted value appears in no output or report.
func TestFluxClusterLifecycle(t *testing.T) {
	needFlux(t)
	base, state, reports := t.TempDir(), t.TempDir(), t.TempDir()
	id, keyFile := ageKeyFile(t, t.TempDir(), "key.txt")
	secret, token := "decrypted-"+randomHex(t), randomHex(t)
	gitURL := gitServerURL(t, base, token) + "/org/flux"
	commit := fluxRepo(t, base, gitURL, podinfoRepo(t, "6.5.0"), ">=6.0.0", id.Recipient().String(), secret, state)
	env := []string{"REKINDLE_GIT_TOKEN=" + token, "SOPS_AGE_KEY_FILE=" + keyFile}
	var outputs []string
	run := func(args ...string) result {
		t.Helper()
		res := rk(t, state, env, args...)
		outputs = append(outputs, res.stdout, res.stderr)
		return res
	}
	cleanupEnv(t, state, env, "-b", gitURL, "-e", "dev")

	res := run("bootstrap", "create", "-b", gitURL, "-e", "dev", "--output", "json")
	if res.code != 0 {
		logFluxControllers(t, state)
		t.Fatalf("bootstrap create: exit %d", res.code)
	}
	sum := parseSummary(t, res.stdout)
	if sum.Commit != commit || len(sum.Clusters) != 1 || !sum.Clusters[0].Ready {
		t.Fatalf("summary: %+v, want commit %s and one ready cluster", sum, commit)
	}
	kubeconfig := sum.Clusters[0].Kubeconfig
	// Flux's own work, read back from the cluster: the HelmRelease installed
	// the chart with the dev values, and the Secret holds the plaintext.
	checkDeploymentAvailable(t, kubeconfig, "podinfo", "podinfo", 2)
	checkHelmRelease(t, kubeconfig, "podinfo", "podinfo")
	s, err := clientset(t, kubeconfig).CoreV1().Secrets("podinfo").Get(t.Context(), "podinfo-credentials", metaGet)
	if err != nil || string(s.Data["token"]) != secret {
		t.Errorf("Secret podinfo/podinfo-credentials not decrypted by Flux: %v", err)
	}
	if st, msg, _ := fluxCondition(t, kubeconfig, flux.GitRepository, "flux-system", "flux-system", "Ready"); st != "True" || !strings.Contains(msg, commit) {
		t.Errorf("GitRepository Ready=%s %q, want True at %s", st, msg, commit)
	}
	pids := fluxPids(t, state)
	if len(pids) != len(flux.Controllers) {
		t.Fatalf("host-process controllers %v, want %v", pids, flux.Controllers)
	}

	res = run("status", "-b", gitURL, "-e", "dev")
	t.Logf("status:\n%s", res.stdout)
	for _, want := range []string{"Kustomization/flux-system/flux-system", "Kustomization/flux-system/apps", "HelmRelease/podinfo/podinfo", "Flux host processes (3 of 3"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, res.stdout)
		}
	}
	if res = run("verify", "-b", gitURL, "-e", "dev"); res.code != 0 {
		t.Fatalf("verify: exit %d\n%s", res.code, res.stdout)
	}
	// The controllers die (a reboot of this machine): recover finds them
	// gone on a running cluster and starts them again.
	if err := (flux.HostControllers{Dir: fluxDir(state)}).Stop(); err != nil {
		t.Fatal(err)
	}
	res = run("recover", "-b", gitURL, "-e", "dev")
	if res.code != 0 || !strings.Contains(res.stderr, "0 of 3 Flux controllers run on this machine") {
		t.Fatalf("recover after the controllers stopped: exit %d", res.code)
	}
	if got := fluxPids(t, state); len(got) != len(flux.Controllers) {
		logFluxControllers(t, state)
		t.Fatalf("after recover the controllers are %v", got)
	}

	res = run("drill", "-b", gitURL, "-e", "dev", "--report-dir", reports, "--keep", "--output", "json")
	if res.code != 0 {
		logFluxControllers(t, state)
		t.Fatalf("drill: exit %d", res.code)
	}
	var rep struct {
		Passed   bool `json:"passed"`
		Recovery struct {
			Total  time.Duration `json:"total"`
			Phases []struct {
				Name     string        `json:"name"`
				Duration time.Duration `json:"duration"`
			} `json:"phases"`
		} `json:"recovery"`
	}
	data, err := os.ReadFile(filepath.Join(reports, "drill.json"))
	if err != nil || json.Unmarshal(data, &rep) != nil || !rep.Passed {
		t.Fatalf("drill.json: %v, passed %v", err, rep.Passed)
	}
	var names []string
	var added time.Duration
	for _, p := range rep.Recovery.Phases {
		names = append(names, p.Name)
		added += p.Duration
	}
	for _, want := range []string{"flux-install", "flux-source", "flux-reconciled", "verify"} {
		if !slices.Contains(names, want) {
			t.Errorf("the drill's RTO phases %v lack %s", names, want)
		}
	}
	if d := added - rep.Recovery.Total; d > time.Millisecond || d < -time.Millisecond {
		t.Errorf("phases add up to %s, the RTO is %s", added, rep.Recovery.Total)
	}
	t.Logf("Flux drill: RTO %s, phases %v", rep.Recovery.Total, names)
	if got := fluxPids(t, state); len(got) != len(flux.Controllers) || slices.Equal(mapValues(got), mapValues(pids)) {
		t.Errorf("after the drill the controllers are %v (before %v): want all three, restarted", got, pids)
	}
	if res = run("verify", "-b", gitURL, "-e", "dev"); res.code != 0 {
		t.Errorf("verify after the drill: exit %d\n%s", res.code, res.stdout)
	}

	// Nor do the controllers' logs (the artifact storage holds the repo,
	// encrypted, and is left out).
	if n := grepFiles(t, fluxDir(state), filepath.Join(fluxDir(state), "storage"), []string{secret}); n < len(flux.Controllers) {
		t.Errorf("only %d file(s) checked in %s", n, fluxDir(state))
	}
	pids = fluxPids(t, state)
	if res = run("bootstrap", "destroy", "-b", gitURL, "-e", "dev"); res.code != 0 {
		t.Fatalf("destroy: exit %d", res.code)
	}
	for c, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil && !zombie(pid) {
			t.Errorf("%s (pid %d) still runs after destroy", c, pid)
		}
	}
	for _, o := range outputs {
		if strings.Contains(o, secret) {
			t.Error("an output holds the decrypted value")
		}
	}
	grepFiles(t, reports, "", []string{secret})
}

// TestFluxBrokenHelmReleaseFailsFast asks for a chart version the
// HelmRepository does not have: bootstrap must stop within 30 s of Flux
// reporting it, naming the HelmRelease and Flux's message.
func TestFluxBrokenHelmReleaseFailsFast(t *testing.T) {
	needFlux(t)
	base, state := t.TempDir(), t.TempDir()
	id, keyFile := ageKeyFile(t, t.TempDir(), "key.txt")
	token := randomHex(t)
	gitURL := gitServerURL(t, base, token) + "/org/flux"
	fluxRepo(t, base, gitURL, podinfoRepo(t, "6.5.0"), "9.9.9", id.Recipient().String(), "s-"+randomHex(t), state)
	env := []string{"REKINDLE_GIT_TOKEN=" + token, "SOPS_AGE_KEY_FILE=" + keyFile}
	cleanupEnv(t, state, env, "-b", gitURL, "-e", "dev")
	res := rk(t, state, env, "bootstrap", "create", "-b", gitURL, "-e", "dev", "--timeout", "5m")
	ended := time.Now()
	if res.code == 0 {
		t.Fatal("bootstrap with a chart version that does not exist succeeded")
	}
	if !strings.Contains(res.stderr, "HelmRelease/podinfo/podinfo") || !strings.Contains(res.stderr, "9.9.9") {
		t.Errorf("the failure does not name the HelmRelease and Flux's message:\n%s", res.stderr)
	}
	kubeconfig := filepath.Join(state, "clusters", "kwok", "flux-dev", "kubeconfig")
	st, msg, at := fluxCondition(t, kubeconfig, flux.HelmChart, "flux-system", "podinfo-podinfo", "Stalled")
	if st != "True" {
		t.Fatalf("HelmChart flux-system/podinfo-podinfo Stalled=%q (%s), want True", st, msg)
	}
	// lastTransitionTime has second precision.
	if late := ended.Sub(at); late > 31*time.Second {
		t.Errorf("bootstrap ended %s after Flux reported the chart missing (at %s), want within 30s", late.Round(time.Second), at)
	} else {
		t.Logf("bootstrap stopped %s after Flux stalled the HelmChart", late.Round(time.Millisecond))
	}
}
