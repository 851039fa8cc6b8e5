package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// ServiceAccountName is the agent's ServiceAccount in SystemNamespace.
const ServiceAccountName = "rekindle-agent"

// ServiceAccountUser is the user name of the agent's ServiceAccount: what a
// host-process agent impersonates when its RBAC is scoped, so that it has
// exactly the rights of an in-cluster agent.
const ServiceAccountUser = "system:serviceaccount:" + SystemNamespace + ":" + ServiceAccountName

// SyncCRDName is the name of the Sync CustomResourceDefinition.
const SyncCRDName = "syncs.rekindle.dev"

// writeVerbs are the rights on allowed cluster-scoped kinds. escalate, bind
// and impersonate are left out on purpose: a ClusterRole or
// ClusterRoleBinding the blueprint holds may then grant no more than the
// agent itself holds (the API server's escalation check).
var writeVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

var readVerbs = []string{"get", "list", "watch"}

// Scope is what an agent with scoped RBAC may change: the cluster's
// allow-list, and what of the render the allow-list alone cannot map to API
// resources.
type Scope struct {
	// Namespaces: full rights inside each (a RoleBinding per namespace), and
	// on the Namespace object itself by name. Missing ones are created at
	// install time, since a RoleBinding needs its namespace.
	Namespaces []string
	// ClusterScopedKinds are the kinds of cluster-scoped objects the agent
	// may write, mapped to resources through CRDs (custom kinds) and the
	// cluster's discovery (built-in kinds). Namespace is governed by
	// Namespaces instead.
	ClusterScopedKinds []string
	// CRDs are the render's CustomResourceDefinitions.
	CRDs []*unstructured.Unstructured
	// CreateNamespaces grants create on Namespaces without a name: Helm
	// creates a release's namespace with a POST, and RBAC cannot limit
	// create by name. Set when the render installs Helm releases.
	CreateNamespaces bool
}

// ScopeFor is the scope of a cluster's allow-list and render.
func ScopeFor(allow *blueprints.Allow, rc *blueprints.RenderedCluster) *Scope {
	s := &Scope{}
	if allow != nil {
		s.Namespaces = append(s.Namespaces, allow.Namespaces...)
		s.ClusterScopedKinds = append(s.ClusterScopedKinds, allow.ClusterScopedKinds...)
	}
	if rc != nil {
		for _, w := range rc.Workloads {
			if w.Helm != nil {
				s.CreateNamespaces = true
			}
			for _, o := range w.Objects {
				if isCRD(o) {
					s.CRDs = append(s.CRDs, o)
				}
			}
		}
	}
	return s
}

func isCRD(o *unstructured.Unstructured) bool {
	return o.GetKind() == "CustomResourceDefinition" && o.GroupVersionKind().Group == "apiextensions.k8s.io"
}

// ScopedRBAC is the RBAC of an agent with a Scope, passed to the chart.
type ScopedRBAC struct {
	// Namespaces each get a RoleBinding to the ClusterRole
	// rekindle-agent-namespace (every verb on every resource).
	Namespaces []string
	// ClusterRules are the rules of the ClusterRole rekindle-agent.
	ClusterRules []rbacv1.PolicyRule
	// SystemRules are the rules of the Role rekindle-agent in SystemNamespace.
	SystemRules []rbacv1.PolicyRule
	// Unmapped are allowed kinds that no served resource and no CRD of the
	// render define: the agent gets no rights on them.
	Unmapped []string
}

// ComputeScopedRBAC maps s onto RBAC rules with the cluster's discovery.
func ComputeScopedRBAC(ctx context.Context, cfg *rest.Config, s *Scope) (*ScopedRBAC, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	// Partial discovery (an aggregated API down) still maps what it can.
	lists, err := dc.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discover API resources: %w", err)
	}
	return scopedRules(s, lists)
}

