package blueprints

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// checkAllowed refuses the first object the allow-list does not permit. An
// object still without a namespace after defaulting is cluster-scoped (or of
// a kind rekindle cannot place, which is treated the same, to be safe).
func checkAllowed(objs []*unstructured.Unstructured, allow *Allow) error {
	var refused []string
	for _, o := range objs {
		switch ns := o.GetNamespace(); {
		case IsNamespace(o):
			if !slices.Contains(allow.Namespaces, o.GetName()) {
				refused = append(refused, fmt.Sprintf("%s: namespace not in allow.namespaces", ObjectRef(o)))
			}
		case ns != "":
			if !slices.Contains(allow.Namespaces, ns) {
				refused = append(refused, fmt.Sprintf("%s: namespace %q not in allow.namespaces", ObjectRef(o), ns))
			}
		default:
			if !slices.Contains(allow.ClusterScopedKinds, o.GetKind()) {
				refused = append(refused, fmt.Sprintf("%s: cluster-scoped kind %s not in allow.clusterScopedKinds", ObjectRef(o), o.GetKind()))
			}
		}
	}
	if len(refused) == 0 {
		return nil
	}
	if len(refused) > 5 {
		refused = append(refused[:5], fmt.Sprintf("and %d more", len(refused)-5))
	}
	return fmt.Errorf("refused by the cluster's allow-list: %s", strings.Join(refused, "; "))
}
