package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// presence watches every generated kind (metadata only) and records when
// the cluster first held all of the blueprint's objects. That moment ends
// the apply phase, seen in the same way for every method, whatever the
// method itself reports; what follows, until every Deployment is
// Available, is the healthy phase.
type presence struct {
	want int
	mu   sync.Mutex
	seen map[string]bool
	at   time.Time
}

// watchedKinds are the generated kinds; optional is true for the custom
// resource, whose CRD only comes with the replay.
var watchedKinds = []struct {
	gvr      schema.GroupVersionResource
	optional bool
}{
	{schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, false},
	{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, false},
	{widgetGVR, true},
}

var widgetGVR = schema.GroupVersionResource{Group: crdGroup, Version: "v1", Resource: "widgets"}

// watchPresence opens the watches and returns once the built-in kinds'
// watches are open, so that the clock can start; they stop with ctx.
func watchPresence(ctx context.Context, cfg *rest.Config, want int) (*presence, error) {
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	p := &presence{want: want, seen: map[string]bool{}}
	opened := make(chan error, len(watchedKinds))
	required := 0
	for _, k := range watchedKinds {
		if !k.optional {
			required++
		}
		go p.watch(ctx, mc, k.gvr, k.optional, opened)
	}
	for range required {
		if err := <-opened; err != nil {
			return nil, err
		}
	}
	return p, nil
}

// watch follows one kind, reopening the watch when the server closes it; a
// watch that starts late (the custom resource's) begins with an ADDED event
// for every object already there.
func (p *presence) watch(ctx context.Context, mc metadata.Interface, gvr schema.GroupVersionResource, optional bool, opened chan<- error) {
	first := true
	for ctx.Err() == nil {
		w, err := mc.Resource(gvr).Watch(ctx, metav1.ListOptions{LabelSelector: partOfLabel + "=" + partOfValue})
		if err != nil {
			if first && !optional {
				opened <- fmt.Errorf("watch %s: %w", gvr.Resource, err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(pollFirst):
			}
			continue
		}
		if first && !optional {
			opened <- nil
		}
		first = false
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			if m, err := meta.Accessor(ev.Object); err == nil {
				p.add(gvr.Resource + "/" + m.GetNamespace() + "/" + m.GetName())
			}
		}
		w.Stop()
	}
}

func (p *presence) add(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[key] {
		return
	}
	p.seen[key] = true
	if len(p.seen) == p.want {
		p.at = time.Now()
	}
}

// after returns the seconds from start until every object was there, or 0
// and how many were seen when they never all were.
func (p *presence) after(start time.Time) (float64, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at.IsZero() {
		return 0, len(p.seen)
	}
	return p.at.Sub(start).Seconds(), len(p.seen)
}
