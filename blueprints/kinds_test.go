package blueprints

import (
	"context"
	"reflect"
	"testing"
)

// TestMissingKinds: a custom resource whose CRD is in the render is
// served; without it, only the cluster's discovery can serve it.
func TestMissingKinds(t *testing.T) {
	r := capsRepo(t)
	rc, err := r.Render(context.Background(), "dev", "tools", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := rc.MissingKinds(nil); len(m) != 0 {
		t.Errorf("with the CRD in the render: %+v", m)
	}
	rc.Workloads = rc.Workloads[1:] // drop the crds workload
	want := []MissingKind{{APIVersion: "example.rekindle.dev/v1", Kind: "Widget", Workload: "demo", Objects: []string{"Widget/demo/demo-widget"}}}
	if m := rc.MissingKinds(nil); !reflect.DeepEqual(m, want) {
		t.Errorf("without the CRD: %+v, want %+v", m, want)
	}
	if m := rc.MissingKinds([]string{"example.rekindle.dev/v1", "example.rekindle.dev/v1/Widget"}); len(m) != 0 {
		t.Errorf("served by the cluster: %+v", m)
	}
}
