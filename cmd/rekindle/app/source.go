package app

import (
	"context"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/git"
)

// sourceFlags select a blueprint and an environment.
type sourceFlags struct {
	blueprint  string
	ref        string
	env        string
	cluster    string
	gitUser    string
	sshKey     string
	knownHosts string
}

func (s *sourceFlags) add(cmd *cobra.Command, withCluster bool) {
	f := cmd.Flags()
	f.StringVarP(&s.blueprint, "blueprint", "b", ".", "blueprint repo: a directory, or a Git URL (https://, ssh://, git@host:org/repo, file://)")
	f.StringVar(&s.ref, "ref", "", "branch, tag or commit of a Git blueprint (default: the remote's default branch)")
	f.StringVarP(&s.env, "env", "e", "", "environment of the blueprint (default: the only one, if there is one)")
	if withCluster {
		f.StringVar(&s.cluster, "cluster", "", "only this cluster of the environment")
	}
	f.StringVar(&s.gitUser, "git-username", "", "username for HTTPS Git (the token or password comes from REKINDLE_GIT_TOKEN or REKINDLE_GIT_PASSWORD, never a flag)")
	f.StringVar(&s.sshKey, "ssh-key", "", "SSH private key for ssh:// and git@ URLs (default: REKINDLE_GIT_SSH_KEY)")
	f.StringVar(&s.knownHosts, "known-hosts", "", "known_hosts file used to verify SSH host keys (default: SSH_KNOWN_HOSTS or ~/.ssh/known_hosts)")
}

// open fetches and loads the blueprint.
func (s *sourceFlags) open(ctx context.Context, g *globals) (*blueprints.Repo, error) {
	src, err := s.source(g)
	if err != nil {
		return nil, err
	}
	return blueprints.Open(ctx, src)
}

// source turns the flags into a blueprint source.
func (s *sourceFlags) source(g *globals) (blueprints.Source, error) {
	if !git.IsRemote(s.blueprint) && s.ref != "" {
		return blueprints.Source{}, usageErrorf("--ref %q needs a Git URL; %q is a local directory (use file://%s to read it as a Git repo)", s.ref, s.blueprint, absPath(s.blueprint))
	}
	auth := git.AuthFromEnv()
	if s.gitUser != "" {
		auth.Username = s.gitUser
	}
	if s.sshKey != "" {
		auth.SSHKeyFile = s.sshKey
	}
	if s.knownHosts != "" {
		auth.KnownHostsFile = s.knownHosts
	}
	return blueprints.Source{
		Location: s.blueprint,
		Ref:      s.ref,
		Auth:     auth,
		CacheDir: filepath.Join(g.stateDir, "git"),
		// Remote Helm charts, by digest.
		ChartCacheDir: filepath.Join(g.stateDir, "charts"),
	}, nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// environment returns the selected environment: --env, or the only one.
func (s *sourceFlags) environment(r *blueprints.Repo) (string, error) {
	envs := r.Blueprint.Spec.Environments
	if s.env == "" {
		if len(envs) == 1 {
			return envs[0].Name, nil
		}
		names := make([]string, len(envs))
		for i, e := range envs {
			names[i] = e.Name
		}
		return "", usageErrorf("the blueprint has %d environments %v: choose one with --env", len(envs), names)
	}
	if _, err := r.Blueprint.Environment(s.env); err != nil {
		return "", usageErrorf("--env: %v", err)
	}
	return s.env, nil
}

// clusters returns the names of the selected clusters of env.
func (s *sourceFlags) clusters(r *blueprints.Repo, env string, outputs map[string]any) ([]string, error) {
	e, err := r.Expand(env, outputs)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range e.Clusters {
		if s.cluster == "" || c.Name == s.cluster {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return nil, usageErrorf("--cluster: %v", func() error { _, err := e.Cluster(s.cluster); return err }())
	}
	return names, nil
}
