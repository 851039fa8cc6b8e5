package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Names shared by the generated blueprint and the baselines.
const (
	benchEnv     = "bench"
	benchCluster = "bench"
	// partOf labels every generated object, so that kubectl wait and the raw
	// floor's poll select exactly them.
	partOfLabel  = "app.kubernetes.io/part-of"
	partOfValue  = "rekindle-bench"
	crdGroup     = "bench.rekindle.dev"
	crdName      = "widgets." + crdGroup
	appWorkloads = 10
)

// shape is how many objects of each kind one synthetic blueprint holds.
type shape struct {
	Objects     int `json:"objects"`
	Namespaces  int `json:"namespaces"`
	CRDs        int `json:"crds"`
	Deployments int `json:"deployments"`
	Services    int `json:"services"`
	ConfigMaps  int `json:"configMaps"`
	Secrets     int `json:"secrets"`
	Widgets     int `json:"widgets"`
	Workloads   int `json:"workloads"`
}

// newShape spreads objects (Namespaces and the CRD included) over the five
// kinds as evenly as possible.
func newShape(objects, namespaces int) (shape, error) {
	rest := objects - namespaces - 1
	if rest < 5 {
		return shape{}, fmt.Errorf("%d objects leave no room for workloads in %d namespaces", objects, namespaces)
	}
	counts := [5]int{}
	for i := range counts {
		counts[i] = rest / 5
		if i < rest%5 {
			counts[i]++
		}
	}
	return shape{Objects: objects, Namespaces: namespaces, CRDs: 1,
		Deployments: counts[0], Services: counts[1], ConfigMaps: counts[2], Secrets: counts[3], Widgets: counts[4],
		Workloads: 1 + min(appWorkloads, namespaces)}, nil
}

// nodes is how many simulated nodes (110 pods each) the Deployments need,
// with room to spare.
func (s shape) nodes() int { return max(2, s.Deployments/80+1) }

func nsName(i int) string { return fmt.Sprintf("bench-%03d", i) }

// writeBlueprint writes a blueprint repo to dir: rekindle.yaml, a platform
// workload (the CRD and every Namespace) and appWorkloads plain YAML
// workloads, each holding a slice of the namespaces and depending on
// platform, one file per namespace.
func writeBlueprint(dir string, s shape) error {
	apps := s.Workloads - 1
	var bp strings.Builder
	fmt.Fprintf(&bp, `apiVersion: rekindle.dev/v1alpha1
kind: Blueprint
metadata:
  name: bench-%d
spec:
  environments:
    - name: %s
      clusters:
        - name: %s
          provider: kwok
          kwok:
            nodes: %d
          workloads:
            - name: platform
              path: workloads/platform
`, s.Objects, benchEnv, benchCluster, s.nodes())
	for w := range apps {
		fmt.Fprintf(&bp, "            - name: apps-%02d\n              path: workloads/apps-%02d\n              dependsOn: [platform]\n", w, w)
	}
	if err := writeFile(filepath.Join(dir, "rekindle.yaml"), bp.String()); err != nil {
		return err
	}

	var platform strings.Builder
	platform.WriteString(crdYAML)
	for i := range s.Namespaces {
		fmt.Fprintf(&platform, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    %s: %s\n", nsName(i), partOfLabel, partOfValue)
	}
	if err := writeFile(filepath.Join(dir, "workloads", "platform", "platform.yaml"), platform.String()); err != nil {
		return err
	}

	// Object i of each kind goes to namespace i % Namespaces; namespace n
	// belongs to workload n % apps.
	files := make([]strings.Builder, s.Namespaces)
	add := func(count int, doc func(ns string, i int) string) {
		for i := range count {
			n := i % s.Namespaces
			files[n].WriteString("---\n")
			files[n].WriteString(doc(nsName(n), i))
		}
	}
	add(s.Deployments, deploymentYAML)
	add(s.Services, serviceYAML)
	add(s.ConfigMaps, configMapYAML)
	add(s.Secrets, secretYAML)
	add(s.Widgets, widgetYAML)
	for n := range s.Namespaces {
		p := filepath.Join(dir, "workloads", fmt.Sprintf("apps-%02d", n%apps), nsName(n)+".yaml")
		if err := writeFile(p, files[n].String()); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

const crdYAML = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + crdName + `
  labels:
    ` + partOfLabel + `: ` + partOfValue + `
spec:
  group: ` + crdGroup + `
  scope: Namespaced
  names:
    kind: Widget
    listKind: WidgetList
    plural: widgets
    singular: widget
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
                size:
                  type: integer
                color:
                  type: string
`

func deploymentYAML(ns string, i int) string {
	name := fmt.Sprintf("app-%04d", i)
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app: %[1]s
    %[3]s: %[4]s
spec:
  replicas: 1
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      containers:
        - name: app
          image: registry.example/bench/app:1.0.%[5]d
          ports:
            - containerPort: 8080
          env:
            - name: INDEX
              value: "%[5]d"
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
`, name, ns, partOfLabel, partOfValue, i)
}

func serviceYAML(ns string, i int) string {
	name := fmt.Sprintf("app-%04d", i)
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    %[3]s: %[4]s
spec:
  selector:
    app: %[1]s
  ports:
    - name: http
      port: 80
      targetPort: 8080
`, name, ns, partOfLabel, partOfValue)
}

func configMapYAML(ns string, i int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config-%04[1]d
  namespace: %[2]s
  labels:
    %[3]s: %[4]s
data:
  index: "%[1]d"
  app.properties: |
    server.port=8080
    feature.flags=alpha,beta
    instance=%[1]d
`, i, ns, partOfLabel, partOfValue)
}

func secretYAML(ns string, i int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: secret-%04[1]d
  namespace: %[2]s
  labels:
    %[3]s: %[4]s
type: Opaque
data:
  username: YmVuY2g=
  password: c2VjcmV0LXBhc3N3b3JkLTEyMzQ1Njc4
`, i, ns, partOfLabel, partOfValue)
}

func widgetYAML(ns string, i int) string {
	return fmt.Sprintf(`apiVersion: %[5]s/v1
kind: Widget
metadata:
  name: widget-%04[1]d
  namespace: %[2]s
  labels:
    %[3]s: %[4]s
spec:
  size: %[1]d
  color: blue
`, i, ns, partOfLabel, partOfValue, crdGroup)
}
