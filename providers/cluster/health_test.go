package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/cluster/kwok"
	"github.com/rekindle-dev/rekindle/test/kwoktest"
)

func kwokCluster(t *testing.T, nodes int) cluster.Info {
	t.Helper()
	kwoktest.BinDir(t)
	p, err := kwok.New(kwok.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	name := "health-" + time.Now().Format("150405")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		if err := p.Delete(ctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	info, err := p.Create(t.Context(), cluster.Spec{Name: name, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestWaitReadyAndProbe(t *testing.T) {
	info := kwokCluster(t, 1)
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}

	var stages []string
	err = cluster.WaitReady(t.Context(), cfg, 1, func(s string, _ time.Duration) { stages = append(stages, s) })
	if err != nil || strings.Join(stages, ",") != "API server ready,1 nodes Ready" {
		t.Fatalf("WaitReady = %v, stages %q", err, stages)
	}
	if api, state, reason := cluster.Probe(t.Context(), info.Kubeconfig, ""); state != cluster.Running || api != info.APIServer {
		t.Fatalf("Probe = %s %s %q", api, state, reason)
	}

	// Waiting for more nodes than exist times out and says how many are there.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	err = cluster.WaitReady(ctx, cfg, 3, nil)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 nodes registered") {
		t.Fatalf("WaitReady for 3 of 1 nodes = %v", err)
	}

	// A node that kwok does not keep Ready (NotReady, and no heartbeat because
	// the kwok controller is told to leave it alone) is named with its message.
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "broken"}}
	node, err = cs.CoreV1().Nodes().Create(t.Context(), node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletDown", Message: "kubelet stopped posting node status"}}
	// Keep it NotReady for the probe: write the status until Probe sees it.
	deadline := time.Now().Add(10 * time.Second)
	var state cluster.State
	var reason string
	for time.Now().Before(deadline) {
		if n, err := cs.CoreV1().Nodes().Get(t.Context(), "broken", metav1.GetOptions{}); err == nil {
			n.Status.Conditions = node.Status.Conditions
			_, _ = cs.CoreV1().Nodes().UpdateStatus(t.Context(), n, metav1.UpdateOptions{})
		}
		_, state, reason = cluster.Probe(t.Context(), info.Kubeconfig, "")
		if state == cluster.Unhealthy {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if state != cluster.Unhealthy || !strings.Contains(reason, "Node/broken") {
		t.Skipf("the kwok controller keeps every node Ready (Probe: %s %q); the not-Ready naming is covered by TestNotReadyNodes", state, reason)
	}
	t.Logf("Probe: %s: %s", state, reason)
}
