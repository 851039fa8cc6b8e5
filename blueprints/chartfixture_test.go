package blueprints

import (
	"os"
	"path/filepath"
	"testing"
)

// The capability chart "capsdemo" declares kubeVersion >=1.25.0-0, renders
// a ConfigMap that records .Capabilities.KubeVersion, renders a Widget only
// when .Capabilities.APIVersions.Has finds the Widget CRD's API, and
// depends on the chart "capsdep" (from a repository, or vendored).
const (
	widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.rekindle.dev
spec:
  group: example.rekindle.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`
	capsTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-caps
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  widgets: {{ .Capabilities.APIVersions.Has "example.rekindle.dev/v1/Widget" | quote }}
  greeting: {{ .Values.greeting | quote }}
{{- if .Capabilities.APIVersions.Has "example.rekindle.dev/v1" }}
---
apiVersion: example.rekindle.dev/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}-widget
spec:
  size: {{ .Values.size }}
{{- end }}
`
	depTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-dep
data:
  from: capsdep
`
)

// writeChart writes a chart directory from files (relative path -> content).
func writeChart(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// capsDepChart writes the dependency chart capsdep at version.
func capsDepChart(t *testing.T, dir, version string) string {
	return writeChart(t, dir, map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: capsdep\nversion: " + version + "\n",
		"templates/dep.yaml": depTemplate,
	})
}

// capsDemoChart writes capsdemo at version, depending on capsdep (range
// depRange) from depRepo ("" for a dependency vendored later into charts/).
func capsDemoChart(t *testing.T, dir, version, depRange, depRepo string) string {
	chartYAML := "apiVersion: v2\nname: capsdemo\nversion: " + version + "\nkubeVersion: \">=1.25.0-0\"\n" +
		"dependencies:\n- name: capsdep\n  version: \"" + depRange + "\"\n"
	if depRepo != "" {
		chartYAML += "  repository: \"" + depRepo + "\"\n"
	}
	return writeChart(t, dir, map[string]string{
		"Chart.yaml":          chartYAML,
		"values.yaml":         "greeting: hello\nsize: 1\n",
		"templates/caps.yaml": capsTemplate,
	})
}
