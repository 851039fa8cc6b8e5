package capi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// ProviderName is the name of this provider in Info and in blueprints.
const ProviderName = "capi"

// Defaults of Options.
const (
	DefaultNamespace    = "default"
	DefaultStallTimeout = 15 * time.Minute
	defaultPoll         = 2 * time.Second
)

// Providers pins what clusterctl init installs, each as name:version.
type Providers struct {
	Core           string
	Bootstrap      []string
	ControlPlane   []string
	Infrastructure []string
}

// Empty reports whether no provider is pinned.
func (p Providers) Empty() bool {
	return p.Core == "" && len(p.Bootstrap)+len(p.ControlPlane)+len(p.Infrastructure) == 0
}

// Options configure the provider for one management cluster.
type Options struct {
	// StateDir holds <StateDir>/clusters/capi/<name>/kubeconfig.
	StateDir string
	// ManagementKubeconfig and ManagementContext reach the management cluster.
	ManagementKubeconfig string
	ManagementContext    string
	// ManagementName names the management cluster in messages.
	ManagementName string
	// Manifests is the directory of Cluster API manifests (absolute path).
	Manifests string
	// Namespace of the Cluster, and of manifests that set none (default "default").
	Namespace string
	// Providers are installed by clusterctl init when missing; empty means
	// Cluster API must already be installed.
	Providers Providers
	// ClusterctlConfig is a clusterctl configuration file (empty: clusterctl's default).
	ClusterctlConfig string
	// Repository is a clusterctl local repository directory; providers
	// found there are installed from it.
	Repository string
	// Progress receives each finished stage.
	Progress cluster.Progress
	// Log receives clusterctl's log lines (nil: discarded).
	Log io.Writer
	// StallTimeout fails a wait that sees no change for this long, naming
	// the stuck object (default 15m).
	StallTimeout time.Duration
	// PollInterval is how often waits look again (default 2s).
	PollInterval time.Duration
}

var clusterGK = schema.GroupKind{Group: clusterv1.GroupVersion.Group, Kind: "Cluster"}

type provider struct {
	opts Options
}

// New returns the provider for workload clusters of one management cluster.
func New(opts Options) (cluster.Provider, error) {
	if opts.ManagementKubeconfig == "" {
		return nil, errors.New("capi provider: the management cluster's kubeconfig is required (is the management cluster created first?)")
	}
	if opts.StateDir == "" {
		return nil, errors.New("capi provider: a state dir is required")
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPoll
	}
	if opts.ManagementName == "" {
		opts.ManagementName = "management"
	}
	return &provider{opts: opts}, nil
}

// management is a connection to the management cluster.
type management struct {
	cfg    *rest.Config
	client client.Client
	mapper meta.RESTMapper
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = clusterv1.AddToScheme(s)
	_ = clusterctlv1.AddToScheme(s)
	return s
}

