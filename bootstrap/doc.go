// Package bootstrap is rekindle's pipeline: it takes a blueprint environment
// from nothing to running workloads in explicit, idempotent steps (fetch,
// validate, infra, clusters, secrets, agent, replay, verify, report) and
// tears it down again.
//
// After each step a checkpoint under the state dir records what is done and
// at which blueprint commit, so a run that was interrupted resumes where it
// stopped: finished steps are checked cheaply and skipped, and nothing is
// created twice. A lock file refuses a second run on the same environment.
package bootstrap
