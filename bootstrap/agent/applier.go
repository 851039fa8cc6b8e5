package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
)

// ApplyOptions tune how an Applier talks to the cluster.
type ApplyOptions struct {
	// Concurrency is how many requests the applier keeps in flight at once,
	// shared by the workloads that apply at the same time: a workload that
	// applies alone, as the last ones of a replay do, gets them all.
	// Default 128. With 16 for each workload and 8 workloads at once, the
	// last 2 of 10 workloads applied on a quarter of that (16 s of a 60 s
	// replay); whether sharing makes replays faster is within the
	// benchmark's noise (docs/performance.md).
	Concurrency int
	// Workloads is how many independent workloads may apply at once (their
	// health waits do not count). Default 16. The request budget
	// (Concurrency), not this, bounds what a replay sends, so this bounds
	// only Helm operations and goroutines at once: with 8, a 10-workload
	// replay started its last 2 workloads when the first ones finished
	// applying, and their apply, alone at the end, was 6 s of a 44 s
	// replay of 5,000 objects (docs/performance.md).
	Workloads int
	// QPS and Burst of the API client. Default 1000 and 2000: a replay is a
	// burst of writes and client-go's defaults (5/10) would dominate its
	// duration; at 200 QPS a 5,000-object replay spent most of its time in
	// the client's rate limiter (docs/performance.md). Concurrency and
	// Workloads bound the requests in flight, the API server's priority and
	// fairness protects the cluster.
	QPS   float32
	Burst int
	// WaitInterval is how often health is polled. Default 500ms: a poll
	// reads only the objects not healthy yet, so it is cheap, and on a
	// replay every interval is latency added to the slowest workload.
	WaitInterval time.Duration
	// WaitTimeout bounds the wait for one workload (and for CRDs to be
	// Established) to become healthy. Default 5m.
	WaitTimeout time.Duration
	// HelmTimeout bounds one Helm install, upgrade or uninstall. Default 5m.
	HelmTimeout time.Duration
	// Log receives one line per step; nil discards them.
	Log func(format string, args ...any)
	// BeforeRestore, when set, runs before each restore workload's apply,
	// with Velero's namespace: a host agent starts Velero there
	// (restore.HostServer) once the workloads the restore depends on have
	// put Velero's CRDs, location and credentials in the cluster.
	BeforeRestore func(ctx context.Context, veleroNamespace string) error
}

func (o *ApplyOptions) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 128
	}
	if o.Workloads <= 0 {
		o.Workloads = 16
	}
	if o.QPS <= 0 {
		o.QPS = 1000
	}
	if o.Burst <= 0 {
		o.Burst = 2000
	}
	if o.WaitInterval <= 0 {
		o.WaitInterval = 500 * time.Millisecond
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 5 * time.Minute
	}
	if o.HelmTimeout <= 0 {
		o.HelmTimeout = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
}

// Applier replays rendered clusters with server-side apply. It is safe for use
// by one Sync at a time.
type Applier struct {
	cfg    *rest.Config
	client client.Client
	// raw sends the applies of missing objects (applyMissing).
	raw    *rest.RESTClient
	mapper meta.RESTMapper
	rm     *ssa.ResourceManager
	opts   ApplyOptions
	// inFlight holds a token for every request in flight (Concurrency).
	inFlight requestSlots
	// serialLane holds a token for every create in flight of a kind the
	// API server creates one at a time (createdOneAtATime).
	serialLane requestSlots

	crdOnce sync.Mutex
	crdDone bool
}

// NewApplier connects to the cluster behind cfg. The process owner should set
// controller-runtime's logger (sigs.k8s.io/controller-runtime/pkg/log.SetLogger),
// or controller-runtime prints a stack trace to stderr 30s after start.
func NewApplier(cfg *rest.Config, opts ApplyOptions) (*Applier, error) {
	opts.defaults()
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = opts.QPS
	cfg.Burst = opts.Burst
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	// A dynamic mapper re-reads discovery when a kind is unknown, so custom
	// resources can be applied right after their CRD is Established.
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("rest mapper: %w", err)
	}
	c, err := client.New(cfg, client.Options{HTTPClient: httpClient, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	raw, err := newRawClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("rest client: %w", err)
	}
	poller := polling.NewStatusPoller(c, mapper, polling.Options{})
	rm := ssa.NewResourceManager(c, poller, ssa.Owner{Field: FieldManager, Group: "rekindle.dev"})
	rm.SetConcurrency(2)
	return &Applier{cfg: cfg, client: c, raw: raw, mapper: mapper, rm: rm, opts: opts, inFlight: make(requestSlots, opts.Concurrency),
		serialLane: make(requestSlots, serialLaneSize)}, nil
}

// requestSlots bound the requests in flight: take blocks until one is free
// (first come, first served), give returns it. A nil requestSlots bounds
// nothing (an Applier made without NewApplier, in unit tests).
type requestSlots chan struct{}

func (s requestSlots) take(ctx context.Context) error {
	if s == nil {
		return ctx.Err()
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s requestSlots) give() {
	if s != nil {
		<-s
	}
}

// Client returns the controller-runtime client the applier uses.
func (a *Applier) Client() client.Client { return a.client }

func (a *Applier) ssaApplyOptions() ssa.ApplyOptions {
	o := ssa.DefaultApplyOptions()
	// Force recreates objects whose immutable fields changed (a Deployment's
	// selector, a Service's clusterIP): Git wins.
	o.Force = true
	o.WaitInterval = a.opts.WaitInterval
	o.WaitTimeout = a.opts.WaitTimeout
	return o
}
