package blueprints

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rekindle-dev/rekindle/providers/sops"
)

// RenderOptions tune Render.
type RenderOptions struct {
	// Outputs are the environment's Terraform outputs, for {{ .Infra.Outputs.NAME }}.
	Outputs map[string]any
	// Keys decrypt SOPS-encrypted files: plain YAML files, every file a
	// kustomization reads (resources, secretGenerator envs and files) and
	// Helm valuesFiles. Nil: an encrypted file is an error that names it.
	Keys *sops.Keys
	// OnEncrypted, when set, hears of every encrypted file the render
	// reads (path relative to the repo root), with nil or why it does not
	// decrypt. A file that does not decrypt then no longer stops the render
	// (its ciphertext stands in for it), so that one render finds them all.
	OnEncrypted func(file string, err error)
	// Live, when set, are the live cluster's capabilities (the agent's:
	// its server version and every API version discovery lists); charts
	// are then rendered as `helm install` on that cluster would. Nil: the
	// offline version of KubeVersionFor and Helm's built-in API versions.
	// The render's CRDs are added either way.
	Live *Capabilities
}

// Render turns one cluster's workloads into the objects the cluster must hold,
// with workloads sorted by dependsOn and objects in apply order.
func (r *Repo) Render(ctx context.Context, envName, clusterName string, opts RenderOptions) (*RenderedCluster, error) {
	env, err := r.Expand(envName, opts.Outputs)
	if err != nil {
		return nil, err
	}
	c, err := env.Cluster(clusterName)
	if err != nil {
		return nil, err
	}
	rc := &RenderedCluster{Environment: env.Name, Cluster: c.Name, Provider: c.Provider, Commit: r.Commit}
	r.locate(rc, env, c)
	base := Capabilities{}
	if opts.Live != nil {
		base = *opts.Live
		if base.KubeVersionFrom == "" {
			base.KubeVersionFrom = KubeVersionFromLive
		}
	} else {
		base.KubeVersion, base.KubeVersionFrom = KubeVersionFor(*c)
	}
	d := r.newDecrypter(opts)
	ws := sortWorkloads(c.Workloads)
	rws := make([]*RenderedWorkload, len(ws))
	fail := func(w Workload, err error) error {
		return d.scrub(fmt.Errorf("render workload %q of cluster %q: %w", w.Name, c.Name, err))
	}
	// Plain and kustomize workloads first, and every chart loaded: their
	// CRDs are API versions the charts can see.
	var crds []string
	charts := make([]*loadedChart, len(ws))
	plainErrs := r.renderPlainWorkloads(ctx, ws, d, rws)
	for i, w := range ws {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if w.isHelm() {
			if charts[i], err = r.loadChart(ctx, w); err != nil {
				return nil, fail(w, err)
			}
			crds = append(crds, charts[i].crdAPIVersions()...)
			continue
		}
		if err := plainErrs[i]; err != nil {
			return nil, fail(w, err)
		}
		if rws[i] == nil {
			if rws[i], err = r.renderWorkload(ctx, w, d, nil); err != nil {
				return nil, fail(w, err)
			}
		}
		crds = append(crds, crdAPIVersions(rws[i].Objects)...)
	}
	// Then the charts; once more if their templates define CRDs the first
	// pass did not know, so that every chart sees every CRD of the render.
	for pass := 0; pass < 2; pass++ {
		hc, err := newHelmCaps(base, crds)
		if err != nil {
			return nil, fmt.Errorf("render cluster %q: %w", c.Name, err)
		}
		rc.Capabilities = Capabilities{KubeVersion: hc.kube.Version, KubeVersionFrom: base.KubeVersionFrom, APIVersions: hc.apis}
		var more []string
		for i, w := range ws {
			if !w.isHelm() {
				continue
			}
			if rws[i], err = r.renderWorkload(ctx, w, d, &helmInput{chart: charts[i], caps: hc}); err != nil {
				return nil, fail(w, err)
			}
			for _, a := range crdAPIVersions(rws[i].Objects) {
				if !hc.has(a) {
					more = append(more, a)
				}
			}
		}
		if len(more) == 0 {
			break
		}
		crds = append(crds, more...)
	}
	// Custom resources whose CRD another workload brings go to the
	// workload's namespace too, as they would when applied.
	var all []*unstructured.Unstructured
	for _, rw := range rws {
		all = append(all, rw.Objects...)
	}
	scopes := crdScopes(all)
	for i, w := range ws {
		ns := w.TargetNamespace()
		if rws[i].Helm != nil {
			ns = rws[i].Helm.Namespace
		}
		setDefaultNamespaceWith(rws[i].Objects, ns, scopes)
		sortObjects(rws[i].Objects)
		if c.Allow != nil {
			if err := checkAllowed(rws[i].Objects, c.Allow); err != nil {
				return nil, fail(w, err)
			}
		}
		rc.Workloads = append(rc.Workloads, *rws[i])
	}
	addCreatedNamespaces(rc, ws)
	if c.Allow != nil {
		if err := checkAllowed(rc.CreatedNamespaces, c.Allow); err != nil {
			return nil, fmt.Errorf("render cluster %q: namespaces rekindle would create: %w", c.Name, err)
		}
	}
	return rc, nil
}

