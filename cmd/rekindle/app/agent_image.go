package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rekindle-dev/rekindle/providers/image"
)

type agentImageFlags struct {
	binaries  []string
	platforms []string
	push      string
	output    string
	caFile    string
	caBundle  string
}

func newAgentImageCmd(g *globals) *cobra.Command {
	var f agentImageFlags
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the agent's container image from a rekindle binary (no Docker needed)",
		Long: `Build the OCI image the in-cluster agent runs, with go-containerregistry:
FROM scratch, the CA bundle at /etc/ssl/certs/ca-certificates.crt, the binary
at /rekindle, user 65532:65532, entrypoint ["/rekindle", "agent"]. The build
is reproducible: the same binary gives the same digest.

The binary is this rekindle by default; --binary linux/arm64=PATH (or a bare
PATH, its architecture read from the file) adds others, and several
platforms give a multi-platform image index. Binaries must be static Linux
executables (CGO_ENABLED=0; make build does that).

--push sends it to a registry with the credentials of Docker's config
(docker login) over verified TLS (plain HTTP only to a loopback registry);
--ca-file trusts a private registry CA. --output writes an OCI image layout
tarball (skopeo copy oci-archive:FILE, ctr images import).

Example: rekindle agent image --push registry.example/rekindle:dev`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgentImage(cmd.Context(), g, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.binaries, "binary", nil, "a rekindle binary: linux/ARCH=PATH, or PATH (repeatable; default: this executable)")
	fl.StringSliceVar(&f.platforms, "platform", nil, "platforms to build, e.g. linux/amd64,linux/arm64 (default: those of --binary, or this executable's)")
	fl.StringVar(&f.push, "push", "", "push the image to this reference, e.g. registry.example/rekindle:v1")
	fl.StringVar(&f.output, "output-file", "", "write the image as an OCI image layout tarball to this file")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of CAs trusted for the registry's TLS certificate, besides the system's")
	fl.StringVar(&f.caBundle, "ca-bundle", image.DefaultCABundle, "CA bundle copied into the image")
	return cmd
}

func runAgentImage(ctx context.Context, g *globals, f *agentImageFlags) error {
	self, err := image.Self()
	if err != nil {
		return err
	}
	bins, err := image.ResolveBinaries(f.platforms, f.binaries, self)
	if err != nil {
		return usageErrorf("%v", err)
	}
	var plats []string
	for _, b := range bins {
		if err := image.CheckBinary(b.Path, b.Platform); err != nil {
			return usageErrorf("%v", err)
		}
		plats = append(plats, b.Platform.String())
	}
	if _, err := os.Stat(f.caBundle); err != nil {
		return usageErrorf("--ca-bundle: %v", err)
	}
	if f.caFile != "" {
		if _, err := os.Stat(f.caFile); err != nil {
			return usageErrorf("--ca-file: %v", err)
		}
	}
	ver, _ := Version()
	a, err := image.Build(ctx, image.Options{Binaries: bins, CABundle: f.caBundle, Version: ver, Source: "https://github.com/rekindle-dev/rekindle"})
	if err != nil {
		return err
	}
	digest, err := a.Digest()
	if err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	res := map[string]any{"digest": digest.String(), "platforms": plats}
	if f.output != "" {
		if err := writeLayoutFile(ctx, f.output, a, f.push); err != nil {
			return err
		}
		res["outputFile"] = f.output
	}
	if f.push != "" {
		pinned, err := image.Push(ctx, a, f.push, image.PushOptions{CAFile: f.caFile})
		if err != nil {
			return err
		}
		res["pushed"] = f.push
		res["reference"] = pinned
	}
	if g.output == "json" {
		return writeJSON(g.streams.Out, res)
	}
	fmt.Fprintf(g.streams.Out, "image %s (%s)\n", digest, strings.Join(plats, ", "))
	if f.output != "" {
		fmt.Fprintf(g.streams.Out, "wrote %s\n", f.output)
	}
	if f.push != "" {
		fmt.Fprintf(g.streams.Out, "pushed %s\nuse it with agent.image: %s\n", f.push, res["reference"])
	}
	return nil
}

// writeLayoutFile writes the OCI layout tarball atomically.
func writeLayoutFile(ctx context.Context, path string, a image.Artifact, ref string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return usageErrorf("--output-file: %v", err)
	}
	defer os.Remove(tmp.Name())
	if err := image.WriteLayout(ctx, tmp, a, ref); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
