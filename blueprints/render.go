package blueprints

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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
	rc := &RenderedCluster{Environment: env.Name, Cluster: c.Name, Commit: r.Commit}
	d := r.newDecrypter(opts)
	for _, w := range sortWorkloads(c.Workloads) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rw, err := r.renderWorkload(ctx, w, d)
		if err == nil && c.Allow != nil {
			err = checkAllowed(rw.Objects, c.Allow)
		}
		if err != nil {
			return nil, d.scrub(fmt.Errorf("render workload %q of cluster %q: %w", w.Name, c.Name, err))
		}
		rc.Workloads = append(rc.Workloads, *rw)
	}
	return rc, nil
}

func (r *Repo) renderWorkload(ctx context.Context, w Workload, d *decrypter) (*RenderedWorkload, error) {
	rw := &RenderedWorkload{Name: w.Name, DependsOn: w.DependsOn}
	var err error
	switch {
	case w.Helm != nil:
		rw.Source = SourceHelm
		rw.Objects, rw.Helm, err = r.renderHelm(ctx, w, d)
	default:
		dir, perr := r.Path(w.Path)
		if perr != nil {
			return nil, perr
		}
		if isKustomization(dir) {
			rw.Source = SourceKustomize
			rw.Objects, err = renderKustomize(dir, d)
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
