package main

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetAPIVersion(apiVersion)
	o.SetKind(kind)
	o.SetNamespace(ns)
	o.SetName(name)
	return o
}

// A Helm release's namespace is not among the rendered objects (rekindle
// creates it); the floor must create it too, once, first.
func TestWithNamespacesAddsTheMissingOnesFirst(t *testing.T) {
	mapper := map[schema.GroupKind]mapping{
		{Kind: "Namespace"}: {resource: "namespaces"},
		{Kind: "Service"}:   {resource: "services", namespaced: true},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: {resource: "customresourcedefinitions"},
	}
	objs := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "edge"),
		obj("v1", "Service", "edge", "gw"),
		obj("v1", "Service", "hello", "a"),
		obj("v1", "Service", "hello", "b"),
		obj("v1", "Service", "default", "c"),
		obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
	}
	got := withNamespaces(objs, mapper)
	if len(got) != len(objs)+1 {
		t.Fatalf("got %d objects, want %d: one Namespace added", len(got), len(objs)+1)
	}
	if n := got[0]; n.GetKind() != "Namespace" || n.GetName() != "hello" {
		t.Errorf("first object is %s %s, want Namespace hello", n.GetKind(), n.GetName())
	}
}
