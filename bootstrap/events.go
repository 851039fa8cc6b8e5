package bootstrap

import "time"

// Step names, in pipeline order.
const (
	StepDetect   = "detect"
	StepFetch    = "fetch"
	StepValidate = "validate"
	StepInfra    = "infra"
	StepClusters = "clusters"
	StepSecrets  = "secrets"
	// StepPreflight checks, against the live cluster, that every object of
	// its render can be applied (namespaces, kinds) before an agent tries.
	StepPreflight = "preflight"
	StepAgent     = "agent"
	StepReplay    = "replay"
	StepVerify    = "verify"
	StepReport    = "report"
	// StepLose is a drill's simulated loss, outside the pipeline.
	StepLose = "lose"
)

// Steps lists the pipeline's steps in order.
var Steps = []string{StepFetch, StepValidate, StepInfra, StepClusters, StepSecrets, StepPreflight, StepAgent, StepReplay, StepVerify, StepReport}

// Event statuses.
const (
	StatusStarted = "started"
	StatusDone    = "done"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
	// StatusInfo is a message within a step (a stage of cluster creation, a notice).
	StatusInfo = "info"
)

// Event is one line of progress. Details never hold secret values.
type Event struct {
	Time     time.Time     `json:"time"`
	Step     string        `json:"step"`
	Status   string        `json:"status"`
	Duration time.Duration `json:"duration,omitempty"`
	Cluster  string        `json:"cluster,omitempty"`
	Detail   string        `json:"detail,omitempty"`
}

// Observer receives progress events; it must not block for long.
type Observer func(Event)
