package agent

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// servedInterval is how often waitServed asks discovery again.
const servedInterval = 50 * time.Millisecond

// waitServed returns once the REST mapper resolves every served version
// of every CustomResourceDefinition among objs. A CRD is Established
// before the API server's discovery lists its kinds (the discovery
// document is rebuilt asynchronously), and every apply resolves its kind
// through discovery: a custom resource applied in between fails with "no
// matches for kind" (seen in CI on the first pass after the CRDs were
// Established). The mapper reads discovery again on each miss.
func (a *Applier) waitServed(ctx context.Context, objs []*unstructured.Unstructured) error {
	type want struct {
		gk      schema.GroupKind
		version string
		crd     string
	}
	var wants []want
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" || o.GroupVersionKind().Group != "apiextensions.k8s.io" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		for _, v := range versions {
			m, _ := v.(map[string]any)
			name, _ := m["name"].(string)
			if served, _ := m["served"].(bool); served && name != "" {
				wants = append(wants, want{schema.GroupKind{Group: group, Kind: kind}, name, o.GetName()})
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.WaitTimeout)
	defer cancel()
	for _, w := range wants {
		for {
			_, err := a.mapper.RESTMapping(w.gk, w.version)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CustomResourceDefinition/%s is Established but discovery does not serve %s/%s %s: %v", w.crd, w.gk.Group, w.version, w.gk.Kind, err)
			case <-time.After(servedInterval):
			}
		}
	}
	return nil
}
