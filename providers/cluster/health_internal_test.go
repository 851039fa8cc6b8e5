package cluster

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNotReadyNodes(t *testing.T) {
	node := func(name string, conds ...corev1.NodeCondition) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: conds}}
	}
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	for _, tc := range []struct {
		name  string
		nodes []corev1.Node
		want  string
	}{
		{"all ready", []corev1.Node{node("a", ready), node("b", ready)}, ""},
		{"no nodes", nil, ""},
		{"no condition yet", []corev1.Node{node("a")}, "Node/a has no Ready condition yet"},
		{"message", []corev1.Node{node("a", ready), node("b", corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "container runtime network not ready"})},
			"Node/b Ready=False: container runtime network not ready"},
		{"reason when no message", []corev1.Node{node("c", corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"})},
			"Node/c Ready=Unknown: NodeStatusUnknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(notReadyNodes(tc.nodes), "; "); got != tc.want {
				t.Errorf("notReadyNodes = %q, want %q", got, tc.want)
			}
		})
	}
}
