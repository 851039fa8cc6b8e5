package restore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// RestoreNameLabel is the label Velero puts on every object it restores.
const RestoreNameLabel = "velero.io/restore-name"

// nonRestorable are the resources Velero never restores
// (pkg/controller/restore_controller.go, nonRestorableResources).
var nonRestorable = []string{"nodes", "events", "events.events.k8s.io", "backups.velero.io", "restores.velero.io",
	"resticrepositories.velero.io", "csinodes.storage.k8s.io", "volumeattachments.storage.k8s.io", "backuprepositories.velero.io"}

// Comparison is what a restore workload's Restore brought back, object by
// object, against what its backup holds. It names objects and fields, never
// their values or digests.
type Comparison struct {
	Workload string `json:"workload"`
	Backup   string `json:"backup,omitempty"`
	Restore  string `json:"restore,omitempty"`
	// Compared counts the backup's objects the Restore covers (its
	// includedNamespaces and includedResources, less what Velero never
	// restores and what Git declares).
	Compared  int `json:"compared"`
	Identical int `json:"identical"`
	// HeldByGit counts backup objects the blueprint declares: Git's copy
	// wins, and verify compares them with Git instead.
	HeldByGit int `json:"heldByGit,omitempty"`
	// Kept are objects the cluster already held when Velero restored
	// (existingResourcePolicy none leaves them, without Velero's label).
	Kept []string `json:"kept,omitempty"`
	// Missing and Different are the failures: a backup object that is not
	// in the cluster, or one Velero restored whose data or spec is not the
	// backup's ("Secret/apps/db: data.password").
	Missing   []string `json:"missing,omitempty"`
	Different []string `json:"different,omitempty"`
	// Skipped: the restore was skipped (no backup, whenNoBackup: skip), so
	// there is nothing to compare. Problem: the comparison could not be made.
	Skipped bool   `json:"skipped,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// OK reports whether everything the Restore covers came back as the backup held it.
func (c *Comparison) OK() bool {
	return c.Problem == "" && len(c.Missing) == 0 && len(c.Different) == 0
}

// Problems are the failures as "object: reason" lines.
func (c *Comparison) Problems() []string {
	var out []string
	if c.Problem != "" {
		out = append(out, c.Problem)
	}
	for _, m := range c.Missing {
		out = append(out, fmt.Sprintf("%s: in backup %s but missing after the restore", m, c.Backup))
	}
	for _, d := range c.Different {
		obj, fields, _ := strings.Cut(d, ": ")
		out = append(out, fmt.Sprintf("%s: restored by Velero but %s differ(s) from backup %s", obj, fields, c.Backup))
	}
	return out
}

// HeldByGit reports whether the blueprint declares an object (group, kind, namespace, name).
type HeldByGit func(gk schema.GroupKind, namespace, name string) bool

// Compare checks what the restore workload's Restore brought back against
// its backup's contents (read through Velero, see Contents): every object
// the Restore covers must be in the cluster, and each one Velero restored
// must have the backup's data and spec. An error means only a cancelled
// context; anything else that stops the comparison is its Problem.
func (r *Runner) Compare(ctx context.Context, workload string, spec *blueprints.RestoreWorkload, git HeldByGit) (*Comparison, error) {
	ns := spec.VeleroNamespace()
	cmp := &Comparison{Workload: workload}
	out := &Outcome{}
	earlier, err := r.earlier(ctx, ns, workload, out)
	switch {
	case ctx.Err() != nil:
		return cmp, ctx.Err()
	case err != nil:
		cmp.Problem = "cannot compare the restore with its backup: " + err.Error()
		return cmp, nil
	case !earlier:
		cmp.Problem = fmt.Sprintf("workload %s: no Restore in namespace %s: the state its backup holds was not restored", workload, ns)
		return cmp, nil
	case out.Skipped:
		cmp.Skipped = true
		return cmp, nil
	}
	cmp.Restore, cmp.Backup = out.Restore, out.Backup.Name
	_, restoreName, _ := strings.Cut(out.Restore, "/")
	rs := &unstructured.Unstructured{}
	rs.SetGroupVersionKind(RestoreGVK)
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: restoreName}, rs); err != nil {
		cmp.Problem = fmt.Sprintf("read Restore/%s: %v", out.Restore, err)
		return cmp, ctx.Err()
	}
	items, err := r.Contents(ctx, ns, cmp.Backup, time.Minute)
	if err != nil {
		cmp.Problem = fmt.Sprintf("cannot compare Restore/%s with its backup: %v", out.Restore, err)
		return cmp, ctx.Err()
	}
	nsInc, _, _ := unstructured.NestedStringSlice(rs.Object, "spec", "includedNamespaces")
	resInc, _, _ := unstructured.NestedStringSlice(rs.Object, "spec", "includedResources")
	for _, it := range items {
		if !covered(it, nsInc, resInc) {
			continue
		}
		o := it.Object
		if git != nil && git(o.GroupVersionKind().GroupKind(), o.GetNamespace(), o.GetName()) {
			cmp.HeldByGit++
			continue
		}
		cmp.Compared++
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetName()}, live)
		switch {
		case ctx.Err() != nil:
			return cmp, ctx.Err()
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			cmp.Missing = append(cmp.Missing, it.Key())
			continue
		case err != nil:
			cmp.Different = append(cmp.Different, it.Key()+": cannot read it ("+firstLine(err)+")")
			continue
		}
		fields := differingFields(content(o), content(live), "", 2)
		switch {
		case len(fields) == 0:
			cmp.Identical++
		case live.GetLabels()[RestoreNameLabel] == "":
			cmp.Kept = append(cmp.Kept, it.Key())
		default:
			cmp.Different = append(cmp.Different, it.Key()+": "+strings.Join(fields, ", "))
		}
	}
	return cmp, nil
}

// covered reports whether a Restore with these includes restores it.
// Cluster-scoped objects count only when every namespace is included.
func covered(it Item, namespaces, resources []string) bool {
	if slices.Contains(nonRestorable, it.GroupResource) {
		return false
	}
	all := func(s []string) bool { return len(s) == 0 || slices.Contains(s, "*") }
	if ns := it.Object.GetNamespace(); ns != "" && !all(namespaces) && !slices.Contains(namespaces, ns) {
		return false
	}
	if it.Object.GetNamespace() == "" && !all(namespaces) {
		return false
	}
	if all(resources) {
		return true
	}
	res, _, _ := strings.Cut(it.GroupResource, ".")
	return slices.Contains(resources, it.GroupResource) || slices.Contains(resources, res)
}

// content is what a restore must bring back of an object: everything but
// its identity, metadata and status, less the fields Velero's restore
// actions reset by design (a Service's cluster IPs and node ports, a
// PersistentVolume's claimRef identity).
func content(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy().Object
	for _, f := range []string{"apiVersion", "kind", "metadata", "status"} {
		delete(c, f)
	}
	switch o.GroupVersionKind().GroupKind() {
	case schema.GroupKind{Kind: "Service"}:
		for _, f := range []string{"clusterIP", "clusterIPs", "healthCheckNodePort"} {
			unstructured.RemoveNestedField(c, "spec", f)
		}
		if ports, ok, _ := unstructured.NestedSlice(c, "spec", "ports"); ok {
			for _, p := range ports {
				if m, ok := p.(map[string]any); ok {
					delete(m, "nodePort")
				}
			}
			_ = unstructured.SetNestedSlice(c, ports, "spec", "ports")
		}
	case schema.GroupKind{Kind: "PersistentVolume"}:
		unstructured.RemoveNestedField(c, "spec", "claimRef", "uid")
		unstructured.RemoveNestedField(c, "spec", "claimRef", "resourceVersion")
	}
	return c
}

// differingFields names the fields (to depth levels) whose values differ,
// by digest, so no value is ever held in the result.
func differingFields(a, b map[string]any, prefix string, depth int) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if digest(a[k]) == digest(b[k]) {
			continue
		}
		am, aok := a[k].(map[string]any)
		bm, bok := b[k].(map[string]any)
		if depth > 1 && aok && bok {
			out = append(out, differingFields(am, bm, prefix+k+".", depth-1)...)
			continue
		}
		out = append(out, prefix+k)
	}
	sort.Strings(out)
	return out
}

// digest is the SHA-256 of v's JSON (encoding/json sorts map keys).
func digest(v any) [32]byte {
	raw, _ := json.Marshal(v)
	return sha256.Sum256(raw)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
