package bootstrap

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// createCluster creates the lane's cluster when it is missing; a running
// one is kept. With Pipeline.ReplaceUnhealthy, a cluster that exists but
// does not answer is replaced when its provider may delete it and does not
// remediate it itself.
func (r *run) createCluster(ctx context.Context, l *lane) (string, bool, error) {
	c := l.c
	if strings.Contains(c.Name, "{{") {
		if r.opts.DryRun {
			return fmt.Sprintf("%s (%s): would create once the infra outputs name it", c.Name, c.Provider), false, nil
		}
		return "", false, fmt.Errorf("cluster name %q still holds a template: the infra outputs are missing", c.Name)
	}
	p, err := r.provider(c, StepClusters)
	if err != nil {
		return "", false, err
	}
	info, err := p.Get(ctx, c.Name)
	caps := Capabilities(c.Provider)
	replace := err == nil && info.State == cluster.Unhealthy && r.pipeline.ReplaceUnhealthy && caps.Deletable && !caps.SelfRemediating
	if r.opts.DryRun {
		switch {
		case err == nil && info.State == cluster.Running:
			return fmt.Sprintf("%s (%s): running, would keep", c.Name, c.Provider), false, nil
		case replace:
			return fmt.Sprintf("%s (%s): exists but is unhealthy (%s), would delete and re-create", c.Name, c.Provider, info.Reason), false, nil
		case err == nil && info.State == cluster.Unhealthy:
			return fmt.Sprintf("%s (%s): exists but is unhealthy (%s), would run %s's create on it again", c.Name, c.Provider, info.Reason, c.Provider), false, nil
		}
		return fmt.Sprintf("%s (%s): would create", c.Name, c.Provider), false, nil
	}
	if replace {
		r.info(StepClusters, c.Name, "cluster exists but is unhealthy (%s): replacing it", info.Reason)
		if err := p.Delete(ctx, c.Name); err != nil {
			return "", false, fmt.Errorf("replace unhealthy cluster %q: %w", c.Name, err)
		}
		info.State = cluster.Missing
	}
	detail := "already running"
	if err != nil || info.State != cluster.Running {
		spec, err := clusterSpec(r.repo, c)
		if err != nil {
			return "", false, &UsageError{err.Error()}
		}
		r.info(StepClusters, c.Name, "creating %s cluster %q", c.Provider, c.Name)
		start := time.Now()
		if info, err = p.Create(ctx, spec); err != nil {
			return "", false, fmt.Errorf("create cluster %q: %w", c.Name, err)
		}
		l.created = true
		detail = fmt.Sprintf("created (%s) in %s", c.Provider, time.Since(start).Round(time.Millisecond))
	}
	r.mu.Lock()
	rec := ClusterRecord{Name: c.Name, Provider: c.Provider, APIServer: info.APIServer, Kubeconfig: info.Kubeconfig}
	if old := r.cp.Cluster(c.Name); old != nil {
		rec.Steps = old.Steps
	}
	r.cp.setCluster(rec)
	r.mu.Unlock()
	l.sum.APIServer, l.sum.Kubeconfig = info.APIServer, info.Kubeconfig
	return detail, !l.created && r.clusterDone(c.Name, StepClusters), nil
}

// placeSecrets says what the agent will be given before it starts. The age
// key and Git credentials go into the Secret
// rekindle-system/rekindle-agent-credentials, which the agent step applies
// itself (server-side apply, never through Helm values, so no release
// revision holds them) before the in-cluster Deployment or a host-process
// agent runs;
// host agents also get the key through their environment (see agentCommand).
func (r *run) placeSecrets(_ context.Context, l *lane) (string, bool, error) {
	if isFlux(l.c) {
		return r.fluxSecretsNote(l.c)
	}
	var notes []string
	if r.placeKey {
		notes = append(notes, fmt.Sprintf("age key (recipient %s) from %s", strings.Join(r.keys.Recipients(), ", "), r.keys.Source()))
	}
	if r.opts.Source.Auth.Token != "" || r.opts.Source.Auth.Password != "" || r.opts.Source.Auth.SSHKeyFile != "" {
		notes = append(notes, "Git credentials")
	}
	if len(notes) == 0 {
		return "no secrets to place", true, nil
	}
	verb := "will be stored"
	if r.opts.DryRun {
		verb = "would be stored"
	}
	return fmt.Sprintf("%s %s in Secret %s/%s before the agent starts", strings.Join(notes, " and "), verb, agent.SystemNamespace, agentCredentialsSecret), false, nil
}

