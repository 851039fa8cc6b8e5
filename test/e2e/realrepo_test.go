package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekindle-dev/rekindle/test/gitserver"
)

const createdNamespaceLabel = "rekindle.dev/created-namespace"

// The guestbook of the Argo CD example apps, as it is there: a Deployment
// and a Service with no metadata.namespace and no Namespace object.
const (
	guestbookDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook-ui
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector:
    matchLabels: {app: guestbook-ui}
  template:
    metadata:
      labels: {app: guestbook-ui}
    spec:
      containers:
      - image: gcr.io/heptio-images/ks-guestbook-demo:0.2
        name: guestbook-ui
        ports:
        - containerPort: 80
`
	guestbookService = `apiVersion: v1
kind: Service
metadata:
  name: guestbook-ui
spec:
  ports:
  - port: 80
    targetPort: 80
  selector:
    app: guestbook-ui
`
	catalogConfig = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: catalog}\ndata: {items: \"42\"}\n"
)

// podinfoBase is a kustomize base in another Git repository, at image tag.
func podinfoBase(tag string) map[string]string {
	return map[string]string{
		"kustomize/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
		"kustomize/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo}
spec:
  replicas: 2
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec:
      containers:
      - {name: podinfod, image: "ghcr.io/stefanprodan/podinfo:` + tag + `", ports: [{name: http, containerPort: 9898}]}
`,
		"kustomize/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: podinfo}\nspec:\n  selector: {app: podinfo}\n  ports: [{name: http, port: 9898, targetPort: http}]\n",
	}
}

// realRepoBlueprint is rekindle.yaml for the app repo; catalog adds the
// workload that targets the Namespace made by hand, guestbook the one
// whose Namespace rekindle creates.
func realRepoBlueprint(helmRepo, ociChart string, guestbook, catalog bool) string {
	s := `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata: {name: realrepo}
spec:
  environments:
  - name: dev
    recovery: {rto: 10m}
    clusters:
    - name: rr-apps
      provider: kwok
      agent: {interval: 5s}
      workloads:
`
	if guestbook {
		s += "      - {name: guestbook, path: guestbook, namespace: guestbook}\n"
	}
	if catalog {
		s += "      - {name: catalog, path: catalog, namespace: shop}\n"
	}
	return s + `      - name: cache
        helm: {repo: "` + helmRepo + `", chart: cache, version: "^1.0", namespace: cache}
      - name: queue
        helm: {chart: "` + ociChart + `", version: "~2.1", caFile: certs/registry-ca.pem, namespace: queue}
      - {name: podinfo, path: podinfo/overlays/dev, namespace: podinfo}
`
}

