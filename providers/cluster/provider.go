// Package cluster defines how rekindle creates, finds and deletes Kubernetes
// clusters. Each provider (kwok, kind, existing, capi) lives in a subpackage and
// implements Provider; the pipeline picks one per cluster from the blueprint.
package cluster

import (
	"context"
	"time"
)

// Spec says what cluster to create.
type Spec struct {
	Name string
	// Nodes is the number of worker nodes (kwok: simulated nodes). 0 means the provider default.
	Nodes int
	// Config is a provider configuration file (kind: a kind Config), absolute path.
	Config string
	// NodeImage overrides the node image (kind).
	NodeImage string
	// Kubeconfig and Context select an existing cluster.
	Kubeconfig string
	Context    string
}

// State is what a provider knows of a cluster.
type State string

const (
	// Missing: the cluster does not exist.
	Missing State = "Missing"
	// Running: the cluster exists and its API server answers with Ready nodes.
	Running State = "Running"
	// Unhealthy: the cluster exists but does not answer, or its nodes are not Ready.
	Unhealthy State = "Unhealthy"
)

// Info describes a cluster.
type Info struct {
	Name       string `json:"name"`
	Provider   string `json:"provider"`
	State      State  `json:"state"`
	APIServer  string `json:"apiServer,omitempty"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Reason explains an Unhealthy state.
	Reason string `json:"reason,omitempty"`
}

// Provider creates and deletes clusters of one kind.
type Provider interface {
	// Create makes the cluster and waits until its API server answers and its
	// nodes are Ready. Creating a cluster that already runs is a no-op.
	Create(ctx context.Context, spec Spec) (Info, error)
	// Delete removes the cluster and everything the provider kept for it.
	// Deleting a missing cluster is a no-op.
	Delete(ctx context.Context, name string) error
	// Get reports whether the cluster exists and is healthy. It never hangs:
	// an API server that does not answer within a few seconds is Unhealthy.
	Get(ctx context.Context, name string) (Info, error)
	// List returns the clusters this provider manages.
	List(ctx context.Context) ([]Info, error)
}

// Progress receives one call per finished stage of long work.
type Progress func(stage string, took time.Duration)

// Capabilities are what a provider's clusters can do. The pipeline asks
// these questions, never a provider's name.
type Capabilities struct {
	// SimulatedPods: pods never run (kwok), so an agent runs on the host.
	SimulatedPods bool
	// Deletable: rekindle made the cluster and may delete it, or replace it
	// when it no longer answers. An existing cluster is never deleted.
	Deletable bool
	// SelfRemediating: the provider replaces a broken cluster itself
	// (Cluster API); a recovery waits for it instead of replacing it.
	SelfRemediating bool
	// Local: the cluster runs on this machine, so creating it costs this
	// machine's CPU and memory (kwok, kind); it bounds how many are created
	// at once.
	Local bool
	// LoadsImages: images can be loaded straight into the cluster's nodes
	// (kind), so an image built here (the agent's) needs no registry. Its
	// provider implements ImageLoader.
	LoadsImages bool
}

// ImageLoader is implemented by providers whose clusters load images
// (Capabilities.LoadsImages).
type ImageLoader interface {
	// LoadImageArchive puts the images of an OCI layout (or docker save)
	// tarball into every node of cluster name.
	LoadImageArchive(ctx context.Context, name, archive string) error
}
