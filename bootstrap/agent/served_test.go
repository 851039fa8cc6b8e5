package agent

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// lateDiscovery is a REST mapper whose discovery lists the custom kinds
// only after a number of lookups, as an API server's discovery lags a
// CRD's Established condition.
type lateDiscovery struct {
	meta.RESTMapper
	mu      sync.Mutex
	misses  int
	lookups int
	known   *meta.DefaultRESTMapper
}

func (l *lateDiscovery) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lookups++
	if l.lookups <= l.misses {
		return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
	}
	return l.known.RESTMapping(gk, versions...)
}

func servedWidgetCRD(served ...string) *unstructured.Unstructured {
	var versions []any
	for _, v := range served {
		versions = append(versions, map[string]any{"name": v, "served": true, "storage": v == served[0]})
	}
	versions = append(versions, map[string]any{"name": "v0", "served": false})
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.rekindle.dev"},
		"spec": map[string]any{"group": "example.rekindle.dev", "scope": "Namespaced",
			"names": map[string]any{"kind": "Widget", "plural": "widgets"}, "versions": versions},
	}}
	return u
}

func TestWaitServedWaitsForDiscovery(t *testing.T) {
	known := meta.NewDefaultRESTMapper(nil)
	for _, v := range []string{"v1", "v2"} {
		known.Add(schema.GroupVersionKind{Group: "example.rekindle.dev", Version: v, Kind: "Widget"}, meta.RESTScopeNamespace)
	}
	late := &lateDiscovery{RESTMapper: known, known: known, misses: 3}
	a := &Applier{mapper: late, opts: ApplyOptions{WaitTimeout: 5 * time.Second}}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	if err := a.waitServed(context.Background(), []*unstructured.Unstructured{cm, servedWidgetCRD("v1", "v2")}); err != nil {
		t.Fatal(err)
	}
	// 3 misses, then v1 and v2; the version that is not served is not asked for.
	if late.lookups != 5 {
		t.Errorf("%d lookups, want 5 (3 misses, then v1 and v2)", late.lookups)
	}

	never := &lateDiscovery{RESTMapper: known, known: known, misses: 1 << 30}
	a = &Applier{mapper: never, opts: ApplyOptions{WaitTimeout: 200 * time.Millisecond}}
	err := a.waitServed(context.Background(), []*unstructured.Unstructured{servedWidgetCRD("v1")})
	if err == nil || !strings.Contains(err.Error(), "CustomResourceDefinition/widgets.example.rekindle.dev is Established but discovery does not serve example.rekindle.dev/v1 Widget") {
		t.Fatalf("discovery that never serves the kind: %v", err)
	}
}
