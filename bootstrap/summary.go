package bootstrap

import (
	"time"

	"github.com/rekindle-dev/rekindle/bootstrap/backupstore"
)

// Summary is what a pipeline run did.
type Summary struct {
	Blueprint string `json:"blueprint"`
	Env       string `json:"env"`
	Commit    string `json:"commit,omitempty"`
	DryRun    bool   `json:"dryRun,omitempty"`
	InfraPlan string `json:"infraPlan,omitempty"`
	// RTOObjective is the environment's recovery.rto (0: none).
	RTOObjective time.Duration `json:"rtoObjective,omitempty"`
	// Losses is what a recovery found lost, per cluster.
	Losses   []Loss           `json:"losses,omitempty"`
	Clusters []ClusterSummary `json:"clusters"`
	Steps    []StepSummary    `json:"steps"`
	Total    time.Duration    `json:"total"`
}

// ClusterSummary is one cluster after the run.
type ClusterSummary struct {
	Name       string         `json:"name"`
	Provider   string         `json:"provider"`
	APIServer  string         `json:"apiServer,omitempty"`
	Kubeconfig string         `json:"kubeconfig,omitempty"`
	Workloads  []WorkloadPlan `json:"workloads,omitempty"`
	Desired    int            `json:"desired"`
	Applied    int            `json:"applied"`
	Healthy    int            `json:"healthy"`
	Commit     string         `json:"commit,omitempty"`
	Ready      bool           `json:"ready"`
	// AppliedAfter and HealthyAfter are the times from the start of the
	// replay step until every object was applied, and healthy.
	AppliedAfter time.Duration `json:"appliedAfter,omitempty"`
	HealthyAfter time.Duration `json:"healthyAfter,omitempty"`
	Message      string        `json:"message,omitempty"`
	// Agent is the cluster's sync agent when it is not rekindle's own
	// ("flux"); SourceAfter is then when Flux's GitRepository had fetched
	// the commit, from the start of the replay step.
	Agent       string        `json:"agent,omitempty"`
	SourceAfter time.Duration `json:"sourceAfter,omitempty"`
	// Restores are the restore workloads this run's replay ran, with when
	// each began and ended (as the agent recorded them in its Sync).
	Restores []RestoreSpan `json:"restores,omitempty"`
	// Steps are the cluster's own pipeline (clusters, secrets, agent,
	// replay, verify) as this run ran them.
	Steps []StepSummary `json:"steps,omitempty"`
	// Error says why the cluster's pipeline failed; empty when it is up.
	Error string `json:"error,omitempty"`
}

// RestoreSpan is one restore workload's part of a replay: from the start of
// its apply (the wait for Velero's backups to sync included) until its
// Restore ended.
type RestoreSpan struct {
	Workload string    `json:"workload"`
	Backup   string    `json:"backup,omitempty"`
	Items    int       `json:"items,omitempty"`
	Skipped  bool      `json:"skipped,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

// WorkloadPlan is a workload as rendered (for --dry-run).
type WorkloadPlan struct {
	Name    string         `json:"name"`
	Source  string         `json:"source"`
	Objects int            `json:"objects"`
	Kinds   map[string]int `json:"kinds"`
	// Restore is, for a restore workload, the backup it would restore (read
	// from the object store), or why there is none or it could not be told.
	Restore *backupstore.RestorePlan `json:"restore,omitempty"`
}

// StepSummary is one step of the run.
type StepSummary struct {
	Name     string        `json:"name"`
	Status   string        `json:"status"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Detail   string        `json:"detail,omitempty"`
}
