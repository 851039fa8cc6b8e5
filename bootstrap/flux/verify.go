package flux

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/rekindle-dev/rekindle/bootstrap/agent"
)

// VerifyOptions say what Verify compares.
type VerifyOptions struct {
	Cluster      string
	Source, Root types.NamespacedName
	Commit       string
}

// Verify checks a Flux cluster without changing it: the source and every
// Kustomization and HelmRelease of the tree Ready at the commit, and every
// object in their inventories present and healthy (kstatus Current). Field
// drift is Flux's to correct, so Matching counts the objects present. What
// Flux should hold and does not is named.
func Verify(ctx context.Context, cfg *rest.Config, o VerifyOptions) (*agent.VerifyResult, *Tree, error) {
	start := time.Now()
	res := &agent.VerifyResult{Cluster: o.Cluster, Commit: o.Commit}
	k, err := connect(cfg)
	if err != nil {
		return nil, nil, err
	}
	t, err := k.readTree(ctx, o.Source, o.Root)
	if err != nil {
		return nil, nil, err
	}
	flux := append([]Object{t.Source}, t.Objects...)
	for _, ob := range flux {
		res.Desired++
		if !ob.Found {
			res.Differences = append(res.Differences, agent.Difference{Object: ob.Ref(), Reason: "missing"})
			continue
		}
		res.Present++
		res.Matching++
		if b := ob.Blocker(o.Commit); b != "" {
			res.Differences = append(res.Differences, agent.Difference{Object: ob.Ref(), Reason: "not ready: " + b})
			continue
		}
		res.Healthy++
	}
	for _, e := range t.Entries {
		res.Desired++
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(e.GVK)
		if err := k.c.Get(ctx, types.NamespacedName{Namespace: e.Namespace, Name: e.Name}, u); err != nil {
			if !apierrors.IsNotFound(err) && ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			reason := "missing (in the inventory of " + e.Owner + ")"
			if !apierrors.IsNotFound(err) {
				reason = "cannot be read: " + err.Error()
			}
			res.Differences = append(res.Differences, agent.Difference{Object: e.Ref(), Reason: reason})
			continue
		}
		res.Present++
		res.Matching++
		st, err := status.Compute(u)
		if err != nil {
			res.Differences = append(res.Differences, agent.Difference{Object: e.Ref(), Reason: "health unknown: " + err.Error()})
			continue
		}
		if st.Status != status.CurrentStatus {
			res.Differences = append(res.Differences, agent.Difference{Object: e.Ref(), Reason: fmt.Sprintf("not healthy: %s: %s", st.Status, st.Message)})
			continue
		}
		res.Healthy++
	}
	res.Duration = time.Since(start)
	return res, t, nil
}

// ReadTree reads the cluster's Flux tree as it stands (for status).
func ReadTree(ctx context.Context, cfg *rest.Config, source, root types.NamespacedName) (*Tree, error) {
	k, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	return k.readTree(ctx, source, root)
}
