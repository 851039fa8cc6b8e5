package bootstrap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/flux"
	"github.com/rekindle-dev/rekindle/providers/cluster"
	"github.com/rekindle-dev/rekindle/providers/git"
)

// isFlux reports whether cluster c is synced by Flux (agent.type: flux).
func isFlux(c blueprints.Cluster) bool { return c.AgentType() == blueprints.AgentFlux && c.Flux != nil }

// fluxControllers are the host-process Flux controllers of cluster name.
func (r *run) fluxControllers(name, kubeconfig string) flux.HostControllers {
	return flux.HostControllers{Dir: filepath.Join(r.paths.agents, name+".flux"), Kubeconfig: kubeconfig}
}

// fluxHost reports whether c's Flux controllers run on this machine: where
// pods are simulated, gotk-components' Deployments could not run them.
func fluxHost(c blueprints.Cluster) bool { return Capabilities(c.Provider).SimulatedPods }

// fluxRefs are the GitRepository and root Kustomization of c's gotk-sync.
func (r *run) fluxRefs(c blueprints.Cluster) (*flux.Layout, types.NamespacedName, types.NamespacedName, error) {
	return fluxRefs(r.repo, c)
}

func fluxRefs(repo *blueprints.Repo, c blueprints.Cluster) (*flux.Layout, types.NamespacedName, types.NamespacedName, error) {
	l, err := flux.LoadLayout(repo, c.Flux)
	if err != nil {
		return nil, types.NamespacedName{}, types.NamespacedName{}, err
	}
	ns := func(n string) string { return firstNonEmpty(n, flux.Namespace) }
	src, root := l.Source(), l.Root()
	return l, types.NamespacedName{Namespace: ns(src.GetNamespace()), Name: src.GetName()},
		types.NamespacedName{Namespace: ns(root.GetNamespace()), Name: root.GetName()}, nil
}

// installFlux installs Flux in the lane's cluster (keys first) and, where
// pods are simulated, starts its controllers on this machine.
func (r *run) installFlux(ctx context.Context, l *lane, kubeconfig string) (string, bool, error) {
	c := l.c
	layout, _, _, err := r.fluxRefs(c)
	if err != nil {
		return "", false, err
	}
	host := fluxHost(c)
	if r.opts.DryRun {
		return fmt.Sprintf("would install Flux from %s (%d objects) and apply %s", c.Flux.FluxComponents(), len(layout.Components), c.Flux.FluxSync()), false, nil
	}
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return "", false, err
	}
	opts := flux.InstallOptions{Layout: layout, Commit: r.repo.Commit, SkipDeployments: host,
		Log: func(f string, a ...any) { r.info(StepAgent, c.Name, f, a...) }}
	if git.IsRemote(r.opts.Source.Location) {
		opts.URL = fluxGitURL(git.RedactURL(r.opts.Source.Location))
	}
	auth := r.opts.Source.Auth
	opts.Auth = flux.Credentials{Username: auth.Username, Password: firstNonEmpty(auth.Token, auth.Password)}
	if auth.SSHKeyFile != "" {
		if opts.Auth.SSHKey, err = os.ReadFile(auth.SSHKeyFile); err != nil {
			return "", false, fmt.Errorf("read SSH key for Flux: %w", err)
		}
		if kh := knownHostsFile(auth.KnownHostsFile); kh != "" {
			opts.Auth.KnownHosts, _ = os.ReadFile(kh)
		}
	}
	if r.keys != nil && !r.keys.Empty() {
		opts.AgeKey = r.keys.AgeKey()
	}
	var loaded string
	if !host {
		// Into the nodes before gotk-components names them (kind).
		if err := r.loadWorkloadImages(ctx, c); err != nil {
			return "", false, err
		}
		if loaded, err = r.loadFluxImages(ctx, c, layout); err != nil {
			return "", false, err
		}
		if loaded != "" {
			r.info(StepAgent, c.Name, "%s", loaded)
		}
	}
	if err := flux.Install(ctx, cfg, opts); err != nil {
		return "", false, err
	}
	if !host {
		l.fluxRestarted = !l.created
		took, err := r.waitFluxPods(ctx, c, kubeconfig, layout)
		if err != nil {
			return "", false, err
		}
		msg := fmt.Sprintf("Flux installed from %s; its controllers run as the Deployments of gotk-components, available after %s", c.Flux.FluxComponents(), took.Round(time.Millisecond))
		if loaded != "" {
			msg += " (" + loaded + ")"
		}
		return msg, false, nil
	}
	hc := r.fluxControllers(c.Name, kubeconfig)
	if l.created {
		if err := hc.Stop(); err != nil {
			return "", false, fmt.Errorf("restart the Flux controllers: %w", err)
		}
	}
	started, err := hc.Ensure(ctx)
	if err != nil {
		return "", false, err
	}
	l.fluxRestarted = len(started) > 0 && !l.created
	what := "already running"
	if len(started) > 0 {
		what = "started: " + strings.Join(started, ", ")
	}
	return fmt.Sprintf("Flux installed from %s; host-process controllers %s (logs in %s)", c.Flux.FluxComponents(), what, hc.Dir), false, nil
}

