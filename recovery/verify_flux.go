package recovery

import (
	"context"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// verifyFlux compares a cluster Flux syncs with Git: its Flux tree Ready
// at the commit and every object of its inventories present and healthy.
// Each object is a row, as a rendered object is for rekindle's agent.
func verifyFlux(ctx context.Context, ec *bootstrap.EnvContext, c bootstrap.EnvCluster,
	unreachable func(string) (agent.VerifyResult, []ObjectResult, error)) (agent.VerifyResult, []ObjectResult, error) {
	switch c.State {
	case cluster.Running:
	case cluster.Missing:
		return unreachable("cluster is missing: " + c.Reason)
	default:
		return unreachable("cluster does not answer: " + c.Reason)
	}
	res, tree, err := ec.VerifyFlux(ctx, c, ec.Repo.Commit)
	if err != nil {
		if ctx.Err() != nil {
			return agent.VerifyResult{}, nil, ctx.Err()
		}
		return unreachable("Flux not verified: " + err.Error())
	}
	failed := map[string][]string{}
	for _, d := range res.Differences {
		failed[d.Object] = append(failed[d.Object], d.Reason)
	}
	var rows []ObjectResult
	add := func(ref string) {
		rows = append(rows, ObjectResult{Cluster: c.Name, Workload: "flux", Object: ref, OK: len(failed[ref]) == 0, Differences: failed[ref]})
	}
	add(tree.Source.Ref())
	for _, o := range tree.Objects {
		add(o.Ref())
	}
	for _, e := range tree.Entries {
		add(e.Ref())
	}
	return *res, rows, nil
}
