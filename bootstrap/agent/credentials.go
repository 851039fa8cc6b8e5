package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// CredentialsSecret is the Secret in SystemNamespace holding the agent's Git
// credentials and SOPS age key. rekindle applies it itself, with server-side
// apply, never through Helm values: Helm keeps every revision's values and
// manifest in its release Secrets and prints them with `helm get values`.
const CredentialsSecret = "rekindle-agent-credentials"

// Keys of CredentialsSecret.
const (
	keyGitUsername   = "git-username"
	keyGitToken      = "git-token"
	keyGitSSHKey     = "git-ssh-key"
	keyGitKnownHosts = "git-known-hosts"
	keyAgeKey        = "sops-age-key"
)

// fieldManager owns what rekindle applies outside Helm.
const fieldManager = "rekindle"

func (v InstallValues) credentialData() map[string][]byte {
	data := map[string][]byte{}
	for k, s := range map[string]string{
		keyGitUsername: v.GitUsername, keyGitToken: v.GitToken, keyGitSSHKey: v.GitSSHKey,
		keyGitKnownHosts: v.GitKnownHosts, keyAgeKey: v.AgeKey,
	} {
		if s != "" {
			data[k] = []byte(s)
		}
	}
	return data
}

// applyCredentials makes CredentialsSecret hold exactly data: applied with
// server-side apply, and any key not in data (a rotated-away token, or one
// left by the Secret an older chart rendered) removed, so nothing of the old
// credentials stays. It returns the Secret's resourceVersion, which changes
// only when the credentials do. The Secret carries helm.sh/resource-policy:
// keep so that upgrading a release whose chart still rendered it does not
// delete it.
func applyCredentials(ctx context.Context, cfg *rest.Config, data map[string][]byte, log func(string, ...any)) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	ns := corev1ac.Namespace(SystemNamespace).WithLabels(map[string]string{"app.kubernetes.io/managed-by": fieldManager})
	if _, err := cs.CoreV1().Namespaces().Apply(ctx, ns, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return "", fmt.Errorf("apply Namespace/%s: %w", SystemNamespace, err)
	}
	sec := corev1ac.Secret(CredentialsSecret, SystemNamespace).
		WithType(corev1.SecretTypeOpaque).
		WithLabels(map[string]string{"app.kubernetes.io/name": "rekindle-agent", "app.kubernetes.io/managed-by": fieldManager}).
		WithAnnotations(map[string]string{"helm.sh/resource-policy": "keep"}).
		WithData(data)
	live, err := cs.CoreV1().Secrets(SystemNamespace).Apply(ctx, sec, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		return "", fmt.Errorf("apply Secret %s/%s: %w", SystemNamespace, CredentialsSecret, err)
	}
	var stale []string
	for k := range live.Data {
		if _, ok := data[k]; !ok {
			stale = append(stale, k)
		}
	}
	if len(stale) == 0 {
		return live.ResourceVersion, nil
	}
	sort.Strings(stale)
	ops := []map[string]string{{"op": "test", "path": "/metadata/resourceVersion", "value": live.ResourceVersion}}
	for _, k := range stale {
		ops = append(ops, map[string]string{"op": "remove", "path": "/data/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)})
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return "", err
	}
	live, err = cs.CoreV1().Secrets(SystemNamespace).Patch(ctx, CredentialsSecret, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		return "", fmt.Errorf("remove old keys %s from Secret %s/%s: %w", strings.Join(stale, ", "), SystemNamespace, CredentialsSecret, err)
	}
	log("agent credentials: removed old keys %s", strings.Join(stale, ", "))
	return live.ResourceVersion, nil
}

// deleteCredentials removes CredentialsSecret; a missing one is not an error.
func deleteCredentials(ctx context.Context, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	err = cs.CoreV1().Secrets(SystemNamespace).Delete(ctx, CredentialsSecret, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete Secret %s/%s: %w", SystemNamespace, CredentialsSecret, err)
	}
	return nil
}

// scrubHistory deletes the agent release's revisions that hold credentials:
// those made by a rekindle that passed them as Helm values, whose values and
// rendered Secret Helm keeps in sh.helm.release.v1.rekindle-agent.vN Secrets
// (a rollback to them is given up on purpose). The deployed revision is kept
// (it holds none once an install by this version has succeeded).
func scrubHistory(cfg *rest.Config, log func(string, ...any)) (int, error) {
	ac, err := helmConfig(cfg, SystemNamespace, log)
	if err != nil {
		return 0, err
	}
	hist, err := ac.Releases.History(ReleaseName)
	if err != nil {
		return 0, fmt.Errorf("read the history of release %s/%s: %w", SystemNamespace, ReleaseName, err)
	}
	deleted := 0
	for _, rel := range hist {
		if !holdsCredentials(rel) {
			continue
		}
		if rel.Info != nil && rel.Info.Status == release.StatusDeployed {
			log("agent release revision %d is deployed and still holds credential values: it goes at the next successful install", rel.Version)
			continue
		}
		if _, err := ac.Releases.Delete(rel.Name, rel.Version); err != nil {
			return deleted, fmt.Errorf("delete revision %d of release %s/%s, which holds credentials: %w", rel.Version, SystemNamespace, ReleaseName, err)
		}
		deleted++
	}
	if deleted > 0 {
		log("agent release: deleted %d old revision(s) that held credentials in their values", deleted)
	}
	return deleted, nil
}

// holdsCredentials reports whether a release revision was given credentials
// as values (older versions of the chart rendered them into a Secret).
func holdsCredentials(rel *release.Release) bool {
	nonEmpty := func(section, key string) bool {
		m, _ := rel.Config[section].(map[string]any)
		s, _ := m[key].(string)
		return s != ""
	}
	return nonEmpty("git", "token") || nonEmpty("git", "sshKey") || nonEmpty("git", "knownHosts") ||
		nonEmpty("git", "username") || nonEmpty("sops", "ageKey")
}
