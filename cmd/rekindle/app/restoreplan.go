package app

import (
	"fmt"

	"github.com/rekindle-dev/rekindle/bootstrap/backupstore"
)

// printRestorePlans prints, for each restore workload of a cluster, the
// backup it would restore (its age and object count, the location), or
// why there is none; a store that could not be read is also a WARNING on
// stderr. No credential is in a plan.
func printRestorePlans(g *globals, cluster string, plans []backupstore.RestorePlan) {
	for _, p := range plans {
		fmt.Fprintf(g.streams.Out, "restore: cluster %q workload %q: %s\n", cluster, p.Workload, p)
		if p.Warning != "" {
			fmt.Fprintf(g.streams.Err, "WARNING: cluster %q restore workload %q: %s\n", cluster, p.Workload, p.Warning)
		}
	}
}
