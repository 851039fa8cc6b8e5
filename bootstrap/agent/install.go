package agent

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"k8s.io/client-go/rest"
)

// chartFS holds the agent's Helm chart.
//
//go:embed all:chart
var chartFS embed.FS

// ReleaseName is the Helm release of the agent, installed in SystemNamespace.
const ReleaseName = "rekindle-agent"

// DefaultImage is the agent's image repository.
const DefaultImage = "ghcr.io/rekindle-dev/rekindle"

// InstallValues configure the agent chart.
type InstallValues struct {
	// ImageRef is the agent's full image reference (repo:tag or
	// repo@sha256:...); when empty, Image (the repository, default
	// DefaultImage) at the tag Version (default "latest"). Version is also
	// the chart's appVersion.
	ImageRef string
	Image    string
	Version  string
	// Blueprint is the blueprint source (a Git URL), Ref the branch, tag or
	// commit, Environment and Cluster what the agent renders.
	Blueprint   string
	Ref         string
	Environment string
	Cluster     string
	// Interval between passes (default 1m).
	Interval time.Duration
	// SkipDeployment installs the CRD and RBAC (and applies the credentials Secret) only
	// (agent.deploy=false): on kwok the agent runs as a host process because
	// pods are simulated.
	SkipDeployment bool
	// Git credentials and the SOPS age key, applied by Install into
	// CredentialsSecret (server-side apply, not Helm values: no release
	// revision holds them). Never printed.
	GitUsername   string
	GitToken      string
	GitSSHKey     string
	GitKnownHosts string
	AgeKey        string
	// Scope, when set, narrows the agent's RBAC to it (agent.rbac: scoped):
	// the rules are computed at install time with the cluster's discovery.
	// Nil grants cluster-admin.
	Scope *Scope
	// Timeout of the Helm operation (default 5m).
	Timeout time.Duration
	// Log receives progress lines; nil discards them. Values are never logged.
	Log func(format string, args ...any)

	// credentialsRevision is CredentialsSecret's resourceVersion, set by
	// Install: a change restarts the agent's pod, which reads the
	// credentials at start.
	credentialsRevision string
}

// String describes the values with secrets redacted.
func (v InstallValues) String() string {
	red := func(s string) string {
		if s == "" {
			return `""`
		}
		return "<redacted>"
	}
	rbac := "cluster-admin"
	if v.Scope != nil {
		rbac = "scoped"
	}
	return fmt.Sprintf("{ImageRef:%s Image:%s Version:%s Blueprint:%s Ref:%s Environment:%s Cluster:%s Interval:%s SkipDeployment:%t RBAC:%s GitUsername:%s GitToken:%s GitSSHKey:%s GitKnownHosts:%s AgeKey:%s}",
		v.ImageRef, v.Image, v.Version, v.Blueprint, v.Ref, v.Environment, v.Cluster, v.Interval, v.SkipDeployment, rbac,
		v.GitUsername, red(v.GitToken), red(v.GitSSHKey), red(v.GitKnownHosts), red(v.AgeKey))
}

// GoString redacts secrets from %#v too.
func (v InstallValues) GoString() string { return "agent.InstallValues" + v.String() }

// helmValues maps InstallValues onto the chart's values.yaml.
func (v InstallValues) helmValues() map[string]any {
	image := v.Image
	if image == "" {
		image = DefaultImage
	}
	tag := v.Version
	if tag == "" {
		tag = "latest"
	}
	ref := v.Ref
	if ref == "" {
		ref = "main"
	}
	interval := v.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	return map[string]any{
		"image": map[string]any{"repository": image, "tag": tag, "ref": v.ImageRef},
		"agent": map[string]any{
			"deploy":      !v.SkipDeployment,
			"blueprint":   v.Blueprint,
			"ref":         ref,
			"environment": v.Environment,
			"cluster":     v.Cluster,
			"interval":    interval.String(),
		},
		// Which credentials exist, never their values: those are in
		// CredentialsSecret, applied by rekindle (see applyCredentials).
		"credentials": map[string]any{"sshKey": v.GitSSHKey != "", "knownHosts": v.GitKnownHosts != "", "revision": v.credentialsRevision},
	}
}

