package kwok

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// NodeAnnotation marks a Node as simulated; the kwok controller keeps such
// nodes Ready and plays the lifecycle of the pods scheduled to them.
const NodeAnnotation = "kwok.x-k8s.io/node"

// NodeName is the name of the i-th simulated node (0-based).
func NodeName(i int) string { return fmt.Sprintf("kwok-node-%d", i) }

// registerNodes creates the simulated nodes kwok-node-0 .. kwok-node-(n-1)
// that do not exist yet.
func registerNodes(ctx context.Context, cfg *rest.Config, n int) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for i := range n {
		node := simulatedNode(NodeName(i))
		// The API server may still be finishing its start: retry until ctx ends.
		for {
			_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("register Node/%s: %w", node.Name, err)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// simulatedNode is a roomy Linux node without taints, so that ordinary
// workloads schedule onto it.
func simulatedNode(name string) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				NodeAnnotation:                 "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
			Labels: map[string]string{
				"type":                          "kwok",
				"kubernetes.io/hostname":        name,
				"kubernetes.io/os":              "linux",
				"kubernetes.io/arch":            "amd64",
				"kubernetes.io/role":            "agent",
				"node-role.kubernetes.io/agent": "",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem: "linux",
				Architecture:    "amd64",
				KubeletVersion:  "fake",
			},
		},
	}
}
