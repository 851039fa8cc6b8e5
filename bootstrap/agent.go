package bootstrap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/git"
)

// DefaultAgentInterval is how often an agent syncs when the blueprint does not say.
const DefaultAgentInterval = time.Minute

// installAgent installs the agent chart in the lane's cluster (CRD, RBAC,
// credentials Secret, and the Deployment where pods really run) and starts
// a host-process agent where it cannot run in the cluster.
func (r *run) installAgent(ctx context.Context, l *lane) (string, bool, error) {
	c := l.c
	// The validate step should refuse this already (see checkAgentImages);
	// an agent that cannot start is never installed, nor planned.
	if err := r.checkAgentImages(r.expanded, c.Name); err != nil {
		return "", false, err
	}
	if r.opts.DryRun && isFlux(c) {
		return r.installFlux(ctx, l, "")
	}
	if r.opts.DryRun {
		ch, err := agent.Chart()
		if err != nil {
			return "", false, err
		}
		return fmt.Sprintf("would install chart %s %s as release %s/%s", ch.Metadata.Name, ch.Metadata.Version, agent.SystemNamespace, agent.ReleaseName), false, nil
	}
	r.mu.Lock()
	rec := r.cp.Cluster(c.Name)
	var kubeconfig string
	if rec != nil {
		kubeconfig = rec.Kubeconfig
	}
	r.mu.Unlock()
	if kubeconfig == "" {
		return "", false, fmt.Errorf("cluster %q has no record: the clusters step did not finish", c.Name)
	}
	if isFlux(c) {
		return r.installFlux(ctx, l, kubeconfig)
	}
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return "", false, err
	}
	if err := r.loadWorkloadImages(ctx, c); err != nil {
		return "", false, err
	}
	host := r.hostAgentFor(c)
	imageRef := r.agentImageFor(c)
	if !host && r.loadsOwnAgentImage(c) {
		// No registry: the image of this binary goes straight into the nodes.
		if imageRef, err = r.loadAgentImage(ctx, c); err != nil {
			return "", false, err
		}
	}
	vals := agent.InstallValues{
		ImageRef:       imageRef,
		Version:        r.opts.Version,
		Blueprint:      git.RedactURL(r.opts.Source.Location),
		Ref:            r.opts.Source.Ref,
		Environment:    r.env,
		Cluster:        c.Name,
		Interval:       agentInterval(c),
		SkipDeployment: host,
		GitUsername:    r.opts.Source.Auth.Username,
		GitToken:       firstNonEmpty(r.opts.Source.Auth.Token, r.opts.Source.Auth.Password),
	}
	if r.placeKey {
		// In the cluster before the agent: the chart's Secret is installed
		// before its Deployment, and before a host agent starts below.
		vals.AgeKey = r.keys.AgeKey()
	}
	if c.AgentRBAC() == blueprints.AgentRBACScoped {
		// The rules follow the allow-list and what the render holds (its
		// CRDs, whether it installs Helm releases).
		rc, err := r.repo.Render(ctx, r.env, c.Name, r.renderOptions())
		if err != nil {
			return "", false, fmt.Errorf("render for the agent's scoped RBAC: %w", err)
		}
		vals.Scope = agent.ScopeFor(c.Allow, rc)
	}
	if r.opts.Source.Auth.SSHKeyFile != "" {
		key, err := os.ReadFile(r.opts.Source.Auth.SSHKeyFile)
		if err != nil {
			return "", false, fmt.Errorf("read SSH key for the agent: %w", err)
		}
		vals.GitSSHKey = string(key)
		if kh := knownHostsFile(r.opts.Source.Auth.KnownHostsFile); kh != "" {
			if data, err := os.ReadFile(kh); err == nil {
				vals.GitKnownHosts = string(data)
			}
		}
	}
	if err := agent.Install(ctx, cfg, vals); err != nil {
		return "", false, err
	}
	if !host {
		return "in-cluster Deployment of " + imageRef, false, nil
	}
	ha := newHostAgent(r.paths.agents, c.Name)
	if l.created {
		if err := ha.stop(); err != nil {
			return "", false, fmt.Errorf("restart agent: %w", err)
		}
	}
	started, err := ha.ensure(r.agentCommand(c, kubeconfig))
	if err != nil {
		return "", false, err
	}
	if started {
		return "host process started", false, nil
	}
	return "host process already running", false, nil
}

// hostAgentFor reports whether cluster c gets a host-process agent: kwok
// simulates pods, and an in-cluster agent cannot read a local directory.
func (r *run) hostAgentFor(c blueprints.Cluster) bool {
	if isFlux(c) {
		return false // Flux's controllers, not rekindle's agent (see fluxHost)
	}
	return Capabilities(c.Provider).SimulatedPods || !git.IsRemote(r.opts.Source.Location)
}

// agentCommand is a host agent's command line. It never holds a secret: the
// process inherits this one's environment, so Git credentials
// (REKINDLE_GIT_*) and the age key (SOPS_AGE_KEY_FILE or SOPS_AGE_KEY) reach
// it there, and a key from secrets.sops.ageKeyFile is read by the agent
// itself from the same path; neither is written under the state dir.
func (r *run) agentCommand(c blueprints.Cluster, kubeconfig string) []string {
	cmd := r.opts.AgentCommand
	if len(cmd) == 0 {
		exe, err := os.Executable()
		if err != nil {
			exe = os.Args[0]
		}
		cmd = []string{exe}
	}
	args := append([]string{}, cmd...)
	location := git.RedactURL(r.opts.Source.Location) // credentials reach it through the environment
	if !git.IsRemote(location) {
		location = r.repo.Dir
	}
	args = append(args, "agent",
		"--blueprint", location,
		"--env", r.env,
		"--cluster", c.Name,
		"--kubeconfig", kubeconfig,
		"--interval", agentInterval(c).String(),
		"--state-dir", r.opts.StateDir,
		// Metrics and probes on a loopback port it picks; the URL goes to a
		// file next to its pid, for rekindle status.
		"--metrics-address", "127.0.0.1:0",
		"--metrics-address-file", newHostAgent(r.paths.agents, c.Name).metricsFile,
	)
	if c.AgentRBAC() == blueprints.AgentRBACScoped {
		// The kubeconfig is the cluster admin's: impersonating the agent's
		// ServiceAccount gives a host agent the narrowed rights an
		// in-cluster one has.
		args = append(args, "--as", agent.ServiceAccountUser)
	}
	if r.opts.Source.Ref != "" {
		args = append(args, "--ref", r.opts.Source.Ref)
	}
	if fileExists(r.outputsFile()) {
		args = append(args, "--outputs-file", r.outputsFile())
	}
	args = append(args, r.veleroHostArgs(c)...)
	return args
}

func agentInterval(c blueprints.Cluster) time.Duration {
	if c.Agent != nil && c.Agent.Interval.Duration > 0 {
		return c.Agent.Interval.Duration
	}
	return DefaultAgentInterval
}

// knownHostsFile is the known_hosts an in-cluster agent should trust: the
// one given, or the user's.
func knownHostsFile(given string) string {
	if given != "" {
		first, _, _ := strings.Cut(given, string(os.PathListSeparator))
		return first
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".ssh", "known_hosts")
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
