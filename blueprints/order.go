package blueprints

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// applyOrder follows Helm's install order: what others refer to comes first.
var applyOrder = []string{
	"CustomResourceDefinition", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "ClusterRole", "ClusterRoleBinding", "Role",
	"RoleBinding", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet",
	"Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass",
	"Ingress", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
}

var kindRank = func() map[string]int {
	m := map[string]int{}
	for i, k := range applyOrder {
		m[k] = i
	}
	return m
}()

func rank(kind string) int {
	if r, ok := kindRank[kind]; ok {
		return r
	}
	return len(applyOrder)
}

// KindRank is kind's place in the apply order (Helm's install order); the
// kinds it does not list rank after all of those it does.
func KindRank(kind string) int { return rank(kind) }

// LateKind reports whether objects of kind come after every other object
// of their set: API services and admission webhooks, which, once
// registered, intercept requests for the objects that serve them.
func LateKind(kind string) bool {
	r := rank(kind)
	return r >= kindRank["APIService"] && r < len(applyOrder)
}

// sortObjects orders objects CRDs first, then Namespaces, then the rest by
// kind (Helm's install order, unknown kinds last), namespace and name.
func sortObjects(objs []*unstructured.Unstructured) {
	sort.SliceStable(objs, func(i, j int) bool { return lessObject(objs[i], objs[j]) })
}

func lessObject(a, b *unstructured.Unstructured) bool {
	if ra, rb := rank(a.GetKind()), rank(b.GetKind()); ra != rb {
		return ra < rb
	}
	if a.GetKind() != b.GetKind() {
		return a.GetKind() < b.GetKind()
	}
	if a.GetAPIVersion() != b.GetAPIVersion() {
		return a.GetAPIVersion() < b.GetAPIVersion()
	}
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}

// IsCRD reports whether u is a CustomResourceDefinition.
func IsCRD(u *unstructured.Unstructured) bool {
	return u.GetKind() == "CustomResourceDefinition" && strings.HasPrefix(u.GetAPIVersion(), "apiextensions.k8s.io/")
}

// IsNamespace reports whether u is a Namespace.
func IsNamespace(u *unstructured.Unstructured) bool {
	return u.GetKind() == "Namespace" && u.GetAPIVersion() == "v1"
}

// ObjectRef names an object as Kind/namespace/name (Kind/name when cluster-scoped).
func ObjectRef(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s/%s/%s", u.GetKind(), ns, u.GetName())
	}
	return fmt.Sprintf("%s/%s", u.GetKind(), u.GetName())
}

// clusterScoped lists the built-in kinds that have no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true,
	"ClusterRoleBinding": true, "CustomResourceDefinition": true, "StorageClass": true,
	"PriorityClass": true, "ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true, "APIService": true,
	"IngressClass": true, "RuntimeClass": true, "CSIDriver": true, "CSINode": true,
	"VolumeAttachment": true, "CertificateSigningRequest": true, "FlowSchema": true,
	"PriorityLevelConfiguration": true, "DeviceClass": true, "ResourceSlice": true,
	"ClusterTrustBundle": true, "VolumeAttributesClass": true,
}

// setDefaultNamespace gives namespaced objects without a namespace the
// workload's namespace ("default" when it has none), as kubectl apply would.
// Custom resources follow the scope of their CRD when it is in the same set;
// kinds it cannot place are left alone.
func setDefaultNamespace(objs []*unstructured.Unstructured, ns string) {
	setDefaultNamespaceWith(objs, ns, crdScopes(objs))
}

// crdScopes maps the kind of every CRD in objs to its scope.
func crdScopes(objs []*unstructured.Unstructured) map[string]string {
	crdScope := map[string]string{}
	for _, o := range objs {
		if IsCRD(o) {
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			crdScope[kind] = scope
		}
	}
	return crdScope
}

// setDefaultNamespaceWith is setDefaultNamespace with the CRD scopes given
// (those of the whole cluster's render).
func setDefaultNamespaceWith(objs []*unstructured.Unstructured, ns string, crdScope map[string]string) {
	if ns == "" {
		ns = "default"
	}
	for _, o := range objs {
		if o.GetNamespace() != "" || clusterScoped[o.GetKind()] {
			continue
		}
		scope, isCR := crdScope[o.GetKind()]
		if (isCR && scope == "Namespaced") || (!isCR && isBuiltinGroup(o.GetAPIVersion())) {
			o.SetNamespace(ns)
		}
	}
}

// isBuiltinGroup reports whether apiVersion belongs to Kubernetes itself.
func isBuiltinGroup(apiVersion string) bool {
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		return true // core "v1"
	}
	return !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io")
}

// checkUnique refuses two objects with the same identity in one render.
func checkUnique(objs []*unstructured.Unstructured) error {
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.GroupVersionKind().GroupKind().String() + "/" + o.GetNamespace() + "/" + o.GetName()
		if seen[key] {
			return fmt.Errorf("object %s is defined twice", ObjectRef(o))
		}
		seen[key] = true
	}
	return nil
}
