package agent

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
)

// protobufFirst asks the API server for protobuf, which it encodes for
// less than JSON, and takes JSON from one that does not offer it.
const protobufFirst = "application/vnd.kubernetes.protobuf, application/json"

// read observes rs, all of one kind in one namespace: one LIST, or a GET
// when rs is a single object. Built-in kinds are read in protobuf into
// their Go types (readTyped); custom resources as unstructured JSON.
func (a *Applier) read(ctx context.Context, gvk schema.GroupVersionKind, ns string, rs []ObjectRef) []observation {
	if a.raw != nil && scheme.Scheme.Recognizes(gvk) {
		if out, ok := a.readTyped(ctx, gvk, ns, rs); ok {
			return out
		}
	}
	out := make([]observation, len(rs))
	if len(rs) == 1 {
		u := rs[0].unstructured()
		err := a.client.Get(ctx, client.ObjectKeyFromObject(u), u)
		out[0] = observe(rs[0], u, err)
		return out
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	var opts []client.ListOption
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := a.client.List(ctx, list, opts...); err != nil {
		for i, r := range rs {
			out[i] = observe(r, nil, fmt.Errorf("list: %w", err))
		}
		return out
	}
	byName := make(map[string]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		byName[list.Items[i].GetName()] = &list.Items[i]
	}
	return observeByName(rs, byName)
}

// readTyped reads rs as read does, in protobuf into Go types: decoding the
// health wait's JSON LISTs into unstructured objects was 2.3 of the agent's
// 6.2 CPU-seconds on a 5,000-object replay (every poll reads every pending
// Deployment whole). ok is false when the kind has no REST mapping; read's
// unstructured path then reports why.
func (a *Applier) readTyped(ctx context.Context, gvk schema.GroupVersionKind, ns string, rs []ObjectRef) ([]observation, bool) {
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, false
	}
	req := a.raw.Get().AbsPath(apiPrefix(gvk))
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		req = req.Namespace(ns)
	}
	req = req.Resource(m.Resource.Resource).SetHeader("Accept", protobufFirst)
	if len(rs) == 1 {
		req = req.Name(rs[0].Name)
	}
	out := make([]observation, len(rs))
	obj, err := req.Do(ctx).Get()
	if err == nil && len(rs) > 1 {
		var items []runtime.Object
		if items, err = meta.ExtractList(obj); err == nil {
			byName := make(map[string]*unstructured.Unstructured, len(items))
			for _, it := range items {
				u, verr := statusView(it, gvk)
				if verr != nil {
					return nil, false
				}
				byName[u.GetName()] = u
			}
			return observeByName(rs, byName), true
		}
	}
	if err != nil {
		if len(rs) > 1 {
			err = fmt.Errorf("list: %w", err)
		}
		for i, r := range rs {
			out[i] = observe(r, nil, err)
		}
		return out, true
	}
	u, err := statusView(obj, gvk)
	if err != nil {
		return nil, false
	}
	out[0] = observe(rs[0], u, nil)
	return out, true
}

// statusView is what kstatus reads of a typed object, as unstructured: the
// whole object but its managed fields and pod templates, which no status
// rule reads and which are most of a workload's bytes.
func statusView(o runtime.Object, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	if acc, err := meta.Accessor(o); err == nil {
		acc.SetManagedFields(nil)
	}
	switch t := o.(type) {
	case *appsv1.Deployment:
		t.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.StatefulSet:
		t.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.DaemonSet:
		t.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.ReplicaSet:
		t.Spec.Template = corev1.PodTemplateSpec{}
	case *batchv1.Job:
		t.Spec.Template = corev1.PodTemplateSpec{}
	case *batchv1.CronJob:
		t.Spec.JobTemplate = batchv1.JobTemplateSpec{}
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// observeByName observes each of rs in a LIST's items, by name.
func observeByName(rs []ObjectRef, byName map[string]*unstructured.Unstructured) []observation {
	out := make([]observation, len(rs))
	for i, r := range rs {
		u, ok := byName[r.Name]
		if !ok {
			out[i] = observation{ref: r, status: status.NotFoundStatus, message: "not found"}
			continue
		}
		out[i] = observe(r, u, nil)
	}
	return out
}
