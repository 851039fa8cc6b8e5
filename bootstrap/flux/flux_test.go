package flux

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// exampleLayout is the Flux layout of blueprints/examples/flux's dev cluster.
func exampleLayout(t *testing.T) *Layout {
	t.Helper()
	repo, err := blueprints.Load("../../blueprints/examples/flux")
	if err != nil {
		t.Fatal(err)
	}
	l, err := LoadLayout(repo, &blueprints.Flux{Path: "clusters/dev"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The example repo, laid out as `flux bootstrap` writes one, loads: its
// components, gotk-sync, and the Secret and directory its apps
// Kustomization decrypts with and from.
func TestLoadLayoutOfTheExample(t *testing.T) {
	l := exampleLayout(t)
	if l.Source().GetName() != "flux-system" || l.Root().GetName() != "flux-system" {
		t.Errorf("gotk-sync: source %q, root %q", l.Source().GetName(), l.Root().GetName())
	}
	kinds := map[string]int{}
	for _, o := range l.Components {
		kinds[o.GetKind()]++
		if v := o.GetLabels()["app.kubernetes.io/version"]; v != Version {
			t.Errorf("%s/%s is labelled version %q, want %s", o.GetKind(), o.GetName(), v, Version)
		}
		if o.GetLabels()["app.kubernetes.io/part-of"] != "flux" {
			t.Errorf("%s/%s lacks app.kubernetes.io/part-of: flux", o.GetKind(), o.GetName())
		}
	}
	if kinds["Deployment"] != len(Controllers) || kinds["CustomResourceDefinition"] < 8 || kinds["Namespace"] != 1 {
		t.Errorf("components hold %v", kinds)
	}
	want := []types.NamespacedName{{Namespace: Namespace, Name: DefaultDecryptionSecret}}
	if !slices.Equal(l.DecryptionSecrets, want) || !slices.Equal(l.DecryptionPaths, []string{"apps/dev"}) {
		t.Errorf("decryption: secrets %v paths %v", l.DecryptionSecrets, l.DecryptionPaths)
	}
}

// The e2e fixture and the example hold the same gotk-components, made for
// the release hack/flux/VERSION and hack/install-flux.sh build.
func TestComponentsMatchThePinnedRelease(t *testing.T) {
	v, err := os.ReadFile("../../hack/flux/VERSION")
	if err != nil || strings.TrimSpace(string(v)) != Version {
		t.Fatalf("hack/flux/VERSION = %q (%v), want %s", v, err, Version)
	}
	a, err1 := os.ReadFile("../../blueprints/examples/flux/clusters/dev/flux-system/gotk-components.yaml")
	b, err2 := os.ReadFile("../../test/e2e/testdata/flux/gotk-components.yaml")
	if err1 != nil || err2 != nil || string(a) != string(b) {
		t.Errorf("the example's and the e2e fixture's gotk-components differ (%v, %v): run hack/flux/gotk.sh", err1, err2)
	}
	script, err := os.ReadFile("../../hack/install-flux.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Controllers {
		if !strings.Contains(string(a), "image: ghcr.io/fluxcd/"+c+":") || !strings.Contains(string(script), c+"@v") {
			t.Errorf("%s is not both in gotk-components and pinned in hack/install-flux.sh", c)
		}
	}
}

func TestRevisionHas(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		rev, commit string
		want        bool
	}{
		{"main@sha1:" + sha, sha, true},
		{"sha1:" + sha, sha[:12], true},
		{sha, sha, true},
		{"main@sha1:" + sha, "fedcba9876543210fedcba9876543210fedcba98", false},
		{"", sha, false},
	} {
		if got := revisionHas(c.rev, c.commit); got != c.want {
			t.Errorf("revisionHas(%q, %q) = %v", c.rev, c.commit, got)
		}
	}
}

func TestParseEntry(t *testing.T) {
	e, ok := parseEntry("podinfo_podinfo_helm.toolkit.fluxcd.io_HelmRelease", "v2")
	if !ok || e.GVK != HelmRelease || e.Namespace != "podinfo" || e.Ref() != "HelmRelease/podinfo/podinfo" {
		t.Errorf("parseEntry = %+v, %v", e, ok)
	}
	if e, ok := parseEntry("_podinfo__Namespace", "v1"); !ok || e.Ref() != "Namespace/podinfo" {
		t.Errorf("cluster-scoped entry = %+v, %v", e, ok)
	}
	if _, ok := parseEntry("bad", "v1"); ok {
		t.Error("a malformed id parsed")
	}
}

// check names the deepest blocker first, stops at once on a Stalled object
// (as a missing chart version stalls the HelmChart), and only after the
// grace on a retried failure at the commit.
func TestCheckTerminalAndBlockers(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	src := Object{Kind: "GitRepository", Namespace: Namespace, Name: "flux-system", Found: true, Current: true, Ready: "True", Revision: "main@sha1:" + commit}
	root := Object{Kind: "Kustomization", Namespace: Namespace, Name: "flux-system", Found: true, Current: true, Ready: "True", Revision: "main@sha1:" + commit}
	apps := Object{Kind: "Kustomization", Namespace: Namespace, Name: "apps", Depth: 1, Found: true, Current: true, ReadyCurrent: true, Ready: "False",
		Reason: "DependencyNotReady", Message: "dependency 'flux-system/infra' is not ready", Attempted: "main@sha1:" + commit}
	// While Flux reconciles, status.observedGeneration is -1: not Current.
	hr := Object{Kind: "HelmRelease", Namespace: "podinfo", Name: "podinfo", Depth: 2, Found: true, ReadyCurrent: true, Ready: "False", Reason: "SourceNotReady", Message: "HelmChart not ready"}

	blockers, err := check(&Tree{Source: src, Objects: []Object{root, apps, hr}}, commit, map[string]time.Time{}, time.Second)
	if err != nil || len(blockers) != 2 || !strings.HasPrefix(blockers[0], "HelmRelease/podinfo/podinfo: Ready=False SourceNotReady") {
		t.Fatalf("blockers %v, err %v", blockers, err)
	}
	stalled := hr
	stalled.Stalled, stalled.StalledMessage = true, "HelmChart flux-system/podinfo-podinfo: InvalidChartReference: no 'podinfo' chart with version matching '9.9.9' found"
	_, err = check(&Tree{Source: src, Objects: []Object{root, apps, stalled}}, commit, map[string]time.Time{}, time.Minute)
	if te, ok := err.(*TerminalError); !ok || te.Object != "HelmRelease/podinfo/podinfo" || !strings.Contains(te.Message, "9.9.9") {
		t.Fatalf("a Stalled HelmRelease gave %v", err)
	}
	failed := apps
	failed.Reason, failed.Message = "BuildFailed", "decryption failed for 'podinfo-credentials'"
	since := map[string]time.Time{}
	tree := &Tree{Source: src, Objects: []Object{root, failed}}
	if _, err := check(tree, commit, since, 50*time.Millisecond); err != nil {
		t.Fatalf("a first BuildFailed was terminal at once: %v", err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := check(tree, commit, since, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "Kustomization/flux-system/apps: BuildFailed: decryption failed") {
		t.Fatalf("a BuildFailed past the grace gave %v", err)
	}
	done := apps
	done.Ready, done.Reason, done.Revision = "True", "ReconciliationSucceeded", "main@sha1:"+commit
	hrDone := hr
	hrDone.Ready, hrDone.Reason, hrDone.Current = "True", "InstallSucceeded", true
	if b, err := check(&Tree{Source: src, Objects: []Object{root, done, hrDone}}, commit, map[string]time.Time{}, time.Second); err != nil || len(b) != 0 {
		t.Errorf("a Ready tree: blockers %v, err %v", b, err)
	}
	old := done
	old.Revision = "main@sha1:fedcba9876543210fedcba9876543210fedcba98"
	if b, _ := check(&Tree{Source: src, Objects: []Object{root, old}}, commit, map[string]time.Time{}, time.Second); len(b) != 1 || !strings.Contains(b[0], "want commit 0123456789ab") {
		t.Errorf("a Kustomization at another commit: blockers %v", b)
	}
}
