package app

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X github.com/rekindle-dev/rekindle/cmd/rekindle/app.version=v0.1.0".
var version = "dev"

// Version returns rekindle's version and the VCS revision it was built from.
func Version() (ver, commit string) {
	ver = version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
		if ver == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
	}
	return ver, commit
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print rekindle's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ver, commit := Version()
			if g.output == "json" {
				return writeJSON(g.streams.Out, map[string]string{"version": ver, "commit": commit, "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH})
			}
			fmt.Fprintf(g.streams.Out, "rekindle %s", ver)
			if commit != "" {
				fmt.Fprintf(g.streams.Out, " (commit %.12s)", commit)
			}
			fmt.Fprintf(g.streams.Out, " %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
