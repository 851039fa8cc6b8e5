package kwok

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// ProviderName is the name of this provider in Info and in blueprints.
const ProviderName = "kwok"

// DefaultNodes is how many simulated nodes Create registers when Spec.Nodes is 0.
const DefaultNodes = 1

// DefaultWaitTimeout bounds how long Create waits for the API server and the
// nodes once kwokctl has started the control plane.
const DefaultWaitTimeout = 2 * time.Minute

// ServiceClusterIPRange replaces kwokctl's default /24, whose 254 Service
// addresses run out in real blueprints ("range is full").
const ServiceClusterIPRange = "10.96.0.0/16"

// Options configure the kwok provider.
type Options struct {
	// StateDir is rekindle's state directory; clusters live in
	// <StateDir>/clusters/kwok/<name>. Empty: $XDG_STATE_HOME/rekindle
	// (~/.local/state/rekindle).
	StateDir string
	// BinDir is a directory holding the six binaries; it is looked at first
	// (see BinDirCandidates).
	BinDir string
	// Progress receives one call per finished stage of Create and Delete.
	Progress cluster.Progress
	// Log receives kwokctl's output and build messages; nil discards them.
	// kwokctl's output is also kept in <cluster dir>/kwokctl.log.
	Log io.Writer
	// BuildIfMissing builds the binaries with hack/install-cluster-tools.sh
	// (next to ToolsModuleDir) when they are not found.
	BuildIfMissing bool
	// ToolsModuleDir is hack/tools of a rekindle checkout; needed to build.
	ToolsModuleDir string
	// BuildLog receives the build's progress (that it started, how long it
	// takes, the script's lines); nil: Log. A build takes minutes, so a
	// command line shows it even when Log is discarded.
	BuildLog io.Writer
	// WaitTimeout bounds the wait for the API server and nodes; 0 means
	// DefaultWaitTimeout.
	WaitTimeout time.Duration
}

type provider struct {
	opts Options
	root string // <StateDir>/clusters/kwok
}

// New returns the kwok provider. It does not look for the binaries yet: Get,
// List and Delete work without them, and Create finds (or builds) them.
func New(opts Options) (cluster.Provider, error) {
	abs, err := cluster.ResolveStateDir(opts.StateDir)
	if err != nil {
		return nil, err
	}
	opts.StateDir = abs
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	return &provider{opts: opts, root: filepath.Join(abs, "clusters", ProviderName)}, nil
}

// nameRE is what kwokctl and rekindle accept as a cluster name: it becomes a
// directory, a kubeconfig context and part of process arguments.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func validName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid cluster name %q: use lower-case letters, digits and '-' (at most 63)", name)
	}
	return nil
}

// paths of one cluster.
type paths struct {
	dir        string // <root>/<name>
	kubeconfig string // <dir>/kubeconfig
	log        string // <dir>/kwokctl.log
	workdir    string // <dir>/kwok (KWOK_WORKDIR)
	clusterDir string // <workdir>/clusters/<name>: kwokctl's own directory
}

func (p *provider) paths(name string) paths {
	dir := filepath.Join(p.root, name)
	work := filepath.Join(dir, "kwok")
	return paths{
		dir:        dir,
		kubeconfig: filepath.Join(dir, "kubeconfig"),
		log:        filepath.Join(dir, "kwokctl.log"),
		workdir:    work,
		clusterDir: filepath.Join(work, "clusters", name),
	}
}

func (ps paths) exists() bool {
	_, err := os.Stat(filepath.Join(ps.clusterDir, "kwok.yaml"))
	return err == nil
}

func (p *provider) progress(stage string, start time.Time) {
	if p.opts.Progress != nil {
		p.opts.Progress(stage, time.Since(start))
	}
}

// Create starts the cluster (or finds it running), registers the simulated
// nodes and waits until they are Ready.
func (p *provider) Create(ctx context.Context, spec cluster.Spec) (cluster.Info, error) {
	info, err := p.create(ctx, spec)
	if err != nil {
		return info, fmt.Errorf("create kwok cluster %q: %w", spec.Name, err)
	}
	return info, nil
}

