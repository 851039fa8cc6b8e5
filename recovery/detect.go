package recovery

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// detect finds what a recovery must rebuild: lost or unreachable clusters,
// missing agents, missing or unhealthy workloads. It changes nothing, and it
// refuses to go on when infrastructure state is missing: rebuilding would
// make a second copy of infrastructure that may still exist.
func detect(ctx context.Context, env *bootstrap.Env) ([]bootstrap.Loss, string, error) {
	if dir, missing := env.InfraStateMissing(); missing {
		return nil, "", fmt.Errorf("no Terraform state under %s: recovering would create a second copy of infrastructure that may still exist; restore the state dir (or use bootstrap create for a new environment)", dir)
	}
	env.ReadOutputs(ctx)
	// Every cluster is probed at once (a region lost takes many clusters
	// with it, and each probe may wait on an unreachable API server); each
	// writes only its own slot, reported in the blueprint's order.
	clusters := env.Clusters()
	losses := make([]bootstrap.Loss, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			losses[i] = detectCluster(ctx, env, c.Name)
			env.Events()(bootstrap.Event{Step: bootstrap.StepDetect, Status: bootstrap.StatusInfo, Cluster: c.Name, Detail: losses[i].Detail})
		}()
	}
	wg.Wait()
	var lost []string
	for _, l := range losses {
		if l.What != "" {
			lost = append(lost, fmt.Sprintf("%s: %s lost (%s)", l.Cluster, l.What, l.Detail))
		}
	}
	if len(lost) == 0 {
		return losses, "nothing lost: every cluster runs its agent and workloads; re-syncing only", nil
	}
	return losses, strings.Join(lost, "; "), nil
}

func detectCluster(ctx context.Context, env *bootstrap.Env, name string) bootstrap.Loss {
	if strings.Contains(name, "{{") {
		return bootstrap.Loss{Cluster: name, What: "cluster", Detail: "its name comes from infra outputs that are missing"}
	}
	c, _ := env.Cluster(name)
	p, err := env.Provider(c, bootstrap.StepDetect)
	if err != nil {
		return bootstrap.Loss{Cluster: name, What: "cluster", Detail: err.Error()}
	}
	info, err := p.Get(ctx, name)
	switch {
	case err != nil:
		return bootstrap.Loss{Cluster: name, What: "cluster", Detail: err.Error()}
	case info.State == cluster.Missing:
		return bootstrap.Loss{Cluster: name, What: "cluster", Detail: "the cluster does not exist"}
	case info.State != cluster.Running:
		return bootstrap.Loss{Cluster: name, What: "cluster", Detail: "the cluster does not answer: " + info.Reason}
	}
	if c.AgentType() == blueprints.AgentFlux {
		what, detail := env.DetectFlux(ctx, c, info.Kubeconfig)
		return bootstrap.Loss{Cluster: name, What: what, Detail: detail}
	}
	cfg, err := cluster.RESTConfig(info.Kubeconfig, "")
	if err != nil {
		return bootstrap.Loss{Cluster: name, What: "cluster", Detail: err.Error()}
	}
	ap, err := agent.NewApplier(cfg, agent.ApplyOptions{})
	if err != nil {
		return bootstrap.Loss{Cluster: name, What: "cluster", Detail: err.Error()}
	}
	if host, running := env.HostAgent(c); host && !running {
		return bootstrap.Loss{Cluster: name, What: "agent", Detail: "the host-process agent is not running"}
	}
	s, err := ap.GetSync(ctx, name)
	if err != nil {
		return bootstrap.Loss{Cluster: name, What: "agent", Detail: "no Sync status: " + firstLine(err)}
	}
	if s.Status.Healthy < s.Status.Desired || s.Status.Desired == 0 {
		return bootstrap.Loss{Cluster: name, What: "workloads", Detail: fmt.Sprintf("%d/%d objects healthy", s.Status.Healthy, s.Status.Desired)}
	}
	return bootstrap.Loss{Cluster: name, Detail: fmt.Sprintf("running, agent synced, %d/%d objects healthy", s.Status.Healthy, s.Status.Desired)}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
