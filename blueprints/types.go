package blueprints

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"time"
)

// APIVersion and Kind identify a blueprint file.
const (
	APIVersion = "rekindle.dev/v1alpha1"
	Kind       = "Blueprint"
	// FileName is the blueprint file at the root of a blueprint repo.
	FileName = "rekindle.yaml"
)

// Providers lists the cluster providers a blueprint may name.
var Providers = []string{"kwok", "kind", "capi", "existing"}

// Blueprint is the content of rekindle.yaml.
type Blueprint struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
}

// Metadata names the blueprint.
type Metadata struct {
	Name string `json:"name"`
}

// Spec holds the environments a blueprint can build.
type Spec struct {
	Environments []Environment `json:"environments"`
}

// Environment is one deployable unit: infrastructure plus the clusters on it.
type Environment struct {
	Name     string    `json:"name"`
	Infra    *Infra    `json:"infra,omitempty"`
	Secrets  *Secrets  `json:"secrets,omitempty"`
	Recovery *Recovery `json:"recovery,omitempty"`
	Clusters []Cluster `json:"clusters"`
}

// Infra is what must exist before clusters can be created.
type Infra struct {
	Terraform *Terraform `json:"terraform,omitempty"`
}

// Terraform runs a Terraform root module from the repo.
type Terraform struct {
	// Dir is the root module, relative to the repo root.
	Dir string `json:"dir"`
	// Vars are passed as -var name=value (values are rendered as HCL/JSON).
	Vars map[string]any `json:"vars,omitempty"`
	// Workspace selects a Terraform workspace; empty means "default".
	Workspace string `json:"workspace,omitempty"`
	// Backend, when set, replaces the default local state under the state dir
	// with the given backend configuration (-backend-config key=value pairs).
	Backend map[string]string `json:"backendConfig,omitempty"`
}

// Secrets says how encrypted files in the repo are decrypted.
type Secrets struct {
	SOPS *SOPS `json:"sops,omitempty"`
}

// SOPS decrypts files encrypted for age recipients.
type SOPS struct {
	// AgeKeyFile is read when neither SOPS_AGE_KEY nor SOPS_AGE_KEY_FILE is set.
	AgeKeyFile string `json:"ageKeyFile,omitempty"`
}

// Recovery holds the recovery objectives of an environment.
type Recovery struct {
	RTO Duration `json:"rto,omitempty"`
}

