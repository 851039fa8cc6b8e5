// Command bench measures rekindle's replay against the two baselines a user
// has without it, on fresh kwok clusters, holds it to its targets, and
// exits 1 when a method fails, a result is missing or a target is not met.
// Run it with `make bench`; see docs/performance.md.
//
// For every blueprint size it generates a synthetic blueprint repo and
// measures, -runs times each (interleaved), each run on a fresh kwok cluster:
//
//	rekindle: the real `rekindle agent --once` binary (Load + Render +
//	    Applier.Sync), until every object is healthy; its peak RSS;
//	kubectl: `kubectl apply --server-side` of the CRDs, `kubectl wait`
//	    until Established, `kubectl apply --server-side` of the rest, then
//	    `kubectl wait` until every Deployment is Available;
//	raw-N: the floor, N goroutines creating the same objects with no rate
//	    limit, no ordering and no health logic, then polling as rekindle
//	    does until every Deployment is Available; the fastest N is the floor.
//
// A watch on every generated kind splits each run into its apply phase and
// its healthy phase. It also times `rekindle blueprint render`, and runs
// `rekindle drill` on blueprints/examples/local next to the floor for the
// example's clusters, for rekindle's own share of the RTO.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	rekindle    string
	out         string
	sizes       []sizeSpec
	methods     []method
	runs        int
	rawSettings []rawSetting
	drill       bool
	example     string
	exampleEnv  string
	timeout     time.Duration
	// kubectlLimit caps the kubectl baseline (see runKubectl).
	kubectlLimit time.Duration
	// profile: each rekindle run also writes a CPU profile of the agent
	// beside its log (rekindle-agent.pprof).
	profile bool
	th      thresholds
}

type sizeSpec struct{ objects, namespaces int }

// method is one way of replaying a blueprint; raw is the raw floor's
// setting.
type method struct {
	name string
	raw  rawSetting
}

// rawSetting is one setting of the raw floor: requests kept in flight, and
// of them at most serviceLane Service creates (0: no lane). rekindle's own
// engine runs 128 with a lane of 4 (bootstrap/agent ApplyOptions and
// serialLaneSize): the API server allocates a Service's cluster IP under one
// lock, so Services in flight hold the budget while other kinds wait.
type rawSetting struct {
	workers, serviceLane int
}

func (s rawSetting) String() string {
	if s.serviceLane > 0 {
		return fmt.Sprintf("raw-%d-svc%d", s.workers, s.serviceLane)
	}
	return fmt.Sprintf("raw-%d", s.workers)
}

