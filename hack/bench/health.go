package main

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// available is what "healthy" means for a Deployment here, the same test as
// kubectl wait --for=condition=Available plus an observed rollout.
func available(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation {
		return false
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.UpdatedReplicas < want || d.Status.AvailableReplicas < want {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// countAvailable lists the generated Deployments once.
func countAvailable(ctx context.Context, cs kubernetes.Interface) (int, error) {
	list, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: partOfLabel + "=" + partOfValue})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range list.Items {
		if available(&list.Items[i]) {
			n++
		}
	}
	return n, nil
}

// Health polls start pollFirst apart and back off to pollMax, as
// rekindle's wait does (bootstrap/agent/wait.go).
const (
	pollFirst = 50 * time.Millisecond
	pollMax   = 500 * time.Millisecond
)

// pollAvailable is the raw floor's health check: list the Deployments right
// after the last create, then 50 ms later, backing off to 500 ms, until every
// one of want (namespace/name) is Available.
func pollAvailable(ctx context.Context, cfg *rest.Config, want []string) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	pending := map[string]bool{}
	for _, k := range want {
		pending[k] = true
	}
	delay := pollFirst
	for {
		if len(pending) == 0 {
			return nil
		}
		var list *appsv1.DeploymentList
		if list, err = cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{}); err == nil {
			for i := range list.Items {
				if d := &list.Items[i]; available(d) {
					delete(pending, d.Namespace+"/"+d.Name)
				}
			}
			if len(pending) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d Deployments Available (last error: %v): %w", len(want)-len(pending), len(want), err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, pollMax)
	}
}

// checkState verifies, after a method said it was done, that the cluster
// holds every generated object and every Deployment is Available: the three
// methods are compared on the same end state.
func checkState(ctx context.Context, cfg *rest.Config, s shape) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	n, err := countAvailable(ctx, cs)
	if err != nil {
		return err
	}
	if n != s.Deployments {
		return fmt.Errorf("%d of %d Deployments Available", n, s.Deployments)
	}
	sel := metav1.ListOptions{LabelSelector: partOfLabel + "=" + partOfValue}
	counts := map[string]func() (int, error){
		"Services": func() (int, error) {
			l, err := cs.CoreV1().Services("").List(ctx, sel)
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		"ConfigMaps": func() (int, error) {
			l, err := cs.CoreV1().ConfigMaps("").List(ctx, sel)
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		"Secrets": func() (int, error) {
			l, err := cs.CoreV1().Secrets("").List(ctx, sel)
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		"Namespaces": func() (int, error) {
			l, err := cs.CoreV1().Namespaces().List(ctx, sel)
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		"Widgets": func() (int, error) {
			l, err := dyn.Resource(widgetGVR).Namespace("").List(ctx, sel)
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
	}
	want := map[string]int{"Services": s.Services, "ConfigMaps": s.ConfigMaps, "Secrets": s.Secrets, "Namespaces": s.Namespaces, "Widgets": s.Widgets}
	for kind, count := range counts {
		got, err := count()
		if err != nil {
			return fmt.Errorf("list %s: %w", kind, err)
		}
		if got != want[kind] {
			return fmt.Errorf("%d of %d %s", got, want[kind], kind)
		}
	}
	return nil
}
