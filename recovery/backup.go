package recovery

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekindle-dev/rekindle/bootstrap"
	"github.com/rekindle-dev/rekindle/bootstrap/restore"
	"github.com/rekindle-dev/rekindle/providers/cluster"
)

// DrillBackup is the drill phase that takes a fresh backup before the loss (drill --backup).
const DrillBackup = "backup"

// Backup takes a fresh backup through the schedule of every restore
// workload (velero.schedule) of the clusters named (every cluster when
// none), as `velero backup create --from-schedule` does, and waits until
// each is Completed, so that the recovery that follows restores what the
// cluster holds now. up is the summary of the run that brought the
// clusters up: it has their kubeconfigs.
func Backup(ctx context.Context, opts bootstrap.Options, up *bootstrap.Summary, names []string) (string, error) {
	env, err := bootstrap.OpenEnv(ctx, opts)
	if err != nil {
		return "", err
	}
	defer env.Close()
	var done []string
	for _, c := range env.Clusters() {
		if len(names) > 0 && !slices.Contains(names, c.Name) {
			continue
		}
		var cl client.Client
		for _, w := range c.Workloads {
			if w.Restore == nil || w.Restore.Velero.Schedule == "" {
				continue
			}
			if cl == nil {
				if cl, err = clusterClient(up, c.Name); err != nil {
					return "", err
				}
			}
			b, err := (&restore.Runner{Client: cl}).BackupNow(ctx, w.Restore.VeleroNamespace(), w.Restore.Velero.Schedule)
			if err != nil {
				return "", fmt.Errorf("back up cluster %q for workload %q: %w", c.Name, w.Name, err)
			}
			done = append(done, fmt.Sprintf("%s: %s/%s (%d items)", c.Name, b.Namespace, b.Name, b.Items))
		}
	}
	if len(done) == 0 {
		return "no restore workload with a schedule: nothing to back up", nil
	}
	return "backed up " + strings.Join(done, ", "), nil
}

func clusterClient(up *bootstrap.Summary, name string) (client.Client, error) {
	var kubeconfig string
	if up != nil {
		for _, cs := range up.Clusters {
			if cs.Name == name {
				kubeconfig = cs.Kubeconfig
			}
		}
	}
	if kubeconfig == "" {
		return nil, fmt.Errorf("back up cluster %q: no kubeconfig in the run that brought it up", name)
	}
	cfg, err := cluster.RESTConfig(kubeconfig, "")
	if err != nil {
		return nil, fmt.Errorf("back up cluster %q: %w", name, err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("back up cluster %q: %w", name, err)
	}
	return c, nil
}
