package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fleetCluster is one cluster of a generated fleet blueprint.
type fleetCluster struct {
	name      string
	provider  string // kwok (default) or kind
	dependsOn []string
	// kindConfig, for provider kind, is the content of its kind.config file.
	kindConfig string
}

// writeFleet writes a blueprint repo, shaped like a user's, into dir:
// rekindle.yaml with environment "prod" (no infra), and per cluster a
// workload directory with a Namespace, a ConfigMap and a Deployment. It
// returns the path of rekindle.yaml.
func writeFleet(t *testing.T, dir string, clusters ...fleetCluster) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata:\n  name: fleet\nspec:\n  environments:\n    - name: prod\n      recovery:\n        rto: 10m\n      clusters:\n")
	for _, c := range clusters {
		fmt.Fprintf(&b, "        - name: %s\n", c.name)
		switch c.provider {
		case "", "kwok":
			b.WriteString("          provider: kwok\n          kwok:\n            nodes: 1\n")
		case "kind":
			cfg := "clusters/" + c.name + "/kind.yaml"
			writeRepoFile(t, dir, cfg, c.kindConfig)
			fmt.Fprintf(&b, "          provider: kind\n          kind:\n            config: %s\n", cfg)
		default:
			t.Fatalf("writeFleet: provider %q", c.provider)
		}
		if len(c.dependsOn) > 0 {
			fmt.Fprintf(&b, "          dependsOn: [%s]\n", strings.Join(c.dependsOn, ", "))
		}
		fmt.Fprintf(&b, "          workloads:\n            - name: app\n              path: workloads/%s\n", c.name)
		writeRepoFile(t, dir, "workloads/"+c.name+"/app.yaml", fmt.Sprintf(appYAML, c.name))
	}
	p := writeRepoFile(t, dir, "rekindle.yaml", b.String())
	return p
}

const appYAML = `apiVersion: v1
kind: Namespace
metadata:
  name: app-%[1]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: app-%[1]s
data:
  cluster: %[1]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app-%[1]s
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0
`

func writeRepoFile(t *testing.T, dir, rel, content string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fleetSummary is the summary event with each cluster's error and steps.
type fleetSummary struct {
	Clusters []struct {
		Name      string `json:"name"`
		Provider  string `json:"provider"`
		APIServer string `json:"apiServer"`
		Desired   int    `json:"desired"`
		Healthy   int    `json:"healthy"`
		Ready     bool   `json:"ready"`
		Error     string `json:"error"`
		Steps     []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"steps"`
	} `json:"clusters"`
}

func parseFleetSummary(t *testing.T, stdout string) fleetSummary {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		var ev struct {
			Event   string       `json:"event"`
			Summary fleetSummary `json:"summary"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "summary" {
			return ev.Summary
		}
	}
	t.Fatalf("no summary event in stdout:\n%s", stdout)
	return fleetSummary{}
}

// stepEvent is one `-o json` progress event.
type stepEvent struct {
	Event   string    `json:"event"`
	Time    time.Time `json:"time"`
	Step    string    `json:"step"`
	Status  string    `json:"status"`
	Cluster string    `json:"cluster"`
	Detail  string    `json:"detail"`
}

func parseEvents(stderr string) []stepEvent {
	var out []stepEvent
	for _, line := range strings.Split(stderr, "\n") {
		var ev stepEvent
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "step" {
			out = append(out, ev)
		}
	}
	return out
}

// eventTime is when cluster's step reached status, or the zero time.
func eventTime(evs []stepEvent, cluster, step, status string) time.Time {
	for _, e := range evs {
		if e.Cluster == cluster && e.Step == step && e.Status == status {
			return e.Time
		}
	}
	return time.Time{}
}

// createdClusters lists the clusters a run's events say it created.
func createdClusters(evs []stepEvent) []string {
	var out []string
	for _, e := range evs {
		if e.Step == "clusters" && e.Status == "info" && strings.HasPrefix(e.Detail, "creating ") {
			out = append(out, e.Cluster)
		}
	}
	return out
}

// kwokClusters is `rekindle cluster list --provider kwok` by name.
func kwokClusters(t *testing.T, state string) map[string]string {
	t.Helper()
	res := rk(t, state, nil, "-o", "json", "cluster", "list", "--provider", "kwok")
	if res.code != 0 {
		t.Fatalf("cluster list: exit %d", res.code)
	}
	out := map[string]string{}
	for _, line := range splitLines(res.stdout) {
		var c struct {
			Name      string `json:"name"`
			State     string `json:"state"`
			APIServer string `json:"apiServer"`
		}
		if json.Unmarshal([]byte(line), &c) == nil && c.Name != "" {
			out[c.Name] = c.State + " " + c.APIServer
		}
	}
	return out
}

// agentProcesses counts the running host agents (`rekindle agent
// --cluster C`) of each cluster under state.
func agentProcesses(state string) map[string]int {
	out := map[string]int{}
	for _, p := range processesUnder(state) {
		f := strings.Fields(p)
		if len(f) < 3 || filepath.Base(f[1]) != "rekindle" || f[2] != "agent" {
			continue
		}
		for i := range f[:len(f)-1] {
			if f[i] == "--cluster" {
				out[f[i+1]]++
			}
		}
	}
	return out
}

// checkpointSteps reads each cluster's completed steps from the checkpoint.
func checkpointSteps(t *testing.T, state, blueprint, env string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "envs", blueprint, env, "checkpoint.json"))
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	var cp struct {
		Clusters []struct {
			Name  string                     `json:"name"`
			Steps map[string]json.RawMessage `json:"steps"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal(data, &cp); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	out := map[string][]string{}
	for _, c := range cp.Clusters {
		for s := range c.Steps {
			out[c.Name] = append(out[c.Name], s)
		}
	}
	return out
}

// logKwok logs the end of every kwokctl and component log under state, for
// a failure to be diagnosed after the cleanup deleted the clusters.
func logKwok(t *testing.T, state string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(state, "clusters", "kwok", "*", "kwokctl.log"))
	more, _ := filepath.Glob(filepath.Join(state, "clusters", "kwok", "*", "kwok", "clusters", "*", "logs", "*.log"))
	for _, p := range append(logs, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		t.Logf("the end of %s:\n%s", p, strings.Join(lines[max(0, len(lines)-8):], "\n"))
	}
}
