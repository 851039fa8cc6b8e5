package flux

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Uninstall removes Flux from a cluster rekindle does not own, in the order
// `flux uninstall` uses: the finalizers of every Flux custom object are
// removed and the objects deleted (what they applied stays), then the
// controllers and the rest of components, then the CRDs, then the
// flux-system Namespace. Absent objects are not an error.
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
	for _, crd := range crds {
		errs = append(errs, k.deleteCustomObjects(ctx, crd))
	}
	opts := ssa.DefaultDeleteOptions()
	for _, set := range [][]*unstructured.Unstructured{rest, crds, namespaces} {
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
