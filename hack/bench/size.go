package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/blueprints"

	"github.com/rekindle-dev/rekindle/hack/bench/cpustat"
)

// sizeInput is one generated blueprint and what the baselines replay.
type sizeInput struct {
	shape     shape
	blueprint string // the blueprint directory
	objs      []*unstructured.Unstructured
	crds      string // kubectl's input files
	manifests string
	work      string
}

// benchSize generates one blueprint and measures every method on it -runs
// times, interleaved (run 1 of every method, then run 2, ...) so that a
// change in the machine's load falls on all of them alike.
func benchSize(ctx context.Context, o options, bin, work, out string, sz sizeSpec) (*sizeResult, error) {
	s, err := newShape(sz.objects, sz.namespaces)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("size-%d", s.Objects)
	dir := filepath.Join(work, name)
	in := sizeInput{shape: s, blueprint: filepath.Join(dir, "blueprint"), work: work}
	if err := writeBlueprint(in.blueprint, s); err != nil {
		return nil, err
	}
	// The harness renders in process once, for the baselines' input.
	repo, err := blueprints.Load(in.blueprint)
	if err != nil {
		return nil, err
	}
	rc, err := repo.Render(ctx, benchEnv, benchCluster, blueprints.RenderOptions{})
	if err != nil {
		return nil, err
	}
	if in.objs = rc.AllObjects(); len(in.objs) != s.Objects {
		return nil, fmt.Errorf("the %d-object blueprint rendered %d objects", s.Objects, len(in.objs))
	}
	if in.crds, in.manifests, err = writeManifests(dir, in.objs); err != nil {
		return nil, err
	}

	byMethod := map[string][]run{}
	var render, renderRSS []float64
	// result summarises what was measured so far: an interrupted size
	// still reports its finished runs.
	result := func() *sizeResult {
		sr := &sizeResult{Shape: s, Render: summarize(render), RenderRSS: summarize(renderRSS)}
		for _, m := range o.methods {
			sr.Methods = append(sr.Methods, summarizeMethod(m.name, byMethod[m.name]))
		}
		return sr
	}
	for i := range o.runs {
		logs := filepath.Join(out, "logs", name, fmt.Sprintf("run-%d", i+1))
		if err := os.MkdirAll(logs, 0o755); err != nil {
			return nil, err
		}
		// The CLI's render, as a user runs it.
		t := time.Now()
		u, err := child(ctx, filepath.Join(logs, "render.log"), bin, "blueprint", "render", "-q",
			"--blueprint", in.blueprint, "--env", benchEnv, "--cluster", benchCluster)
		if err != nil {
			return result(), err
		}
		render, renderRSS = append(render, time.Since(t).Seconds()), append(renderRSS, u.rssMiB)
		for _, m := range o.methods {
			r := measure(ctx, o, bin, m, i, in, logs)
			if err := ctx.Err(); err != nil {
				// A run cut short by the interrupt is no measurement.
				return result(), err
			}
			byMethod[m.name] = append(byMethod[m.name], r)
		}
	}
	return result(), nil
}

// measure makes one run of one method on a fresh cluster: a watch splits
// it into its apply and healthy phases, and after it, outside the timing,
// the cluster is checked to hold every object with every Deployment
// Available, so that all methods are compared on the same end state.
func measure(ctx context.Context, o options, bin string, m method, i int, in sizeInput, logs string) run {
	s := in.shape
	load := loadAvg()
	fail := func(err error) run {
		progress("%d objects, run %d: %s FAILED: %v", s.Objects, i+1, m.name, err)
		return run{Error: err.Error(), Load: load}
	}
	c, err := newCluster(ctx, in.work, fmt.Sprintf("b-%s-%d-%d", strings.ReplaceAll(m.name, "-", ""), s.Objects, i+1), s.nodes())
	if err != nil {
		return fail(err)
	}
	defer c.delete()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	pres, err := watchPresence(wctx, c.Config, s.Objects)
	if err != nil {
		return fail(err)
	}
	mctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var r run
	busy := cpustat.MachineBusyTicks()
	switch m.name {
	case "rekindle":
		r, err = runRekindle(mctx, bin, in.blueprint, c, logs, o.profile)
	case "kubectl":
		r, err = runKubectl(mctx, in.crds, in.manifests, c, s, logs, o.kubectlLimit)
	default:
		r, err = runRaw(mctx, in.objs, c, m.raw)
	}
	r.Load, r.MachineCPU = load, cpustat.Since(busy)
	if err == nil && !r.Capped {
		err = checkState(ctx, c.Config, s)
	}
	if err == nil && !r.Capped {
		present, seen := pres.after(r.started)
		if present == 0 {
			err = fmt.Errorf("the watch saw %d of %d objects", seen, s.Objects)
		}
		r.Present, r.HealthyPhase = present, max(0, r.Healthy-present)
	}
	switch {
	case err != nil:
		r.Error = err.Error()
		progress("%d objects, run %d: %s FAILED: %v", s.Objects, i+1, m.name, err)
	case r.Capped:
		progress("%d objects, run %d: %s %s", s.Objects, i+1, m.name, r.Note)
	default:
		progress("%d objects, run %d: %s healthy after %.2fs (all applied after %.2fs)", s.Objects, i+1, m.name, r.Healthy, r.Present)
	}
	return r
}
