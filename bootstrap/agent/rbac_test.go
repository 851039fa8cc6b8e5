package agent

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/ssa/utils"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/rekindle-dev/rekindle/blueprints"
)

const gadgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.rekindle.dev
spec:
  group: example.rekindle.dev
  names: {kind: Gadget, listKind: GadgetList, plural: gadgets, singular: gadget}
  scope: Cluster
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-preserve-unknown-fields: true
`

// fakeDiscovery is a small slice of what a cluster serves.
func fakeDiscovery() []*metav1.APIResourceList {
	res := func(name, kind string, namespaced bool, verbs ...string) metav1.APIResource {
		return metav1.APIResource{Name: name, Kind: kind, Namespaced: namespaced, Verbs: verbs}
	}
	rw := []string{"create", "delete", "get", "list", "patch", "update", "watch"}
	return []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			res("configmaps", "ConfigMap", true, rw...), res("namespaces", "Namespace", false, rw...),
			res("namespaces/status", "Namespace", false, "get", "patch"), res("secrets", "Secret", true, rw...),
			res("nodes", "Node", false, rw...), res("bindings", "Binding", true, "create"),
		}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			res("clusterroles", "ClusterRole", false, rw...), res("roles", "Role", true, rw...),
		}},
		{GroupVersion: "apiextensions.k8s.io/v1", APIResources: []metav1.APIResource{
			res("customresourcedefinitions", "CustomResourceDefinition", false, rw...),
		}},
	}
}

func TestScopedRules(t *testing.T) {
	s := &Scope{
		Namespaces:         []string{"shop", "tiny", "shop"},
		ClusterScopedKinds: []string{"ClusterRole", "Gadget", "Namespace", "ConfigMap", "Nope"},
		CRDs:               []*unstructured.Unstructured{fromYAML(t, gadgetCRD), fromYAML(t, widgetCRD)},
	}
	r, err := scopedRules(s, fakeDiscovery())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Namespaces, []string{"shop", "tiny"}) {
		t.Errorf("namespaces %v", r.Namespaces)
	}
	// ConfigMap is namespaced, Nope unknown: neither becomes a cluster-wide write.
	if !slices.Equal(r.Unmapped, []string{"ConfigMap", "Nope"}) {
		t.Errorf("unmapped %v, want [ConfigMap Nope]", r.Unmapped)
	}
	has := func(rule rbacv1.PolicyRule) bool {
		return slices.ContainsFunc(r.ClusterRules, func(x rbacv1.PolicyRule) bool {
			return slices.Equal(x.APIGroups, rule.APIGroups) && slices.Equal(x.Resources, rule.Resources) &&
				slices.Equal(x.ResourceNames, rule.ResourceNames) && slices.Equal(x.Verbs, rule.Verbs)
		})
	}
	for _, want := range []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: []string{"shop", "tiny"}, Verbs: []string{"get", "create", "update", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: []string{SystemNamespace}, Verbs: []string{"get", "create", "patch"}},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, ResourceNames: []string{SyncCRDName}, Verbs: []string{"get", "create", "patch"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, Verbs: writeVerbs},
		{APIGroups: []string{"example.rekindle.dev"}, Resources: []string{"gadgets"}, Verbs: writeVerbs},
		{APIGroups: []string{""}, Resources: []string{"configmaps", "namespaces", "nodes"}, Verbs: readVerbs},
		{APIGroups: []string{"example.rekindle.dev"}, Resources: []string{"*"}, Verbs: readVerbs},
	} {
		if !has(want) {
			t.Errorf("missing rule %+v in\n%+v", want, r.ClusterRules)
		}
	}
	for _, rule := range r.ClusterRules {
		if slices.Contains(rule.Resources, "secrets") {
			t.Errorf("cluster-wide rule on Secrets: %+v", rule)
		}
		if rule.Resources[0] == "namespaces" && rule.ResourceNames == nil {
			t.Errorf("Namespace rule without names although no Helm workload: %+v", rule)
		}
		for _, v := range rule.Verbs {
			if v == "*" || v == "escalate" || v == "bind" || v == "impersonate" {
				t.Errorf("rule grants %q: %+v", v, rule)
			}
		}
	}

	s.CreateNamespaces = true
	r, err = scopedRules(s, fakeDiscovery())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(r.ClusterRules, func(x rbacv1.PolicyRule) bool {
		return slices.Equal(x.Resources, []string{"namespaces"}) && x.ResourceNames == nil && slices.Equal(x.Verbs, []string{"create"})
	}) {
		t.Errorf("Helm workloads need create on namespaces: %+v", r.ClusterRules)
	}
}

func TestScopeFor(t *testing.T) {
	rc := testRender(t, "c", "")
	s := ScopeFor(&blueprints.Allow{Namespaces: []string{"shop"}, ClusterScopedKinds: []string{"CustomResourceDefinition"}}, rc)
	if len(s.CRDs) != 1 || s.CRDs[0].GetName() != "widgets.example.rekindle.dev" || !s.CreateNamespaces {
		t.Errorf("scope %+v", s)
	}
	if s := ScopeFor(nil, without(rc, "tiny")); s.CreateNamespaces {
		t.Error("CreateNamespaces without a Helm workload")
	}
}

func TestAgentChartScoped(t *testing.T) {
	r, err := scopedRules(&Scope{Namespaces: []string{"shop", "tiny"}, ClusterScopedKinds: []string{"ClusterRole"}}, fakeDiscovery())
	if err != nil {
		t.Fatal(err)
	}
	v := InstallValues{SkipDeployment: true}
	hv := v.helmValues()
	if hv["rbac"], err = r.helmValues(); err != nil {
		t.Fatal(err)
	}
	objs := renderChartValues(t, hv)
	var got []string
	for k := range objs {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{"ClusterRole/rekindle-agent", "ClusterRole/rekindle-agent-namespace", "ClusterRoleBinding/rekindle-agent",
		"Role/rekindle-system/rekindle-agent", "RoleBinding/rekindle-system/rekindle-agent",
		"RoleBinding/shop/rekindle-agent-namespace", "RoleBinding/tiny/rekindle-agent-namespace",
		"ServiceAccount/rekindle-system/rekindle-agent"}
	if !slices.Equal(got, want) {
		t.Errorf("objects\n%v\nwant\n%v", got, want)
	}
	if cr := objs["ClusterRole/rekindle-agent"]; strings.Contains(cr, `- '*'`) || !strings.Contains(cr, "clusterroles") {
		t.Errorf("scoped ClusterRole:\n%s", cr)
	}
}

// TestScopedRBAC installs the agent with scoped RBAC in a real cluster and
// syncs as its ServiceAccount (impersonated, as a host agent does): the render
// inside the allow-list becomes Ready, and writes outside it are refused by
// the API server itself, whatever rekindle's own allow-list check says.
func TestScopedRBAC(t *testing.T) {
	c := newTestCluster(t, "agent-rbac")
	ctx := t.Context()
	admin, err := NewApplier(c.Config, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	acl := admin.Client()
	// Someone else's namespace with a Secret in it.
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "db"}, StringData: map[string]string{"password": "hunter2"}},
	} {
		if err := acl.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	rc := testRender(t, c.Name, "c0ffee1")
	rc.Workloads = append(rc.Workloads, blueprints.RenderedWorkload{Name: "gadgets", Source: blueprints.SourcePlain,
		Objects: []*unstructured.Unstructured{fromYAML(t, gadgetCRD),
			obj("example.rekindle.dev/v1", "Gadget", "", "big", map[string]any{"spec": map[string]any{"size": int64(3)}})}})
	allow := &blueprints.Allow{Namespaces: []string{"shop", "monitoring", "tiny"},
		ClusterScopedKinds: []string{"CustomResourceDefinition", "Gadget"}}
	if err := Install(ctx, c.Config, InstallValues{SkipDeployment: true, Scope: ScopeFor(allow, rc), Log: t.Logf}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{&rbacv1.RoleBinding{}, &corev1.Namespace{}} {
		key := client.ObjectKey{Namespace: "tiny", Name: "rekindle-agent-namespace"}
		if _, ok := o.(*corev1.Namespace); ok {
			key = client.ObjectKey{Name: "tiny"}
		}
		if err := acl.Get(ctx, key, o); err != nil {
			t.Errorf("%T %s: %v", o, key, err)
		}
	}

	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: ServiceAccountUser}
	a, err := NewApplier(cfg, ApplyOptions{WaitTimeout: 2 * time.Minute, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	cl := a.Client()

	t.Run("sync inside the allow-list is Ready", func(t *testing.T) {
		if err := a.EnsureCRD(ctx); err != nil {
			t.Fatalf("EnsureCRD as the agent: %v", err)
		}
		res, err := a.Sync(ctx, rc, SyncOptions{})
		if err != nil {
			t.Fatalf("sync as the agent: %v (failed: %v)", err, res.Failed)
		}
		if !res.Ready() || res.Healthy != len(rc.AllObjects()) {
			t.Errorf("healthy %d of %d", res.Healthy, len(rc.AllObjects()))
		}
		requireSync(t, a, c.Name, ConditionReady, metav1.ConditionTrue, ReasonSucceeded)
		if rel := findRelease(t, c, "tiny", "tiny"); rel == nil {
			t.Error("Helm release tiny/tiny not installed")
		}
		// Again: nothing to change, and pruning works within the scope.
		res, err = a.Sync(ctx, without(rc, "monitoring"), SyncOptions{})
		if err != nil {
			t.Fatalf("second sync: %v (failed: %v)", err, res.Failed)
		}
		if len(res.Pruned) == 0 {
			t.Errorf("nothing pruned, want the monitoring workload")
		}
	})

	t.Run("writes outside it are Forbidden by the API server", func(t *testing.T) {
		cm := obj("v1", "ConfigMap", "other", "sneaky", map[string]any{"data": map[string]any{"a": "b"}})
		cr := obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "sneaky", map[string]any{
			"rules": []any{map[string]any{"apiGroups": []any{"*"}, "resources": []any{"*"}, "verbs": []any{"*"}}}})
		ns := namespace("other")
		ns.SetLabels(map[string]string{"owned": "yes"})
		node := obj("v1", "Node", "", "sneaky", nil)
		for _, o := range []*unstructured.Unstructured{cm, cr, ns, namespace("brand-new"), node} {
			err := cl.Patch(ctx, o.DeepCopy(), client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager))
			if !apierrors.IsForbidden(err) {
				t.Errorf("apply %s as the agent: %v, want Forbidden", refOf(o), err)
			}
		}
		if err := cl.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}); !apierrors.IsForbidden(err) {
			t.Errorf("delete Namespace/other: %v, want Forbidden", err)
		}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "other", Name: "db"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
			t.Errorf("read Secret/other/db: %v, want Forbidden", err)
		}
		// Reads elsewhere are allowed (health checks, diffs), Secrets aside.
		if err := cl.List(ctx, &corev1.ConfigMapList{}); err != nil {
			t.Errorf("list ConfigMaps cluster-wide: %v", err)
		}
		if err := cl.List(ctx, &corev1.SecretList{}); !apierrors.IsForbidden(err) {
			t.Errorf("list Secrets cluster-wide: %v, want Forbidden", err)
		}

		// Renders reaching out of the scope, handed straight to Sync (no
		// blueprint allow-list check on this path): RBAC stops them.
		for _, escape := range [][]*unstructured.Unstructured{{cm}, {cm, cr}} {
			bad := without(rc, "monitoring")
			bad.Workloads = append(bad.Workloads, blueprints.RenderedWorkload{Name: "escape", Source: blueprints.SourcePlain,
				Objects: escape})
			res, err := a.Sync(ctx, bad, SyncOptions{})
			if err == nil {
				t.Fatal("sync outside the scope succeeded")
			}
			if !strings.Contains(err.Error(), "forbidden") {
				t.Errorf("sync error %v, want forbidden", err)
			}
			t.Logf("refused: %v", res.Failed)
		}
		if err := acl.Get(ctx, client.ObjectKey{Namespace: "other", Name: "sneaky"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap/other/sneaky after the refused sync: %v, want not found", err)
		}
		if err := acl.Get(ctx, client.ObjectKey{Name: "sneaky"}, &rbacv1.ClusterRole{}); !apierrors.IsNotFound(err) {
			t.Errorf("ClusterRole/sneaky after the refused sync: %v, want not found", err)
		}
		requireSync(t, a, c.Name, ConditionStalled, metav1.ConditionTrue, ReasonBlocked) // Forbidden: no retry helps until the RBAC changes
	})

	t.Run("back to cluster-admin", func(t *testing.T) {
		if err := Install(ctx, c.Config, InstallValues{SkipDeployment: true, Log: t.Logf}); err != nil {
			t.Fatal(err)
		}
		if err := acl.Get(ctx, client.ObjectKey{Namespace: "tiny", Name: "rekindle-agent-namespace"}, &rbacv1.RoleBinding{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace RoleBinding after cluster-admin install: %v, want gone", err)
		}
		cm := obj("v1", "ConfigMap", "other", "now-allowed", map[string]any{"data": map[string]any{"a": "b"}})
		if err := cl.Patch(ctx, cm, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
			t.Errorf("apply as a cluster-admin agent: %v", err)
		}
	})
}

// renderChartValues renders the embedded chart with raw values, like `helm template`.
func renderChartValues(t *testing.T, values map[string]any) map[string]string {
	t.Helper()
	ch, err := Chart()
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(&action.Configuration{})
	in.DryRun, in.ClientOnly, in.Replace = true, true, true
	in.ReleaseName, in.Namespace = ReleaseName, SystemNamespace
	in.KubeVersion = &chartutil.KubeVersion{Version: "v1.36.3", Major: "1", Minor: "36"}
	rel, err := in.Run(ch, values)
	if err != nil {
		t.Fatalf("render chart: %v", err)
	}
	objs, err := utils.ReadObjects(strings.NewReader(rel.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range objs {
		out[refOf(o).String()] = utils.ObjectToYAML(o)
	}
	return out
}
