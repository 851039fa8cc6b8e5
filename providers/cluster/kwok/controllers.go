package kwok

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// maxRestarts bounds how often waitControllers starts dead components again.
const maxRestarts = 3

// waitControllers waits until kube-controller-manager runs its controllers
// (the default ServiceAccount exists), starting again, on the same ports,
// any component that exited meanwhile. With many control planes starting at
// once on few cores, kube-controller-manager gives up when the API server is
// not healthy within its 10 s wait; kwokctl does not restart it, the API
// server answers and the nodes are Ready, and Deployments never get Pods.
func (p *provider) waitControllers(ctx context.Context, b bins, kubectl, name string, ps paths, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	restarts := 0
	for {
		if dead := deadComponentNames(ps.clusterDir); len(dead) > 0 {
			if restarts == maxRestarts {
				return fmt.Errorf("%s exited after start, %d restarts", strings.Join(dead, ", "), restarts)
			}
			restarts++
			start := time.Now()
			if err := p.startControlPlane(ctx, b, kubectl, name, ps, true); err != nil {
				return err
			}
			p.progress("restart "+strings.Join(dead, ", "), start)
			continue
		}
		if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for kube-controller-manager to run (the default ServiceAccount): %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