// scopedRules computes the rules of s, given the cluster's resources.
func scopedRules(s *Scope, lists []*metav1.APIResourceList) (*ScopedRBAC, error) {
	out := &ScopedRBAC{}
	seen := map[string]bool{}
	for _, ns := range s.Namespaces {
		if !seen[ns] {
			seen[ns] = true
			out.Namespaces = append(out.Namespaces, ns)
		}
	}
	sort.Strings(out.Namespaces)

	// crd is what the render's CRDs define.
	type crd struct {
		group, plural, kind string
		cluster             bool
	}
	var crds []crd
	for _, o := range s.CRDs {
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(o.Object, "spec", "names", "plural")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		if group == "" || plural == "" || kind == "" {
			return nil, fmt.Errorf("CustomResourceDefinition/%s: spec.group, spec.names.plural and spec.names.kind are required", o.GetName())
		}
		crds = append(crds, crd{group: group, plural: plural, kind: kind, cluster: scope == "Cluster"})
	}

	// Writes on allowed cluster-scoped kinds, grouped by API group.
	write := map[string][]string{}
	for _, kind := range s.ClusterScopedKinds {
		if kind == "Namespace" {
			continue // governed by Namespaces
		}
		found := false
		for _, l := range lists {
			gv, err := schema.ParseGroupVersion(l.GroupVersion)
			if err != nil {
				continue
			}
			for _, r := range l.APIResources {
				if r.Kind == kind && !r.Namespaced && !strings.Contains(r.Name, "/") {
					write[gv.Group] = append(write[gv.Group], r.Name)
					found = true
				}
			}
		}
		for _, c := range crds {
			if c.kind == kind && c.cluster {
				write[c.group] = append(write[c.group], c.plural)
				found = true
			}
		}
		if !found {
			out.Unmapped = append(out.Unmapped, kind)
		}
	}

	// Reads everywhere: every resource discovery lists, but Secrets; and
	// every kind of the groups the render's CRDs define (not served yet).
	read := map[string][]string{}
	wildcard := map[string]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "get") && !slices.Contains(r.Verbs, "list") {
				continue
			}
			if gv.Group == "" && r.Name == "secrets" {
				continue
			}
			read[gv.Group] = append(read[gv.Group], r.Name)
		}
	}
	for _, c := range crds {
		wildcard[c.group] = true
	}

	var rules []rbacv1.PolicyRule
	rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"},
		ResourceNames: []string{SystemNamespace}, Verbs: []string{"get", "create", "patch"}})
	if len(out.Namespaces) > 0 {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"},
			ResourceNames: out.Namespaces, Verbs: []string{"get", "create", "update", "patch", "delete"}})
	}
	if s.CreateNamespaces {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"create"}})
	}
	rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"},
		ResourceNames: []string{SyncCRDName}, Verbs: []string{"get", "create", "patch"}})
	for _, g := range sortedKeys(write) {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: uniqueSorted(write[g]), Verbs: writeVerbs})
	}
	for _, g := range sortedKeys(read) {
		if wildcard[g] {
			continue
		}
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: uniqueSorted(read[g]), Verbs: readVerbs})
	}
	for _, g := range sortedKeys(wildcard) {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"*"}, Verbs: readVerbs})
	}
	out.ClusterRules = rules
	out.SystemRules = []rbacv1.PolicyRule{
		{APIGroups: []string{SyncGVK.Group}, Resources: []string{"syncs", "syncs/status"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: readVerbs},
		// Events on its Sync object (failed passes, drift, prunes).
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	sort.Strings(out.Unmapped)
	return out, nil
}

// helmValues are the chart's rbac values for this RBAC.
func (r *ScopedRBAC) helmValues() (map[string]any, error) {
	conv := func(rules []rbacv1.PolicyRule) ([]any, error) {
		b, err := json.Marshal(rules)
		if err != nil {
			return nil, err
		}
		var out []any
		return out, json.Unmarshal(b, &out)
	}
	cluster, err := conv(r.ClusterRules)
	if err != nil {
		return nil, err
	}
	system, err := conv(r.SystemRules)
	if err != nil {
		return nil, err
	}
	ns := make([]any, len(r.Namespaces))
	for i, n := range r.Namespaces {
		ns[i] = n
	}
	return map[string]any{"clusterAdmin": false, "rules": cluster, "systemRules": system, "namespaces": ns}, nil
}

// ensureNamespaces creates the namespaces a scoped agent gets rights in, so
// that their RoleBindings can be installed; existing ones are left as they are.
func ensureNamespaces(ctx context.Context, cfg *rest.Config, names []string, log func(string, ...any)) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, n := range names {
		_, err := cs.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{})
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("read Namespace/%s: %w", n, err)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n,
			Annotations: map[string]string{"rekindle.dev/created-for": "the agent's scoped RBAC (allow.namespaces)"}}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create Namespace/%s for the agent's RoleBinding: %w", n, err)
		}
		log("created Namespace/%s: the agent's scoped RBAC binds it a role there", n)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func uniqueSorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return slices.Compact(out)
}
