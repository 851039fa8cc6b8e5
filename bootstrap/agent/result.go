package agent

import (
	"errors"
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// ErrEmptyRender is returned when a render holds no objects and
// SyncOptions.AllowEmpty is false: an empty render would prune everything, which
// is far more often a broken blueprint than an intent.
var ErrEmptyRender = errors.New("the render holds no objects; refusing to prune everything (set AllowEmpty to allow it)")

// ErrBlocked marks a pass that failed on objects the API server refused for
// good (FailedObject.Permanent).
var ErrBlocked = errors.New("blocked: objects the cluster refuses whatever the retries")

// SyncOptions tune one pass.
type SyncOptions struct {
	// AllowEmpty lets a render without any object prune everything the agent
	// applied before.
	AllowEmpty bool
	// NoPrune keeps objects that left the render.
	NoPrune bool
}

// Result is what one pass did.
type Result struct {
	Cluster string `json:"cluster"`
	Commit  string `json:"commit,omitempty"`
	// Desired counts the rendered objects; Applied those now matching Git;
	// Healthy those that reached their ready state (kstatus Current).
	Desired int `json:"desired"`
	Applied int `json:"applied"`
	Healthy int `json:"healthy"`
	// Created, Configured and Unchanged count server-side apply outcomes.
	Created    int `json:"created"`
	Configured int `json:"configured"`
	Unchanged  int `json:"unchanged"`
	// Drifted are objects whose desired state did not change since the last
	// pass but that differed in the cluster (edited by hand): they were reverted.
	Drifted []ObjectRef `json:"drifted,omitempty"`
	// Pruned are objects deleted because they left the render.
	Pruned []ObjectRef `json:"pruned,omitempty"`
	// PruneSkipped are objects that left the render but were kept, with why.
	PruneSkipped []FailedObject `json:"pruneSkipped,omitempty"`
	// Failed are objects or workloads that could not be applied or did not
	// become healthy.
	Failed    []FailedObject   `json:"failed,omitempty"`
	Releases  []ReleaseResult  `json:"releases,omitempty"`
	Workloads []WorkloadResult `json:"workloads,omitempty"`
	Started   time.Time        `json:"started"`
	Duration  time.Duration    `json:"duration"`
}

// Ready reports whether every rendered object was applied and is healthy.
func (r *Result) Ready() bool { return len(r.Failed) == 0 && r.Healthy == r.Desired }

// WorkloadResult is one workload's part of a pass.
type WorkloadResult struct {
	Name    string `json:"name"`
	Applied int    `json:"applied"`
	Healthy int    `json:"healthy"`
	// Applying and Waiting are the durations of the two phases.
	Applying time.Duration `json:"applying"`
	Waiting  time.Duration `json:"waiting"`
	// AppliedAt is the time from the start of the pass until the workload's
	// objects were applied (or its Helm release installed).
	AppliedAt time.Duration `json:"appliedAt,omitempty"`
	// Ready is the time from the start of the pass until the workload was healthy.
	Ready time.Duration `json:"ready,omitempty"`
	Error string        `json:"error,omitempty"`
	// Restore is what a restore workload did (which backup, the Restore, a skip).
	Restore *restore.Outcome `json:"restore,omitempty"`
}

// ReleaseResult is what happened to one Helm release.
type ReleaseResult struct {
	Workload  string `json:"workload"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Revision  int    `json:"revision,omitempty"`
	// Action is installed, upgraded, unchanged or uninstalled.
	Action string `json:"action"`
}
