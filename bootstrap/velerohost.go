package bootstrap

import (
	"slices"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
)

// veleroHostArgs are the host agent's flags for a cluster with restore
// workloads whose pods are simulated: Velero's Deployment cannot run there,
// so the agent runs `velero server` itself, as a child process, once the
// workloads before the restore have put Velero's CRDs, location and
// credentials in place (docs/state.md). Without the binaries it says so;
// the restore then waits for a location no server validates and fails
// naming it.
func (r *run) veleroHostArgs(c blueprints.Cluster) []string {
	if !Capabilities(c.Provider).SimulatedPods || !slices.ContainsFunc(c.Workloads, func(w blueprints.Workload) bool { return w.Restore != nil }) {
		return nil
	}
	dir, err := restore.FindBinDir("")
	if err != nil {
		r.info(StepAgent, c.Name, "WARNING: restore workloads need a velero server beside this kwok cluster, but %v", err)
		return nil
	}
	return []string{"--velero-bin", dir}
}
