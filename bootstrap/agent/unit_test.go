package agent

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/blueprints"
)

func TestObjectRefString(t *testing.T) {
	tests := []struct {
		ref  ObjectRef
		want string
	}{
		{ObjectRef{Version: "v1", Kind: "Namespace", Name: "shop"}, "Namespace/shop"},
		{ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}, "Deployment/shop/web"},
	}
	for _, tt := range tests {
		if got := tt.ref.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.ref, got, tt.want)
		}
	}
}

func TestPlanRejectsBadRenders(t *testing.T) {
	w := func(name string, deps ...string) blueprints.RenderedWorkload {
		return blueprints.RenderedWorkload{Name: name, DependsOn: deps}
	}
	tests := []struct {
		name      string
		workloads []blueprints.RenderedWorkload
		wantErr   string
	}{
		{"ok", []blueprints.RenderedWorkload{w("a"), w("b", "a"), w("c", "a", "b")}, ""},
		{"duplicate", []blueprints.RenderedWorkload{w("a"), w("a")}, `workload "a" appears twice`},
		{"dependency after", []blueprints.RenderedWorkload{w("b", "a"), w("a")}, `"b" depends on "a", which is not rendered before it`},
		{"unknown dependency", []blueprints.RenderedWorkload{w("a", "x")}, `depends on "x"`},
		{"cycle", []blueprints.RenderedWorkload{w("a", "b"), w("b", "a")}, `"a" depends on "b"`},
		{"no name", []blueprints.RenderedWorkload{w("")}, "has no name"},
	}
	a := &Applier{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.plan(&blueprints.RenderedCluster{Cluster: "c", Workloads: tt.workloads})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestPlanLabelsWithoutTouchingTheRender(t *testing.T) {
	cm := configMap("shop", "cfg", map[string]any{"a": "b"})
	rc := &blueprints.RenderedCluster{Cluster: "dev", Workloads: []blueprints.RenderedWorkload{{Name: "app",
		Objects: []*unstructured.Unstructured{namespace("shop"), cm}}}}
	plans, err := (&Applier{}).plan(rc)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans[0].defs) != 1 || len(plans[0].rest) != 1 {
		t.Fatalf("defs %d rest %d, want 1 and 1", len(plans[0].defs), len(plans[0].rest))
	}
	got := plans[0].rest[0].GetLabels()
	if got[LabelManagedBy] != "rekindle" || got[LabelCluster] != "dev" || got[LabelWorkload] != "app" {
		t.Errorf("labels %v", got)
	}
	if len(cm.GetLabels()) != 0 {
		t.Errorf("render modified: %v", cm.GetLabels())
	}
}

func TestDrifted(t *testing.T) {
	cm := ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: "same"}
	changed := ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: "changed"}
	fresh := ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: "unhashed"}
	plans := []*workloadPlan{{entries: []InventoryEntry{
		{ObjectRef: cm, Hash: "h1"}, {ObjectRef: changed, Hash: "h3"}, {ObjectRef: fresh, Hash: "h4"},
	}}}
	old := map[string]string{cm.key(): "h1", changed.key(): "h2", fresh.key(): ""}
	got := drifted(plans, old, []ObjectRef{cm, changed, fresh})
	if len(got) != 1 || got[0] != cm {
		t.Errorf("drifted %v, want only %v", got, cm)
	}
}

func TestMergeInventory(t *testing.T) {
	r := func(n string) ObjectRef { return ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: n} }
	old := &Inventory{Cluster: "c", Commit: "old", Objects: []InventoryEntry{{ObjectRef: r("x"), Hash: "1"}, {ObjectRef: r("y"), Hash: "1"}},
		Releases: []HelmRelease{{Name: "r1", Namespace: "n"}}}
	cur := &Inventory{Cluster: "c", Commit: "new", Objects: []InventoryEntry{{ObjectRef: r("y"), Hash: "2"}, {ObjectRef: r("z")}},
		Releases: []HelmRelease{{Name: "r2", Namespace: "n"}}}
	m := mergeInventory(old, cur)
	var names []string
	for _, e := range m.Objects {
		names = append(names, e.Name+"="+e.Hash)
	}
	slices.Sort(names)
	if want := []string{"x=1", "y=2", "z="}; !slices.Equal(names, want) {
		t.Errorf("objects %v, want %v", names, want)
	}
	if len(m.Releases) != 2 || m.Commit != "old" {
		t.Errorf("releases %v commit %q", m.Releases, m.Commit)
	}
}

