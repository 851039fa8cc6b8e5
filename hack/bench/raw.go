package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// rekindleInFlight is how many requests rekindle's apply engine keeps in
// flight, shared by the workloads applying at once (bootstrap/agent
// ApplyOptions.Concurrency's default), and how many of them may be Service
// creates (serialLaneSize); the raw floor is run at those as one of its
// settings, and replays the example's clusters at them.
const (
	rekindleInFlight    = 128
	rekindleServiceLane = 4
)

var rekindleSetting = rawSetting{workers: rekindleInFlight, serviceLane: rekindleServiceLane}

// mapping is where the raw floor sends one kind.
type mapping struct {
	resource   string
	namespaced bool
}

// restMapping maps every kind of objs to its API resource before the clock
// starts, so that the floor pays for no discovery: built-in kinds from the
// cluster's discovery, custom resources from the CRDs among objs.
func restMapping(cfg *rest.Config, objs []*unstructured.Unstructured) (map[schema.GroupKind]mapping, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discover the API: %w", err)
	}
	m := map[schema.GroupKind]mapping{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if !strings.Contains(r.Name, "/") {
				m[schema.GroupKind{Group: gv.Group, Kind: r.Kind}] = mapping{resource: r.Name, namespaced: r.Namespaced}
			}
		}
	}
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		plural, _, _ := unstructured.NestedString(o.Object, "spec", "names", "plural")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		m[schema.GroupKind{Group: group, Kind: kind}] = mapping{resource: plural, namespaced: scope == "Namespaced"}
	}
	for _, o := range objs {
		gk := o.GroupVersionKind().GroupKind()
		if _, ok := m[gk]; !ok {
			return nil, fmt.Errorf("raw floor: no API resource for %s", gk)
		}
	}
	return m, nil
}

// runRaw is the floor: setting.workers goroutines create every object with
// dynamic.Create, with no client-side rate limit, no ordering and no health
// logic (an object whose Namespace or CRD is not there yet is retried after
// 20 ms), at most setting.serviceLane of them creating a Service at once
// when it is set; then the Deployments are polled as rekindle polls (50 ms
// backing off to 500 ms) until every one is Available.
func runRaw(ctx context.Context, objs []*unstructured.Unstructured, c *kwokCluster, setting rawSetting) (run, error) {
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS = -1 // no client-side rate limiter
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return run{}, err
	}
	mapper, err := restMapping(cfg, objs)
	if err != nil {
		return run{}, err
	}
	objs = withNamespaces(objs, mapper)
	var deployments []string
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			ns := o.GetNamespace()
			if ns == "" {
				ns = metav1.NamespaceDefault
			}
			deployments = append(deployments, ns+"/"+o.GetName())
		}
	}
	// With a Service lane, Services go to serviceLane goroutines of their
	// own and every create takes one of workers slots: the way rekindle's
	// engine queues them (a Service waiting for the lane holds no slot).
	var services, others []*unstructured.Unstructured
	for _, o := range objs {
		if setting.serviceLane > 0 && o.GetAPIVersion() == "v1" && o.GetKind() == "Service" {
			services = append(services, o)
		} else {
			others = append(others, o)
		}
	}
	start := time.Now()
	slots := make(chan struct{}, setting.workers)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	pool := func(objs []*unstructured.Unstructured, n int) {
		work := make(chan *unstructured.Unstructured)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for o := range work {
					slots <- struct{}{}
					err := createRetrying(ctx, dyn, mapper, o)
					<-slots
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(work)
			for _, o := range objs {
				work <- o
			}
		}()
	}
	pool(others, setting.workers)
	if len(services) > 0 {
		pool(services, setting.serviceLane)
	}
	wg.Wait()
	if firstErr != nil {
		return run{}, firstErr
	}
	if err := pollAvailable(ctx, cfg, deployments); err != nil {
		return run{}, err
	}
	return run{started: start, Healthy: time.Since(start).Seconds()}, nil
}

// withNamespaces puts first a Namespace for every namespace objs use but do
// not hold (a Helm release's or a workload's target namespace, which
// rekindle creates itself), so that the floor's creates can succeed.
func withNamespaces(objs []*unstructured.Unstructured, mapper map[schema.GroupKind]mapping) []*unstructured.Unstructured {
	have := map[string]bool{metav1.NamespaceDefault: true}
	for _, o := range objs {
		if o.GetAPIVersion() == "v1" && o.GetKind() == "Namespace" {
			have[o.GetName()] = true
		}
	}
	var extra []*unstructured.Unstructured
	for _, o := range objs {
		ns := o.GetNamespace()
		if !mapper[o.GroupVersionKind().GroupKind()].namespaced || ns == "" || have[ns] {
			continue
		}
		have[ns] = true
		n := &unstructured.Unstructured{}
		n.SetAPIVersion("v1")
		n.SetKind("Namespace")
		n.SetName(ns)
		extra = append(extra, n)
	}
	return append(extra, objs...)
}

func createRetrying(ctx context.Context, dyn dynamic.Interface, mapper map[schema.GroupKind]mapping, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	mp := mapper[gvk.GroupKind()]
	var ri dynamic.ResourceInterface = dyn.Resource(gvk.GroupVersion().WithResource(mp.resource))
	if mp.namespaced {
		ns := o.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		ri = dyn.Resource(gvk.GroupVersion().WithResource(mp.resource)).Namespace(ns)
	}
	for {
		_, err := ri.Create(ctx, o, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		// The Namespace or the CRD is not there yet: no ordering, just retry.
		if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) && !apierrors.IsServerTimeout(err) && !apierrors.IsTooManyRequests(err) {
			return fmt.Errorf("create %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
