package flux

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/ssa"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Uninstall removes Flux from a cluster rekindle does not own, in the order
// `flux uninstall` uses: first the controllers and the rest of components
// (waiting until the controllers' pods are gone, so that no controller
// sees what follows: one still running may put its finalizer back between
// its removal and the delete, and then finalize the object, which for a
// Kustomization prunes what it applied), then the finalizers of every Flux
// custom object are removed and the objects deleted (what they applied
// stays), then the CRDs, then the flux-system Namespace. Absent objects are
// not an error.
func Uninstall(ctx context.Context, cfg *rest.Config, layout *Layout) error {
	k, err := connect(cfg)
	if err != nil {
		return err
	}
	var crds, rest, namespaces []*unstructured.Unstructured
	for _, o := range layout.Components {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			crds = append(crds, o)
		case "Namespace":
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	var errs []error
	opts := ssa.DefaultDeleteOptions()
	if _, err := k.rm.DeleteAll(ctx, rest, opts); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, k.waitPodsGone(ctx, rest))
	for _, crd := range crds {
		errs = append(errs, k.deleteCustomObjects(ctx, crd))
	}
	for _, set := range [][]*unstructured.Unstructured{crds, namespaces} {
		if _, err := k.rm.DeleteAll(ctx, set, opts); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("uninstall Flux: %w", err)
	}
	return nil
}

// deleteCustomObjects deletes every object of a CRD's kind, finalizers
// removed first so that no stopped controller holds them.
func (k *kube) deleteCustomObjects(ctx context.Context, crd *unstructured.Unstructured) error {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	version := ""
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if st, _ := m["storage"].(bool); st {
			version, _ = m["name"].(string)
		}
	}
	if version == "" {
		return nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
	if err := k.c.List(ctx, list); err != nil {
		if apierrors.IsNotFound(err) || isNoMatch(err) {
			return nil
		}
		return fmt.Errorf("list %s: %w", kind, err)
	}
	var errs []error
	for i := range list.Items {
		o := &list.Items[i]
		if len(o.GetFinalizers()) > 0 {
			patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))
			if err := k.c.Patch(ctx, o, patch); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove finalizers of %s/%s/%s: %w", kind, o.GetNamespace(), o.GetName(), err))
				continue
			}
		}
		if err := k.c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s/%s/%s: %w", kind, o.GetNamespace(), o.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }

// podsGoneTimeout bounds the wait for the deleted controllers' pods (their
// grace period is 10s in gotk-components).
const podsGoneTimeout = time.Minute

// waitPodsGone waits until no pod of the Deployments among objs is left.
func (k *kube) waitPodsGone(ctx context.Context, objs []*unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(ctx, podsGoneTimeout)
	defer cancel()
	for {
		var left []string
		for _, o := range objs {
			if o.GetKind() != "Deployment" {
				continue
			}
			sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector", "matchLabels")
			if len(sel) == 0 {
				continue
			}
			var pods corev1.PodList
			if err := k.c.List(ctx, &pods, client.InNamespace(firstNonEmpty(o.GetNamespace(), Namespace)), client.MatchingLabels(sel)); err != nil {
				return fmt.Errorf("list the pods of %s: %w", o.GetName(), err)
			}
			for _, p := range pods.Items {
				left = append(left, p.Name)
			}
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Flux controllers' pods %v still run %s after their Deployments were deleted", left, podsGoneTimeout)
		case <-time.After(time.Second):
		}
	}
}
