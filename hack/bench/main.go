// Command bench measures rekindle's replay against the two baselines a user
// has without it, on fresh kwok clusters, and prints a table (also written
// as JSON). Run it with `make bench`; see docs/performance.md.
//
// For every blueprint size it generates a synthetic blueprint repo and times,
// each on a fresh kwok cluster:
//
//	(a) rekindle: the real `rekindle agent --once` binary (Load + Render +
//	    Applier.Sync), until every object is healthy; its peak RSS;
//	(b) kubectl: `kubectl apply --server-side` of the CRDs, `kubectl wait`
//	    until Established, `kubectl apply --server-side` of the rest, then
//	    `kubectl wait` until every Deployment is Available;
//	(c) raw: 32 goroutines creating the same objects with no client-side rate
//	    limit, no ordering and no health logic, then a plain poll until every
//	    Deployment is Available.
//
// It also times `rekindle blueprint render` (and its peak RSS) for every
// size, and a full `rekindle drill` of blueprints/examples/local per phase.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
)

type options struct {
	rekindle string
	out      string
	sizes    []sizeSpec
	methods  map[string]bool
	drill    bool
	example  string
	timeout  time.Duration
	// kubectlLimit caps the kubectl baseline (see runKubectl).
	kubectlLimit time.Duration
}

type sizeSpec struct{ objects, namespaces int }

