package recovery

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/git"
)

// VerifyReport compares every cluster of an environment with Git.
type VerifyReport struct {
	Blueprint string `json:"blueprint"`
	Env       string `json:"env"`
	// Commit is the blueprint commit the clusters were compared with ("" for
	// a directory that is not a Git checkout).
	Commit string `json:"commit,omitempty"`
	// RecordedCommit is the commit of the environment's last run.
	RecordedCommit string `json:"recordedCommit,omitempty"`
	// Clusters hold per-cluster counts and differences; a cluster that is
	// missing or does not answer has one difference saying so.
	Clusters []agent.VerifyResult `json:"clusters"`
	// Objects are every rendered object of every cluster with what was
	// found for it, in render order; a cluster that could not be compared
	// has one row naming no object.
	Objects  []ObjectResult `json:"objects,omitempty"`
	Duration time.Duration  `json:"duration"`
	// Passed is true when every cluster matches Git.
	Passed bool `json:"passed"`
}

// Differences lists every difference as "cluster: Kind/namespace/name: what".
func (r *VerifyReport) Differences() []string {
	var out []string
	for _, c := range r.Clusters {
		for _, d := range c.Differences {
			out = append(out, c.Cluster+": "+d.String())
		}
	}
	return out
}

// Err is nil when every cluster matches Git, and a *DiffError listing the
// differences otherwise.
func (r *VerifyReport) Err() error {
	if r.Passed {
		return nil
	}
	return &DiffError{Differences: r.Differences()}
}

// VerifyOptions say what Verify compares with.
type VerifyOptions struct {
	// Commit is the blueprint commit (empty: the commit the environment's
	// last run recorded).
	Commit string
	// AgainstBackup also compares what each restore workload brought back
	// with its backup's contents (agent.Applier.CompareRestores): right
	// after a recovery, as a drill does. Later the cluster's state may
	// rightly have moved on from the backup.
	AgainstBackup bool
}

// Verify compares the environment's clusters with the blueprint at o.Commit
// (empty: the commit its last run recorded): every rendered object present,
// its fields managed by Git equal to Git, healthy; Helm releases deployed at
// the rendered chart version. A Git blueprint is fetched at that commit; a
// directory is used as it is. A cluster that is missing or does not answer
// is a difference, not an error. It changes nothing.
func Verify(ctx context.Context, opts bootstrap.Options, o VerifyOptions) (*VerifyReport, error) {
	start := time.Now()
	commit := o.Commit
	ec, err := bootstrap.Environment(ctx, opts)
	if err != nil {
		return nil, err
	}
	want := commit
	if want == "" {
		want = ec.Commit
	}
	if want != "" && git.IsRemote(opts.Source.Location) && !strings.HasPrefix(ec.Repo.Commit, want) {
		opts.Source.Ref = want
		if ec, err = bootstrap.Environment(ctx, opts); err != nil {
			return nil, fmt.Errorf("blueprint at commit %.12s: %w", want, err)
		}
	}
	rep := &VerifyReport{
		Blueprint:      ec.Repo.Blueprint.Metadata.Name,
		Env:            ec.Env,
		Commit:         ec.Repo.Commit,
		RecordedCommit: ec.Commit,
		Clusters:       make([]agent.VerifyResult, len(ec.Clusters)),
	}
	// Cluster names that still hold a template mean the infra outputs are
	// missing (no Terraform state): renders that use them cannot work either.
	noOutputs := false
	for _, c := range ec.Clusters {
		noOutputs = noOutputs || strings.Contains(c.Name, "{{")
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ec.Clusters))
	objects := make([][]ObjectResult, len(ec.Clusters))
	for i, c := range ec.Clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Clusters[i], objects[i], errs[i] = verifyCluster(ctx, ec, c, noOutputs, o.AgainstBackup)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return rep, err
		}
	}
	for _, o := range objects {
		rep.Objects = append(rep.Objects, o...)
	}
	rep.Passed = true
	for _, c := range rep.Clusters {
		rep.Passed = rep.Passed && c.OK()
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// verifyCluster renders one cluster and compares it with the live one, and
// lists its objects with what was found for each. Only a broken render (when
// the infra outputs are there) or a cancelled context is an error.
func verifyCluster(ctx context.Context, ec *bootstrap.EnvContext, c bootstrap.EnvCluster, noOutputs, againstBackup bool) (agent.VerifyResult, []ObjectResult, error) {
	start := time.Now()
	res := agent.VerifyResult{Cluster: c.Name}
	unreachable := func(reason string) (agent.VerifyResult, []ObjectResult, error) {
		res.Differences = []agent.Difference{{Reason: reason}}
		res.Duration = time.Since(start)
		return res, objectResults(nil, res, nil), nil
	}
	if strings.Contains(c.Name, "{{") {
		return unreachable("cluster not verified: " + c.Reason)
	}
	if c.Flux != nil {
		return verifyFlux(ctx, ec, c, unreachable)
	}
	rc, err := ec.Render(ctx, c.Name)
	if err != nil && noOutputs {
		s, _, _ := strings.Cut(err.Error(), "\n")
		return unreachable(fmt.Sprintf("cluster not verified: the infra outputs are missing, so it cannot be rendered (%s)", s))
	}
	if err != nil {
		return res, nil, fmt.Errorf("render cluster %q: %w", c.Name, err)
	}
	res.Commit = rc.Commit
	for _, w := range rc.Workloads {
		for _, o := range w.Objects {
			if _, hook := o.GetAnnotations()["helm.sh/hook"]; !hook || w.Helm == nil {
				res.Desired++
			}
		}
	}
	switch c.State {
	case cluster.Running:
	case cluster.Missing:
		return unreachable("cluster is missing: " + c.Reason)
	default:
		return unreachable("cluster does not answer: " + c.Reason)
	}
	cfg, err := cluster.RESTConfig(c.Kubeconfig, "")
	if err != nil {
		return unreachable("cluster cannot be reached: " + err.Error())
	}
	ap, err := agent.NewApplier(cfg, agent.ApplyOptions{})
	if err != nil {
		return unreachable("cluster cannot be reached: " + err.Error())
	}
	vr, err := ap.Verify(ctx, rc)
	if err != nil {
		if ctx.Err() != nil {
			return res, nil, ctx.Err()
		}
		return unreachable("cluster not verified: " + err.Error())
	}
	if againstBackup {
		cmps, diffs, err := ap.CompareRestores(ctx, rc, nil)
		if err != nil {
			return res, nil, err
		}
		vr.Restores, vr.Differences = cmps, append(vr.Differences, diffs...)
	}
	namespaced := func(o *unstructured.Unstructured) bool {
		ns, err := ap.Client().IsObjectNamespaced(o)
		return err != nil || ns // as the agent: unknown kinds count as namespaced
	}
	return *vr, objectResults(rc, *vr, namespaced), nil
}
