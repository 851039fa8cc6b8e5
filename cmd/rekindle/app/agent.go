package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/git"
	"github.com/rekindle-dev/rekindle/providers/sops"
)

type agentFlags struct {
	sourceFlags
	kubeconfig  string
	kubeContext string
	as          string
	interval    time.Duration
	outputsFile string
	once        bool
	allowEmpty  bool
	noPrune     bool
	metricsAddr string
	metricsFile string
	noEvents    bool
	veleroBin   string
}

func newAgentCmd(g *globals) *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the sync agent: keep one cluster converged to the blueprint",
		Long: `The sync agent. Every --interval (and at start) it fetches the blueprint,
renders this cluster's workloads and applies them with server-side apply:
CRDs and Namespaces first, then each workload in dependsOn order, waiting for
health before dependents. Objects removed from Git are pruned; hand edits of
managed fields are reverted. Status is written to the Sync object
rekindle-system/<cluster> (kubectl get syncs -A).

It runs in the cluster (installed by bootstrap with the Helm chart embedded in
this binary) or, for kwok clusters whose pods are simulated, as a host process
that rekindle starts and supervises.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd.Context(), g, &f)
		},
	}
	f.sourceFlags.add(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: the in-cluster service account)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context")
	fl.StringVar(&f.as, "as", "", "impersonate this user, e.g. "+agent.ServiceAccountUser+" (a host agent with agent.rbac: scoped)")
	fl.DurationVar(&f.interval, "interval", time.Minute, "time between passes")
	fl.StringVar(&f.outputsFile, "outputs-file", "", "JSON file of the environment's Terraform outputs, for templated cluster fields")
	fl.BoolVar(&f.once, "once", false, "run one pass and exit (exit 1 when it fails)")
	fl.BoolVar(&f.allowEmpty, "allow-empty", false, "let an empty render prune everything the agent applied")
	fl.BoolVar(&f.noPrune, "no-prune", false, "never delete objects that left the render")
	fl.StringVar(&f.metricsAddr, "metrics-address", ":8080", "serve /metrics (Prometheus), /healthz and /readyz here (host:port, port 0 picks one; empty: off)")
	fl.StringVar(&f.metricsFile, "metrics-address-file", "", "write the metrics URL to this file while serving (host-process agents, for rekindle status)")
	fl.BoolVar(&f.noEvents, "no-events", false, "write no Kubernetes Events on the Sync object")
	fl.StringVar(&f.veleroBin, "velero-bin", "", "run `velero server` as a child process for restore workloads, from this directory (velero, plugins/); for clusters whose pods are simulated (kwok)")
	cmd.AddCommand(newAgentImageCmd(g))
	return cmd
}

func runAgent(ctx context.Context, g *globals, f *agentFlags) error {
	if f.env == "" || f.cluster == "" {
		return usageErrorf("--env and --cluster are required: the agent syncs one cluster of one environment")
	}
	var outputs map[string]any
	if f.outputsFile != "" {
		data, err := os.ReadFile(f.outputsFile)
		if err != nil {
			return usageErrorf("--outputs-file: %v", err)
		}
		if err := json.Unmarshal(data, &outputs); err != nil {
			return usageErrorf("--outputs-file %s: %v", f.outputsFile, err)
		}
	}
	cfg, err := agentRESTConfig(f.kubeconfig, f.kubeContext)
	if err != nil {
		return err
	}
	if f.as != "" {
		// A ServiceAccount user name gets its groups from the API server.
		cfg.Impersonate = rest.ImpersonationConfig{UserName: f.as}
	}
	logger := log.New(g.streams.Err, "agent: ", log.LstdFlags)
	logf := func(format string, args ...any) { logger.Printf(format, args...) }
	opts := agent.ApplyOptions{Log: func(format string, args ...any) {
		if g.verbosity >= 2 || strings.HasPrefix(format, "WARNING") {
			logf(format, args...)
		}
	}}
	if f.veleroBin != "" {
		if f.kubeconfig == "" {
			return usageErrorf("--velero-bin needs --kubeconfig: the velero server runs against the same cluster")
		}
		hs := &restore.HostServer{BinDir: f.veleroBin, Kubeconfig: f.kubeconfig, Dir: filepath.Join(g.stateDir, "velero", f.cluster)}
		defer hs.Stop()
		opts.BeforeRestore = func(ctx context.Context, ns string) error {
			started, err := hs.Ensure(ctx, ns)
			if started {
				logf("velero server started for namespace %s (host process, log in %s)", ns, hs.Dir)
			}
			return err
		}
	}
	ap, err := agent.NewApplier(cfg, opts)
	if err != nil {
		return err
	}
	if err := ensureCRD(ctx, ap, logf); err != nil {
		return err
	}
	a := &agent.Agent{
		Applier:     ap,
		Environment: f.env,
		Cluster:     f.cluster,
		Interval:    f.interval,
		Options:     agent.SyncOptions{AllowEmpty: f.allowEmpty, NoPrune: f.noPrune},
		Log:         logf,
		Source: func(ctx context.Context) (*blueprints.RenderedCluster, error) {
			repo, err := f.open(ctx, g)
			if err != nil {
				return nil, err
			}
			// Charts render against this cluster, as helm install would.
			caps, err := ap.Capabilities(ctx)
			if err != nil {
				return nil, fmt.Errorf("read the cluster's capabilities: %w", err)
			}
			return repo.Render(ctx, f.env, f.cluster, blueprints.RenderOptions{Outputs: outputs, Keys: agentKeys(repo, f.env, logf), Live: caps})
		},
	}
	logf("syncing cluster %q of environment %q from %s every %s", f.cluster, f.env, git.RedactURL(f.blueprint), f.interval)
	if f.as != "" {
		logf("acting as %s", f.as)
	}
	if f.once {
		res, err := a.Once(ctx)
		if err != nil {
			return err
		}
		if !res.Ready() {
			return fmt.Errorf("sync of commit %.12s: %d/%d healthy, %d failed", res.Commit, res.Healthy, res.Desired, len(res.Failed))
		}
		logf("synced commit %.12s: %d objects healthy", res.Commit, res.Healthy)
		return nil
	}
	if f.kubeconfig != "" {
		// A host-process agent outlives the run that started it; when its
		// cluster is deleted (the kubeconfig goes with it), it stops too
		// rather than retry against nothing forever.
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		go watchKubeconfig(ctx, f.kubeconfig, func() {
			logf("kubeconfig %s is gone: the cluster was deleted; stopping", f.kubeconfig)
			stop()
		})
	}
	return runAgentLoop(ctx, cfg, a, f, logf)
}

// runAgentLoop runs the pass loop with its metrics server, probes and
// Events on the Sync object.
func runAgentLoop(ctx context.Context, cfg *rest.Config, a *agent.Agent, f *agentFlags, logf func(string, ...any)) error {
	metrics := agent.NewMetrics(f.cluster)
	health := &agent.Health{}
	var events *agent.Events
	if !f.noEvents {
		ev, err := agent.NewEvents(cfg, a.Applier, f.cluster)
		if err != nil {
			return err
		}
		defer ev.Stop()
		events = ev
	}
	a.OnPassStart = health.Start
	a.OnPass = func(ctx context.Context, res *agent.Result, err error, took time.Duration) {
		health.Done(err)
		metrics.Observe(res, err, took, time.Now())
		if events != nil {
			events.Observe(ctx, res, err)
		}
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	serveErr := make(chan error, 1)
	if f.metricsAddr != "" {
		go func() {
			serveErr <- agent.Serve(ctx, f.metricsAddr, f.metricsFile, agent.Handler(metrics, health), func(url string) {
				logf("metrics at %s/metrics, probes at /healthz and /readyz", url)
			})
		}()
	}
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	select {
	case err := <-serveErr:
		stop()
		<-runErr
		return err
	case err := <-runErr:
		stop()
		return err
	}
}

// agentKeys loads the age key for SOPS files at every pass, so that a
// rotated key file is picked up: SOPS_AGE_KEY (set from the agent's Secret
// in the cluster), SOPS_AGE_KEY_FILE (a host agent's, inherited from
// rekindle), then secrets.sops.ageKeyFile. A key that fails to load is
// reported, and the render then fails only if it meets an encrypted file.
func agentKeys(repo *blueprints.Repo, env string, logf func(string, ...any)) *sops.Keys {
	e, err := repo.Blueprint.Environment(env)
	if err != nil {
		return nil
	}
	keys, err := bootstrap.LoadKeys(e)
	if err != nil {
		logf("%v", err)
		return nil
	}
	return keys
}

// watchKubeconfig calls gone once path has been missing for two checks in a row.
func watchKubeconfig(ctx context.Context, path string, gone func()) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	missing := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if missing++; missing >= 2 {
				gone()
				return
			}
		} else {
			missing = 0
		}
	}
}

func agentRESTConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	if kubeconfig == "" && os.Getenv("KUBECONFIG") == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, usageErrorf("no --kubeconfig and not running in a cluster: %v", err)
		}
		return cfg, nil
	}
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	return cluster.RESTConfig(kubeconfig, kubeContext)
}

// ensureCRD installs the Sync CRD, waiting out an API server that does not
// answer yet (restarting, or not up when the agent starts), as a controller
// would: a host process has no kubelet to restart it. A refusal (RBAC, an
// invalid object) is returned at once.
func ensureCRD(ctx context.Context, ap *agent.Applier, logf func(string, ...any)) error {
	wait, last := time.Second, ""
	for {
		err := ap.EnsureCRD(ctx)
		if err == nil || ctx.Err() != nil || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsInvalid(err) {
			return err
		}
		if msg := err.Error(); msg != last {
			logf("waiting for the API server: %v (retrying)", err)
			last = msg
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}
