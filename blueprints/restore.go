package blueprints

import (
	"fmt"
	"slices"
	"strings"
)

// SourceRestore is the source kind of a restore workload: no objects of its
// own, but a Velero Restore the agent creates and waits for.
const SourceRestore = "restore"

// Values of RestoreWorkload.WhenNoBackup.
const (
	// WhenNoBackupFail fails the workload (and so its dependents) when there is no backup to restore.
	WhenNoBackupFail = "fail"
	// WhenNoBackupSkip counts the workload ready, with a warning, so that
	// its dependents initialise from nothing (a first bootstrap).
	WhenNoBackupSkip = "skip"
)

// DefaultVeleroNamespace is where Velero runs unless velero.namespace says otherwise.
const DefaultVeleroNamespace = "velero"

// RestoreWorkload brings back state that Git does not hold (generated
// passwords, issued certificates, a sealed-secrets key, volume data) from a
// Velero backup, inside the rebuild: workloads that dependsOn it start only
// once the Restore is Completed. The field names are Velero's own Restore's.
type RestoreWorkload struct {
	Velero VeleroSource `json:"velero"`
	// IncludedNamespaces and IncludedResources narrow what is restored
	// (Velero's defaults: everything the backup holds).
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`
	IncludedResources  []string `json:"includedResources,omitempty"`
	// ExistingResourcePolicy is Velero's: "none" (default: an object that
	// exists is left alone) or "update".
	ExistingResourcePolicy string `json:"existingResourcePolicy,omitempty"`
	// RestorePVs restores volume snapshots (Velero's default: true when the
	// backup has them).
	RestorePVs *bool `json:"restorePVs,omitempty"`
	// WhenNoBackup is WhenNoBackupFail (the default) or WhenNoBackupSkip.
	WhenNoBackup string `json:"whenNoBackup,omitempty"`
	// AllowPartiallyFailed counts a PartiallyFailed restore as done (its
	// errors and warnings are still reported); by default it fails.
	AllowPartiallyFailed bool `json:"allowPartiallyFailed,omitempty"`
}

// VeleroSource names the backup: the latest Completed backup of Schedule, or
// the backup called Backup (exactly one of the two).
type VeleroSource struct {
	// Namespace is Velero's namespace (default DefaultVeleroNamespace).
	Namespace string `json:"namespace,omitempty"`
	Schedule  string `json:"schedule,omitempty"`
	Backup    string `json:"backup,omitempty"`
}

// VeleroNamespace is the namespace Velero runs in.
func (r *RestoreWorkload) VeleroNamespace() string {
	if r.Velero.Namespace != "" {
		return r.Velero.Namespace
	}
	return DefaultVeleroNamespace
}

// NoBackupPolicy is WhenNoBackup with its default.
func (r *RestoreWorkload) NoBackupPolicy() string {
	if r.WhenNoBackup != "" {
		return r.WhenNoBackup
	}
	return WhenNoBackupFail
}

// existingResourcePolicies are the values Velero's Restore accepts.
var existingResourcePolicies = []string{"none", "update"}

// validateRestore checks a restore workload's fields at path (the workload's).
func validateRestore(p *problems, path string, r *RestoreWorkload) {
	vp := path + ".restore.velero"
	switch {
	case r.Velero.Schedule == "" && r.Velero.Backup == "":
		p.add(vp, "needs schedule (restore its latest Completed backup) or backup (a backup's name)")
	case r.Velero.Schedule != "" && r.Velero.Backup != "":
		p.add(vp, "has both schedule and backup; name one")
	case r.Velero.Schedule != "":
		checkObjectName(p, vp+".schedule", r.Velero.Schedule)
	default:
		checkObjectName(p, vp+".backup", r.Velero.Backup)
	}
	if r.Velero.Namespace != "" && !dnsLabel.MatchString(r.Velero.Namespace) {
		p.add(vp+".namespace", "%q is not a valid namespace name", r.Velero.Namespace)
	}
	for i, ns := range r.IncludedNamespaces {
		if ns != "*" && !dnsLabel.MatchString(ns) {
			p.add(fmt.Sprintf("%s.restore.includedNamespaces[%d]", path, i), "%q is not a valid namespace name (or *)", ns)
		}
	}
	for i, res := range r.IncludedResources {
		if res == "" || strings.ContainsAny(res, " /") {
			p.add(fmt.Sprintf("%s.restore.includedResources[%d]", path, i), "%q is not a resource like secrets or deployments.apps (or *)", res)
		}
	}
	if r.ExistingResourcePolicy != "" && !slices.Contains(existingResourcePolicies, r.ExistingResourcePolicy) {
		p.add(path+".restore.existingResourcePolicy", "unknown policy %q (want %s)", r.ExistingResourcePolicy, strings.Join(existingResourcePolicies, " or "))
	}
	switch r.WhenNoBackup {
	case "", WhenNoBackupFail, WhenNoBackupSkip:
	default:
		p.add(path+".restore.whenNoBackup", "unknown policy %q (want %s or %s)", r.WhenNoBackup, WhenNoBackupFail, WhenNoBackupSkip)
	}
}

// checkObjectName checks a Kubernetes object name (a DNS subdomain).
func checkObjectName(p *problems, path, name string) {
	ok := len(name) <= 253
	for _, part := range strings.Split(name, ".") {
		ok = ok && dnsLabel.MatchString(part)
	}
	if !ok {
		p.add(path, "%q is not a valid object name", name)
	}
}
