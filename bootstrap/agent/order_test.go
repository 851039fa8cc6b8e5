package agent

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestStartOrderIsNamespaceMajor(t *testing.T) {
	obj := func(apiVersion, kind, ns, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName(name)
		return u
	}
	// As a render sorts them: kind first, across namespaces.
	objs := []*unstructured.Unstructured{
		obj("v1", "ServiceAccount", "b", "sa"),
		obj("v1", "Secret", "a", "s"),
		obj("v1", "Secret", "b", "s"),
		obj("v1", "ConfigMap", "a", "c"),
		obj("v1", "ConfigMap", "b", "c"),
		obj("storage.k8s.io/v1", "StorageClass", "", "fast"),
		obj("v1", "Service", "a", "web"),
		obj("v1", "Service", "b", "web"),
		obj("apps/v1", "Deployment", "a", "web"),
		obj("apps/v1", "Deployment", "b", "web"),
		obj("example.com/v1", "Widget", "a", "w"),
		obj("example.com/v1", "Widget", "b", "w"),
		obj("cert-manager.io/v1", "ClusterIssuer", "", "letsencrypt"),
		obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "hook"),
	}
	var got []string
	for _, i := range startOrder(objs) {
		got = append(got, refOf(objs[i]).String())
	}
	want := []string{
		"StorageClass/fast",
		"Secret/a/s", "ConfigMap/a/c", "Service/a/web", "Deployment/a/web", "Widget/a/w",
		"ServiceAccount/b/sa", "Secret/b/s", "ConfigMap/b/c", "Service/b/web", "Deployment/b/web", "Widget/b/w",
		"ClusterIssuer/letsencrypt", "ValidatingWebhookConfiguration/hook",
	}
	if !slices.Equal(got, want) {
		t.Errorf("start order\n got %q\nwant %q", got, want)
	}

	// One namespace: the render's order, unchanged.
	one := []*unstructured.Unstructured{obj("v1", "Secret", "a", "s"), obj("v1", "ConfigMap", "a", "c"), obj("apps/v1", "Deployment", "a", "web")}
	if order := startOrder(one); !slices.Equal(order, []int{0, 1, 2}) {
		t.Errorf("one namespace: order %v, want the render's", order)
	}
}
