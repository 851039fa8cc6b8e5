package bootstrap

import (
	"context"
	"fmt"
	"strings"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// Loss is what detect found missing in one cluster.
type Loss struct {
	Cluster string `json:"cluster"`
	// What is "cluster", "agent" or "workloads"; empty when nothing is lost.
	What   string `json:"what,omitempty"`
	Detail string `json:"detail"`
}

// detect finds what a recovery must rebuild: lost or unreachable clusters,
// missing agents, missing or unhealthy workloads. It changes nothing.
func (r *run) detect(ctx context.Context, sum *Summary) (string, bool, error) {
	if !fileExists(r.paths.terraform) && r.hasInfra() {
		return "", false, fmt.Errorf("no Terraform state under %s: recovering would create a second copy of infrastructure that may still exist; restore the state dir (or use bootstrap create for a new environment)", r.paths.terraform)
	}
	tf, err := r.provisioner(ctx)
	if err != nil {
		return "", false, err
	}
	if tf != nil {
		if out, err := tf.Outputs(ctx); err == nil && len(out.Values) > 0 {
			r.outputs = out.Values
		}
	}
	r.expand()
	var lost []string
	for _, c := range r.expanded.Clusters {
		l := r.detectCluster(ctx, c.Name)
		sum.Losses = append(sum.Losses, l)
		if l.What != "" {
			lost = append(lost, fmt.Sprintf("%s: %s lost (%s)", l.Cluster, l.What, l.Detail))
		}
		r.info(StepDetect, l.Cluster, "%s", l.Detail)
	}
	if len(lost) == 0 {
		return "nothing lost: every cluster runs its agent and workloads; re-syncing only", false, nil
	}
	return strings.Join(lost, "; "), false, nil
}

func (r *run) hasInfra() bool {
	env, _ := r.repo.Blueprint.Environment(r.env)
	return env.Infra != nil && env.Infra.Terraform != nil
}

func (r *run) detectCluster(ctx context.Context, name string) Loss {
	if strings.Contains(name, "{{") {
		return Loss{Cluster: name, What: "cluster", Detail: "its name comes from infra outputs that are missing"}
	}
	p, err := r.provider(r.blueprintCluster(name), StepDetect)
	if err != nil {
		return Loss{Cluster: name, What: "cluster", Detail: err.Error()}
	}
	info, err := p.Get(ctx, name)
	switch {
	case err != nil:
		return Loss{Cluster: name, What: "cluster", Detail: err.Error()}
	case info.State == cluster.Missing:
		return Loss{Cluster: name, What: "cluster", Detail: "the cluster does not exist"}
	case info.State != cluster.Running:
		return Loss{Cluster: name, What: "cluster", Detail: "the cluster does not answer: " + info.Reason}
	}
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		return Loss{Cluster: name, What: "cluster", Detail: err.Error()}
	}
	ap, err := agent.NewApplier(cfg, agent.ApplyOptions{})
	if err != nil {
		return Loss{Cluster: name, What: "cluster", Detail: err.Error()}
	}
	if r.hostAgentFor(r.blueprintCluster(name)) {
		if _, ok := newHostAgent(r.paths.agents, name).pid(); !ok {
			return Loss{Cluster: name, What: "agent", Detail: "the host-process agent is not running"}
		}
	}
	s, err := ap.GetSync(ctx, name)
	if err != nil {
		return Loss{Cluster: name, What: "agent", Detail: "no Sync status: " + firstLine(err)}
	}
	if s.Status.Healthy < s.Status.Desired || s.Status.Desired == 0 {
		return Loss{Cluster: name, What: "workloads", Detail: fmt.Sprintf("%d/%d objects healthy", s.Status.Healthy, s.Status.Desired)}
	}
	return Loss{Cluster: name, Detail: fmt.Sprintf("running, agent synced, %d/%d objects healthy", s.Status.Healthy, s.Status.Desired)}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// blueprintCluster returns the expanded blueprint cluster called name.
func (r *run) blueprintCluster(name string) blueprints.Cluster {
	for _, c := range r.expanded.Clusters {
		if c.Name == name {
			return c
		}
	}
	return blueprints.Cluster{Name: name}
}