func main() {
	o, generate, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if generate != "" {
		if err := generateOnly(generate, o.sizes); err != nil {
			fmt.Fprintln(os.Stderr, "ERROR:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
	if !res.Passed {
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, string, error) {
	var o options
	var sizes, methods, workers, ratioSizes string
	var rtoShare, phaseGap time.Duration
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.rekindle, "rekindle", "bin/rekindle", "the rekindle binary to measure")
	fs.StringVar(&o.out, "out", "_out/bench", "directory for results.json, logs and the drill reports")
	fs.StringVar(&sizes, "sizes", "100:10,1000:50,5000:200", "blueprint sizes as objects[:namespaces], comma-separated")
	fs.StringVar(&methods, "methods", "rekindle,kubectl,raw", "methods to measure")
	fs.IntVar(&o.runs, "runs", 3, "runs of each method on each size, each on a fresh cluster")
	fs.StringVar(&workers, "raw-workers", fmt.Sprintf("32,%d,%d:%d", rekindleInFlight, rekindleInFlight, rekindleServiceLane), "raw floor settings, comma-separated, each N (requests in flight) or N:S (of them at most S Service creates): each is measured and the fastest is the floor")
	fs.BoolVar(&o.drill, "drill", true, "also run `rekindle drill` on the example blueprint, and the floor for its objects")
	fs.StringVar(&o.example, "example", "blueprints/examples/local", "blueprint the drill runs")
	fs.StringVar(&o.exampleEnv, "example-env", "dev", "environment of -example the drill runs")
	fs.DurationVar(&o.timeout, "timeout", 6*time.Minute, "limit for rekindle and the raw floor on one run (exceeding it is a failure)")
	fs.DurationVar(&o.kubectlLimit, "kubectl-limit", 2*time.Minute, "kubectl is stopped after this long and its time reported as a lower bound")
	fs.Float64Var(&o.th.Ratio, "target-ratio", 1.15, "target: rekindle's median replay at most this many times the floor's")
	fs.StringVar(&ratioSizes, "target-ratio-sizes", "1000,5000", "sizes (objects) at which -target-ratio applies")
	fs.DurationVar(&rtoShare, "target-rto-share", 1500*time.Millisecond, "target: rekindle's share of the example's RTO under this")
	fs.Float64Var(&o.th.AgentMiB, "target-agent-mib", 200, "target: the agent's peak RSS under this many MiB at -target-agent-size objects")
	fs.IntVar(&o.th.AgentSize, "target-agent-size", 5000, "size (objects) at which -target-agent-mib applies")
	fs.DurationVar(&phaseGap, "max-phase-gap", 250*time.Millisecond, "target: the recovery's phases add up to its RTO within this (negative: not checked)")
	fs.BoolVar(&o.profile, "profile", false, "also write a CPU profile of every rekindle run, logs/size-N/run-K/rekindle-agent.pprof (read it with go tool pprof)")
	quick := fs.Bool("quick", false, "a quick check: -sizes 100 -runs 1 unless given")
	generate := fs.String("generate", "", "only write the synthetic blueprints to DIR/size-N and exit")
	if err := fs.Parse(args); err != nil {
		return o, "", err
	}
	if fs.NArg() > 0 {
		return o, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["sizes"] {
			sizes = "100"
		}
		if !set["runs"] {
			o.runs = 1
		}
	}
	o.th.RTOShare, o.th.PhaseGap = rtoShare.Seconds(), phaseGap.Seconds()
	var err error
	if o.sizes, err = parseSizes(sizes); err != nil {
		return o, "", err
	}
	if o.rawSettings, err = parseRawSettings(workers); err != nil {
		return o, "", err
	}
	if o.th.RatioSizes, err = parseInts("-target-ratio-sizes", ratioSizes); err != nil {
		return o, "", err
	}
	if o.runs < 1 {
		return o, "", fmt.Errorf("-runs: %d: at least 1", o.runs)
	}
	for _, m := range strings.Split(methods, ",") {
		switch m = strings.TrimSpace(m); m {
		case "rekindle", "kubectl":
			o.methods = append(o.methods, method{name: m})
		case "raw":
			for _, rs := range o.rawSettings {
				o.methods = append(o.methods, method{name: rs.String(), raw: rs})
			}
		default:
			return o, "", fmt.Errorf("-methods: %q is not rekindle, kubectl or raw", m)
		}
	}
	return o, *generate, nil
}

// parseSizes reads objects[:namespaces]; without namespaces, one per 20
// objects, at least 10 and at most 200.
func parseSizes(s string) ([]sizeSpec, error) {
	var out []sizeSpec
	for _, part := range strings.Split(s, ",") {
		a, b, hasNS := strings.Cut(strings.TrimSpace(part), ":")
		n, err := strconv.Atoi(a)
		ns := min(max(n/20, 10), 200)
		var err2 error
		if hasNS {
			ns, err2 = strconv.Atoi(b)
		}
		if err != nil || err2 != nil || n <= 0 || ns <= 0 {
			return nil, fmt.Errorf("-sizes: %q is not objects[:namespaces]", part)
		}
		out = append(out, sizeSpec{n, ns})
	}
	return out, nil
}

// settingNames are the raw floor's settings as its methods are named.
func settingNames(ss []rawSetting) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return out
}

// parseRawSettings reads -raw-workers: N or N:S, comma-separated, with
// 0 < S <= N.
func parseRawSettings(s string) ([]rawSetting, error) {
	var out []rawSetting
	for _, part := range strings.Split(s, ",") {
		a, b, hasLane := strings.Cut(strings.TrimSpace(part), ":")
		var rs rawSetting
		var err error
		rs.workers, err = strconv.Atoi(a)
		ok := err == nil && rs.workers > 0
		if hasLane {
			rs.serviceLane, err = strconv.Atoi(b)
			ok = ok && err == nil && rs.serviceLane > 0 && rs.serviceLane <= rs.workers
		}
		if !ok {
			return nil, fmt.Errorf("-raw-workers: %q is not N or N:S (S Service creates of N requests in flight, 0 < S <= N)", part)
		}
		out = append(out, rs)
	}
	return out, nil
}

func parseInts(name, s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive number", name, part)
		}
		out = append(out, n)
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

// bench measures everything, prints the report and returns the results; an
// error is the harness's own (it could not write, or was interrupted).
func bench(ctx context.Context, o options) (*results, error) {
	bin, err := filepath.Abs(o.rekindle)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("rekindle binary: %w (run make build)", err)
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return nil, err
	}
	// Logs and reports of an earlier run would be mixed with these.
	for _, d := range []string{"logs", "drill"} {
		if err := os.RemoveAll(filepath.Join(out, d)); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "rekindle-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	res := &results{Started: time.Now().UTC(), CPUs: runtime.NumCPU(), Runs: o.runs, RawSettings: settingNames(o.rawSettings), LoadBefore: loadAvg()}
	start := time.Now()
	finish := func() error {
		res.LoadAfter = loadAvg()
		res.Seconds = time.Since(start).Seconds()
		res.evaluate(o.th)
		if ctx.Err() != nil {
			res.Passed = false
			res.Problems = append(res.Problems, "interrupted: the figures above are the runs that finished")
		}
		return res.write(filepath.Join(out, "results.json"))
	}
	// The drill first: it is the shortest part and holds the RTO targets.
	if o.drill {
		res.Drill = benchDrill(ctx, o, bin, work, out)
	}
	for _, sz := range o.sizes {
		if ctx.Err() != nil {
			break
		}
		sr, err := benchSize(ctx, o, bin, work, out, sz)
		if sr != nil {
			res.Sizes = append(res.Sizes, *sr)
		}
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		// results.json is rewritten after every size, so that a run that
		// is stopped leaves what it measured.
		if err := finish(); err != nil {
			return nil, err
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	res.print(os.Stdout)
	fmt.Printf("\nresults: %s\n%s\n", filepath.Join(out, "results.json"), res.verdict())
	return res, nil
}

// benchDrill runs the drill and the floor for the example's objects -runs
// times each, one after the other.
func benchDrill(ctx context.Context, o options, bin, work, out string) *drillResult {
	d := &drillResult{Blueprint: o.example}
	fail := func(format string, args ...any) {
		d.Failed++
		d.Errors = append(d.Errors, fmt.Sprintf(format, args...))
		progress(format, args...)
	}
	clusters, err := loadExample(ctx, o.example, o.exampleEnv)
	if err != nil {
		fail("%v", err)
		return d
	}
	d.Clusters = clusters
	var rto, gap, kwok, floor []float64
	for i := range o.runs {
		progress("run %d/%d: rekindle drill of %s", i+1, o.runs, o.example)
		r, err := runDrill(ctx, bin, o.example, o.exampleEnv, work, filepath.Join(out, "drill", fmt.Sprintf("run-%d", i+1)))
		if ctx.Err() != nil {
			break // a run cut short by the interrupt is no measurement
		}
		if err == nil && len(r.Lost) != len(clusters) {
			err = fmt.Errorf("the drill lost %v, but the floor is measured for all %d clusters", r.Lost, len(clusters))
		}
		if err != nil {
			r.Error = err.Error()
			fail("drill run %d: %v", i+1, err)
		} else {
			rto, gap = append(rto, r.RTOSeconds), append(gap, r.Gap)
			progress("run %d/%d: drill RTO %.2fs, phases add up to %.2fs", i+1, o.runs, r.RTOSeconds, r.PhaseSum)
		}
		d.Runs = append(d.Runs, r)
		f, err := runExampleFloor(ctx, work, clusters, rekindleSetting, i+1, o.timeout)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			f.Error = err.Error()
			fail("floor for the example, run %d: %v", i+1, err)
		} else {
			kwok, floor = append(kwok, f.KwokStart), append(floor, f.FloorReplay)
			progress("run %d/%d: kwok start %.2fs, floor replay %.2fs", i+1, o.runs, f.KwokStart, f.FloorReplay)
		}
		d.Floor = append(d.Floor, f)
	}
	d.RTO, d.Gap, d.KwokStart, d.FloorReplay = summarize(rto), summarize(gap), summarize(kwok), summarize(floor)
	return d
}