func main() {
	var o options
	var sizes, methods string
	flag.StringVar(&o.rekindle, "rekindle", "bin/rekindle", "the rekindle binary to measure")
	flag.StringVar(&o.out, "out", "_out/bench", "directory for results.json, logs and the drill report")
	flag.StringVar(&sizes, "sizes", "100:10,1000:50,5000:200", "blueprint sizes as objects:namespaces, comma-separated")
	flag.StringVar(&methods, "methods", "rekindle,kubectl,raw", "methods to measure")
	flag.BoolVar(&o.drill, "drill", true, "also run `rekindle drill` on the example blueprint")
	flag.StringVar(&o.example, "example", "blueprints/examples/local", "blueprint the drill runs")
	flag.DurationVar(&o.timeout, "timeout", 6*time.Minute, "limit for rekindle and the raw floor on one size (exceeding it is a failure)")
	flag.DurationVar(&o.kubectlLimit, "kubectl-limit", 4*time.Minute, "kubectl is stopped after this long and its time reported as a lower bound")
	generate := flag.String("generate", "", "only write the synthetic blueprints to DIR/size-N and exit")
	flag.Parse()
	var err error
	if o.sizes, err = parseSizes(sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if *generate != "" {
		if err := generateOnly(*generate, o.sizes); err != nil {
			fmt.Fprintln(os.Stderr, "ERROR:", err)
			os.Exit(1)
		}
		return
	}
	o.methods = map[string]bool{}
	for _, m := range strings.Split(methods, ",") {
		o.methods[strings.TrimSpace(m)] = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
}

func parseSizes(s string) ([]sizeSpec, error) {
	var out []sizeSpec
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err1 := strconv.Atoi(a)
		ns, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || n <= 0 || ns <= 0 {
			return nil, fmt.Errorf("-sizes: %q is not objects:namespaces", part)
		}
		out = append(out, sizeSpec{n, ns})
	}
	return out, nil
}

func generateOnly(dir string, sizes []sizeSpec) error {
	for _, sz := range sizes {
		s, err := newShape(sz.objects, sz.namespaces)
		if err != nil {
			return err
		}
		d := filepath.Join(dir, fmt.Sprintf("size-%d", s.Objects))
		if err := writeBlueprint(d, s); err != nil {
			return err
		}
		fmt.Println(d)
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func bench(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.rekindle)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("rekindle binary: %w (run make build)", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "rekindle-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// Logs of an earlier run would be appended to.
	if err := os.RemoveAll(filepath.Join(out, "logs")); err != nil {
		return err
	}
	res := &results{Started: time.Now().UTC(), CPUs: numCPU(), LoadBefore: loadAvg()}
	start := time.Now()
	for _, sz := range o.sizes {
		sr, err := benchSize(ctx, o, bin, work, out, sz)
		if err != nil {
			return err
		}
		res.Sizes = append(res.Sizes, *sr)
	}
	if o.drill {
		d, err := runDrill(ctx, bin, o.example, work, filepath.Join(out, "drill"))
		if err != nil {
			d = &drillResult{Error: err.Error()}
			progress("drill failed: %v", err)
		}
		res.Drill = d
	}
	res.LoadAfter = loadAvg()
	res.Seconds = time.Since(start).Seconds()
	res.evaluate()
	if err := res.write(filepath.Join(out, "results.json")); err != nil {
		return err
	}
	res.print(os.Stdout)
	fmt.Printf("\nresults: %s\n", filepath.Join(out, "results.json"))
	return nil
}

func benchSize(ctx context.Context, o options, bin, work, out string, sz sizeSpec) (*sizeResult, error) {
	s, err := newShape(sz.objects, sz.namespaces)
	if err != nil {
		return nil, err
	}
	sr := &sizeResult{Shape: s, Load: loadAvg()}
	name := fmt.Sprintf("size-%d", s.Objects)
	dir := filepath.Join(work, name)
	bp := filepath.Join(dir, "blueprint")
	logs := filepath.Join(out, "logs", name)
	for _, d := range []string{bp, logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := writeBlueprint(bp, s); err != nil {
		return nil, err
	}
	// The harness renders in process once, for the baselines' input.
	repo, err := blueprints.Load(bp)
	if err != nil {
		return nil, err
	}
	rc, err := repo.Render(ctx, benchEnv, benchCluster, blueprints.RenderOptions{})
	if err != nil {
		return nil, err
	}
	objs := rc.AllObjects()
	if len(objs) != s.Objects {
		return nil, fmt.Errorf("the %d-object blueprint rendered %d objects", s.Objects, len(objs))
	}
	crds, manifests, err := writeManifests(dir, objs)
	if err != nil {
		return nil, err
	}

	// The CLI's render, as a user runs it.
	t := time.Now()
	rss, err := child(ctx, filepath.Join(logs, "render.log"), bin, "blueprint", "render", "-q",
		"--blueprint", bp, "--env", benchEnv, "--cluster", benchCluster)
	sr.RenderSeconds, sr.RenderPeakRSSMiB = time.Since(t).Seconds(), rss
	if err != nil {
		return nil, err
	}
	progress("%d objects in %d namespaces: `rekindle blueprint render` %.2fs, peak RSS %.0f MiB",
		s.Objects, s.Namespaces, sr.RenderSeconds, rss)

	measure := func(method string, f func(ctx context.Context, c *kwokCluster) (run, error)) *run {
		if !o.methods[method] {
			return nil
		}
		c, err := newCluster(ctx, work, fmt.Sprintf("bench-%s-%d", method[:3], s.Objects), s.nodes())
		if err != nil {
			return &run{Error: err.Error()}
		}
		defer c.delete()
		mctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		r, err := f(mctx, c)
		if err == nil && !r.Capped {
			// The same end state for everyone, checked outside the timing.
			err = checkState(ctx, c.Config, s)
		}
		switch {
		case err != nil:
			r.Error = err.Error()
			progress("%d objects: %s FAILED: %v", s.Objects, method, err)
		case r.Capped:
			progress("%d objects: %s %s", s.Objects, method, r.Note)
		default:
			progress("%d objects: %s healthy after %.1fs", s.Objects, method, r.Healthy)
		}
		return &r
	}
	sr.Rekindle = measure("rekindle", func(ctx context.Context, c *kwokCluster) (run, error) {
		return runRekindle(ctx, bin, bp, c, logs)
	})
	sr.Kubectl = measure("kubectl", func(ctx context.Context, c *kwokCluster) (run, error) {
		return runKubectl(ctx, crds, manifests, c, s, logs, o.kubectlLimit)
	})
	sr.Raw = measure("raw", func(ctx context.Context, c *kwokCluster) (run, error) {
		return runRaw(ctx, objs, c, s)
	})
	return sr, ctx.Err()
}