// fluxGitURL turns an scp-like Git URL (git@host:org/repo) into the ssh://
// form Flux takes.
func fluxGitURL(u string) string {
	if strings.Contains(u, "://") {
		return u
	}
	if at, rest, ok := strings.Cut(u, "@"); ok {
		if host, path, ok := strings.Cut(rest, ":"); ok {
			return "ssh://" + at + "@" + host + "/" + path
		}
	}
	return u
}

// replayFlux waits until the lane's Flux tree is Ready at the run's commit.
func (r *run) replayFlux(ctx context.Context, l *lane) (string, bool, error) {
	if r.opts.DryRun {
		return "would wait for every Kustomization and HelmRelease of the Flux tree to be Ready at the commit", false, nil
	}
	_, src, root, err := r.fluxRefs(l.c)
	if err != nil {
		return "", false, err
	}
	cfg, err := cluster.RESTConfig(l.sum.Kubeconfig, "")
	if err != nil {
		return "", false, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.ReplayTimeout)
	defer cancel()
	res, err := flux.Wait(ctx, cfg, flux.WaitOptions{Source: src, Root: root, Commit: r.repo.Commit, RequestReconcile: l.fluxRestarted,
		Progress: func(f string, a ...any) { r.info(StepReplay, l.c.Name, f, a...) }})
	l.sum.Agent = blueprints.AgentFlux
	if res != nil {
		l.sum.SourceAfter = res.SourceAfter
		if res.Tree != nil {
			l.sum.Desired = 1 + len(res.Tree.Objects) + len(res.Tree.Entries) // the source, as verify counts it
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("cluster %q: %w", l.c.Name, err)
	}
	l.sum.Ready, l.sum.Commit = true, r.repo.Commit
	l.sum.AppliedAfter, l.sum.HealthyAfter = res.ReadyAfter, res.ReadyAfter
	l.sum.Healthy, l.sum.Applied = l.sum.Desired, l.sum.Desired
	return fmt.Sprintf("%d Flux object(s) Ready at %.12s (source after %s, tree after %s)", len(res.Tree.Objects), r.repo.Commit,
		res.SourceAfter.Round(time.Millisecond), res.ReadyAfter.Round(time.Millisecond)), false, nil
}

// verifyFlux checks the lane's Flux tree and every object of its inventories.
func (r *run) verifyFlux(ctx context.Context, l *lane) (string, bool, error) {
	if r.opts.DryRun {
		return "would check every object of the Flux inventories is present and healthy", false, nil
	}
	_, src, root, err := r.fluxRefs(l.c)
	if err != nil {
		return "", false, err
	}
	cfg, err := cluster.RESTConfig(l.sum.Kubeconfig, "")
	if err != nil {
		return "", false, err
	}
	res, _, err := flux.Verify(ctx, cfg, flux.VerifyOptions{Cluster: l.c.Name, Source: src, Root: root, Commit: r.repo.Commit})
	if err != nil {
		return "", false, err
	}
	if !res.OK() {
		var diffs []string
		for _, d := range res.Differences {
			diffs = append(diffs, d.String())
		}
		return "", false, fmt.Errorf("the Flux tree differs from Git in %d place(s): %s", len(diffs), summarizeList(diffs, 10))
	}
	return fmt.Sprintf("%d object(s) of the Flux tree and its inventories present and healthy (%s)", res.Desired, res.Duration.Round(time.Millisecond)), false, nil
}

// uninstallFlux removes Flux from a cluster rekindle does not own.
func (r *run) uninstallFlux(ctx context.Context, c blueprints.Cluster, kubeconfig string) error {
	layout, _, _, err := r.fluxRefs(c)
	if err != nil {
		return err
	}
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return err
	}
	return flux.Uninstall(ctx, cfg, layout)
}

// fluxSecretsNote says which Secrets the agent step gives Flux before its
// controllers start.
func (r *run) fluxSecretsNote(c blueprints.Cluster) (string, bool, error) {
	layout, _, _, err := r.fluxRefs(c)
	if err != nil {
		return "", false, err
	}
	var notes []string
	for _, s := range layout.DecryptionSecrets {
		if r.keys == nil || r.keys.Empty() {
			return "", false, &UsageError{fmt.Sprintf("cluster %q: a Kustomization decrypts SOPS files with Secret %s, but no age key is set (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or secrets.sops.ageKeyFile)", c.Name, s)}
		}
		notes = append(notes, fmt.Sprintf("age key (recipient %s) as Secret %s", strings.Join(r.keys.Recipients(), ", "), s))
	}
	a := r.opts.Source.Auth
	if name, _, _ := unstructured.NestedString(layout.Source().Object, "spec", "secretRef", "name"); name != "" && (a.Token != "" || a.Password != "" || a.SSHKeyFile != "") {
		notes = append(notes, "Git credentials as Secret "+firstNonEmpty(layout.Source().GetNamespace(), flux.Namespace)+"/"+name)
	}
	if len(notes) == 0 {
		return "no secrets to place", true, nil
	}
	return strings.Join(notes, " and ") + " before the Flux controllers start", false, nil
}