func (p *provider) create(ctx context.Context, spec cluster.Spec) (cluster.Info, error) {
	info := cluster.Info{Name: spec.Name, Provider: ProviderName, State: cluster.Missing}
	if err := validName(spec.Name); err != nil {
		return info, err
	}
	nodes := spec.Nodes
	switch {
	case nodes < 0:
		return info, fmt.Errorf("nodes must not be negative, got %d", nodes)
	case nodes == 0:
		nodes = DefaultNodes
	}
	ps := p.paths(spec.Name)

	b, err := p.binaries(ctx)
	if err != nil {
		return info, err
	}
	kubectl, err := findKubectl(b.dir)
	if err != nil {
		return info, err
	}

	if err := p.startControlPlane(ctx, b, kubectl, spec.Name, ps, false); err != nil {
		return info, err
	}
	info.Kubeconfig = ps.kubeconfig

	cfg, err := cluster.RESTConfig(ps.kubeconfig, "")
	if err != nil {
		return info, err
	}
	info.APIServer = cfg.Host

	wctx, cancel := context.WithTimeout(ctx, p.opts.WaitTimeout)
	defer cancel()
	start := time.Now()
	if err := registerNodes(wctx, cfg, nodes); err != nil {
		return info, p.withComponentLogs(ps, err)
	}
	p.progress(fmt.Sprintf("register %d nodes", nodes), start)

	if err := cluster.WaitReady(wctx, cfg, nodes, p.opts.Progress); err != nil {
		return info, p.withComponentLogs(ps, err)
	}
	start = time.Now()
	if err := p.waitControllers(wctx, b, kubectl, spec.Name, ps, cfg); err != nil {
		return info, p.withComponentLogs(ps, err)
	}
	p.progress("controllers running", start)
	info.State = cluster.Running
	return info, nil
}

// startControlPlane runs kwokctl create cluster unless the cluster already
// answers (restart: even then, to start the components that do not run),
// and writes the kubeconfig.
func (p *provider) startControlPlane(ctx context.Context, b bins, kubectl, name string, ps paths, restart bool) error {
	start := time.Now()
	if logs, _ := filepath.Glob(filepath.Join(ps.clusterDir, "logs", "*.log")); ps.exists() && len(logs) == 0 && len(readPids(ps.clusterDir)) == 0 {
		// kwokctl create was stopped (rekindle killed) after it saved its
		// configuration and before its install step saved the components:
		// none has a log or a pid. kwokctl cannot continue such a cluster (it
		// starts the components its configuration lists, none, and waits its
		// whole timeout), and it never ran, so it is created afresh.
		if err := os.RemoveAll(ps.clusterDir); err != nil {
			return fmt.Errorf("remove the unstarted cluster's %s: %w", ps.clusterDir, err)
		}
	}
	if ps.exists() && !restart {
		if _, state, _ := cluster.Probe(ctx, ps.kubeconfig, ""); state == cluster.Running {
			p.progress("control plane already running", start)
			return nil
		}
	}
	if err := os.MkdirAll(ps.workdir, 0o700); err != nil {
		return err
	}
	args := []string{"create", "cluster",
		"--runtime", "binary",
		"--kube-apiserver-binary", b.apiserver,
		"--kube-controller-manager-binary", b.controllerManager,
		"--kube-scheduler-binary", b.scheduler,
		"--etcd-binary", b.etcd,
		"--kwok-controller-binary", b.kwok,
		"--disable-qps-limits",
		"--extra-args", "kube-apiserver=service-cluster-ip-range=" + ServiceClusterIPRange,
		// One controller-manager and one scheduler per cluster: nothing to
		// elect. Electing cost every start about 2 s: their first try at
		// the lease comes before the API server has kube-system, and the
		// next one a retry period (2 s) later.
		"--extra-args", "kube-controller-manager=leader-elect=false",
		"--extra-args", "kube-scheduler=leader-elect=false",
		"--quiet-pull",
		"--timeout", p.opts.WaitTimeout.String(),
		// rekindle writes its own kubeconfig; never touch ~/.kube/config.
		"--kubeconfig=",
	}
	if ps.exists() {
		// The cluster exists but does not run (well): kwokctl starts again
		// what is not running, on the ports it saved. It takes a dead
		// process that nobody reaped yet for a running one, so forget those.
		clearStalePids(ps.clusterDir)
	} else {
		// A new cluster: rekindle chooses the ports (see ports.go) and keeps
		// them reserved until the components listen on them.
		ports, release, err := reservePorts(ctx)
		if err != nil {
			return err
		}
		defer release()
		conf := filepath.Join(ps.dir, "kwokctl-config.yaml")
		if err := writeKwokctlConfig(conf, ports); err != nil {
			return err
		}
		args = append(args, "--config", conf)
	}
	if err := p.kwokctl(ctx, b, kubectl, name, ps, args...); err != nil {
		return p.withComponentLogs(ps, err)
	}
	if err := writeKubeconfig(filepath.Join(ps.clusterDir, "kubeconfig.yaml"), ps.kubeconfig); err != nil {
		return err
	}
	p.progress("start control plane", start)
	return nil
}

