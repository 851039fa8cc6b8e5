package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/ssa/utils"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekindle-dev/rekindle/bootstrap/flux"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kind"
	"github.com/rekindle-dev/rekindle/recovery"
	"github.com/rekindle-dev/rekindle/test/gitserver"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// TestFluxOnKind rebuilds the Flux cluster of the Flux e2e (a repo laid out
// by `flux bootstrap`, a private Git repo, dependsOn, a HelmRelease from a
// HelmRepository, a SOPS Secret) on a real kind cluster, where Flux's
// controllers are the pods of gotk-components: their images, built here
// from the static controller binaries by hack/install-flux.sh and tagged
// as gotk-components names them, are loaded into the node before
// gotk-components is applied; nothing is pulled. Git and the chart server
// listen on the Docker bridge's gateway, which the pods reach. bootstrap,
// the pods Running and Ready, verify, a drill whose RTO holds Flux's phases,
// destroy.
func TestFluxOnKind(t *testing.T) {
	needFlux(t)
	needKind(t)
	needFluxImages(t)
	gw := dockerGateway(t)
	base, state, reports := t.TempDir(), t.TempDir(), t.TempDir()
	id, keyFile := ageKeyFile(t, t.TempDir(), "key.txt")
	secret, token := "decrypted-"+randomHex(t), randomHex(t)
	gitURL := gitserver.NewHTTPOn(t, base, token, gw) + "/org/flux"
	commit := fluxRepo(t, base, gitURL, podinfoRepoOn(t, "6.5.0", gw), ">=6.0.0", id.Recipient().String(), secret, state,
		fileEdit{"rekindle.yaml", "provider: kwok", "provider: kind"},
		fileEdit{"apps/dev/podinfo-values.yaml", "    replicaCount: 2", "    replicaCount: 2\n    image: " + helloImageRef})
	hello := helloImage(t)
	env := []string{"REKINDLE_GIT_TOKEN=" + token, "SOPS_AGE_KEY_FILE=" + keyFile}
	var outputs []string
	run := func(args ...string) result {
		t.Helper()
		res := rk(t, state, env, args...)
		outputs = append(outputs, res.stdout, res.stderr)
		return res
	}
	t.Cleanup(func() { deleteKindCluster(t, state, "flux-dev") })
	cleanupEnv(t, state, env, "-b", gitURL, "-e", "dev")

	start := time.Now()
	res := run("bootstrap", "create", "-b", gitURL, "-e", "dev", "--load-image", hello, "--output", "json")
	kubeconfig := filepath.Join(state, "clusters", "kind", "flux-dev", "kubeconfig")
	if res.code != 0 {
		logFluxPods(t, kubeconfig)
		t.Fatalf("bootstrap create on kind: exit %d", res.code)
	}
	t.Logf("bootstrap on kind took %s", time.Since(start).Round(time.Millisecond))
	sum := parseSummary(t, res.stdout)
	if sum.Commit != commit || len(sum.Clusters) != 1 || !sum.Clusters[0].Ready {
		t.Fatalf("summary: %+v, want commit %s and one ready cluster", sum, commit)
	}
	logFluxTimes(t, res.stderr)
	if !strings.Contains(res.stderr, "3 Flux image(s) loaded into the nodes") {
		t.Errorf("bootstrap did not load the 3 controller images into the node")
	}
	checkFluxPods(t, kubeconfig)
	checkDeploymentAvailable(t, kubeconfig, "podinfo", "podinfo", 2)
	checkHelmRelease(t, kubeconfig, "podinfo", "podinfo")
	s, err := clientset(t, kubeconfig).CoreV1().Secrets("podinfo").Get(t.Context(), "podinfo-credentials", metaGet)
	if err != nil || string(s.Data["token"]) != secret {
		t.Errorf("Secret podinfo/podinfo-credentials not decrypted by kustomize-controller's pod: %v", err)
	}
	if pids := fluxPids(t, state); len(pids) != 0 {
		t.Errorf("host-process controllers %v run beside a kind cluster", pids)
	}
	res = run("status", "-b", gitURL, "-e", "dev")
	for _, want := range []string{"Flux in cluster", "HelmRelease/podinfo/podinfo"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, res.stdout)
		}
	}
	if res = run("verify", "-b", gitURL, "-e", "dev"); res.code != 0 {
		t.Fatalf("verify: exit %d\n%s", res.code, res.stdout)
	}

	// Lose the cluster, recover it (a new kind cluster, the images loaded
	// again, Flux reinstalled, the tree reconciled), verify.
	res = run("drill", "-b", gitURL, "-e", "dev", "--report-dir", reports, "--keep", "--load-image", hello)
	if res.code != 0 {
		logFluxPods(t, kubeconfig)
		t.Fatalf("drill on kind: exit %d", res.code)
	}
	var rep recovery.DrillReport
	data, err := os.ReadFile(filepath.Join(reports, "drill.json"))
	if err != nil || json.Unmarshal(data, &rep) != nil || !rep.Passed || rep.Recovery == nil {
		t.Fatalf("drill.json: %v, passed %v", err, rep.Passed)
	}
	var names []string
	for _, p := range rep.Recovery.Phases {
		names = append(names, p.Name)
		t.Logf("  recovery phase %-16s %8s", p.Name, p.Duration.Round(10*time.Millisecond))
	}
	t.Logf("Flux drill on kind: RTO %s", rep.Recovery.Total.Round(10*time.Millisecond))
	for _, want := range []string{"flux-install", "flux-source", "flux-reconciled", "verify"} {
		if !slices.Contains(names, want) {
			t.Errorf("the drill's RTO phases %v lack %s", names, want)
		}
	}
	logFluxTimes(t, res.stderr)
	checkFluxPods(t, kubeconfig)

	if res = run("bootstrap", "destroy", "-b", gitURL, "-e", "dev"); res.code != 0 {
		t.Fatalf("destroy: exit %d", res.code)
	}
	if out, _ := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster=flux-dev", "-q").Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("the kind cluster's node containers remain after destroy: %s", out)
	}
	for _, o := range outputs {
		if strings.Contains(o, secret) {
			t.Error("an output holds the decrypted value")
		}
	}
	grepFiles(t, reports, "", []string{secret})
}