// TestRealRepoReplaysAsItIs bootstraps on kwok a blueprint shaped like the
// app repos nobody here wrote: a plain guestbook directory with no
// namespace anywhere, a chart from an https Helm repository (basic auth,
// test CA), one from an OCI registry, and a kustomize overlay whose base
// is a Git URL on loopback. It verifies clean and survives a drill; then a
// workload that targets a Namespace made by hand is added, and removing
// the workloads prunes the Namespace rekindle created but keeps that one.
func TestRealRepoReplaysAsItIs(t *testing.T) {
	needParts(t)
	helmRepo := newHelmRepoServer(t, "cache")
	oci := newOCIServer(t, "queue")

	base := t.TempDir()
	token := "tok-realrepo-" + filepath.Base(t.TempDir())
	gitURL := gitserver.NewHTTP(t, base, token)
	baseRepo := filepath.Join(base, "org", "podinfo-base")
	gitserver.InitRepo(t, baseRepo)
	for p, c := range podinfoBase("6.0.0") {
		gitserver.WriteFile(t, baseRepo, p, c)
	}
	gitserver.Commit(t, baseRepo, "podinfo 6.0.0")
	gitserver.Git(t, baseRepo, "tag", "v6.0.0")
	for p, c := range podinfoBase("6.9.9") {
		gitserver.WriteFile(t, baseRepo, p, c)
	}
	gitserver.Commit(t, baseRepo, "podinfo 6.9.9, after the pinned tag")

	app := filepath.Join(base, "org", "apps")
	gitserver.InitRepo(t, app)
	ociChart := oci.URL + "/queue"
	write := func(guestbook, catalog bool) {
		gitserver.WriteFile(t, app, "rekindle.yaml", realRepoBlueprint(helmRepo.URL, ociChart, guestbook, catalog))
	}
	write(true, false)
	gitserver.WriteFile(t, app, "guestbook/guestbook-ui-deployment.yaml", guestbookDeployment)
	gitserver.WriteFile(t, app, "guestbook/guestbook-ui-svc.yaml", guestbookService)
	gitserver.WriteFile(t, app, "catalog/configmap.yaml", catalogConfig)
	gitserver.WriteFile(t, app, "certs/registry-ca.pem", readFile(t, oci.CAFile))
	gitserver.WriteFile(t, app, "podinfo/overlays/dev/kustomization.yaml",
		"resources:\n- "+gitURL+"/org/podinfo-base//kustomize?ref=v6.0.0\nnamePrefix: dev-\n")
	gitserver.Commit(t, app, "apps")
	url := gitURL + "/org/apps"

	state := t.TempDir()
	env := append(append([]string{"REKINDLE_GIT_TOKEN=" + token, "REKINDLE_HELM_CA_FILE=" + helmRepo.CAFile}, helmRepo.Env...), oci.Env...)
	args := []string{"-b", url, "--env", "dev"}
	cleanupEnv(t, state, env, args...)
	secrets := []string{token, value(helmRepo.Env[1]), value(oci.Env[0])}

	res := rk(t, state, env, append([]string{"-o", "json", "bootstrap", "create"}, args...)...)
	if res.code != 0 {
		t.Fatalf("bootstrap create: exit %d", res.code)
	}
	noSecrets(t, res, secrets)
	sum := parseSummary(t, res.stdout)
	if len(sum.Clusters) != 1 || !sum.Clusters[0].Ready || sum.Clusters[0].Healthy != sum.Clusters[0].Desired {
		t.Fatalf("summary clusters = %+v, want rr-apps ready and every object healthy", sum.Clusters)
	}
	kc := sum.Clusters[0].Kubeconfig
	for _, ns := range []string{"guestbook", "cache", "queue", "podinfo"} {
		if n := getNamespace(t, kc, ns); n == nil || n.Labels[createdNamespaceLabel] != "true" {
			t.Errorf("namespace %s = %v, want it created by rekindle (label %s)", ns, n, createdNamespaceLabel)
		}
	}
	checkDeploymentAvailable(t, kc, "guestbook", "guestbook-ui", 1)
	checkDeploymentAvailable(t, kc, "cache", "cache", 1)
	checkDeploymentAvailable(t, kc, "queue", "queue", 1)
	checkDeploymentAvailable(t, kc, "podinfo", "dev-podinfo", 2)
	checkHelmRelease(t, kc, "cache", "cache")
	checkHelmRelease(t, kc, "queue", "queue")
	checkChartConfig(t, kc, "cache", "cache", "1.1.0") // ^1.0 resolves to the highest 1.x
	checkChartConfig(t, kc, "queue", "queue", "2.1.0")
	for _, lib := range [][2]string{{"cache", "cache-lib"}, {"queue", "queue-lib"}} {
		if _, err := clientset(t, kc).CoreV1().ConfigMaps(lib[0]).Get(context.Background(), lib[1], metav1.GetOptions{}); err != nil {
			t.Errorf("the chart dependency's ConfigMap %s/%s: %v", lib[0], lib[1], err)
		}
	}
	d, err := clientset(t, kc).AppsV1().Deployments("podinfo").Get(context.Background(), "dev-podinfo", metav1.GetOptions{})
	if err != nil || d.Spec.Template.Spec.Containers[0].Image != "ghcr.io/stefanprodan/podinfo:6.0.0" {
		t.Errorf("dev-podinfo: %v, want the remote base at ref v6.0.0 (image podinfo:6.0.0), not the branch head", err)
	}

	if v := rk(t, state, env, append([]string{"verify"}, args...)...); v.code != 0 {
		t.Fatalf("verify: exit %d\n%s", v.code, v.stdout)
	}
	drill := rk(t, state, env, append([]string{"drill", "--scope", "rr-apps", "--keep", "--report-dir", t.TempDir()}, args...)...)
	if drill.code != 0 {
		t.Fatalf("drill (lose, recover, verify): exit %d\n%s", drill.code, drill.stdout)
	}
	noSecrets(t, drill, secrets)
	if v := rk(t, state, env, append([]string{"verify"}, args...)...); v.code != 0 {
		t.Fatalf("verify after the drill: exit %d\n%s", v.code, v.stdout)
	}

	// A Namespace that was there before rekindle: made by hand, then a
	// workload targets it.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "shop"}}}
	if _, err := clientset(t, kc).CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Namespace shop by hand: %v", err)
	}
	write(true, true)
	gitserver.Commit(t, app, "add catalog, in the shop namespace")
	if res := rk(t, state, env, append([]string{"bootstrap", "create"}, args...)...); res.code != 0 {
		t.Fatalf("bootstrap create with catalog: exit %d", res.code)
	}
	if _, err := clientset(t, kc).CoreV1().ConfigMaps("shop").Get(context.Background(), "catalog", metav1.GetOptions{}); err != nil {
		t.Errorf("catalog ConfigMap in shop: %v", err)
	}
	if n := getNamespace(t, kc, "shop"); n == nil || n.Labels[createdNamespaceLabel] != "" {
		t.Errorf("Namespace shop = %v: rekindle took over a Namespace it did not create", n)
	}

	write(false, false)
	gitserver.Commit(t, app, "remove guestbook and catalog")
	if res := rk(t, state, env, append([]string{"bootstrap", "create"}, args...)...); res.code != 0 {
		t.Fatalf("bootstrap create without guestbook and catalog: exit %d", res.code)
	}
	waitNamespaceGone(t, kc, "guestbook")
	if _, err := clientset(t, kc).CoreV1().ConfigMaps("shop").Get(context.Background(), "catalog", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("catalog ConfigMap after its workload was removed: err %v, want it pruned", err)
	}
	if n := getNamespace(t, kc, "shop"); n == nil || n.DeletionTimestamp != nil {
		t.Errorf("Namespace shop = %v, want it kept: it existed before rekindle", n)
	}
	for _, ns := range []string{"cache", "queue", "podinfo"} {
		if n := getNamespace(t, kc, ns); n == nil || n.DeletionTimestamp != nil {
			t.Errorf("namespace %s = %v, want it kept: workloads still target it", ns, n)
		}
	}
	if v := rk(t, state, env, append([]string{"verify"}, args...)...); v.code != 0 {
		t.Fatalf("verify after the prune: exit %d\n%s", v.code, v.stdout)
	}
	if del := rk(t, state, env, append([]string{"bootstrap", "destroy"}, args...)...); del.code != 0 {
		t.Fatalf("bootstrap destroy: exit %d", del.code)
	}
	checkTornDown(t, state, "realrepo")
}

