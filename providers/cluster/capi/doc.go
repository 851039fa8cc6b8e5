// Package capi is the cluster provider for workload clusters made by Cluster
// API on a management cluster.
//
// Create prepares the management cluster with clusterctl's client library
// (init with the pinned core, bootstrap, control-plane and infrastructure
// providers, from a local repository or overrides when air-gapped, skipped
// when the inventory already lists them at those versions), applies the
// blueprint's Cluster API manifests with server-side apply, waits for the
// infrastructure, control plane and workers, reporting ready/desired counts
// and failing fast on a stuck object, then fetches the workload kubeconfig
// from the <cluster>-kubeconfig Secret and waits for the workload API and its
// nodes.
//
// Recovery: when the Cluster object still exists, Create never makes a
// second one: it re-applies the same manifests (a no-op) and waits for
// Cluster API to remediate the workload cluster. When the management cluster
// was lost, the pipeline rebuilds it first (it is another cluster of the
// environment), and Create re-inits the providers and re-applies the
// manifests: Cluster API then provisions new infrastructure, because
// provider-side IDs (instance IDs, load balancers) were never in Git. Backup
// runs clusterctl move to a directory so those objects can be restored.
package capi