// TestFluxUninstallOnExistingKindCluster: on a cluster rekindle does not own
// (a kind cluster created here, as someone else's, its nodes holding the
// images), bootstrap installs Flux and reconciles the tree, and `bootstrap
// destroy` removes Flux as `flux uninstall` does: the Flux objects and CRDs
// and the flux-system Namespace go, what Flux applied (podinfo) and the
// cluster stay.
func TestFluxUninstallOnExistingKindCluster(t *testing.T) {
	needFlux(t)
	needKind(t)
	needFluxImages(t)
	gw := dockerGateway(t)
	owner := t.TempDir() // the cluster's own state, not rekindle's
	p, err := kind.New(kind.Options{StateDir: owner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKindCluster(t, owner, "flux-legacy") })
	info, err := p.Create(t.Context(), cluster.Spec{Name: "flux-legacy"})
	if err != nil {
		t.Fatal(err)
	}
	loader := p.(cluster.ImageLoader)
	for _, a := range append(fluxImageArchives(t), helloImage(t)) {
		if err := loader.LoadImageArchive(t.Context(), "flux-legacy", a); err != nil {
			t.Fatal(err)
		}
	}
	base, state := t.TempDir(), t.TempDir()
	id, keyFile := ageKeyFile(t, t.TempDir(), "key.txt")
	token := randomHex(t)
	gitURL := gitserver.NewHTTPOn(t, base, token, gw) + "/org/flux"
	fluxRepo(t, base, gitURL, podinfoRepoOn(t, "6.5.0", gw), ">=6.0.0", id.Recipient().String(), "s-"+randomHex(t), state,
		fileEdit{"rekindle.yaml", "provider: kwok", "provider: existing\n          existing: {kubeconfig: " + info.Kubeconfig + "}"},
		fileEdit{"apps/dev/podinfo-values.yaml", "    replicaCount: 2", "    replicaCount: 2\n    image: " + helloImageRef})
	env := []string{"REKINDLE_GIT_TOKEN=" + token, "SOPS_AGE_KEY_FILE=" + keyFile}
	if res := rk(t, state, env, "bootstrap", "create", "-b", gitURL, "-e", "dev"); res.code != 0 {
		logFluxPods(t, info.Kubeconfig)
		t.Fatalf("bootstrap create on an existing kind cluster: exit %d", res.code)
	}
	checkFluxPods(t, info.Kubeconfig)
	if res := rk(t, state, env, "verify", "-b", gitURL, "-e", "dev"); res.code != 0 {
		t.Fatalf("verify: exit %d\n%s", res.code, res.stdout)
	}
	start := time.Now()
	if res := rk(t, state, env, "bootstrap", "destroy", "-b", gitURL, "-e", "dev"); res.code != 0 {
		t.Fatalf("destroy: exit %d", res.code)
	}
	t.Logf("destroy (Flux uninstalled) took %s", time.Since(start).Round(time.Millisecond))
	cs := clientset(t, info.Kubeconfig)
	// The Namespace goes once its pods have ended (kubelet, up to their grace).
	var nsErr error
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if _, nsErr = cs.CoreV1().Namespaces().Get(t.Context(), flux.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(nsErr) {
			break
		}
	}
	if !apierrors.IsNotFound(nsErr) {
		t.Errorf("Namespace %s still there after destroy: %v", flux.Namespace, nsErr)
	}
	groups, err := cs.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		if strings.HasSuffix(g.Name, ".toolkit.fluxcd.io") {
			t.Errorf("API group %s still served after destroy: the Flux CRDs remain", g.Name)
		}
	}
	// What Flux applied stays, as after `flux uninstall`.
	checkDeploymentAvailable(t, info.Kubeconfig, "podinfo", "podinfo", 2)
	if got, err := p.Get(t.Context(), "flux-legacy"); err != nil || got.State != cluster.Running {
		t.Errorf("the existing cluster after destroy: %v %v, want it running", got.State, err)
	}
}

