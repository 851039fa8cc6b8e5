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
// example's recovery, done the way the recovery does it: every cluster side
// by side, kwok creating it and then the raw floor replaying its objects
// until every Deployment is Available. The cluster whose chain ends last is
// the critical path; its two parts are kwok's start and the floor's replay.
type exampleRun struct {
	// KwokStart and FloorReplay are the critical cluster's.
	KwokStart   float64 `json:"kwokStartSeconds"`
	FloorReplay float64 `json:"floorReplaySeconds"`
	Critical    string  `json:"critical"`
	// ClusterStart and ClusterReplay are every cluster's, in order.
	ClusterStart  []float64 `json:"clusterStartSeconds,omitempty"`
	ClusterReplay []float64 `json:"clusterReplaySeconds,omitempty"`
	Error         string    `json:"error,omitempty"`
	Load          string    `json:"load"`
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
func runExampleFloor(ctx context.Context, work string, clusters []exampleCluster, setting rawSetting, n int, limit time.Duration) (exampleRun, error) {
	r := exampleRun{Load: loadAvg()}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	made := make([]*kwokCluster, len(clusters))
	defer func() {
		for _, c := range made {
			if c != nil {
				c.delete()
			}
		}
	}()
	replay := make([]float64, len(clusters))
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i, ec := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := newCluster(ctx, work, fmt.Sprintf("bench-ex%d-r%d", i, n), ec.Nodes)
			if err != nil {
				errs[i] = fmt.Errorf("create a kwok cluster like %q: %w", ec.Name, err)
				return
			}
			made[i] = c
			rr, err := runRaw(ctx, ec.objs, c, setting)
			if err != nil {
				errs[i] = fmt.Errorf("raw floor on %q: %w", ec.Name, err)
				return
			}
			replay[i] = rr.Healthy
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return r, err
		}
		r.ClusterStart, r.ClusterReplay = append(r.ClusterStart, made[i].StartSeconds), append(r.ClusterReplay, replay[i])
		if r.Critical == "" || made[i].StartSeconds+replay[i] > r.KwokStart+r.FloorReplay {
			r.Critical, r.KwokStart, r.FloorReplay = clusters[i].Name, made[i].StartSeconds, replay[i]
		}
	}
	return r, nil
}