func TestLabelPostRenderer(t *testing.T) {
	in := bytes.NewBufferString(`---
# Source: tiny/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  labels:
    keep: "yes"
data: {k: v}
---
apiVersion: v1
kind: Service
metadata:
  name: b
spec:
  ports: [{port: 80}]
---
`)
	out, err := (&labelPostRenderer{labels: map[string]string{LabelWorkload: "w"}}).Run(in)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Count(s, "rekindle.dev/workload: w") != 2 || !strings.Contains(s, `keep: "yes"`) {
		t.Errorf("post-rendered:\n%s", s)
	}
	if strings.Index(s, "kind: ConfigMap") > strings.Index(s, "kind: Service") {
		t.Errorf("order changed:\n%s", s)
	}
}

func TestReleaseDigest(t *testing.T) {
	mk := func(tpl string) *chart.Chart {
		return &chart.Chart{Metadata: &chart.Metadata{Name: "c", Version: "1.0.0"},
			Raw: []*chart.File{{Name: "templates/a.yaml", Data: []byte(tpl)}, {Name: "Chart.yaml", Data: []byte("name: c")}}}
	}
	base, _ := releaseDigest(mk("a"), map[string]any{"x": 1, "y": map[string]any{"z": true}})
	tests := []struct {
		name   string
		chart  *chart.Chart
		values map[string]any
		same   bool
	}{
		{"same chart and values", mk("a"), map[string]any{"y": map[string]any{"z": true}, "x": 1}, true},
		{"values changed", mk("a"), map[string]any{"x": 2, "y": map[string]any{"z": true}}, false},
		{"template changed at the same version", mk("b"), map[string]any{"x": 1, "y": map[string]any{"z": true}}, false},
	}
	for _, tt := range tests {
		got, err := releaseDigest(tt.chart, tt.values)
		if err != nil {
			t.Fatal(err)
		}
		if (got == base) != tt.same {
			t.Errorf("%s: digest equal = %v, want %v", tt.name, got == base, tt.same)
		}
		if len(got) > 63 {
			t.Errorf("digest %q too long for a label", got)
		}
	}
}

func TestSyncCRDIsEmbedded(t *testing.T) {
	u := fromYAML(t, string(SyncCRD))
	if u.GetName() != "syncs.rekindle.dev" {
		t.Errorf("CRD name %q", u.GetName())
	}
	cols, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	if len(cols) != 1 {
		t.Fatalf("versions %v", cols)
	}
}

func TestWaitReadsAllButCreatedObjectsHealthyOnceTheyExist(t *testing.T) {
	lb := service("shop", "edge")
	if err := unstructured.SetNestedField(lb.Object, "LoadBalancer", "spec", "type"); err != nil {
		t.Fatal(err)
	}
	objs := []*unstructured.Unstructured{
		configMap("shop", "created", nil), configMap("shop", "found", nil), service("shop", "web"), lb,
		deployment("shop", "web", 1), obj("rbac.authorization.k8s.io/v1", "Role", "shop", "reader", nil),
	}
	p := &workloadPlan{w: blueprints.RenderedWorkload{Name: "shop", Objects: objs}}
	planPlain(p, "c1")
	var changes []ssa.ChangeSetEntry
	for _, o := range objs {
		act := ssa.CreatedAction
		if o.GetName() == "found" {
			act = ssa.UnchangedAction
		}
		changes = append(changes, ssa.ChangeSetEntry{ObjMetadata: object.UnstructuredToObjMetadata(o), GroupVersion: o.GroupVersionKind().Version, Action: act})
	}
	var got []string
	for _, r := range p.toRead(changes) {
		got = append(got, r.String())
	}
	// The Unchanged ConfigMap may be Terminating, the LoadBalancer waits
	// for its IP, the Deployment for its rollout.
	want := []string{"ConfigMap/shop/found", "Service/shop/edge", "Deployment/shop/web"}
	if !slices.Equal(got, want) {
		t.Errorf("the wait reads %v, want %v", got, want)
	}
	if n := len(p.toRead(nil)); n != len(objs) {
		t.Errorf("with no apply outcome the wait reads %d objects, want all %d", n, len(objs))
	}
}