// replayCluster waits until the lane's agent applied the run's commit and
// every object is healthy.
func (r *run) replayCluster(ctx context.Context, l *lane) (string, bool, error) {
	if isFlux(l.c) {
		return r.replayFlux(ctx, l)
	}
	if r.opts.DryRun {
		return "would wait for the agent to apply and heal every workload", false, nil
	}
	if err := r.waitSynced(ctx, l.sum); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%d object(s) applied and healthy (applied after %s, healthy after %s)", l.sum.Healthy,
		l.sum.AppliedAfter.Round(time.Millisecond), l.sum.HealthyAfter.Round(time.Millisecond)), false, nil
}

// verifyCluster compares the lane's cluster with its render, object by
// object: each rendered object present, its fields managed by Git equal to
// Git, healthy, and each Helm release deployed at the rendered chart
// version. The agent's own counts are not trusted.
func (r *run) verifyCluster(ctx context.Context, l *lane) (string, bool, error) {
	if isFlux(l.c) {
		return r.verifyFlux(ctx, l)
	}
	if r.opts.DryRun {
		return "would check every rendered object is live, matches Git and is healthy", false, nil
	}
	rc, ap, err := r.renderFor(ctx, l)
	if err != nil {
		return "", false, err
	}
	res, err := ap.Verify(ctx, rc)
	if err != nil {
		return "", false, err
	}
	restored, err := r.compareRestores(ctx, l, rc, ap, res)
	if err != nil {
		return "", false, err
	}
	var diffs []string
	for _, d := range res.Differences {
		diffs = append(diffs, d.String())
	}
	if len(res.Differences) == 0 && !res.OK() {
		diffs = append(diffs, fmt.Sprintf("%d/%d objects present, matching and healthy", min(res.Present, res.Matching, res.Healthy), res.Desired))
	}
	if len(diffs) > 0 {
		return "", false, fmt.Errorf("live state differs from Git in %d place(s): %s", len(diffs), summarizeList(diffs, 10))
	}
	return fmt.Sprintf("%d object(s) present, matching Git and healthy%s (%s)", res.Desired, restored, res.Duration.Round(time.Millisecond)), false, nil
}

func summarizeList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:n], "; "), len(items)-n)
}

// preflight stops a cluster's pipeline before its agent starts when its
// render holds objects no pass could apply: a namespace nothing creates and
// the cluster lacks, a kind no CRD serves. Each is named.
func (r *run) preflight(ctx context.Context, l *lane) (string, bool, error) {
	if isFlux(l.c) {
		// What Flux applies is Flux's to order and wait for; its layout
		// must load (gotk-components, gotk-sync) before anything is applied.
		layout, _, _, err := r.fluxRefs(l.c)
		if err != nil {
			return "", false, &UsageError{err.Error()}
		}
		return fmt.Sprintf("Flux layout in %s: %d component object(s), %d decryption Secret(s)", l.c.Flux.Path, len(layout.Components), len(layout.DecryptionSecrets)), false, nil
	}
	if r.opts.DryRun {
		return "would check that every object's namespace and kind exist or are created", false, nil
	}
	rc, ap, err := r.renderFor(ctx, l)
	if err != nil {
		return "", false, err
	}
	blocked, err := ap.Preflight(ctx, rc)
	if err != nil {
		return "", false, err
	}
	if len(blocked) > 0 {
		lines := make([]string, len(blocked))
		for i, b := range blocked {
			lines[i] = b.String()
		}
		return "", false, &UsageError{fmt.Sprintf("%d object(s) can never be applied to cluster %q:\n  %s", len(blocked), l.c.Name, strings.Join(lines, "\n  "))}
	}
	return fmt.Sprintf("%d object(s): every namespace and kind exists or is created", len(rc.AllObjects())), false, nil
}

// renderFor renders the lane's cluster and connects to it.
// Charts render against the live cluster's capabilities, as its agent does.
func (r *run) renderFor(ctx context.Context, l *lane) (*blueprints.RenderedCluster, *agent.Applier, error) {
	ap, err := r.applier(l.sum)
	if err != nil {
		return nil, nil, err
	}
	caps, err := ap.Capabilities(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read the cluster's capabilities: %w", err)
	}
	opts := r.renderOptions()
	opts.Live = caps
	rc, err := r.repo.Render(ctx, r.env, l.c.Name, opts)
	if err != nil {
		return nil, nil, err
	}
	return rc, ap, nil
}
