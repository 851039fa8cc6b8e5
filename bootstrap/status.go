package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/bootstrap/flux"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// EnvStatus is what Status reports of an environment.
type EnvStatus struct {
	Blueprint string          `json:"blueprint"`
	Env       string          `json:"env"`
	Commit    string          `json:"commit,omitempty"`
	Steps     []StepStatus    `json:"steps"`
	Clusters  []ClusterStatus `json:"clusters"`
}

// StepStatus is a pipeline step as the checkpoint records it.
type StepStatus struct {
	Name      string    `json:"name"`
	Done      bool      `json:"done"`
	Completed time.Time `json:"completed,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// ClusterStatus is a cluster, live.
type ClusterStatus struct {
	Name      string        `json:"name"`
	Provider  string        `json:"provider"`
	State     cluster.State `json:"state"`
	APIServer string        `json:"apiServer,omitempty"`
	Reason    string        `json:"reason,omitempty"`
	// Agent says how the agent runs: "host process (pid N)", "not running", "in cluster".
	Agent string `json:"agent,omitempty"`
	// Metrics is where the agent serves Prometheus metrics: a loopback URL
	// for a host process, the pod's port for an in-cluster agent.
	Metrics string `json:"metrics,omitempty"`
	// Sync is the agent's status, when the cluster answers.
	Sync *agent.SyncStatus `json:"sync,omitempty"`
	// Flux is the Flux tree of a cluster Flux syncs: its source, then the
	// root Kustomization and every Kustomization and HelmRelease under it.
	Flux *flux.Tree `json:"flux,omitempty"`
	// Steps are the cluster's own pipeline steps as the checkpoint records them.
	Steps []StepStatus `json:"steps,omitempty"`
}

// Status reads an environment's checkpoint and asks each cluster how it is.
// It changes nothing and takes no lock.
func Status(ctx context.Context, opts Options) (*EnvStatus, error) {
	r, err := openReadOnly(ctx, opts)
	if err != nil {
		return nil, err
	}
	cp := r.cp
	st := &EnvStatus{Blueprint: r.repo.Blueprint.Metadata.Name, Env: r.env, Commit: cp.Commit}
	for _, name := range Steps {
		if slices.Contains(ClusterSteps, name) {
			continue
		}
		rec, ok := cp.Steps[name]
		st.Steps = append(st.Steps, StepStatus{Name: name, Done: ok, Completed: rec.Completed, Detail: rec.Detail})
	}
	for _, name := range r.clusterNames() {
		cs := r.clusterStatus(ctx, name)
		var recs map[string]StepRecord
		if cr := cp.Cluster(name); cr != nil {
			recs = cr.Steps
		}
		for _, step := range ClusterSteps {
			rec, ok := recs[step]
			cs.Steps = append(cs.Steps, StepStatus{Name: step, Done: ok, Completed: rec.Completed, Detail: rec.Detail})
		}
		st.Clusters = append(st.Clusters, cs)
	}
	return st, nil
}

func (r *run) clusterStatus(ctx context.Context, name string) ClusterStatus {
	cs := ClusterStatus{Name: name, Provider: r.providerName(name), State: cluster.Missing}
	c := r.blueprintCluster(name)
	c.Provider = cs.Provider
	p, err := r.provider(c, "status")
	if err != nil {
		cs.Reason = err.Error()
		return cs
	}
	info, err := p.Get(ctx, name)
	if err != nil {
		cs.Reason = err.Error()
		return cs
	}
	cs.State, cs.APIServer, cs.Reason = info.State, info.APIServer, info.Reason
	if bc := r.blueprintCluster(name); isFlux(bc) {
		r.fluxStatus(ctx, &cs, bc, info.Kubeconfig)
		return cs
	}
	if r.hostAgentFor(r.blueprintCluster(name)) {
		ha := newHostAgent(r.paths.agents, name)
		if pid, ok := ha.pid(); ok {
			cs.Agent = fmt.Sprintf("host process (pid %d)", pid)
			cs.Metrics = ha.metricsURL()
		} else {
			cs.Agent = "host process not running"
		}
	} else {
		cs.Agent = "in cluster"
		cs.Metrics = fmt.Sprintf("pod port metrics (8080) of Deployment %s/rekindle-agent", agent.SystemNamespace)
	}
	if info.State != cluster.Running {
		return cs
	}
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		return cs
	}
	ap, err := agent.NewApplier(cfg, agent.ApplyOptions{})
	if err != nil {
		return cs
	}
	if s, err := ap.GetSync(ctx, name); err == nil {
		cs.Sync = &s.Status
	} else {
		cs.Reason = strings.TrimSpace("no Sync status: " + firstLine(err))
	}
	return cs
}
