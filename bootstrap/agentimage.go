package bootstrap

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/agent"
	"github.com/rekindle-dev/rekindle/providers/git"
)

// releaseVersion matches the versions rekindle is released (and its image
// published) at: v1.2.3, v1.2.3-rc.1. git describe's v1.2.3-4-gabcdef and
// -dirty, a bare commit and "dev" are development builds.
var releaseVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+(-(alpha|beta|rc)(\.\d+)?)?$`)

// IsRelease reports whether version has a published image.
func IsRelease(version string) bool { return releaseVersion.MatchString(version) }

// ReleasedImage is the published agent image for a release version.
func ReleasedImage(version string) string { return agent.DefaultImage + ":" + version }

// agentImageFor is the image of cluster c's in-cluster agent: --agent-image,
// then the cluster's agent.image, then the release's image; empty for a
// development build without either.
func (r *run) agentImageFor(c blueprints.Cluster) string {
	switch {
	case r.opts.AgentImage != "":
		return r.opts.AgentImage
	case c.Agent != nil && c.Agent.Image != "":
		return c.Agent.Image
	case IsRelease(r.opts.Version):
		return ReleasedImage(r.opts.Version)
	}
	return ""
}

// needsInClusterAgent reports whether cluster c's agent runs as a
// Deployment: its pods really run and the blueprint is a Git URL the pod can
// fetch. provider is the cluster's provider after a rehearsal's substitution.
func (r *run) needsInClusterAgent(provider string) bool {
	return !Capabilities(provider).SimulatedPods && git.IsRemote(r.opts.Source.Location)
}

// checkAgentImages refuses, as bad input, an environment where a cluster
// (only the cluster called only, when set) needs an in-cluster agent and this
// development build has no image to give it: the Deployment would otherwise
// sit in ImagePullBackOff until the replay timed out. Clusters that load
// images (kind) get this binary's own image loaded instead. The validate step is
// where it belongs (all clusters, before anything is created); the agent
// step checks its own cluster again.
func (r *run) checkAgentImages(env *blueprints.Environment, only string) error {
	if r.opts.AgentImage != "" {
		if err := blueprints.CheckImageRef(r.opts.AgentImage); err != nil {
			return &UsageError{fmt.Sprintf("--agent-image: %v", err)}
		}
	}
	envIdx := 0
	for i, e := range r.repo.Blueprint.Spec.Environments {
		if e.Name == env.Name {
			envIdx = i
		}
	}
	var bad []string
	for i, c := range env.Clusters {
		if only != "" && c.Name != only {
			continue
		}
		provider := c.Provider
		if r.opts.Rehearse != "" {
			provider = r.opts.Rehearse
		}
		if isFlux(c) || !r.needsInClusterAgent(provider) || r.agentImageFor(c) != "" || Capabilities(provider).LoadsImages {
			continue // Flux's own images, no agent pod, an image to pull, or rekindle's own loaded into the nodes
		}
		bad = append(bad, fmt.Sprintf("%s: spec.environments[%d].clusters[%d].agent.image: cluster %q (%s) runs its agent in the cluster, and this development build of rekindle (version %q) has no released image",
			blueprints.FileName, envIdx, i, c.Name, provider, r.opts.Version))
	}
	if len(bad) == 0 {
		return nil
	}
	return &UsageError{strings.Join(bad, "\n") + "\n" +
		"build and push an image of this binary, then name it in agent.image or --agent-image:\n" +
		"  rekindle agent image --push REGISTRY/rekindle:dev\n" +
		"  rekindle bootstrap create ... --agent-image REGISTRY/rekindle@sha256:... (the reference it prints)"}
}