// Chart loads the embedded agent chart.
func Chart() (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(chartFS, "chart", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := chartFS.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(path, "chart/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded chart: %w", err)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load embedded chart: %w", err)
	}
	return ch, nil
}

// Install applies the credentials Secret, then installs or upgrades the
// agent release (ReleaseName in SystemNamespace, created when missing), then
// deletes the release's old revisions that held credentials (made by a
// rekindle that passed them as Helm values). Installing the same values
// again changes nothing: the Secret and the release keep their revisions.
func Install(ctx context.Context, cfg *rest.Config, values InstallValues) error {
	log := values.Log
	if log == nil {
		log = func(string, ...any) {}
	}
	if !values.SkipDeployment && (values.Blueprint == "" || values.Environment == "" || values.Cluster == "") {
		return fmt.Errorf("install agent: blueprint, environment and cluster are required to deploy the agent")
	}
	ch, err := Chart()
	if err != nil {
		return err
	}
	if values.Version != "" {
		ch.Metadata.AppVersion = values.Version
	}
	timeout := values.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	rv, err := applyCredentials(ctx, cfg, values.credentialData(), log)
	if err != nil {
		return fmt.Errorf("install agent: %w", err)
	}
	if !values.SkipDeployment {
		values.credentialsRevision = rv
	}
	// The Sync CRD first, applied and awaited by rekindle: Helm would create
	// it from the chart's crds/ and then poll every 2 s until it is
	// Established (about 2 s of every install on a new cluster), and it never
	// updates a CRD it finds. Helm then skips it as already present. The
	// install writes no Sync, so it does not wait for discovery to serve
	// the kind (up to a few hundred ms on a new cluster): the agent, which
	// writes them, waits for that itself, beside its first pass.
	ap, err := NewApplier(cfg, ApplyOptions{Log: log})
	if err != nil {
		return fmt.Errorf("install agent: %w", err)
	}
	if err := ap.ensureCRD(ctx, false); err != nil {
		return fmt.Errorf("install agent: %w", err)
	}
	hv := values.helmValues()
	if values.Scope != nil {
		rbac, err := scopedValues(ctx, cfg, values.Scope, log)
		if err != nil {
			return fmt.Errorf("install agent: scoped RBAC: %w", err)
		}
		hv["rbac"] = rbac
	}
	act, rev, err := upsertRelease(ctx, cfg, releaseSpec{
		Name: ReleaseName, Namespace: SystemNamespace, Chart: ch, Values: hv, Timeout: timeout,
		DisableOpenAPIValidation: true,
	}, log)
	if err != nil {
		return fmt.Errorf("install agent: %w", err)
	}
	log("agent release %s/%s %s (revision %d)", SystemNamespace, ReleaseName, act, rev)
	if _, err := scrubHistory(cfg, log); err != nil {
		return fmt.Errorf("install agent: %w", err)
	}
	return nil
}

// scopedValues computes the chart's rbac values for scope and creates the
// namespaces its RoleBindings go into.
func scopedValues(ctx context.Context, cfg *rest.Config, scope *Scope, log func(string, ...any)) (map[string]any, error) {
	r, err := ComputeScopedRBAC(ctx, cfg, scope)
	if err != nil {
		return nil, err
	}
	for _, k := range r.Unmapped {
		log("agent RBAC: allowed kind %s is served by no API resource and defined by no CRD of the render: the agent gets no rights on it", k)
	}
	if err := ensureNamespaces(ctx, cfg, r.Namespaces, log); err != nil {
		return nil, err
	}
	return r.helmValues()
}
