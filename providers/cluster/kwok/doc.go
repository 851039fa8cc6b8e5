// Package kwok is the cluster provider that needs no container runtime: it
// drives the kwokctl binary with its "binary" runtime, which runs etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and the kwok
// controller as plain host processes, and registers simulated nodes that the
// kwok controller keeps Ready (and whose pods it marks Running).
//
// The six binaries are built from the Go modules pinned in hack/tools by
// hack/install-cluster-tools.sh into a cache keyed by ToolsVersion; see
// FindBinDir for where they are looked up. kwokctl is always given every
// binary explicitly, so it never downloads anything.
//
// Everything a cluster needs lives in <StateDir>/clusters/kwok/<name>/:
//
//	kubeconfig      admin kubeconfig (0600)
//	kwokctl.log     what kwokctl said on every create and delete
//	kwok/           KWOK_WORKDIR; kwok/clusters/<name>/ holds kwokctl's config,
//	                pki, etcd data, pids/ and logs/ of every component
package kwok
