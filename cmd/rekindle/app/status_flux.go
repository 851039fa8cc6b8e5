package app

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/rekindle-dev/rekindle/bootstrap/flux"
)

// fluxReady sums a Flux tree up for the cluster table: the root
// Kustomization's Ready and the source's revision.
func fluxReady(t *flux.Tree) (ready, commit string) {
	ready, commit = "-", "-"
	if len(t.Objects) > 0 && t.Objects[0].Found {
		ready = dash(t.Objects[0].Ready)
		if t.Objects[0].Ready != "True" && t.Objects[0].Reason != "" {
			ready += " (" + t.Objects[0].Reason + ")"
		}
	}
	if _, sha, ok := strings.Cut(t.Source.Revision, "sha1:"); ok {
		commit = fmt.Sprintf("%.12s", sha)
	}
	return ready, commit
}

// printFluxTree prints a cluster's Flux tree: its source, then each
// Kustomization and HelmRelease indented under what applied it.
func printFluxTree(w io.Writer, cluster string, t *flux.Tree) {
	fmt.Fprintf(w, "\n%s: Flux\n", cluster)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tREADY\tREVISION\tMESSAGE")
	row := func(o flux.Object, indent int) {
		ready := o.Ready
		if !o.Found {
			ready = "missing"
		}
		msg := o.Message
		if o.Stalled {
			msg = "Stalled: " + o.StalledMessage
		}
		if len(msg) > 100 {
			msg = msg[:97] + "..."
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", strings.Repeat("  ", indent), o.Ref(), dash(ready), dash(o.Revision), dash(msg))
	}
	row(t.Source, 0)
	for _, o := range t.Objects {
		row(o, o.Depth)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d object(s) in the Flux inventories\n", len(t.Entries))
}
