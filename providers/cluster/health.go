package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ProbeTimeout bounds every request that Probe and WaitReady make, so that an
// API server that accepts connections but never answers cannot stall them.
const ProbeTimeout = 3 * time.Second

// pollInterval is how often WaitReady asks again.
const pollInterval = 250 * time.Millisecond

// RESTConfig loads a kubeconfig file (empty path: the default loading rules,
// KUBECONFIG then ~/.kube/config) and selects a context (empty: the current one).
func RESTConfig(kubeconfigPath, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfigPath != "" {
		rules.ExplicitPath = kubeconfigPath
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %q (context %q): %w", kubeconfigPath, kubeContext, err)
	}
	return cfg, nil
}

// Probe reports whether the cluster a kubeconfig points at is healthy. It
// returns the API server address, Running when the API server is ready and every
// node is Ready, and otherwise Unhealthy with a reason. It never takes much
// longer than 2*ProbeTimeout.
func Probe(ctx context.Context, kubeconfigPath, kubeContext string) (apiServer string, state State, reason string) {
	cfg, err := RESTConfig(kubeconfigPath, kubeContext)
	if err != nil {
		return "", Unhealthy, err.Error()
	}
	apiServer = cfg.Host
	ctx, cancel := context.WithTimeout(ctx, 2*ProbeTimeout)
	defer cancel()
	cs, err := clientset(cfg)
	if err != nil {
		return apiServer, Unhealthy, err.Error()
	}
	if err := apiReady(ctx, cs); err != nil {
		return apiServer, Unhealthy, err.Error()
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return apiServer, Unhealthy, fmt.Sprintf("list nodes: %v", err)
	}
	if notReady := notReadyNodes(nodes.Items); len(notReady) > 0 {
		return apiServer, Unhealthy, "nodes not Ready: " + strings.Join(notReady, "; ")
	}
	return apiServer, Running, ""
}

// WaitReady waits until the API server of cfg is ready and at least wantNodes
// nodes exist and all nodes are Ready, calling progress (when not nil) with
// "API server ready" and "N nodes Ready". It waits as long as ctx allows; on
// timeout the error names what was still not ready and why.
func WaitReady(ctx context.Context, cfg *rest.Config, wantNodes int, progress Progress) error {
	cs, err := clientset(cfg)
	if err != nil {
		return err
	}
	report := func(stage string, start time.Time) {
		if progress != nil {
			progress(stage, time.Since(start))
		}
	}

	start := time.Now()
	var lastErr error
	for {
		if lastErr = apiReady(ctx, cs); lastErr == nil {
			break
		}
		if err := sleep(ctx); err != nil {
			return fmt.Errorf("API server %s not ready after %s: %w", cfg.Host, time.Since(start).Round(time.Millisecond), lastErr)
		}
	}
	report("API server ready", start)

	start = time.Now()
	var why string
	for {
		why = nodesNotReady(ctx, cs, wantNodes)
		if why == "" {
			break
		}
		if err := sleep(ctx); err != nil {
			return fmt.Errorf("nodes not Ready after %s: %s", time.Since(start).Round(time.Millisecond), why)
		}
	}
	report(fmt.Sprintf("%d nodes Ready", max(wantNodes, 0)), start)
	return nil
}

// nodesNotReady returns "" when at least want nodes exist and all are Ready,
// and otherwise says what is missing.
func nodesNotReady(ctx context.Context, cs kubernetes.Interface, want int) string {
	rctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	nodes, err := cs.CoreV1().Nodes().List(rctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Sprintf("list nodes: %v", err)
	}
	var parts []string
	if len(nodes.Items) < want {
		parts = append(parts, fmt.Sprintf("%d of %d nodes registered", len(nodes.Items), want))
	}
	parts = append(parts, notReadyNodes(nodes.Items)...)
	return strings.Join(parts, "; ")
}

// notReadyNodes names each node that is not Ready with its Ready condition.
func notReadyNodes(nodes []corev1.Node) []string {
	var out []string
	for _, n := range nodes {
		cond := readyCondition(n)
		switch {
		case cond == nil:
			out = append(out, fmt.Sprintf("Node/%s has no Ready condition yet", n.Name))
		case cond.Status != corev1.ConditionTrue:
			msg := cond.Message
			if msg == "" {
				msg = cond.Reason
			}
			out = append(out, fmt.Sprintf("Node/%s Ready=%s: %s", n.Name, cond.Status, msg))
		}
	}
	sort.Strings(out)
	return out
}

func readyCondition(n corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// apiReady asks the API server's /readyz, bounded by ProbeTimeout.
func apiReady(ctx context.Context, cs kubernetes.Interface) error {
	rctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
	if err != nil {
		if errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("no answer from the API server within %s", ProbeTimeout)
		}
		return fmt.Errorf("API server not ready: %w", err)
	}
	if s := strings.TrimSpace(string(body)); s != "ok" {
		return fmt.Errorf("API server /readyz says %q", s)
	}
	return nil
}

func clientset(cfg *rest.Config) (kubernetes.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.Timeout = ProbeTimeout
	if c.QPS == 0 {
		c.QPS, c.Burst = 50, 100
	}
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	return cs, nil
}

func sleep(ctx context.Context) error {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
