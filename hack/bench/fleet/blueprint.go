package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Names of the generated blueprint.
const (
	fleetBlueprint = "fleet-bench"
	fleetEnv       = "bench"
)

// objectsPerCluster is split over three workloads: base (Namespaces and
// ConfigMaps), config (ConfigMaps and Secrets) and apps (Deployments and
// Services); config and apps depend on base.
type split struct{ namespaces, baseConfigMaps, configMaps, secrets, deployments, services int }

func splitObjects(n int) (split, error) {
	if n < 10 {
		return split{}, fmt.Errorf("-objects %d: need at least 10", n)
	}
	s := split{namespaces: 2}
	rest := n - s.namespaces
	third := rest / 3
	s.baseConfigMaps = rest - 2*third
	s.configMaps, s.secrets = third/2, third-third/2
	s.deployments, s.services = third/2, third-third/2
	return s, nil
}

func (s split) total() int {
	return s.namespaces + s.baseConfigMaps + s.configMaps + s.secrets + s.deployments + s.services
}

// writeBlueprint writes a blueprint repo with n kwok clusters (no infra),
// each holding the same three workloads of objects objects in all, and
// returns its directory.
func writeBlueprint(root string, n, objects int) (string, error) {
	s, err := splitObjects(objects)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, fmt.Sprintf("blueprint-%d", n))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata:\n  name: %s\nspec:\n  environments:\n    - name: %s\n      recovery:\n        rto: 30m\n      clusters:\n", fleetBlueprint, fleetEnv)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `        - name: fleet-%02d
          provider: kwok
          kwok:
            nodes: 2
          workloads:
            - name: base
              path: workloads/base
            - name: config
              path: workloads/config
              dependsOn: [base]
            - name: apps
              path: workloads/apps
              dependsOn: [base]
`, i)
	}
	files := map[string]string{
		"rekindle.yaml":           b.String(),
		"workloads/base/ns.yaml":  baseYAML(s),
		"workloads/config/c.yaml": configYAML(s),
		"workloads/apps/a.yaml":   appsYAML(s),
	}
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func ns(i, of int) string { return fmt.Sprintf("bench-%d", i%of) }

func baseYAML(s split) string {
	var b strings.Builder
	for i := range s.namespaces {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-%d\n", i)
	}
	for i := range s.baseConfigMaps {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base-%d\n  namespace: %s\ndata:\n  key: value-%d\n", i, ns(i, s.namespaces), i)
	}
	return b.String()
}

func configYAML(s split) string {
	var b strings.Builder
	for i := range s.configMaps {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-%d\n  namespace: %s\ndata:\n  key: value-%d\n", i, ns(i, s.namespaces), i)
	}
	for i := range s.secrets {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-%d\n  namespace: %s\nstringData:\n  token: not-a-secret-%d\n", i, ns(i, s.namespaces), i)
	}
	return b.String()
}

func appsYAML(s split) string {
	var b strings.Builder
	for i := range s.deployments {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d
  namespace: %[2]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: app-%[1]d}
  template:
    metadata:
      labels: {app: app-%[1]d}
    spec:
      containers:
        - name: app
          image: registry.example/app:1.0
`, i, ns(i, s.namespaces))
	}
	for i := range s.services {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%d\n  namespace: %s\nspec:\n  selector: {app: app-%d}\n  ports:\n    - port: 80\n", i, ns(i, s.namespaces), i)
	}
	return b.String()
}
