package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	ssajsondiff "github.com/fluxcd/pkg/ssa/jsondiff"
	"github.com/fluxcd/pkg/ssa/utils"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// VerifyResult compares one cluster with its render.
type VerifyResult struct {
	Cluster string `json:"cluster"`
	Commit  string `json:"commit,omitempty"`
	// Desired counts the rendered objects (Helm hooks excluded, as in Sync);
	// Present those that exist, Matching those whose fields managed by Git
	// equal Git, Healthy those that are Current (kstatus).
	Desired  int `json:"desired"`
	Present  int `json:"present"`
	Matching int `json:"matching"`
	Healthy  int `json:"healthy"`
	// Differences say what is wrong, object by object, in render order.
	Differences []Difference `json:"differences,omitempty"`
	// Restores compare what restore workloads brought back with their
	// backups, when asked (CompareRestores); their failures are Differences.
	Restores []restore.Comparison `json:"restores,omitempty"`
	Duration time.Duration        `json:"duration"`
}

// OK reports whether the cluster holds exactly what Git says, healthy.
func (r *VerifyResult) OK() bool {
	return len(r.Differences) == 0 && r.Present == r.Desired && r.Matching == r.Desired && r.Healthy == r.Desired
}

// Difference is one way the live cluster differs from Git.
type Difference struct {
	Workload string `json:"workload,omitempty"`
	// Object is Kind/namespace/name, "helm release namespace/name", or empty
	// for the cluster as a whole.
	Object string `json:"object,omitempty"`
	// Reason is what is wrong: "missing", "field spec.replicas differs",
	// "not healthy: InProgress: ...", "chart hello 0.1.0, want 0.2.0".
	Reason string `json:"reason"`
	// Fields are the changed field paths, when the difference is in fields.
	Fields []string `json:"fields,omitempty"`
}

func (d Difference) String() string {
	if d.Object == "" {
		return d.Reason
	}
	return d.Object + ": " + d.Reason
}

// verifyItem is one rendered object as the agent applies it.
type verifyItem struct {
	workload string
	obj      *unstructured.Unstructured
	// ttlJob: a Job that deletes itself when done, so its absence is fine.
	ttlJob bool
	// presenceOnly: a Namespace the render needs but no workload declares.
	// It must exist and be healthy; its fields are not Git's (one that was
	// there before rekindle is left as it was), so they are not compared.
	presenceOnly bool
}

// objectVerdict is what Verify found for one object.
type objectVerdict struct {
	present, matching, healthy bool
	diffs                      []Difference
}

