package flux

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Object is one Flux object of a cluster's tree and how it stands.
type Object struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Depth is 0 for the root Kustomization, 1 for what it applied, ...
	Depth int `json:"depth"`
	// Found is false when the object was expected but is not there.
	Found bool `json:"found"`
	// Ready is the Ready condition's status ("True", "False", "Unknown"; ""
	// when the controller has not written it), with its reason and message.
	Ready   string `json:"ready,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Current is true when the controller has observed the latest spec
	// (status.observedGeneration, which Flux sets to -1 while a
	// reconciliation runs); ReadyCurrent when the Ready condition is about
	// the latest spec (its own observedGeneration).
	Current      bool `json:"current"`
	ReadyCurrent bool `json:"readyCurrent,omitempty"`
	// Stalled is set when Flux gave up on the latest spec of the object
	// (Stalled=True), or of the HelmChart a HelmRelease needs;
	// StalledMessage says why.
	Stalled        bool   `json:"stalled,omitempty"`
	StalledMessage string `json:"stalledMessage,omitempty"`
	// Revision is a source's artifact revision, a Kustomization's
	// lastAppliedRevision, or a HelmRelease's lastAttemptedRevision.
	Revision string `json:"revision,omitempty"`
	// Attempted is a Kustomization's lastAttemptedRevision.
	Attempted string `json:"attempted,omitempty"`
	// Handled is status.lastHandledReconcileAt: the last reconcile request
	// (ReconcileRequestAnnotation) the controller handled.
	Handled string `json:"lastHandledReconcileAt,omitempty"`
}

// Ref names the object as Kind/namespace/name.
func (o Object) Ref() string { return o.Kind + "/" + o.Namespace + "/" + o.Name }

// IsReady reports Ready=True for the latest spec.
func (o Object) IsReady() bool { return o.Found && o.Current && o.Ready == "True" }

// AtCommit reports whether a source or Kustomization reached commit (""
// matches anything); a HelmRelease's revision is its chart's version.
func (o Object) AtCommit(commit string) bool {
	if commit == "" || o.Kind == HelmRelease.Kind {
		return true
	}
	return revisionHas(o.Revision, commit)
}

// revisionHas matches Flux revisions ("main@sha1:<sha>", "sha1:<sha>", or
// a bare sha) against a commit.
func revisionHas(rev, commit string) bool {
	_, sha, ok := strings.Cut(rev, "sha1:")
	if !ok {
		sha = rev
	}
	return sha != "" && (strings.HasPrefix(sha, commit) || strings.HasPrefix(commit, sha))
}

// Blocker says what keeps the object from being done.
func (o Object) Blocker(commit string) string {
	switch {
	case !o.Found:
		return "not found"
	case o.Stalled:
		return "stalled: " + o.StalledMessage
	case o.Ready == "":
		return "not reconciled yet"
	case o.Ready != "True" && o.ReadyCurrent:
		// Flux's own word on the latest spec, while it still works on it.
		return fmt.Sprintf("Ready=%s %s: %s", o.Ready, o.Reason, o.Message)
	case !o.Current:
		return "latest generation not reconciled yet"
	case o.Ready != "True":
		return fmt.Sprintf("Ready=%s %s: %s", o.Ready, o.Reason, o.Message)
	case !o.AtCommit(commit):
		return fmt.Sprintf("at revision %q, want commit %.12s", o.Revision, commit)
	}
	return ""
}

// InventoryEntry is an object a Kustomization or HelmRelease applied.
type InventoryEntry struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	// Owner is the Flux object whose inventory lists it.
	Owner string
}

// Ref names the entry as Kind/namespace/name.
func (e InventoryEntry) Ref() string {
	if e.Namespace == "" {
		return e.GVK.Kind + "/" + e.Name
	}
	return e.GVK.Kind + "/" + e.Namespace + "/" + e.Name
}

// Tree is a cluster's Flux objects as they stand: the root's source, then
// the root Kustomization and every Kustomization and HelmRelease reachable
// from it through their inventories, depth first.
type Tree struct {
	Source  Object           `json:"source"`
	Objects []Object         `json:"objects"`
	Entries []InventoryEntry `json:"-"`
}

// readTree reads the tree under root, whose source is src.
func (k *kube) readTree(ctx context.Context, src, root types.NamespacedName) (*Tree, error) {
	t := &Tree{}
	s, _, err := k.read(ctx, GitRepository, src, 0)
	if err != nil {
		return nil, err
	}
	t.Source = s
	seen := map[string]bool{}
	var walk func(gvk schema.GroupVersionKind, n types.NamespacedName, depth int) error
	walk = func(gvk schema.GroupVersionKind, n types.NamespacedName, depth int) error {
		key := gvk.Kind + "/" + n.String()
		if seen[key] {
			return nil
		}
		seen[key] = true
		o, u, err := k.read(ctx, gvk, n, depth)
		if err != nil {
			return err
		}
		t.Objects = append(t.Objects, o)
		if u == nil {
			return nil
		}
		entries, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
		var children []InventoryEntry
		for _, e := range entries {
			m, _ := e.(map[string]any)
			id, _ := m["id"].(string)
			v, _ := m["v"].(string)
			ie, ok := parseEntry(id, v)
			if !ok {
				continue
			}
			ie.Owner = o.Ref()
			switch ie.GVK.GroupKind() {
			case Kustomization.GroupKind(), HelmRelease.GroupKind():
				children = append(children, ie)
			default:
				t.Entries = append(t.Entries, ie)
			}
		}
		for _, c := range children {
			if err := walk(c.GVK, types.NamespacedName{Namespace: c.Namespace, Name: c.Name}, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(Kustomization, root, 0); err != nil {
		return nil, err
	}
	return t, nil
}

// parseEntry reads an inventory id: <namespace>_<name>_<group>_<kind>.
func parseEntry(id, version string) (InventoryEntry, bool) {
	f := strings.Split(id, "_")
	if len(f) != 4 {
		return InventoryEntry{}, false
	}
	return InventoryEntry{GVK: schema.GroupVersionKind{Group: f[2], Version: version, Kind: f[3]}, Namespace: f[0], Name: f[1]}, true
}

// read gets one Flux object and summarizes its status; a missing one is
// Found=false, not an error.
func (k *kube) read(ctx context.Context, gvk schema.GroupVersionKind, n types.NamespacedName, depth int) (Object, *unstructured.Unstructured, error) {
	o := Object{Kind: gvk.Kind, Namespace: n.Namespace, Name: n.Name, Depth: depth}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := k.c.Get(ctx, n, u); err != nil {
		if apierrors.IsNotFound(err) {
			return o, nil, nil
		}
		return o, nil, fmt.Errorf("read %s: %w", o.Ref(), err)
	}
	o.Found = true
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	o.Current = observed == u.GetGeneration()
	o.Handled, _, _ = unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		status, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		gen, ok := m["observedGeneration"].(int64)
		latest := !ok || gen == u.GetGeneration()
		switch m["type"] {
		case "Ready":
			o.Ready, o.Reason, o.Message, o.ReadyCurrent = status, reason, msg, latest
		case "Stalled":
			if status == "True" && latest {
				o.Stalled, o.StalledMessage = true, reason+": "+msg
			}
		}
	}
	switch gvk.Kind {
	case GitRepository.Kind:
		o.Revision, _, _ = unstructured.NestedString(u.Object, "status", "artifact", "revision")
	case Kustomization.Kind:
		o.Revision, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
		o.Attempted, _, _ = unstructured.NestedString(u.Object, "status", "lastAttemptedRevision")
	case HelmRelease.Kind:
		o.Revision, _, _ = unstructured.NestedString(u.Object, "status", "lastAttemptedRevision")
		// A chart that cannot be fetched stalls the HelmChart, while the
		// HelmRelease only says its source is not ready.
		if hc, _, _ := unstructured.NestedString(u.Object, "status", "helmChart"); hc != "" && !o.Stalled {
			if ns, name, ok := strings.Cut(hc, "/"); ok {
				c, _, err := k.read(ctx, HelmChart, types.NamespacedName{Namespace: ns, Name: name}, depth)
				if err == nil && c.Stalled {
					o.Stalled, o.StalledMessage = true, "HelmChart "+hc+": "+c.StalledMessage
				}
			}
		}
	}
	return o, u, nil
}