// checkTornDown is checkDestroyed for an environment without infra: no
// process, no cluster state, no checkpoint left.
func checkTornDown(t *testing.T, state, blueprint string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(processesUnder(state)) > 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range processesUnder(state) {
		t.Errorf("process left after destroy: %s", p)
	}
	if entries, _ := os.ReadDir(filepath.Join(state, "clusters", "kwok")); len(nonHidden(entries)) > 0 {
		t.Errorf("cluster state left after destroy: %v", nonHidden(entries))
	}
	if _, err := os.Stat(filepath.Join(state, "envs", blueprint, "dev", "checkpoint.json")); err == nil {
		t.Error("checkpoint left after destroy")
	}
}

func value(kv string) string { _, v, _ := strings.Cut(kv, "="); return v }

// noSecrets fails when a credential appears in rekindle's output.
func noSecrets(t *testing.T, res result, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(res.stdout+res.stderr, s) {
			t.Errorf("a credential (%d chars) appears in rekindle's output", len(s))
		}
	}
}

// checkChartConfig checks the chart's ConfigMap: the chart version rekindle
// resolved, rendered for the live cluster's version, not Helm's v1.20.0.
func checkChartConfig(t *testing.T, kubeconfig, ns, release, version string) {
	t.Helper()
	cm, err := clientset(t, kubeconfig).CoreV1().ConfigMaps(ns).Get(context.Background(), release+"-config", metav1.GetOptions{})
	if err != nil {
		t.Errorf("chart ConfigMap %s/%s-config: %v", ns, release, err)
		return
	}
	if cm.Data["chartVersion"] != version || cm.Data["kubeVersion"] == "" || cm.Data["kubeVersion"] == "v1.20.0" {
		t.Errorf("%s/%s-config data = %v, want chart %s rendered for the cluster's Kubernetes version", ns, release, cm.Data, version)
	}
}

// getNamespace returns the Namespace, or nil when it does not exist.
func getNamespace(t *testing.T, kubeconfig, name string) *corev1.Namespace {
	t.Helper()
	n, err := clientset(t, kubeconfig).CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get Namespace %s: %v", name, err)
	}
	return n
}

// waitNamespaceGone waits for a pruned Namespace to be deleted (or at least
// terminating: finishing the deletion is the namespace controller's job).
func waitNamespaceGone(t *testing.T, kubeconfig, name string) {
	t.Helper()
	var n *corev1.Namespace
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if n = getNamespace(t, kubeconfig, name); n == nil || n.DeletionTimestamp != nil {
			return
		}
	}
	t.Errorf("Namespace %s = %v a minute after no workload targets it, want it pruned", name, n)
}
