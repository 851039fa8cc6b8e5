package capi

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// KubeconfigSecret is the Secret Cluster API writes the workload cluster's
// admin kubeconfig to, under the key "value".
func KubeconfigSecret(cluster string) string { return cluster + "-kubeconfig" }

// writeKubeconfig copies the workload kubeconfig from its Secret to the
// state dir (mode 0600), rewriting the file only when it changed. It returns
// the path and the Secret's resourceVersion.
func (p *provider) writeKubeconfig(ctx context.Context, m *management, ns, name string) (string, string, error) {
	var s corev1.Secret
	ref := fmt.Sprintf("Secret/%s/%s", ns, KubeconfigSecret(name))
	if err := m.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: KubeconfigSecret(name)}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", "", fmt.Errorf("%s not found: the control plane provider writes it once the control plane is initialized", ref)
		}
		return "", "", fmt.Errorf("get %s: %w", ref, err)
	}
	data := s.Data["value"]
	if len(data) == 0 {
		return "", "", fmt.Errorf("%s has no kubeconfig under the key \"value\"", ref)
	}
	path := KubeconfigPath(p.opts.StateDir, name)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return path, s.ResourceVersion, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", "", err
	}
	return path, s.ResourceVersion, nil
}