// connect reaches the management cluster. Requests are bounded by timeout.
func (p *provider) connect(timeout time.Duration) (*management, error) {
	cfg, err := cluster.RESTConfig(p.opts.ManagementKubeconfig, p.opts.ManagementContext)
	if err != nil {
		return nil, fmt.Errorf("management cluster %q: %w", p.opts.ManagementName, err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = timeout
	cfg.QPS, cfg.Burst = 50, 100
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("management cluster %q: %w", p.opts.ManagementName, err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("management cluster %q: %w", p.opts.ManagementName, err)
	}
	c, err := client.New(cfg, client.Options{HTTPClient: hc, Mapper: mapper, Scheme: newScheme()})
	if err != nil {
		return nil, fmt.Errorf("management cluster %q: %w", p.opts.ManagementName, err)
	}
	return &management{cfg: cfg, client: c, mapper: mapper}, nil
}

func (p *provider) stateDir(name string) string {
	return filepath.Join(p.opts.StateDir, "clusters", ProviderName, name)
}

// KubeconfigPath is where Create and Get write the workload kubeconfig.
func KubeconfigPath(stateDir, name string) string {
	return filepath.Join(stateDir, "clusters", ProviderName, name, "kubeconfig")
}

func (p *provider) report(stage string, since time.Time) {
	if p.opts.Progress != nil {
		p.opts.Progress(stage, time.Since(since))
	}
}

// getCluster returns the Cluster object, nil when it (or its CRD) does not exist.
func (m *management) getCluster(ctx context.Context, ns, name string) (*clusterv1.Cluster, error) {
	c := &clusterv1.Cluster{}
	err := m.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, c)
	switch {
	case err == nil:
		return c, nil
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return nil, nil
	default:
		return nil, err
	}
}

// Create makes (or finds) the workload cluster and waits until it answers
// with Ready nodes. See the package documentation for what it does when the
// Cluster object already exists.
func (p *provider) Create(ctx context.Context, spec cluster.Spec) (cluster.Info, error) {
	name := spec.Name
	info := cluster.Info{Name: name, Provider: ProviderName}
	m, err := p.connect(30 * time.Second)
	if err != nil {
		return info, err
	}
	start := time.Now()
	if err := p.ensureProviders(ctx, m); err != nil {
		return info, err
	}
	existing, err := m.getCluster(ctx, p.opts.Namespace, name)
	if err != nil {
		return info, fmt.Errorf("get Cluster/%s/%s on management cluster %q: %w", p.opts.Namespace, name, p.opts.ManagementName, err)
	}
	start = time.Now()
	n, err := p.apply(ctx, m, name)
	if err != nil {
		return info, err
	}
	if existing != nil {
		p.report(fmt.Sprintf("Cluster/%s/%s exists: re-applied %d object(s) and waiting for Cluster API to reconcile it (no second cluster is created)", p.opts.Namespace, name, n), start)
	} else {
		p.report(fmt.Sprintf("applied %d Cluster API object(s) to management cluster %q", n, p.opts.ManagementName), start)
	}
	return p.wait(ctx, m, name)
}

// Delete deletes the Cluster object and waits until Cluster API has removed
// it (its finalizer goes once the infrastructure is gone), then removes the
// kubeconfig rekindle kept. Other objects of the manifests (templates,
// ClusterClasses) stay on the management cluster.
func (p *provider) Delete(ctx context.Context, name string) error {
	m, err := p.connect(30 * time.Second)
	if err != nil {
		return err
	}
	c, err := m.getCluster(ctx, p.opts.Namespace, name)
	if err != nil {
		return fmt.Errorf("get Cluster/%s/%s: %w", p.opts.Namespace, name, err)
	}
	if c != nil {
		start := time.Now()
		if c.DeletionTimestamp == nil {
			if err := m.client.Delete(ctx, c); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete Cluster/%s/%s: %w", p.opts.Namespace, name, err)
			}
		}
		if err := p.waitGone(ctx, m, name); err != nil {
			return err
		}
		p.report(fmt.Sprintf("Cluster/%s/%s deleted", p.opts.Namespace, name), start)
	}
	if err := os.RemoveAll(p.stateDir(name)); err != nil {
		return fmt.Errorf("remove %s: %w", p.stateDir(name), err)
	}
	return nil
}

// Get reports the workload cluster: Missing without a Cluster object,
// Unhealthy when it exists but its API does not answer with Ready nodes
// (or the management cluster itself does not answer).
func (p *provider) Get(ctx context.Context, name string) (cluster.Info, error) {
	info := cluster.Info{Name: name, Provider: ProviderName, State: cluster.Missing}
	rctx, cancel := context.WithTimeout(ctx, 2*cluster.ProbeTimeout)
	defer cancel()
	m, err := p.connect(cluster.ProbeTimeout)
	if err != nil {
		info.State, info.Reason = cluster.Unhealthy, err.Error()
		return info, nil
	}
	c, err := m.getCluster(rctx, p.opts.Namespace, name)
	if err != nil {
		info.State, info.Reason = cluster.Unhealthy, fmt.Sprintf("management cluster %q does not answer: %v", p.opts.ManagementName, err)
		return info, nil
	}
	if c == nil {
		return info, nil
	}
	return p.probe(ctx, m, c), nil
}

// probe reads the kubeconfig Secret of c, writes it to the state dir and
// probes the workload API.
func (p *provider) probe(ctx context.Context, m *management, c *clusterv1.Cluster) cluster.Info {
	info := cluster.Info{Name: c.Name, Provider: ProviderName, State: cluster.Unhealthy}
	if c.DeletionTimestamp != nil {
		info.Reason = fmt.Sprintf("Cluster/%s/%s is being deleted", c.Namespace, c.Name)
		return info
	}
	rctx, cancel := context.WithTimeout(ctx, cluster.ProbeTimeout)
	defer cancel()
	path, _, err := p.writeKubeconfig(rctx, m, c.Namespace, c.Name)
	if err != nil {
		info.Reason = err.Error()
		return info
	}
	info.Kubeconfig = path
	info.APIServer, info.State, info.Reason = cluster.Probe(ctx, path, "")
	return info
}

// List returns every Cluster of the namespace with its health.
func (p *provider) List(ctx context.Context) ([]cluster.Info, error) {
	m, err := p.connect(cluster.ProbeTimeout)
	if err != nil {
		return nil, err
	}
	var list clusterv1.ClusterList
	if err := m.client.List(ctx, &list, client.InNamespace(p.opts.Namespace)); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list Clusters on management cluster %q: %w", p.opts.ManagementName, err)
	}
	out := make([]cluster.Info, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, p.probe(ctx, m, &list.Items[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Capabilities of Cluster API workload clusters: rekindle deletes them on
// destroy, but a broken one is remediated by Cluster API, not replaced.
var Capabilities = cluster.Capabilities{Deletable: true, SelfRemediating: true}