// Cluster is one Kubernetes cluster of an environment.
type Cluster struct {
	Name     string           `json:"name"`
	Provider string           `json:"provider"`
	Kwok     *KwokCluster     `json:"kwok,omitempty"`
	Kind     *KindCluster     `json:"kind,omitempty"`
	CAPI     *CAPICluster     `json:"capi,omitempty"`
	Existing *ExistingCluster `json:"existing,omitempty"`
	Agent    *Agent           `json:"agent,omitempty"`
	// Flux is where the cluster's Flux repo layout lives, for agent.type flux.
	Flux *Flux `json:"flux,omitempty"`
	// Allow, when set, limits where the cluster's workloads may put objects;
	// a render with anything else is refused (the agent applies nothing).
	Allow *Allow `json:"allow,omitempty"`
	// DependsOn names clusters of the environment, listed before this one,
	// whose pipelines must finish before this cluster's starts (a Cluster
	// API workload cluster always waits for its management cluster).
	DependsOn []string `json:"dependsOn,omitempty"`
	// Workloads are applied in dependsOn order.
	Workloads []Workload `json:"workloads,omitempty"`
	// KubernetesVersion is the version charts are rendered for offline
	// (validate, render, plan, --dry-run): Helm's .Capabilities.KubeVersion
	// and the check of a chart's kubeVersion. Default: the provider's own
	// (see KubeVersionFor). The agent uses the live cluster's.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}

// Needs lists the clusters that must be up before c: its dependsOn and, for
// a Cluster API cluster, its management cluster.
func (c Cluster) Needs() []string {
	out := slices.Clone(c.DependsOn)
	if c.CAPI != nil && c.CAPI.Management != "" && !slices.Contains(out, c.CAPI.Management) {
		out = append(out, c.CAPI.Management)
	}
	return out
}

// KwokCluster configures a kwok cluster (simulated nodes, real control plane).
type KwokCluster struct {
	Nodes int `json:"nodes,omitempty"`
}

// KindCluster configures a kind cluster (nodes are containers).
type KindCluster struct {
	Config    string `json:"config,omitempty"`
	NodeImage string `json:"nodeImage,omitempty"`
}

// CAPICluster creates the cluster through Cluster API on a management cluster.
type CAPICluster struct {
	// Management names the cluster of this environment that runs Cluster
	// API; it must come earlier in the list of clusters.
	Management string `json:"management"`
	// Manifests is a directory of Cluster API objects (Cluster, control
	// plane, MachineDeployments, templates, or a ClusterClass topology); it
	// must hold a Cluster named like this cluster.
	Manifests string `json:"manifests"`
	// Namespace is the Cluster's namespace and the default for manifests
	// that set none (default "default").
	Namespace string `json:"namespace,omitempty"`
	// Providers are the Cluster API providers clusterctl init installs on
	// the management cluster, each pinned as name:version.
	Providers *CAPIProviders `json:"providers,omitempty"`
	// ClusterctlConfig is a clusterctl configuration file in the repo
	// (providers, overridesFolder, variables); without it clusterctl's
	// default file ($XDG_CONFIG_HOME/cluster-api/clusterctl.yaml) is read.
	ClusterctlConfig string `json:"clusterctlConfig,omitempty"`
	// Repository is a clusterctl local repository in the repo
	// ({provider-label}/{version}/{components file} plus metadata.yaml):
	// providers found there are installed from it, without network.
	Repository string `json:"repository,omitempty"`
}

// CAPIProviders pins the providers of a management cluster, as clusterctl
// init's flags do: "kubeadm:v1.14.2".
type CAPIProviders struct {
	Core           string   `json:"core,omitempty"`
	Bootstrap      []string `json:"bootstrap,omitempty"`
	ControlPlane   []string `json:"controlPlane,omitempty"`
	Infrastructure []string `json:"infrastructure,omitempty"`
}

// ExistingCluster points at a cluster rekindle does not own.
type ExistingCluster struct {
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
}

// Agent configures the in-cluster sync agent.
type Agent struct {
	// Type is the sync agent: AgentRekindle (the default: rekindle's own)
	// or AgentFlux (the Flux controllers, from the cluster's flux.path).
	Type     string   `json:"type,omitempty"`
	Interval Duration `json:"interval,omitempty"`
	// Prune deletes objects removed from Git (default true).
	Prune *bool `json:"prune,omitempty"`
	// AllowEmpty lets a render with no objects prune everything.
	AllowEmpty bool `json:"allowEmpty,omitempty"`
	// RBAC is the agent's rights in the cluster: AgentRBACClusterAdmin (the
	// default: it may apply anything) or AgentRBACScoped (only what the
	// cluster's allow-list permits, enforced by the API server).
	RBAC string `json:"rbac,omitempty"`
	// Image is the in-cluster agent's container image, a reference that may
	// be pinned by digest (registry/rekindle@sha256:...). Default: the
	// released image at rekindle's own version.
	Image string `json:"image,omitempty"`
}

// Values of Agent.Type.
const (
	AgentRekindle = "rekindle"
	AgentFlux     = "flux"
)

// AgentType returns the cluster's sync agent, AgentRekindle unless set.
func (c Cluster) AgentType() string {
	if c.Agent != nil && c.Agent.Type != "" {
		return c.Agent.Type
	}
	return AgentRekindle
}

// Flux is a cluster synced by Flux from the layout `flux bootstrap` writes.
type Flux struct {
	// Path is the cluster's directory in the repo, as `flux bootstrap
	// --path` takes it (e.g. clusters/prod): it holds
	// flux-system/gotk-sync.yaml (the GitRepository and the root
	// Kustomization) and, unless Components is set, gotk-components.yaml.
	Path string `json:"path"`
	// Components is the file of Flux's own objects (CRDs, RBAC, the
	// controllers' Deployments). Default: Path/flux-system/gotk-components.yaml.
	Components string `json:"components,omitempty"`
}

// FluxComponents is the repo path of the cluster's Flux components file.
func (f *Flux) FluxComponents() string {
	if f.Components != "" {
		return f.Components
	}
	return path.Join(f.Path, "flux-system", "gotk-components.yaml")
}

// FluxSync is the repo path of the cluster's gotk-sync.yaml.
func (f *Flux) FluxSync() string { return path.Join(f.Path, "flux-system", "gotk-sync.yaml") }

// Values of Agent.RBAC.
const (
	AgentRBACClusterAdmin = "cluster-admin"
	AgentRBACScoped       = "scoped"
)

// AgentRBAC returns the agent's RBAC mode, AgentRBACClusterAdmin unless set.
func (c Cluster) AgentRBAC() string {
	if c.Agent != nil && c.Agent.RBAC != "" {
		return c.Agent.RBAC
	}
	return AgentRBACClusterAdmin
}

// Allow is a cluster's allow-list. A blueprint repo is applied with wide
// rights; the allow-list keeps a change in one team's directory from
// reaching other namespaces or cluster-wide objects.
type Allow struct {
	// Namespaces namespaced objects (and Namespace objects) may use.
	Namespaces []string `json:"namespaces,omitempty"`
	// ClusterScopedKinds are the kinds of cluster-scoped objects allowed,
	// e.g. CustomResourceDefinition, ClusterRole. Namespace objects are
	// governed by Namespaces instead.
	ClusterScopedKinds []string `json:"clusterScopedKinds,omitempty"`
}

// Workload is one unit of replay: a directory of YAML, a kustomization or a Helm chart.
type Workload struct {
	Name string `json:"name"`
	// Path is a directory of YAML files or a kustomization, relative to the repo root.
	Path string `json:"path,omitempty"`
	// Helm installs a chart from the repo as a Helm release.
	Helm *HelmWorkload `json:"helm,omitempty"`
	// Restore restores state Git does not hold from a Velero backup (restore.go).
	Restore *RestoreWorkload `json:"restore,omitempty"`
	// Namespace is set on namespaced objects that have none (plain and kustomize).
	Namespace string `json:"namespace,omitempty"`
	// DependsOn names workloads of the same cluster that must be healthy first.
	DependsOn []string `json:"dependsOn,omitempty"`
	// CreateNamespace: the workload's target namespace (namespace, or
	// helm.namespace) is added to the render as a Namespace labelled
	// CreatedNamespaceLabel when no object of the cluster's render declares
	// it, as Argo CD's CreateNamespace and helm --create-namespace do.
	// Default true; false leaves it to exist already.
	CreateNamespace *bool `json:"createNamespace,omitempty"`
}

// CreatesNamespace reports whether the workload's namespace is created when nothing declares it.
func (w Workload) CreatesNamespace() bool { return w.CreateNamespace == nil || *w.CreateNamespace }

// TargetNamespace is the namespace the workload's objects go to by default
// ("" for a plain or kustomize workload without one: "default").
func (w Workload) TargetNamespace() string {
	if w.Helm != nil && w.Helm.Namespace != "" {
		return w.Helm.Namespace
	}
	return w.Namespace
}

// HelmWorkload is a chart: a directory (or packaged .tgz) in the repo, a
// chart of an https Helm repository (Repo), or an oci:// reference.
type HelmWorkload struct {
	// Chart is a path in the repo; with Repo, the chart's name in that
	// repository; or an OCI reference, oci://registry/path/name.
	Chart string `json:"chart"`
	// Repo is an https Helm repository (the URL its index.yaml is under).
	Repo string `json:"repo,omitempty"`
	// Version is an exact version or a semver range (">=1.2.0 <2", "~1.4")
	// for Repo and oci:// charts; the highest match is used and recorded.
	// Empty: the latest (non-prerelease) version.
	Version string `json:"version,omitempty"`
	// CAFile is a PEM bundle in the repo that the repository's or the
	// registry's TLS certificate must chain to, in addition to the
	// system's (TLS is always verified).
	CAFile      string         `json:"caFile,omitempty"`
	ReleaseName string         `json:"releaseName,omitempty"`
	Namespace   string         `json:"namespace,omitempty"`
	ValuesFiles []string       `json:"valuesFiles,omitempty"`
	Values      map[string]any `json:"values,omitempty"`
}

// Release returns the Helm release name (the workload name by default).
func (w Workload) Release() string {
	if w.Helm != nil && w.Helm.ReleaseName != "" {
		return w.Helm.ReleaseName
	}
	return w.Name
}

// SourceKind says where a workload's objects come from: "helm", "kustomize" or "plain".
// Kustomize versus plain needs the repo, see Render.
func (w Workload) isHelm() bool { return w.Helm != nil }

// Duration is a time.Duration written as "10m" or "90s" in YAML.
type Duration struct{ time.Duration }

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"10m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a form like 90s, 10m, 1h)", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// Environment returns the environment called name.
func (b *Blueprint) Environment(name string) (*Environment, error) {
	var names []string
	for i := range b.Spec.Environments {
		if b.Spec.Environments[i].Name == name {
			return &b.Spec.Environments[i], nil
		}
		names = append(names, b.Spec.Environments[i].Name)
	}
	return nil, fmt.Errorf("environment %q not found in %s (have: %v)", name, FileName, names)
}
