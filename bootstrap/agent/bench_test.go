package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/ssa/utils"

	"github.com/rekindle-dev/rekindle/blueprints"
)

const (
	benchNamespaces = 50
	benchWorkloads  = 5
)

// benchObjects are 1,000 objects: 50 Namespaces and 317 Deployments, 317
// Services and 316 ConfigMaps spread over them, grouped in 5 workloads of 10
// namespaces each.
func benchObjects() [][]*unstructured.Unstructured {
	groups := make([][]*unstructured.Unstructured, benchWorkloads)
	ns := func(i int) string { return fmt.Sprintf("bench-%02d", i%benchNamespaces) }
	group := func(i int) int { return (i % benchNamespaces) / (benchNamespaces / benchWorkloads) }
	for i := 0; i < benchNamespaces; i++ {
		groups[group(i)] = append(groups[group(i)], namespace(ns(i)))
	}
	for i := 0; i < 317; i++ {
		groups[group(i)] = append(groups[group(i)], deployment(ns(i), fmt.Sprintf("app-%03d", i), 1), service(ns(i), fmt.Sprintf("app-%03d", i)))
		if i < 316 {
			groups[group(i)] = append(groups[group(i)], configMap(ns(i), fmt.Sprintf("app-%03d", i), map[string]any{"index": fmt.Sprint(i)}))
		}
	}
	return groups
}

// waitAllAvailable waits until want Deployments in bench-* namespaces are Available.
func waitAllAvailable(ctx context.Context, cl client.Client, want int) error {
	for {
		list := &appsv1.DeploymentList{}
		if err := cl.List(ctx, list); err != nil {
			return err
		}
		n := 0
		for _, d := range list.Items {
			if strings.HasPrefix(d.Namespace, "bench-") && d.Status.ObservedGeneration == d.Generation &&
				d.Status.AvailableReplicas == *d.Spec.Replicas && d.Status.UpdatedReplicas == *d.Spec.Replicas {
				n++
			}
		}
		if n >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d Deployments Available: %w", n, want, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// BenchmarkReplay1000 replays 1,000 objects into a fresh kwok cluster with the
// agent, and the same objects with `kubectl apply --server-side -f` into
// another fresh cluster, and reports for both the seconds until everything was
// applied and until every Deployment was Available.
func BenchmarkReplay1000(b *testing.B) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		b.Skip("kubectl not on PATH")
	}
	groups := benchObjects()
	var all []*unstructured.Unstructured
	rc := &blueprints.RenderedCluster{Environment: "bench", Commit: "bench"}
	for i, g := range groups {
		rc.Workloads = append(rc.Workloads, blueprints.RenderedWorkload{Name: fmt.Sprintf("group-%d", i), Source: blueprints.SourcePlain, Objects: g})
		all = append(all, g...)
	}
	if len(all) != 1000 {
		b.Fatalf("%d objects, want 1000", len(all))
	}
	// kubectl applies in file order: Namespaces first.
	var nsFirst []*unstructured.Unstructured
	for _, o := range all {
		if o.GetKind() == "Namespace" {
			nsFirst = append(nsFirst, o)
		}
	}
	for _, o := range all {
		if o.GetKind() != "Namespace" {
			nsFirst = append(nsFirst, o)
		}
	}
	manifest, err := utils.ObjectsToYAML(nsFirst)
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "objects.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		b.Fatal(err)
	}
	const deployments = 317

	var agentApplied, agentAvailable, kubectlApplied, kubectlAvailable time.Duration
	for i := 0; i < b.N; i++ {
		// The agent.
		b.StopTimer()
		c := newTestClusterNodes(b, "bench-agent", 4)
		a, err := NewApplier(c.Config, ApplyOptions{WaitTimeout: 10 * time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		if err := a.EnsureCRD(b.Context()); err != nil {
			b.Fatal(err)
		}
		run := *rc
		run.Cluster = c.Name
		b.StartTimer()
		start := time.Now()
		res, err := a.Sync(b.Context(), &run, SyncOptions{})
		if err != nil {
			b.Fatalf("agent sync: %v", err)
		}
		if err := waitAllAvailable(b.Context(), a.Client(), deployments); err != nil {
			b.Fatal(err)
		}
		available := time.Since(start)
		b.StopTimer()
		var applied time.Duration
		for _, w := range res.Workloads {
			applied = max(applied, w.AppliedAt)
		}
		agentApplied += applied
		agentAvailable += available
		b.Logf("agent: %d objects applied in %s, all %d Deployments Available after %s (created %d)",
			res.Applied, applied.Round(time.Millisecond), deployments, available.Round(time.Millisecond), res.Created)
		c.Delete()

		// kubectl apply --server-side, serial.
		c = newTestClusterNodes(b, "bench-kubectl", 4)
		ka, err := NewApplier(c.Config, ApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		out, err := exec.CommandContext(b.Context(), kubectl, "--kubeconfig", c.Kubeconfig, "apply", "--server-side", "-f", file).CombinedOutput()
		applied = time.Since(start)
		if err != nil {
			b.Fatalf("kubectl apply: %v\n%s", err, out)
		}
		if err := waitAllAvailable(b.Context(), ka.Client(), deployments); err != nil {
			b.Fatal(err)
		}
		available = time.Since(start)
		b.StopTimer()
		kubectlApplied += applied
		kubectlAvailable += available
		b.Logf("kubectl apply --server-side: %d objects applied in %s, all %d Deployments Available after %s",
			strings.Count(string(out), "serverside-applied"), applied.Round(time.Millisecond), deployments, available.Round(time.Millisecond))
		c.Delete()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(agentApplied.Seconds()/n, "agent-applied-s")
	b.ReportMetric(agentAvailable.Seconds()/n, "agent-available-s")
	b.ReportMetric(kubectlApplied.Seconds()/n, "kubectl-applied-s")
	b.ReportMetric(kubectlAvailable.Seconds()/n, "kubectl-available-s")
}