// Verify compares the cluster with rc without changing anything: every
// rendered object, with the labels the agent puts on it, must exist
// (present), have the fields Git manages equal to Git (matching: a
// server-side apply dry run with the agent's field manager changes nothing)
// and be Current (healthy). Helm releases must exist, be deployed, and be at
// the rendered chart name and version. Requests run Concurrency at a time,
// from the budget the Applier's applies share.
// An error means the comparison itself could not be made.
func (a *Applier) Verify(ctx context.Context, rc *blueprints.RenderedCluster) (*VerifyResult, error) {
	start := time.Now()
	res := &VerifyResult{Cluster: rc.Cluster, Commit: rc.Commit}
	plans, err := a.plan(rc)
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	var items []verifyItem
	for _, p := range plans {
		objs := a.liveObjects(rc.Cluster, p)
		ttl := utils.ExtractJobsWithTTL(objs)
		for _, o := range objs {
			items = append(items, verifyItem{workload: p.w.Name, obj: o, ttlJob: ttl.Contains(object.UnstructuredToObjMetadata(o))})
		}
	}
	for _, ns := range rc.CreatedNamespaces {
		items = append(items, verifyItem{workload: namespacesWorkload, obj: ns, presenceOnly: true})
	}
	res.Desired = len(items)

	verdicts := make([]objectVerdict, len(items))
	var relDiffs [][]Difference
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Concurrency)
	for i, it := range items {
		g.Go(func() error {
			if err := a.inFlight.take(gctx); err != nil {
				return err
			}
			defer a.inFlight.give()
			v, err := a.verifyObject(gctx, it)
			verdicts[i] = v
			return err
		})
	}
	var mu sync.Mutex
	for _, p := range plans {
		if p.w.Helm == nil {
			continue
		}
		g.Go(func() error {
			d, err := a.verifyRelease(gctx, p.w)
			mu.Lock()
			relDiffs = append(relDiffs, d)
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	for _, v := range verdicts {
		res.Differences = append(res.Differences, v.diffs...)
		if v.present {
			res.Present++
		}
		if v.matching {
			res.Matching++
		}
		if v.healthy {
			res.Healthy++
		}
	}
	for _, d := range relDiffs {
		res.Differences = append(res.Differences, d...)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// helmObjects are a Helm workload's objects as its release holds them:
// hooks left out, namespaced objects in the release namespace, and the labels
// the agent's post-renderer adds.
func (a *Applier) helmObjects(cluster string, w blueprints.RenderedWorkload) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for _, o := range w.Objects {
		if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
			continue
		}
		if o.GetNamespace() == "" && a.namespaced(o) {
			o = o.DeepCopy()
			o.SetNamespace(w.Helm.Namespace)
		}
		objs = append(objs, o)
	}
	return withLabels(objs, helmLabels(cluster, w.Name))
}

// liveObjects are a plan's objects as the cluster holds them: the
// rendered ones, or a Helm workload's as its release holds them.
func (a *Applier) liveObjects(cluster string, p *workloadPlan) []*unstructured.Unstructured {
	if p.w.Helm != nil {
		return a.helmObjects(cluster, p.w)
	}
	return append(append([]*unstructured.Unstructured(nil), p.defs...), p.rest...)
}

// helmLabels are what the agent's post-renderer puts on every object of a
// Helm release (see syncWorkload).
func helmLabels(cluster, workload string) map[string]string {
	return map[string]string{LabelCluster: cluster, LabelWorkload: workload}
}

// verifyObject reads one object, compares it with Git and judges its health.
// Only a cancelled context is an error; everything else is a difference.
func (a *Applier) verifyObject(ctx context.Context, it verifyItem) (objectVerdict, error) {
	var v objectVerdict
	ref := refOf(it.obj)
	diff := func(reason string, fields ...string) {
		v.diffs = append(v.diffs, Difference{Workload: it.workload, Object: ref.String(), Reason: reason, Fields: fields})
	}
	live := ref.unstructured()
	if err := a.client.Get(ctx, client.ObjectKeyFromObject(live), live); err != nil {
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		switch {
		case apierrors.IsNotFound(err) && it.ttlJob:
			// A finished Job with a TTL deletes itself: that is its ready state.
			v.present, v.matching, v.healthy = true, true, true
		case apierrors.IsNotFound(err):
			diff("missing")
		case meta.IsNoMatchError(err):
			diff(fmt.Sprintf("missing: the cluster does not serve %s", ref.gvk().GroupVersion().WithKind(ref.Kind)))
		default:
			diff("cannot read: " + firstLineOf(err))
		}
		return v, nil
	}
	v.present = true
	if it.presenceOnly {
		v.matching = true
		v.judgeHealth(live, diff)
		return v, nil
	}

	entry, before, after, err := a.rm.Diff(ctx, it.obj.DeepCopy(), ssa.DiffOptions{Force: true})
	switch {
	case ctx.Err() != nil:
		return v, ctx.Err()
	case err != nil:
		diff("cannot compare with Git: " + firstLineOf(err))
	case entry.Action == ssa.UnchangedAction:
		v.matching = true
	case entry.Action == ssa.CreatedAction:
		// The dry run failed on an immutable field; the agent would recreate it.
		diff("an immutable field differs (the agent would recreate the object)")
	default:
		fields, other := changedFields(before, after, it.obj)
		switch len(fields) {
		case 0:
			if other {
				// Only metadata Git does not set changed between the dry
				// run's read and its apply (a controller bumped an
				// annotation): no field Git manages differs.
				v.matching = true
			} else {
				diff("differs from Git")
			}
		case 1:
			diff("field "+fields[0]+" differs", fields...)
		default:
			diff("fields "+strings.Join(fields, ", ")+" differ", fields...)
		}
	}

	v.judgeHealth(live, diff)
	return v, nil
}

// judgeHealth sets v.healthy when live is Current (kstatus), else records why not.
func (v *objectVerdict) judgeHealth(live *unstructured.Unstructured, diff func(string, ...string)) {
	st, err := status.Compute(live)
	switch {
	case err != nil:
		diff("not healthy: " + err.Error())
	case st.Status == status.CurrentStatus:
		v.healthy = true
	default:
		reason := "not healthy: " + string(st.Status)
		if st.Message != "" {
			reason += ": " + st.Message
		}
		diff(reason)
	}
}

// verifyRelease checks that a Helm workload's release exists, is deployed,
// and runs the rendered chart name and version.
func (a *Applier) verifyRelease(ctx context.Context, w blueprints.RenderedWorkload) ([]Difference, error) {
	h := w.Helm
	name := "helm release " + h.Namespace + "/" + h.ReleaseName
	diff := func(reason string) []Difference {
		return []Difference{{Workload: w.Name, Object: name, Reason: reason}}
	}
	ac, err := helmConfig(a.cfg, h.Namespace, a.opts.Log)
	if err != nil {
		return diff("cannot read: " + firstLineOf(err)), nil
	}
	rel, err := action.NewGet(ac).Run(h.ReleaseName)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		return diff("missing"), nil
	case err != nil:
		return diff("cannot read: " + firstLineOf(err)), nil
	}
	var out []Difference
	if rel.Info == nil || rel.Info.Status != release.StatusDeployed {
		st := "unknown"
		if rel.Info != nil {
			st = string(rel.Info.Status)
		}
		out = append(out, diff(fmt.Sprintf("status %s, want %s", st, release.StatusDeployed))...)
	}
	var gotName, gotVersion string
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		gotName, gotVersion = rel.Chart.Metadata.Name, rel.Chart.Metadata.Version
	}
	if (h.ChartName != "" && gotName != h.ChartName) || gotVersion != h.ChartVersion {
		out = append(out, diff(fmt.Sprintf("at chart %s %s, want %s %s", gotName, gotVersion, h.ChartName, h.ChartVersion))...)
	}
	return out, nil
}

