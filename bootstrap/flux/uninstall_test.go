package flux

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/rekindle-dev/rekindle/test/gitserver"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
	"github.com/rekindle-dev/rekindle/test/testenv"
)

// On a real kwok cluster with the real controllers: Install (keys and Git
// Secret before the controllers), Wait until a small tree from a Git repo
// on loopback is Ready at its commit, Verify, then, with the controllers
// stopped as destroy stops them, Uninstall as `flux uninstall` does: the
// Flux objects' finalizers removed (nothing else would), the objects, CRDs
// and flux-system gone, what Flux applied left in place.
func TestInstallWaitUninstall(t *testing.T) {
	ctrllog.SetLogger(logr.Discard())
	if missing := MissingBinaries(); len(missing) > 0 {
		testenv.Need(t, "the Flux controllers", fmt.Errorf("%s not built in %s: run hack/install-flux.sh", strings.Join(missing, ", "), BinDir()))
	}
	kc := kwoktest.New(t, "flux", 1)
	base := t.TempDir()
	repoDir := base + "/org/fleet"
	gitserver.InitRepo(t, repoDir)
	gitserver.WriteFile(t, repoDir, "clusters/dev/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  k: v\n")
	commit := gitserver.Commit(t, repoDir, "fleet")
	url := gitserver.NewHTTP(t, base, "") + "/org/fleet"
	layout := exampleLayout(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	err := Install(ctx, kc.Config, InstallOptions{Layout: layout, URL: url, Commit: commit, AgeKey: "AGE-SECRET-KEY-1TEST", SkipDeployments: true, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	hc := HostControllers{Dir: t.TempDir(), Kubeconfig: kc.Kubeconfig}
	t.Cleanup(func() { hc.Stop() })
	if _, err := hc.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	src, root := types.NamespacedName{Namespace: Namespace, Name: "flux-system"}, types.NamespacedName{Namespace: Namespace, Name: "flux-system"}
	res, err := Wait(ctx, kc.Config, WaitOptions{Source: src, Root: root, Commit: commit, Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("source after %s, tree after %s", res.SourceAfter, res.ReadyAfter)
	vr, tree, err := Verify(ctx, kc.Config, VerifyOptions{Cluster: kc.Name, Source: src, Root: root, Commit: commit})
	if err != nil || !vr.OK() || len(tree.Entries) != 1 || tree.Entries[0].Ref() != "ConfigMap/default/app" {
		t.Fatalf("verify: %+v, entries %v, %v", vr, tree.Entries, err)
	}

	// The controllers restart (a recover after this machine rebooted):
	// the tree's status is from before, so Wait asks every object to
	// reconcile and returns once each has handled that request.
	if err := hc.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := Wait(ctx, kc.Config, WaitOptions{Source: src, Root: root, Commit: commit, RequestReconcile: true, Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	handled := map[string]bool{}
	for _, o := range append([]Object{again.Tree.Source}, again.Tree.Objects...) {
		handled[o.Handled] = true
		if o.Handled == "" || !o.IsReady() {
			t.Errorf("%s after Wait with RequestReconcile: handled %q, ready %v", o.Ref(), o.Handled, o.IsReady())
		}
	}
	if len(handled) != 1 {
		t.Errorf("the objects handled different requests: %v", handled)
	}
	t.Logf("after a restart, every object reconciled again within %s", again.ReadyAfter)

	if err := hc.Stop(); err != nil {
		t.Fatal(err)
	}
	k, err := connect(kc.Config)
	if err != nil {
		t.Fatal(err)
	}
	ks := &unstructured.Unstructured{}
	ks.SetGroupVersionKind(Kustomization)
	if err := k.c.Get(ctx, root, ks); err != nil || len(ks.GetFinalizers()) == 0 {
		t.Fatalf("the root Kustomization has no finalizer to remove (%v): the test proves nothing", err)
	}
	if err := Uninstall(ctx, kc.Config, layout); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		ns := &unstructured.Unstructured{}
		ns.SetAPIVersion("v1")
		ns.SetKind("Namespace")
		nsErr := k.c.Get(ctx, types.NamespacedName{Name: Namespace}, ns)
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		crdErr := k.c.Get(ctx, types.NamespacedName{Name: "kustomizations.kustomize.toolkit.fluxcd.io"}, crd)
		if apierrors.IsNotFound(nsErr) && apierrors.IsNotFound(crdErr) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatal("flux-system or the Kustomization CRD is still there after Uninstall")
	}
	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	if err := k.c.Get(ctx, types.NamespacedName{Namespace: "default", Name: "app"}, cm); err != nil {
		t.Errorf("what Flux applied must stay after uninstall: %v", err)
	}
}