// locate records where the cluster and its workloads are in rekindle.yaml.
func (r *Repo) locate(rc *RenderedCluster, env *Environment, c *Cluster) {
	ei := slices.IndexFunc(r.Blueprint.Spec.Environments, func(e Environment) bool { return e.Name == env.Name })
	ci := slices.IndexFunc(env.Clusters, func(o Cluster) bool { return o.Name == c.Name })
	rc.field = fmt.Sprintf("spec.environments[%d].clusters[%d]", ei, ci)
	rc.fields = map[string]string{}
	for i, w := range c.Workloads {
		f := fmt.Sprintf("%s.workloads[%d]", rc.field, i)
		if !w.CreatesNamespace() {
			f += ".createNamespace"
		}
		rc.fields[w.Name] = f
	}
}

func (r *Repo) renderWorkload(ctx context.Context, w Workload, d *decrypter, h *helmInput) (*RenderedWorkload, error) {
	rw := &RenderedWorkload{Name: w.Name, DependsOn: w.DependsOn}
	var err error
	switch {
	case w.Restore != nil:
		rw.Source = SourceRestore
		rw.Restore = w.Restore
		return rw, nil
	case w.Helm != nil:
		rw.Source = SourceHelm
		rw.Objects, rw.Helm, err = r.renderHelm(ctx, w, d, h)
	default:
		dir, perr := r.Path(w.Path)
		if perr != nil {
			return nil, perr
		}
		if isKustomization(dir) {
			rw.Source = SourceKustomize
			rw.Objects, err = r.renderKustomize(ctx, dir, d)
		} else {
			rw.Source = SourcePlain
			rw.Objects, err = r.renderPlain(dir, d)
		}
		if err == nil {
			setDefaultNamespace(rw.Objects, w.Namespace)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := checkUnique(rw.Objects); err != nil {
		return nil, err
	}
	sortObjects(rw.Objects)
	return rw, nil
}

// renderPlainWorkloads renders the plain YAML workloads of ws side by side
// into rws, one per core: decoding YAML is CPU-bound and, for a repo of
// thousands of objects, most of an agent's start. It returns each one's
// error at its index; the others (charts, kustomizations, which may fetch
// remote bases into a shared cache, restores) are left nil for the caller.
func (r *Repo) renderPlainWorkloads(ctx context.Context, ws []Workload, d *decrypter, rws []*RenderedWorkload) []error {
	errs := make([]error, len(ws))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, w := range ws {
		if w.isHelm() || w.Restore != nil {
			continue
		}
		if dir, err := r.Path(w.Path); err != nil || isKustomization(dir) {
			continue
		}
		g.Go(func() error {
			rws[i], errs[i] = r.renderWorkload(ctx, w, d, nil)
			return nil
		})
	}
	_ = g.Wait()
	return errs
}

// Cluster returns the cluster called name.
func (e *Environment) Cluster(name string) (*Cluster, error) {
	var names []string
	for i := range e.Clusters {
		if e.Clusters[i].Name == name {
			return &e.Clusters[i], nil
		}
		names = append(names, e.Clusters[i].Name)
	}
	return nil, fmt.Errorf("cluster %q not found in environment %q (have: %v)", name, e.Name, names)
}

// sortWorkloads orders workloads so each comes after its dependencies, keeping
// the blueprint's order otherwise. Validation has ruled out cycles; should one
// slip through, the rest keep the blueprint's order.
func sortWorkloads(ws []Workload) []Workload {
	done := map[string]bool{}
	ready := func(w Workload) bool {
		for _, d := range w.DependsOn {
			if !done[d] {
				return false
			}
		}
		return true
	}
	out := make([]Workload, 0, len(ws))
	for len(out) < len(ws) {
		progressed := false
		for _, w := range ws {
			if !done[w.Name] && ready(w) {
				done[w.Name] = true
				out = append(out, w)
				progressed = true
			}
		}
		if !progressed {
			for _, w := range ws {
				if !done[w.Name] {
					done[w.Name] = true
					out = append(out, w)
				}
			}
		}
	}
	return out
}

func isKustomization(dir string) bool {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}
