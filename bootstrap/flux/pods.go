package flux

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// stuckReasons are the waiting reasons of a container that will not start
// by itself soon: its image cannot be pulled, or it keeps crashing.
var stuckReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "ErrImageNeverPull": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "CrashLoopBackOff": true,
}

// ControllersOptions say how WaitControllers waits.
type ControllersOptions struct {
	// Poll is the time between reads (default 1s).
	Poll time.Duration
	// StuckGrace is how long a pod may stay stuck (stuckReasons) before
	// the wait gives up on it (default 20s: kubelet retries a pull, and a
	// registry may answer the second time).
	StuckGrace time.Duration
	// Progress reports a change of state.
	Progress func(format string, args ...any)
}

// WaitControllers waits until every Deployment of the layout's components
// (the controllers, as gotk-components runs them in pods) has all its
// replicas updated and available. A pod whose container stays stuck for
// StuckGrace ends the wait with the Deployment, the pod and kubelet's
// reason and message (an image nothing can pull, a crash with its last
// log line); the end of ctx names the Deployments not available yet.
func WaitControllers(ctx context.Context, cfg *rest.Config, l *Layout, o ControllersOptions) error {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.StuckGrace <= 0 {
		o.StuckGrace = 20 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	k, err := connect(cfg)
	if err != nil {
		return err
	}
	deps := deployments(l)
	stuckSince := map[string]time.Time{}
	last := ""
	for {
		var waiting []string
		for _, d := range deps {
			state, stuck, err := k.controllerState(ctx, d)
			if err != nil {
				return err
			}
			if state == "" {
				continue
			}
			waiting = append(waiting, state)
			if stuck == "" {
				delete(stuckSince, d.String())
				continue
			}
			if _, ok := stuckSince[d.String()]; !ok {
				stuckSince[d.String()] = time.Now()
			}
			if time.Since(stuckSince[d.String()]) >= o.StuckGrace {
				return fmt.Errorf("Flux controller Deployment %s does not start: %s", d, stuck)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if s := strings.Join(waiting, "; "); s != last {
			o.Progress("%d of %d Flux controller(s) available; waiting for %s", len(deps)-len(waiting), len(deps), s)
			last = s
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Flux controllers not available: %s: %w", strings.Join(waiting, "; "), context.Cause(ctx))
		case <-time.After(o.Poll):
		}
	}
}

// ControllersNotAvailable lists the controllers' Deployments of the layout
// that are not available now, each with what it waits for.
func ControllersNotAvailable(ctx context.Context, cfg *rest.Config, l *Layout) ([]string, error) {
	k, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range deployments(l) {
		state, _, err := k.controllerState(ctx, d)
		if err != nil {
			return nil, err
		}
		if state != "" {
			out = append(out, state)
		}
	}
	return out, nil
}

func deployments(l *Layout) []types.NamespacedName {
	var deps []types.NamespacedName
	for _, obj := range l.Components {
		if obj.GetKind() == "Deployment" {
			deps = append(deps, types.NamespacedName{Namespace: firstNonEmpty(obj.GetNamespace(), Namespace), Name: obj.GetName()})
		}
	}
	return deps
}

// controllerState is "" when Deployment d is available at its latest
// generation, else what it waits for; stuck says why a pod cannot start.
func (k *kube) controllerState(ctx context.Context, d types.NamespacedName) (state, stuck string, err error) {
	var dep appsv1.Deployment
	if err := k.c.Get(ctx, d, &dep); apierrors.IsNotFound(err) {
		return d.Name + " (missing)", "", nil
	} else if err != nil {
		return "", "", fmt.Errorf("read Deployment %s: %w", d, err)
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	st := dep.Status
	if st.ObservedGeneration >= dep.Generation && st.UpdatedReplicas >= want && st.AvailableReplicas >= want && st.Replicas == st.UpdatedReplicas {
		return "", "", nil
	}
	state = fmt.Sprintf("%s (%d/%d available)", d.Name, st.AvailableReplicas, want)
	if dep.Spec.Selector == nil {
		return state, "", nil
	}
	var pods corev1.PodList
	if err := k.c.List(ctx, &pods, client.InNamespace(d.Namespace), client.MatchingLabels(dep.Spec.Selector.MatchLabels)); err != nil {
		return "", "", fmt.Errorf("list the pods of Deployment %s: %w", d, err)
	}
	var reasons []string
	for _, p := range pods.Items {
		if !labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).Matches(labels.Set(p.Labels)) || p.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			w := cs.State.Waiting
			if w == nil || !stuckReasons[w.Reason] {
				continue
			}
			r := fmt.Sprintf("pod %s container %s (image %s): %s", p.Name, cs.Name, cs.Image, w.Reason)
			if w.Message != "" {
				r += ": " + w.Message
			}
			if t := cs.LastTerminationState.Terminated; t != nil && w.Reason == "CrashLoopBackOff" {
				r += fmt.Sprintf(" (last exit %d %s: %s)", t.ExitCode, t.Reason, lastLine(t.Message))
			}
			reasons = append(reasons, r)
		}
	}
	sort.Strings(reasons)
	if len(reasons) > 0 {
		state += ": " + reasons[0]
	}
	return state, strings.Join(reasons, "; "), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
