package agent

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	"golang.org/x/sync/errgroup"
)

// waitLists is how many reads one poll keeps in flight.
const waitLists = 4

// observation is one object's status as one poll saw it.
type observation struct {
	ref     ObjectRef
	status  status.Status
	message string
}

func (o observation) reason() string {
	if o.message == "" {
		return string(o.status)
	}
	return string(o.status) + ": " + o.message
}

// waitHealthy polls until every object in refs is Current (kstatus), fails
// as soon as one is Failed, and gives up after WaitTimeout. Polls start 50ms
// apart and back off to WaitInterval: a CRD is Established, a small
// workload healthy, well within the first interval. Each poll reads only the
// objects not yet Current: one LIST per kind and namespace (a GET when a
// single object is left there). Jobs in ttlJobs count as Current once gone.
//
// It returns how many objects are healthy and, on failure, every object not
// healthy with the status its last poll saw, which is also what the error
// says: the wait explains itself without reading the objects again.
func (a *Applier) waitHealthy(ctx context.Context, refs []ObjectRef, ttlJobs object.ObjMetadataSet) (int, []FailedObject, error) {
	if len(refs) == 0 {
		return 0, nil, nil
	}
	wctx, cancel := context.WithTimeout(ctx, a.opts.WaitTimeout)
	defer cancel()
	pending := make(map[string]observation, len(refs))
	for _, r := range refs {
		pending[r.key()] = observation{ref: r, status: status.UnknownStatus}
	}
	delay := min(50*time.Millisecond, a.opts.WaitInterval)
	for {
		var failed []observation
		for _, o := range a.poll(wctx, pending) {
			k := o.ref.key()
			if o.status == status.CurrentStatus || (o.status == status.NotFoundStatus && ttlJobs.Contains(o.ref.objMetadata())) {
				delete(pending, k)
				continue
			}
			pending[k] = o
			if o.status == status.FailedStatus {
				failed = append(failed, o)
			}
		}
		healthy := len(refs) - len(pending)
		switch {
		case len(pending) == 0:
			return healthy, nil, nil
		case len(failed) > 0:
			nr := notReady(failed)
			return healthy, append(nr, notReady(except(pending, failed))...), fmt.Errorf("failed: %s", summarizeFailed(nr, 10))
		}
		select {
		case <-wctx.Done():
			nr := notReady(mapValues(pending))
			if ctx.Err() != nil {
				return healthy, nr, fmt.Errorf("stopped waiting for %d objects: %w", len(nr), ctx.Err())
			}
			return healthy, nr, fmt.Errorf("not ready after %s: %s", a.opts.WaitTimeout, summarizeFailed(nr, 10))
		case <-time.After(delay):
		}
		delay = min(2*delay, a.opts.WaitInterval)
	}
}

// poll reads the pending objects once and returns what it saw of each.
func (a *Applier) poll(ctx context.Context, pending map[string]observation) []observation {
	type group struct {
		gvk schema.GroupVersionKind
		ns  string
	}
	groups := map[group][]ObjectRef{}
	for _, o := range pending {
		g := group{o.ref.gvk(), o.ref.Namespace}
		groups[g] = append(groups[g], o.ref)
	}
	seen := make([][]observation, len(groups))
	var g errgroup.Group
	g.SetLimit(waitLists)
	i := 0
	for k, rs := range groups {
		slot := i
		i++
		g.Go(func() error {
			seen[slot] = a.read(ctx, k.gvk, k.ns, rs)
			return nil
		})
	}
	_ = g.Wait()
	var out []observation
	for _, s := range seen {
		out = append(out, s...)
	}
	return out
}

// currentOnceCreated reports whether kstatus computes o's kind Current
// whenever it exists and is not being deleted: kinds with no status
// (ConfigMap, Secret, ServiceAccount, RBAC's) and Services other than
// LoadBalancers (kstatus waits for those to have a cluster IP).
func currentOnceCreated(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	switch gvk.Group {
	case "":
		switch gvk.Kind {
		case "ConfigMap", "Secret", "ServiceAccount":
			return true
		case "Service":
			t, _, _ := unstructured.NestedString(o.Object, "spec", "type")
			return t != "LoadBalancer"
		}
	case "rbac.authorization.k8s.io":
		switch gvk.Kind {
		case "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			return true
		}
	}
	return false
}

func observe(r ObjectRef, u *unstructured.Unstructured, err error) observation {
	switch {
	case apierrors.IsNotFound(err):
		return observation{ref: r, status: status.NotFoundStatus, message: "not found"}
	case err != nil:
		return observation{ref: r, status: status.UnknownStatus, message: err.Error()}
	}
	res, cerr := status.Compute(u)
	if cerr != nil {
		return observation{ref: r, status: status.UnknownStatus, message: cerr.Error()}
	}
	return observation{ref: r, status: res.Status, message: res.Message}
}

func notReady(obs []observation) []FailedObject {
	out := make([]FailedObject, len(obs))
	for i, o := range obs {
		out[i] = FailedObject{Object: o.ref.String(), Reason: o.reason()}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Object < out[j].Object })
	return out
}

func mapValues(m map[string]observation) []observation {
	out := make([]observation, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	return out
}

func except(m map[string]observation, drop []observation) []observation {
	skip := make(map[string]bool, len(drop))
	for _, o := range drop {
		skip[o.ref.key()] = true
	}
	var out []observation
	for k, o := range m {
		if !skip[k] {
			out = append(out, o)
		}
	}
	return out
}

// summarizeFailed names up to n objects with their reasons.
func summarizeFailed(f []FailedObject, n int) string {
	parts := make([]string, len(f))
	for i, o := range f {
		parts[i] = o.Object + " (" + o.Reason + ")"
	}
	return summarize(parts, n)
}
