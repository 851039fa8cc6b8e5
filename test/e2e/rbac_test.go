package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/test/gitserver"
)

// TestBootstrapScopedRBAC bootstraps the example with agent.rbac: scoped on
// its apps cluster: the host agent runs as the agent's ServiceAccount
// (impersonated), replays everything the allow-list permits, and the
// ServiceAccount may not write outside it.
func TestBootstrapScopedRBAC(t *testing.T) {
	needParts(t)
	base := t.TempDir()
	dir, _ := blueprintRepo(t, base, "scoped", example)
	bp, err := os.ReadFile(filepath.Join(dir, "rekindle.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	scoped := strings.Replace(string(bp), "          agent:\n            interval: 30s\n",
		"          agent:\n            interval: 30s\n            rbac: scoped\n"+
			"          allow:\n            namespaces: [platform, podinfo, hello]\n            clusterScopedKinds: [CustomResourceDefinition]\n", 1)
	if scoped == string(bp) {
		t.Fatal("the example's apps cluster changed: cannot add agent.rbac")
	}
	gitserver.WriteFile(t, dir, "rekindle.yaml", scoped)
	gitserver.Commit(t, dir, "scoped agent RBAC")
	state := t.TempDir()
	cleanupEnv(t, state, nil, "-b", dir, "--env", "dev")

	res := rk(t, state, nil, "-o", "json", "bootstrap", "create", "-b", dir, "--env", "dev")
	if res.code != 0 {
		t.Fatalf("bootstrap create: exit %d", res.code)
	}
	sum := parseSummary(t, res.stdout)
	var apps string
	for _, c := range sum.Clusters {
		if !c.Ready || c.Desired == 0 || c.Healthy != c.Desired {
			t.Errorf("cluster %s: ready=%t desired=%d healthy=%d", c.Name, c.Ready, c.Desired, c.Healthy)
		}
		if c.Name == "dev-apps" {
			apps = c.Kubeconfig
		}
	}
	if apps == "" {
		t.Fatalf("no dev-apps cluster in %+v", sum.Clusters)
	}
	checkHelmRelease(t, apps, "hello", "hello")

	args, _ := filepath.Glob(filepath.Join(state, "envs", "local", "dev", "agents", "*.args.json"))
	for _, f := range args {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scopedAgent := strings.Contains(string(data), `"--as","`+agent.ServiceAccountUser+`"`)
		if want := strings.HasPrefix(filepath.Base(f), "dev-apps."); scopedAgent != want {
			t.Errorf("%s: impersonates the ServiceAccount = %t, want %t: %s", f, scopedAgent, want, data)
		}
	}
	if len(args) != 2 {
		t.Errorf("host agents %v, want 2", args)
	}

	cfg, err := cluster.RESTConfig(apps, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Impersonate.UserName = agent.ServiceAccountUser
	sa, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sneaky"}, Data: map[string]string{"a": "b"}}
	_, err = sa.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("the agent's ServiceAccount created a ConfigMap in default: %v, want Forbidden", err)
	}
	cr, err := clientset(t, apps).RbacV1().ClusterRoles().Get(ctx, "rekindle-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cr.Rules {
		if slices.Contains(r.Verbs, "*") {
			t.Errorf("scoped ClusterRole grants every verb: %+v", r)
		}
	}
	// The other cluster keeps the default, cluster-admin.
	for _, c := range sum.Clusters {
		if c.Name == "dev-apps" {
			continue
		}
		cr, err := clientset(t, c.Kubeconfig).RbacV1().ClusterRoles().Get(ctx, "rekindle-agent", metav1.GetOptions{})
		if err != nil || len(cr.Rules) == 0 || !slices.Contains(cr.Rules[0].Verbs, "*") {
			t.Errorf("cluster %s: agent ClusterRole %+v (%v), want cluster-admin", c.Name, cr, err)
		}
	}

	if del := rk(t, state, nil, "bootstrap", "destroy", "-b", dir, "--env", "dev"); del.code != 0 {
		t.Fatalf("bootstrap destroy: exit %d", del.code)
	}
}
