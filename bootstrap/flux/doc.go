// Package flux runs Flux as a cluster's sync agent (agent.type: flux): it
// installs Flux from the layout that `flux bootstrap` writes into a repo
// (clusters/<name>/flux-system/{gotk-components,gotk-sync}.yaml), places the
// age key and Git credentials Secrets before the controllers start, points
// the GitRepository at the pinned commit, runs the controllers as host
// processes where pods are simulated (kwok), waits until the whole
// Kustomization and HelmRelease tree is Ready at that commit (naming the
// blocker, failing fast on terminal failures), verifies every object of the
// Flux inventories, and removes Flux as `flux uninstall` does.
//
// Flux objects are read and written as unstructured objects, so the root
// module does not depend on the controllers' API modules (and on the
// Kubernetes versions they pin).
package flux

import "k8s.io/apimachinery/pkg/runtime/schema"

// Namespace is where Flux runs and where gotk-sync's objects live.
const Namespace = "flux-system"

// FieldManager is the server-side apply field manager rekindle uses for Flux.
const FieldManager = "rekindle-flux"

// The Flux kinds rekindle reads and writes.
var (
	GitRepository  = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}
	HelmRepository = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmRepository"}
	HelmChart      = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmChart"}
	Kustomization  = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
	HelmRelease    = schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"}
)

// DefaultDecryptionSecret is the Secret `flux bootstrap` docs name for the
// age key, used when a Kustomization decrypts without naming one.
const DefaultDecryptionSecret = "sops-age"
