package agent

import (
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/fluxcd/pkg/ssa/utils"

	"github.com/rekindle-dev/rekindle/blueprints"
)

func obj(apiVersion, kind, namespace, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetName(name)
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	return u
}

func namespace(name string) *unstructured.Unstructured { return obj("v1", "Namespace", "", name, nil) }

func configMap(ns, name string, data map[string]any) *unstructured.Unstructured {
	return obj("v1", "ConfigMap", ns, name, map[string]any{"data": data})
}

func service(ns, name string) *unstructured.Unstructured {
	return obj("v1", "Service", ns, name, map[string]any{"spec": map[string]any{
		"selector": map[string]any{"app": name},
		"ports":    []any{map[string]any{"port": int64(80), "targetPort": int64(8080), "protocol": "TCP"}},
	}})
}

func deployment(ns, name string, replicas int64) *unstructured.Unstructured {
	return obj("apps/v1", "Deployment", ns, name, map[string]any{"spec": map[string]any{
		"replicas": replicas,
		"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": name}},
			"spec": map[string]any{"containers": []any{map[string]any{
				"name": "app", "image": "registry.example/" + name + ":1.0",
				"ports": []any{map[string]any{"containerPort": int64(8080), "protocol": "TCP"}},
			}}},
		},
	}})
}

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.rekindle.dev
spec:
  group: example.rekindle.dev
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
                color: {type: string}
`

func fromYAML(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func widget(ns, name string, size int64) *unstructured.Unstructured {
	return obj("example.rekindle.dev/v1", "Widget", ns, name, map[string]any{"spec": map[string]any{"size": size, "color": "blue"}})
}

// helmTemplate renders a chart like `helm template` does.
func helmTemplate(t testing.TB, chartPath, release, ns string, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	ch, err := loader.Load(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(&action.Configuration{})
	in.DryRun, in.ClientOnly, in.Replace = true, true, true
	in.ReleaseName, in.Namespace = release, ns
	in.KubeVersion = &chartutil.KubeVersion{Version: "v1.36.3", Major: "1", Minor: "36"}
	rel, err := in.Run(ch, values)
	if err != nil {
		t.Fatalf("helm template %s: %v", chartPath, err)
	}
	objs, err := utils.ReadObjects(stringsReader(rel.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// testRender is the blueprint the cluster tests replay: a CRD with custom
// resources, a Namespace, a dependsOn chain of three workloads
// (platform -> backend -> frontend), an independent workload and a Helm
// workload.
func testRender(t testing.TB, cluster, commit string) *blueprints.RenderedCluster {
	t.Helper()
	chartPath, err := filepath.Abs("testdata/charts/tiny")
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{"message": "from-rekindle"}
	return &blueprints.RenderedCluster{
		Environment: "test", Cluster: cluster, Commit: commit,
		Workloads: []blueprints.RenderedWorkload{
			{Name: "platform", Source: blueprints.SourcePlain, Objects: []*unstructured.Unstructured{
				fromYAML(t, widgetCRD), namespace("shop"), widget("shop", "default-widget", 1),
			}},
			{Name: "backend", Source: blueprints.SourcePlain, DependsOn: []string{"platform"}, Objects: []*unstructured.Unstructured{
				configMap("shop", "backend-config", map[string]any{"mode": "prod", "workers": "4"}),
				deployment("shop", "backend", 2), service("shop", "backend"), widget("shop", "backend-widget", 3),
			}},
			{Name: "frontend", Source: blueprints.SourcePlain, DependsOn: []string{"backend"}, Objects: []*unstructured.Unstructured{
				configMap("shop", "frontend-config", map[string]any{"backend": "http://backend"}),
				deployment("shop", "frontend", 1), service("shop", "frontend"),
			}},
			{Name: "monitoring", Source: blueprints.SourcePlain, Objects: []*unstructured.Unstructured{
				namespace("monitoring"), configMap("monitoring", "rules", map[string]any{"alert": "up == 0"}),
				deployment("monitoring", "collector", 1),
			}},
			{Name: "tiny", Source: blueprints.SourceHelm, DependsOn: []string{"platform"},
				Objects: helmTemplate(t, chartPath, "tiny", "tiny", values),
				Helm: &blueprints.RenderedHelm{ReleaseName: "tiny", Namespace: "tiny", ChartPath: chartPath,
					ChartName: "tiny", ChartVersion: "0.1.0", Values: values}},
		},
	}
}

// without returns rc minus the named workloads.
func without(rc *blueprints.RenderedCluster, names ...string) *blueprints.RenderedCluster {
	out := *rc
	out.Workloads = nil
	for _, w := range rc.Workloads {
		drop := false
		for _, n := range names {
			drop = drop || w.Name == n
		}
		if !drop {
			out.Workloads = append(out.Workloads, w)
		}
	}
	return &out
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
