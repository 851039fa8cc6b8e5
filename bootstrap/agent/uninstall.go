package agent

import (
	"context"
	"time"

	"k8s.io/client-go/rest"
)

// Uninstall removes the agent release (ReleaseName in SystemNamespace) and
// its credentials Secret from a cluster rekindle does not own, so that
// destroying an environment stops its syncing there. The workloads the agent
// applied stay. A missing release is not an error. Helm's uninstall takes no
// context; ctx bounds the Secret's deletion.
func Uninstall(ctx context.Context, cfg *rest.Config) error {
	if err := uninstallRelease(cfg, ReleaseName, SystemNamespace, 2*time.Minute, func(string, ...any) {}); err != nil {
		return err
	}
	return deleteCredentials(ctx, cfg)
}
