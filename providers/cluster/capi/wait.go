package capi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// ErrStuck is wrapped by wait errors when nothing changed for StallTimeout.
var ErrStuck = errors.New("no progress")

// ErrFailed is wrapped when Cluster API reports a terminal failure.
var ErrFailed = errors.New("Cluster API reports a failure")

// look is what one look at the management cluster saw of a Cluster.
type look struct {
	// stages are the milestones reached, in order.
	stages []string
	// counts is "control plane 1/1 ready, workers 2/3 ready" when known.
	counts string
	// blocker names what is still not ready (object and condition); "" when done.
	blocker string
	// failed is a terminal failure reported by Cluster API.
	failed string
	// fingerprint changes whenever anything observed changes.
	fingerprint string
	// nodes is how many nodes the workload cluster should register.
	nodes int
}

// wait follows the Cluster until its infrastructure, control plane and
// workers are ready and its workload API answers with Ready nodes.
func (p *provider) wait(ctx context.Context, m *management, name string) (cluster.Info, error) {
	info := cluster.Info{Name: name, Provider: ProviderName}
	ref := fmt.Sprintf("Cluster/%s/%s", p.opts.Namespace, name)
	start, since := time.Now(), time.Now()
	lastChange, lastPrint := time.Now(), ""
	reported := map[string]bool{}
	lastCounts := ""
	var l look
	for {
		l = p.observe(ctx, m, name)
		for _, s := range l.stages {
			if s == l.counts {
				// Counts are reported on every change, in their place.
				if s != lastCounts {
					lastCounts = s
					p.report(s, since)
					since = time.Now()
				}
				continue
			}
			if !reported[s] {
				reported[s] = true
				p.report(s, since)
				since = time.Now()
			}
		}
		if l.failed != "" {
			return info, fmt.Errorf("%w: %s", ErrFailed, l.failed)
		}
		if l.blocker == "" {
			break
		}
		if l.fingerprint != lastPrint {
			lastPrint, lastChange = l.fingerprint, time.Now()
		}
		if stalled := time.Since(lastChange); stalled > p.opts.StallTimeout {
			return info, fmt.Errorf("%s not ready: %w for %s: %s", ref, ErrStuck, stalled.Round(time.Second), l.blocker)
		}
		if err := sleep(ctx, p.opts.PollInterval); err != nil {
			return info, fmt.Errorf("%s not ready after %s: %s", ref, time.Since(start).Round(time.Second), l.blocker)
		}
	}
	path := KubeconfigPath(p.opts.StateDir, name)
	cfg, err := cluster.RESTConfig(path, "")
	if err != nil {
		return info, err
	}
	info.Kubeconfig, info.APIServer = path, cfg.Host
	wctx, cancel := context.WithTimeout(ctx, p.opts.StallTimeout)
	defer cancel()
	if err := cluster.WaitReady(wctx, cfg, l.nodes, p.opts.Progress); err != nil {
		return info, fmt.Errorf("workload cluster %q: %w", name, err)
	}
	info.State = cluster.Running
	return info, nil
}

