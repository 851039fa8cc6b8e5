package agent

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// startOrder is the order apply starts its requests in (several are in
// flight at once, so it is an order of starting, not of completion): the
// cluster-scoped objects of kinds in the apply order first, then namespace
// after namespace, each in the apply order (kind, then name), then
// cluster-scoped objects of other kinds, then API services and webhooks.
//
// A render is sorted kind first across namespaces (Helm's install order), so
// a workload spread over many namespaces would start every Deployment
// after every ConfigMap, Secret and Service of all of them, and its
// controllers, idle until then, would start their work at the end of the
// apply. What must come before a namespaced object (its ConfigMaps,
// Secrets, ServiceAccount, claims, Role) is in its own namespace, or
// cluster-scoped and started before it, so namespace-major order keeps
// every such guarantee the kind order gives, and lets the first
// namespaces' Deployments roll out while the others are applied. A
// workload in one namespace keeps the render's order.
func startOrder(objs []*unstructured.Unstructured) []int {
	tier := func(o *unstructured.Unstructured) int {
		kind := o.GetKind()
		switch {
		case blueprints.LateKind(kind):
			return 3
		case o.GetNamespace() != "":
			return 1
		case blueprints.KindRank(kind) < blueprints.KindRank(""):
			return 0 // cluster-scoped and known: StorageClass, PersistentVolume, ...
		default:
			return 2 // cluster-scoped custom resources: after what they may refer to
		}
	}
	idx := make([]int, len(objs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := objs[idx[i]], objs[idx[j]]
		if ta, tb := tier(a), tier(b); ta != tb {
			return ta < tb
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return blueprints.KindRank(a.GetKind()) < blueprints.KindRank(b.GetKind())
	})
	return idx
}
