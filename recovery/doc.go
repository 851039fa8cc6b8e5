// Package recovery rebuilds a lost environment from its blueprint and proves
// the result: Recover (rebuild only what is missing, with every phase timed
// against the recovery time objective), Verify (live state against Git),
// Drill (a full disaster-recovery rehearsal with reports) and Rehearse (any
// environment on local clusters).
package recovery