// observe looks at the Cluster, its infrastructure and control plane
// objects, its Machines, its kubeconfig Secret and finally the workload API,
// and says what is still missing.
func (p *provider) observe(ctx context.Context, m *management, name string) (l look) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ns := p.opts.Namespace
	ref := fmt.Sprintf("Cluster/%s/%s", ns, name)
	c, err := m.getCluster(rctx, ns, name)
	switch {
	case err != nil:
		l.blocker = fmt.Sprintf("management cluster %q does not answer: %v", p.opts.ManagementName, err)
		return l
	case c == nil:
		l.failed = ref + " disappeared while rekindle waited for it (deleted by someone else?)"
		return l
	case c.DeletionTimestamp != nil:
		l.failed = ref + " is being deleted"
		return l
	}
	fp := []string{c.ResourceVersion}
	if d := c.Status.Deprecated; d != nil && d.V1Beta1 != nil && d.V1Beta1.FailureMessage != nil {
		reason := ""
		if d.V1Beta1.FailureReason != nil {
			reason = string(*d.V1Beta1.FailureReason) + ": "
		}
		l.failed = fmt.Sprintf("%s failed: %s%s", ref, reason, *d.V1Beta1.FailureMessage)
		return l
	}
	machines, err := p.machines(rctx, m, name)
	if err != nil {
		l.blocker = fmt.Sprintf("list Machines of %s: %v", ref, err)
		return l
	}
	for _, mc := range machines {
		fp = append(fp, mc.Name+"@"+mc.ResourceVersion)
		if d := mc.Status.Deprecated; d != nil && d.V1Beta1 != nil && d.V1Beta1.FailureMessage != nil {
			l.failed = fmt.Sprintf("Machine/%s/%s failed: %s", mc.Namespace, mc.Name, *d.V1Beta1.FailureMessage)
			return l
		}
	}
	defer func() { l.fingerprint = strings.Join(fp, ",") }()

	init := c.Status.Initialization
	if init.InfrastructureProvisioned == nil || !*init.InfrastructureProvisioned {
		l.blocker = why(ref, c.Status.Conditions, clusterv1.ClusterInfrastructureReadyCondition, "infrastructure not provisioned") + p.refCondition(rctx, m, ns, c.Spec.InfrastructureRef)
		return l
	}
	l.stages = append(l.stages, "infrastructure provisioned")
	if init.ControlPlaneInitialized == nil || !*init.ControlPlaneInitialized {
		l.blocker = why(ref, c.Status.Conditions, clusterv1.ClusterControlPlaneInitializedCondition, "control plane not initialized") + p.refCondition(rctx, m, ns, c.Spec.ControlPlaneRef)
		return l
	}
	l.stages = append(l.stages, "control plane initialized")

	var counts []string
	cpReady, cpWant := replicas(c.Status.ControlPlane)
	wReady, wWant := workerReplicas(c.Status.Workers)
	if c.Status.ControlPlane != nil && c.Status.ControlPlane.DesiredReplicas != nil {
		counts = append(counts, fmt.Sprintf("control plane %d/%d ready", cpReady, cpWant))
	}
	if c.Status.Workers != nil && c.Status.Workers.DesiredReplicas != nil {
		counts = append(counts, fmt.Sprintf("workers %d/%d ready", wReady, wWant))
	}
	l.counts = strings.Join(counts, ", ")
	if l.counts != "" {
		l.stages = append(l.stages, l.counts)
	}
	l.nodes = int(cpWant + wWant)
	if cpReady < cpWant {
		l.blocker = fmt.Sprintf("control plane %d/%d ready: %s", cpReady, cpWant, firstNotReady(machines, true, p.refCondition(rctx, m, ns, c.Spec.ControlPlaneRef)))
		return l
	}
	if wReady < wWant {
		l.blocker = fmt.Sprintf("workers %d/%d ready: %s", wReady, wWant, firstNotReady(machines, false, why(ref, c.Status.Conditions, clusterv1.ClusterWorkersAvailableCondition, "")))
		return l
	}

	path, rv, err := p.writeKubeconfig(rctx, m, ns, name)
	fp = append(fp, "secret@"+rv)
	if err != nil {
		l.blocker = err.Error()
		return l
	}
	l.stages = append(l.stages, "kubeconfig from Secret "+ns+"/"+KubeconfigSecret(name)+" written to "+path)
	_, state, reason := cluster.Probe(ctx, path, "")
	if state != cluster.Running {
		fp = append(fp, reason)
		l.blocker = "workload cluster API (from Secret " + ns + "/" + KubeconfigSecret(name) + ") is not healthy: " + reason +
			"; waiting for Cluster API to remediate it"
		return l
	}
	return l
}

