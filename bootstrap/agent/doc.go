// Package agent is rekindle's in-cluster sync agent.
//
// An Applier replays a blueprints.RenderedCluster into a cluster with
// server-side apply (github.com/fluxcd/pkg/ssa): CRDs and Namespaces first, then
// each workload in dependsOn order, waiting (kstatus) until a workload's objects
// are healthy before its dependents start. Helm workloads become real Helm
// releases. What was applied is recorded in an inventory ConfigMap, so that the
// next pass prunes exactly what left Git; hand edits are reverted and reported as
// drift. Progress and outcome are written to a Sync custom resource per cluster.
//
// An Agent runs the Applier in a loop over a RenderFunc (Run), or once (Once).
// Install puts the agent itself into a cluster from the Helm chart embedded in
// this package.
package agent
