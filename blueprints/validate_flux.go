package blueprints

import (
	"os"
	"path"
	"path/filepath"
)

// validateAgentType checks agent.type and, for Flux, the flux block: the
// cluster directory and the files `flux bootstrap` writes there must exist,
// and nothing rekindle's own agent would apply may be set beside it.
func (r *Repo) validateAgentType(p *problems, path string, c *Cluster) {
	switch c.AgentType() {
	case AgentRekindle:
		if c.Flux != nil {
			p.add(path+".flux", "is only for agent.type %s (the agent of this cluster is %s)", AgentFlux, AgentRekindle)
		}
		return
	case AgentFlux:
	default:
		p.add(path+".agent.type", "unknown agent %q (want %s or %s)", c.Agent.Type, AgentRekindle, AgentFlux)
		return
	}
	if c.Flux == nil {
		p.add(path+".flux", "is required for agent.type %s: flux.path names the cluster's directory, as `flux bootstrap --path` takes it", AgentFlux)
		return
	}
	if len(c.Workloads) > 0 {
		p.add(path+".workloads", "a cluster synced by Flux takes its objects from flux.path; rekindle applies no workloads to it")
	}
	if c.AgentRBAC() == AgentRBACScoped {
		p.add(path+".agent.rbac", "scoped is for rekindle's own agent; the Flux controllers get the RBAC of gotk-components")
	}
	if c.Agent.Image != "" {
		p.add(path+".agent.image", "is for rekindle's own agent; Flux runs the images of gotk-components")
	}
	if c.Flux.Path == "" {
		p.add(path+".flux.path", "is required: the cluster's directory in the repo (e.g. clusters/%s)", c.Name)
		return
	}
	r.checkDir(p, path+".flux.path", c.Flux.Path)
	r.checkFluxFile(p, path+".flux.path", c.Flux.Path, "gotk-sync.yaml")
	if c.Flux.Components != "" {
		r.checkFile(p, path+".flux.components", c.Flux.Components)
	} else {
		r.checkFluxFile(p, path+".flux.path", c.Flux.Path, "gotk-components.yaml")
	}
}

// checkFluxFile reports a file of the flux-system/ layout missing from a
// cluster directory that exists (a missing directory is reported once, by
// checkDir).
func (r *Repo) checkFluxFile(p *problems, field, dir, name string) {
	abs, err := r.Path(dir)
	if err != nil {
		return
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return
	}
	if fi, err := os.Stat(filepath.Join(abs, "flux-system", name)); err != nil || !fi.Mode().IsRegular() {
		p.add(field, "%q is missing: the directory must hold the flux-system/ that `flux bootstrap` writes", path.Join(dir, "flux-system", name))
	}
}
