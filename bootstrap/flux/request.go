package flux

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReconcileRequestAnnotation asks a Flux controller to reconcile an object
// now (what `flux reconcile` sets); the controller writes the value back
// to status.lastHandledReconcileAt once it has.
const ReconcileRequestAnnotation = "reconcile.fluxcd.io/requestedAt"

// reconcileRequest asks every object of a tree, once each, to reconcile
// with one token, and says which have not handled it yet.
type reconcileRequest struct {
	token string
	asked map[string]bool
}

// ask annotates the source and every found object of t not asked yet.
func (r *reconcileRequest) ask(ctx context.Context, k *kube, t *Tree) error {
	objs := append([]Object{t.Source}, t.Objects...)
	for _, o := range objs {
		if !o.Found || r.asked[o.Ref()] || o.Handled == r.token {
			continue
		}
		gvk := map[string]schema.GroupVersionKind{GitRepository.Kind: GitRepository, Kustomization.Kind: Kustomization, HelmRelease.Kind: HelmRelease}[o.Kind]
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		u.SetNamespace(o.Namespace)
		u.SetName(o.Name)
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{ReconcileRequestAnnotation: r.token}}})
		if err := k.c.Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("request a reconcile of %s: %w", o.Ref(), err)
		}
		r.asked[o.Ref()] = true
	}
	return nil
}

// pending lists the objects of t that have not handled the request.
func (r *reconcileRequest) pending(t *Tree) []string {
	var out []string
	for _, o := range append([]Object{t.Source}, t.Objects...) {
		if o.Found && o.Handled != r.token {
			out = append(out, o.Ref()+": reconcile requested, not handled yet")
		}
	}
	return out
}
