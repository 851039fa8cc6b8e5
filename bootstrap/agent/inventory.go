package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/blueprints"
)

const inventoryKey = "inventory.json.gz"

// Inventory is what the agent applied to a cluster in its last successful pass
// (or, after a failed pass, everything it may have applied).
type Inventory struct {
	Cluster  string           `json:"cluster"`
	Commit   string           `json:"commit,omitempty"`
	Updated  time.Time        `json:"updated"`
	Objects  []InventoryEntry `json:"objects"`
	Releases []HelmRelease    `json:"releases,omitempty"`
}

// InventoryEntry is one applied object.
type InventoryEntry struct {
	ObjectRef `json:",inline"`
	Workload  string `json:"workload"`
	// Helm marks objects owned by a Helm release: they leave with the release.
	Helm bool `json:"helm,omitempty"`
	// Hash of the desired object: an object applied again with the same hash
	// that still had to be changed was drifted by hand.
	Hash string `json:"hash,omitempty"`
}

// HelmRelease is one release the agent installed.
type HelmRelease struct {
	Workload  string `json:"workload"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

func (r HelmRelease) key() string { return r.Namespace + "/" + r.Name }

// InventoryName is the ConfigMap (in SystemNamespace) holding a cluster's inventory.
func InventoryName(cluster string) string { return "rekindle-inventory-" + cluster }

func objectHash(u *unstructured.Unstructured) string {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// LoadInventory reads the inventory of cluster; a missing one is empty.
func (a *Applier) LoadInventory(ctx context.Context, cluster string) (*Inventory, error) {
	cm := &corev1.ConfigMap{}
	err := a.client.Get(ctx, client.ObjectKey{Namespace: SystemNamespace, Name: InventoryName(cluster)}, cm)
	if apierrors.IsNotFound(err) {
		return &Inventory{Cluster: cluster}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read inventory ConfigMap/%s/%s: %w", SystemNamespace, InventoryName(cluster), err)
	}
	inv := &Inventory{}
	zr, err := gzip.NewReader(bytes.NewReader(cm.BinaryData[inventoryKey]))
	if err != nil {
		return nil, fmt.Errorf("decode inventory ConfigMap/%s/%s: %w", SystemNamespace, cm.Name, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decode inventory ConfigMap/%s/%s: %w", SystemNamespace, cm.Name, err)
	}
	if err := json.Unmarshal(raw, inv); err != nil {
		return nil, fmt.Errorf("decode inventory ConfigMap/%s/%s: %w", SystemNamespace, cm.Name, err)
	}
	return inv, nil
}

func (a *Applier) writeInventory(ctx context.Context, inv *Inventory) error {
	sort.Slice(inv.Objects, func(i, j int) bool { return inv.Objects[i].key() < inv.Objects[j].key() })
	sort.Slice(inv.Releases, func(i, j int) bool { return inv.Releases[i].key() < inv.Releases[j].key() })
	raw, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: SystemNamespace, Name: InventoryName(inv.Cluster)}}
	err = a.client.Get(ctx, client.ObjectKeyFromObject(cm), cm)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("write inventory ConfigMap/%s/%s: %w", SystemNamespace, cm.Name, err)
	}
	cm.Labels = map[string]string{LabelManagedBy: ManagedByValue, LabelCluster: inv.Cluster}
	cm.Annotations = map[string]string{"rekindle.dev/commit": inv.Commit, "rekindle.dev/objects": fmt.Sprint(len(inv.Objects))}
	cm.BinaryData = map[string][]byte{inventoryKey: buf.Bytes()}
	if apierrors.IsNotFound(err) {
		err = a.client.Create(ctx, cm)
	} else {
		err = a.client.Update(ctx, cm)
	}
	if err != nil {
		return fmt.Errorf("write inventory ConfigMap/%s/%s: %w", SystemNamespace, cm.Name, err)
	}
	return nil
}

// mergeInventory is old plus new, new entries winning: after a failed pass
// the agent may have applied part of the new render and must still know the old.
func mergeInventory(old, cur *Inventory) *Inventory {
	out := &Inventory{Cluster: cur.Cluster, Commit: old.Commit, Updated: cur.Updated}
	seen := map[string]bool{}
	for _, e := range cur.Objects {
		seen[e.key()] = true
		out.Objects = append(out.Objects, e)
	}
	for _, e := range old.Objects {
		if !seen[e.key()] {
			out.Objects = append(out.Objects, e)
		}
	}
	rs := map[string]bool{}
	for _, r := range cur.Releases {
		rs[r.key()] = true
		out.Releases = append(out.Releases, r)
	}
	for _, r := range old.Releases {
		if !rs[r.key()] {
			out.Releases = append(out.Releases, r)
		}
	}
	return out
}

// newInventory is the inventory of a fully applied render.
func newInventory(rc *blueprints.RenderedCluster, plans []*workloadPlan) *Inventory {
	inv := &Inventory{Cluster: rc.Cluster, Commit: rc.Commit, Updated: time.Now().UTC()}
	for _, p := range plans {
		inv.Objects = append(inv.Objects, p.entries...)
		if h := p.w.Helm; h != nil {
			inv.Releases = append(inv.Releases, HelmRelease{Workload: p.w.Name, Name: h.ReleaseName, Namespace: h.Namespace})
		}
	}
	return inv
}

// saveAfterFailure records everything the failed pass may have applied
// together with the old inventory, so that nothing is forgotten (and pruning
// stays possible) while nothing is pruned. Objects of workloads that were not
// applied lose their hash, so they are never reported as drift. It writes
// even when ctx is cancelled (a cancelled pass applied objects too), within
// a few seconds.
func (a *Applier) saveAfterFailure(ctx context.Context, old *Inventory, rc *blueprints.RenderedCluster, plans []*workloadPlan, appliedOK []bool) {
	cur := newInventory(rc, nil)
	for i, p := range plans {
		for _, e := range p.entries {
			if appliedOK == nil || !appliedOK[i] {
				e.Hash = ""
			}
			cur.Objects = append(cur.Objects, e)
		}
		if h := p.w.Helm; h != nil && appliedOK != nil && appliedOK[i] {
			cur.Releases = append(cur.Releases, HelmRelease{Workload: p.w.Name, Name: h.ReleaseName, Namespace: h.Namespace})
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := a.writeInventory(ctx, mergeInventory(old, cur)); err != nil {
		a.opts.Log("write inventory after a failed pass: %v", err)
	}
}
