package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// exampleCluster is one cluster of the drill's example, as rendered.
type exampleCluster struct {
	Name    string `json:"name"`
	Nodes   int    `json:"nodes"`
	Objects int    `json:"objects"`
	objs    []*unstructured.Unstructured
}

// exampleRun is one measurement of what rekindle cannot do faster in the
// example's recovery: kwok creating its clusters one after the other (as
// the recovery does), then the raw floor replaying every cluster's objects
// at once (as the recovery's agents do) until every Deployment is Available.
type exampleRun struct {
	// KwokStart is the sum of the clusters' creation times.
	KwokStart    float64   `json:"kwokStartSeconds"`
	ClusterStart []float64 `json:"clusterStartSeconds,omitempty"`
	// FloorReplay is the slowest cluster's raw replay, each timed from its
	// first create.
	FloorReplay float64 `json:"floorReplaySeconds"`
	Error       string  `json:"error,omitempty"`
	Load        string  `json:"load"`
}

var outputRef = regexp.MustCompile(`\.Infra\.Outputs\.([A-Za-z0-9_]+)`)

// loadExample renders every cluster of the example's environment. Cluster
// names taken from Terraform outputs get placeholders: only cluster fields
// take templates, so the objects are the same as in the drill.
func loadExample(ctx context.Context, dir, env string) ([]exampleCluster, error) {
	repo, err := blueprints.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load %q: %w", dir, err)
	}
	e, err := repo.Blueprint.Environment(env)
	if err != nil {
		return nil, fmt.Errorf("load %q: %w", dir, err)
	}
	outputs := map[string]any{}
	for _, c := range e.Clusters {
		for _, m := range outputRef.FindAllStringSubmatch(c.Name, -1) {
			outputs[m[1]] = strings.ReplaceAll(strings.ToLower(m[1]), "_", "-")
		}
	}
	x, err := repo.Expand(env, outputs)
	if err != nil {
		return nil, fmt.Errorf("expand %q: %w", dir, err)
	}
	var out []exampleCluster
	for _, c := range x.Clusters {
		if c.Provider != "kwok" {
			return nil, fmt.Errorf("%s: cluster %q is %s: the RTO share is measured on kwok clusters only", dir, c.Name, c.Provider)
		}
		rc, err := repo.Render(ctx, env, c.Name, blueprints.RenderOptions{Outputs: outputs})
		if err != nil {
			return nil, fmt.Errorf("render %q cluster %q: %w", dir, c.Name, err)
		}
		ec := exampleCluster{Name: c.Name, objs: rc.AllObjects()}
		ec.Objects = len(ec.objs)
		if c.Kwok != nil {
			ec.Nodes = c.Kwok.Nodes
		}
		out = append(out, ec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: environment %q has no clusters", dir, env)
	}
	return out, nil
}

// runExampleFloor makes one exampleRun on fresh clusters, deleted after.
func runExampleFloor(ctx context.Context, work string, clusters []exampleCluster, workers, n int, limit time.Duration) (exampleRun, error) {
	r := exampleRun{Load: loadAvg()}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var made []*kwokCluster
	defer func() {
		for _, c := range made {
			c.delete()
		}
	}()
	for i, ec := range clusters {
		c, err := newCluster(ctx, work, fmt.Sprintf("bench-ex%d-r%d", i, n), ec.Nodes)
		if err != nil {
			return r, fmt.Errorf("create a kwok cluster like %q: %w", ec.Name, err)
		}
		made = append(made, c)
		r.ClusterStart = append(r.ClusterStart, c.StartSeconds)
		r.KwokStart += c.StartSeconds
	}
	runs := make([]run, len(clusters))
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i], errs[i] = runRaw(ctx, clusters[i].objs, made[i], workers)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return r, fmt.Errorf("raw floor on %q: %w", clusters[i].Name, err)
		}
		r.FloorReplay = max(r.FloorReplay, runs[i].Healthy)
	}
	return r, nil
}