// needFluxImages skips (fails in CI) without the controllers' images that
// hack/install-flux.sh builds for the fixture's gotk-components.
func needFluxImages(t *testing.T) {
	t.Helper()
	fluxImageArchives(t)
}

// fluxImageArchives are the tools cache's archives of the images the e2e
// fixture's gotk-components names.
func fluxImageArchives(t *testing.T) []string {
	t.Helper()
	objs, err := utils.ReadObjects(strings.NewReader(readFile(t, "testdata/flux/gotk-components.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	local, missing, err := flux.LocalImages(&flux.Layout{Components: objs})
	if err == nil && len(missing) > 0 {
		err = errors.New(strings.Join(missing, ", ") + " not in " + flux.ImageDir() + ": run hack/install-flux.sh")
	}
	if err != nil {
		testenv.Need(t, "the Flux controllers' images", err)
	}
	var out []string
	for _, l := range local {
		out = append(out, l.Archive)
	}
	return out
}

// checkFluxPods: the three controllers run as pods of their loaded images,
// Running and Ready, in flux-system.
func checkFluxPods(t *testing.T, kubeconfig string) {
	t.Helper()
	pods, err := clientset(t, kubeconfig).CoreV1().Pods(flux.Namespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := map[string]bool{}
	for _, p := range pods.Items {
		ok := p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) > 0
		for _, c := range p.Status.ContainerStatuses {
			ok = ok && c.Ready
		}
		img := p.Spec.Containers[0].Image
		t.Logf("Flux pod %s: %s, ready %v, image %s", p.Name, p.Status.Phase, ok, img)
		for _, c := range flux.Controllers {
			if ok && strings.HasPrefix(img, "ghcr.io/fluxcd/"+c+":") {
				ready[c] = true
			}
		}
	}
	for _, c := range flux.Controllers {
		if !ready[c] {
			t.Errorf("no %s pod Running and Ready in %s", c, flux.Namespace)
		}
	}
}

// logFluxPods puts the Flux pods' states and the end of their logs in the test log.
func logFluxPods(t *testing.T, kubeconfig string) {
	t.Helper()
	if _, err := os.Stat(kubeconfig); err != nil {
		return
	}
	cs := clientset(t, kubeconfig)
	pods, err := cs.CoreV1().Pods(flux.Namespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Logf("list Flux pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		t.Logf("pod %s: %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses)
		tail := int64(30)
		data, _ := cs.CoreV1().Pods(flux.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(t.Context())
		t.Logf("%s log (end):\n%s", p.Name, data)
	}
}

// fluxTimes are the lines that say how long Flux's install took on kind.
var fluxTimes = regexp.MustCompile(`(?m)^.*(Flux image\(s\) loaded into the nodes|load image into|available after|Flux object\(s\) Ready at).*$`)

func logFluxTimes(t *testing.T, stderr string) {
	t.Helper()
	for _, l := range fluxTimes.FindAllString(stderr, -1) {
		t.Logf("  %s", strings.TrimSpace(l))
	}
}
