package capi

import (
	"context"
	"fmt"
	"io"
	"os"

	clusterctl "sigs.k8s.io/cluster-api/cmd/clusterctl/client"
)

// BackupOptions say which management cluster and namespace to back up, and where.
type BackupOptions struct {
	// Kubeconfig and Context reach the management cluster.
	Kubeconfig string
	Context    string
	// Namespace holds the Clusters to back up (default "default").
	Namespace string
	// Dir receives one YAML file per object; it is created when missing.
	Dir string
	// ClusterctlConfig is a clusterctl configuration file (empty: clusterctl's default).
	ClusterctlConfig string
	// Log receives clusterctl's log lines (nil: discarded).
	Log io.Writer
}

// Backup saves every Cluster API object of a namespace, with the Secrets
// and ConfigMaps they own (the kubeconfig and CA Secrets among them), to a
// directory, as `clusterctl move --to-directory` does. Cluster API pauses
// the Clusters while it reads them and resumes them after. Call it before
// risky operations on a management cluster; restore with
// `clusterctl move --from-directory` (or Restore) onto a management cluster
// with the same providers. It needs clusterctl's provider inventory, i.e. a
// management cluster prepared by clusterctl init.
func Backup(ctx context.Context, opts BackupOptions) error {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("backup Cluster API objects: %w", err)
	}
	setClusterctlLog(opts.Log)
	c, err := clusterctl.New(ctx, opts.ClusterctlConfig)
	if err != nil {
		return fmt.Errorf("backup Cluster API objects: clusterctl configuration: %w", err)
	}
	err = c.Move(ctx, clusterctl.MoveOptions{
		FromKubeconfig: clusterctl.Kubeconfig{Path: opts.Kubeconfig, Context: opts.Context},
		Namespace:      opts.Namespace,
		ToDirectory:    opts.Dir,
	})
	if err != nil {
		return fmt.Errorf("backup Cluster API objects of namespace %q to %s: %w", opts.Namespace, opts.Dir, err)
	}
	return nil
}

// Restore creates the objects a Backup saved on a management cluster, as
// `clusterctl move --from-directory` does.
func Restore(ctx context.Context, opts BackupOptions) error {
	setClusterctlLog(opts.Log)
	c, err := clusterctl.New(ctx, opts.ClusterctlConfig)
	if err != nil {
		return fmt.Errorf("restore Cluster API objects: clusterctl configuration: %w", err)
	}
	err = c.Move(ctx, clusterctl.MoveOptions{
		ToKubeconfig:  clusterctl.Kubeconfig{Path: opts.Kubeconfig, Context: opts.Context},
		Namespace:     opts.Namespace,
		FromDirectory: opts.Dir,
	})
	if err != nil {
		return fmt.Errorf("restore Cluster API objects from %s: %w", opts.Dir, err)
	}
	return nil
}
