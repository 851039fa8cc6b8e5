package bootstrap

import (
	"io"
	"sync"
	"time"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// Options configure Create, Destroy and Status.
type Options struct {
	// Source is the blueprint repo (directory or Git URL) and ref.
	Source blueprints.Source
	// Env is the environment to build. Empty: the blueprint's only environment.
	Env string
	// StateDir holds checkpoints, clusters, Terraform state and the Git cache.
	StateDir string
	// DryRun plans every step and changes nothing.
	DryRun bool
	// Events receives progress; nil discards it.
	Events Observer
	// Log receives the output of tools (terraform, kwokctl) and the agent's
	// lines at high verbosity; nil discards it. It never receives secrets.
	Log io.Writer
	// BuildLog shows the build of missing kwok binaries, which takes
	// minutes; nil: Log.
	BuildLog io.Writer
	// Terraform is the terraform binary; empty: "terraform" from PATH.
	Terraform string
	// ToolsDir holds the kwok cluster binaries; empty: the usual lookup.
	ToolsDir string
	// ToolsModuleDir is hack/tools of a rekindle checkout, to build missing
	// kwok binaries; empty: no build.
	ToolsModuleDir string
	// AgentCommand starts a host-process agent (kwok clusters, whose pods are
	// simulated): the command and leading arguments, to which "agent" and its
	// flags are appended. Empty: this executable.
	AgentCommand []string
	// ReplayTimeout bounds the wait for each cluster's replay. Default 10m.
	ReplayTimeout time.Duration
	// Parallel bounds how many clusters are created (and their agents
	// installed) at once; replays are awaited side by side regardless.
	// 0: DefaultParallel of the environment's clusters.
	Parallel int
	// Rehearse substitutes this provider (kwok or kind) for every cluster's,
	// and skips Terraform modules that need cloud providers, so that any
	// environment can run on this machine.
	Rehearse string
	// Version is rekindle's own version: the in-cluster agent runs the
	// released image at it (agent.DefaultImage:Version) unless AgentImage or
	// a cluster's agent.image says otherwise. A development build has no
	// released image.
	Version string
	// AgentImage, when set, is the in-cluster agent's image for every
	// cluster (--agent-image), over each cluster's agent.image.
	AgentImage string
	// AgentBinary is the rekindle executable (static, Linux) whose image is
	// built and loaded into clusters that load images (kind) when no agent
	// image is named. Empty: this executable.
	AgentBinary string
	// LoadImages are image archives (OCI layout or docker save tarballs)
	// loaded into the nodes of every cluster that loads images (kind) before
	// its agent starts: workload images built here, with no registry.
	LoadImages []string
	// AllowReplace lets Terraform replace or destroy existing infrastructure
	// (recovery refuses such a plan otherwise).
	AllowReplace bool
}

func (o *Options) defaults() {
	if o.Events == nil {
		o.Events = func(Event) {}
	} else {
		// Clusters run side by side; observers see one event at a time.
		var mu sync.Mutex
		obs := o.Events
		o.Events = func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			obs(e)
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ReplayTimeout <= 0 {
		o.ReplayTimeout = 10 * time.Minute
	}
}