// machines lists the Machines of a cluster, sorted by name.
func (p *provider) machines(ctx context.Context, m *management, name string) ([]clusterv1.Machine, error) {
	var list clusterv1.MachineList
	if err := m.client.List(ctx, &list, client.InNamespace(p.opts.Namespace), client.MatchingLabels{clusterv1.ClusterNameLabel: name}); err != nil {
		if apimeta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

func replicas(s *clusterv1.ClusterControlPlaneStatus) (ready, want int32) {
	if s == nil {
		return 0, 0
	}
	return deref(s.ReadyReplicas), deref(s.DesiredReplicas)
}

func workerReplicas(s *clusterv1.WorkersStatus) (ready, want int32) {
	if s == nil {
		return 0, 0
	}
	return deref(s.ReadyReplicas), deref(s.DesiredReplicas)
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// firstNotReady names the first Machine (of the control plane or the
// workers) whose Ready condition is not True, or returns fallback.
func firstNotReady(machines []clusterv1.Machine, controlPlane bool, fallback string) string {
	for _, mc := range machines {
		_, isCP := mc.Labels[clusterv1.MachineControlPlaneLabel]
		if isCP != controlPlane {
			continue
		}
		c := apimeta.FindStatusCondition(mc.Status.Conditions, clusterv1.ReadyCondition)
		if c == nil || c.Status != metav1.ConditionTrue {
			return why(fmt.Sprintf("Machine/%s/%s", mc.Namespace, mc.Name), mc.Status.Conditions, clusterv1.ReadyCondition, "not ready")
		}
	}
	if fallback == "" {
		return "no Machine reports why"
	}
	return strings.TrimPrefix(fallback, "; ")
}

// why says "Kind/ns/name Type=Status (Reason): message", or what when the
// object has no such condition yet.
func why(ref string, conds []metav1.Condition, condType, what string) string {
	c := apimeta.FindStatusCondition(conds, condType)
	if c == nil {
		if what == "" {
			return ""
		}
		return fmt.Sprintf("%s %s (no %s condition yet)", ref, what, condType)
	}
	return formatCondition(ref, string(c.Type), string(c.Status), c.Reason, c.Message)
}

func formatCondition(ref, typ, status, reason, msg string) string {
	s := fmt.Sprintf("%s %s=%s", ref, typ, status)
	if reason != "" {
		s += " (" + reason + ")"
	}
	if msg = strings.TrimSpace(msg); msg != "" {
		s += ": " + msg
	}
	return s
}

// refCondition reads the object a Cluster refers to (its infrastructure or
// control plane) and names its first condition that is not True, preferring
// Ready and Available. It returns "" when there is nothing to add.
func (p *provider) refCondition(ctx context.Context, m *management, ns string, ref clusterv1.ContractVersionedObjectReference) string {
	if !ref.IsDefined() {
		return ""
	}
	obj := fmt.Sprintf("%s/%s/%s", ref.Kind, ns, ref.Name)
	mapping, err := m.mapper.RESTMapping(ref.GroupKind())
	if err != nil {
		return fmt.Sprintf("; %s: kind not served by the management cluster (is its provider installed?)", obj)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(mapping.GroupVersionKind)
	if err := m.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, u); err != nil {
		return fmt.Sprintf("; %s: %v", obj, err)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	type cond struct{ typ, status, reason, msg string }
	var notTrue []cond
	for _, x := range conds {
		cm, ok := x.(map[string]any)
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := cm[k].(string); return s }
		if str("status") != "True" {
			notTrue = append(notTrue, cond{str("type"), str("status"), str("reason"), str("message")})
		}
	}
	if len(notTrue) == 0 {
		return ""
	}
	sort.SliceStable(notTrue, func(i, j int) bool {
		rank := func(t string) int {
			switch t {
			case "Ready":
				return 0
			case "Available":
				return 1
			}
			return 2
		}
		return rank(notTrue[i].typ) < rank(notTrue[j].typ)
	})
	c := notTrue[0]
	return "; " + formatCondition(obj, c.typ, c.status, c.reason, c.msg)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitGone waits until the Cluster object no longer exists, naming its
// Deleting condition and finalizers when it does not go.
func (p *provider) waitGone(ctx context.Context, m *management, name string) error {
	ref := fmt.Sprintf("Cluster/%s/%s", p.opts.Namespace, name)
	start, lastChange, lastRV := time.Now(), time.Now(), ""
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := m.getCluster(rctx, p.opts.Namespace, name)
		cancel()
		var blocker string
		switch {
		case err != nil:
			blocker = fmt.Sprintf("management cluster %q does not answer: %v", p.opts.ManagementName, err)
		case c == nil:
			return nil
		default:
			if c.ResourceVersion != lastRV {
				lastRV, lastChange = c.ResourceVersion, time.Now()
			}
			blocker = why(ref, c.Status.Conditions, clusterv1.DeletingCondition, "still deleting")
			if len(c.Finalizers) > 0 {
				blocker += fmt.Sprintf(" (finalizers: %s)", strings.Join(c.Finalizers, ", "))
			}
		}
		if stalled := time.Since(lastChange); stalled > p.opts.StallTimeout {
			return fmt.Errorf("delete %s: %w for %s: %s", ref, ErrStuck, stalled.Round(time.Second), blocker)
		}
		if err := sleep(ctx, p.opts.PollInterval); err != nil {
			return fmt.Errorf("delete %s: not gone after %s: %s", ref, time.Since(start).Round(time.Second), blocker)
		}
	}
}