// Delete stops every process of the cluster and removes its directory.
func (p *provider) Delete(ctx context.Context, name string) error {
	if err := p.delete(ctx, name); err != nil {
		return fmt.Errorf("delete kwok cluster %q: %w", name, err)
	}
	return nil
}

func (p *provider) delete(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	ps := p.paths(name)
	if _, err := os.Stat(ps.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	start := time.Now()
	pids := readPids(ps.clusterDir)

	var kwokctlErr error
	if ps.exists() {
		if b, err := FindBinDir(p.opts.BinDir); err == nil {
			kubectl, _ := findKubectl(b)
			// kwokctl removes its context from --kubeconfig (and refuses an
			// empty one): give it ours, which goes away with the directory.
			kwokctlErr = p.kwokctl(ctx, binsIn(b), kubectl, name, ps, "delete", "cluster", "--kubeconfig", ps.kubeconfig)
		}
	}
	// Whatever kwokctl did, no process of this cluster may survive: stop the
	// recorded pids and anything else running from the cluster's directory.
	if err := stopProcesses(ctx, pids, ps.dir); err != nil {
		return errors.Join(kwokctlErr, err)
	}
	if err := os.RemoveAll(ps.dir); err != nil {
		return errors.Join(kwokctlErr, err)
	}
	p.progress("delete cluster", start)
	return nil
}

// Get reports the cluster's state within a few seconds.
func (p *provider) Get(ctx context.Context, name string) (cluster.Info, error) {
	info := cluster.Info{Name: name, Provider: ProviderName, State: cluster.Missing}
	if err := validName(name); err != nil {
		return info, fmt.Errorf("get kwok cluster: %w", err)
	}
	ps := p.paths(name)
	if !ps.exists() {
		return info, nil
	}
	info.Kubeconfig = ps.kubeconfig
	if dead := deadComponents(ps.clusterDir); len(dead) > 0 {
		info.State = cluster.Unhealthy
		info.Reason = strings.Join(dead, "; ")
		if cfg, err := cluster.RESTConfig(ps.kubeconfig, ""); err == nil {
			info.APIServer = cfg.Host
		}
		return info, nil
	}
	info.APIServer, info.State, info.Reason = cluster.Probe(ctx, ps.kubeconfig, "")
	return info, nil
}

// List reports every cluster under <StateDir>/clusters/kwok.
func (p *provider) List(ctx context.Context) ([]cluster.Info, error) {
	entries, err := os.ReadDir(p.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list kwok clusters: %w", err)
	}
	var out []cluster.Info
	for _, e := range entries {
		if !e.IsDir() || validName(e.Name()) != nil || !p.paths(e.Name()).exists() {
			continue
		}
		info, err := p.Get(ctx, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// binaries finds the six binaries, building them when allowed.
func (p *provider) binaries(ctx context.Context) (bins, error) {
	dir, err := FindBinDir(p.opts.BinDir)
	if err == nil {
		return binsIn(dir), nil
	}
	if !p.opts.BuildIfMissing {
		return bins{}, err
	}
	buildLog := p.opts.BuildLog
	if buildLog == nil {
		buildLog = p.opts.Log
	}
	dir, berr := buildTools(ctx, p.opts.ToolsModuleDir, buildLog)
	if berr != nil {
		return bins{}, fmt.Errorf("%w; %w", err, berr)
	}
	return binsIn(dir), nil
}

// withComponentLogs adds, to an error, the end of the log of every component
// that is no longer running, and where the logs are.
func (p *provider) withComponentLogs(ps paths, err error) error {
	var b strings.Builder
	pids := readPids(ps.clusterDir)
	for _, d := range deadComponentNames(ps.clusterDir) {
		if _, started := pids[d]; !started {
			continue
		}
		log := filepath.Join(ps.clusterDir, "logs", d+".log")
		if end := fileTail(log, 15); end != "" {
			fmt.Fprintf(&b, "\n%s exited; the end of %s:\n%s", d, log, end)
		}
	}
	fmt.Fprintf(&b, "\n(kwokctl output: %s; component logs: %s)", ps.log, filepath.Join(ps.clusterDir, "logs"))
	return fmt.Errorf("%w%s", err, b.String())
}

// Capabilities of kwok clusters: local control planes whose pods are
// simulated, so agents run on the host.
var Capabilities = cluster.Capabilities{SimulatedPods: true, Deletable: true, Local: true}