// changedFields lists the paths (spec.replicas, data.mode,
// spec.template.spec.containers[0].image, metadata.labels.app) where the
// dry-run object (what Git would make of it) differs from the live one.
// Labels and annotations count only when git (the rendered object) sets
// them; other reports whether some other metadata differed.
func changedFields(live, desired, git *unstructured.Unstructured) (fields []string, other bool) {
	if live == nil || desired == nil {
		return nil, false
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if patch, err := ssajsondiff.DiffUnstructured(live, desired); err == nil {
		for _, op := range patch {
			add(fieldPath(op.Path))
		}
	}
	for _, md := range []struct {
		name            string
		live, want, git map[string]string
	}{
		{"labels", live.GetLabels(), desired.GetLabels(), git.GetLabels()},
		{"annotations", live.GetAnnotations(), desired.GetAnnotations(), git.GetAnnotations()},
	} {
		var keys []string
		for k, v := range md.want {
			if lv, ok := md.live[k]; !ok || lv != v {
				if _, fromGit := md.git[k]; !fromGit {
					other = true
					continue
				}
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			add("metadata." + md.name + "." + k)
		}
	}
	return out, other
}

// fieldPath turns a JSON pointer (/spec/template/spec/containers/0/image)
// into a field path (spec.template.spec.containers[0].image).
func fieldPath(pointer string) string {
	if pointer == "" || pointer == "/" {
		return "(the whole object)"
	}
	var b strings.Builder
	for i, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func firstLineOf(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
