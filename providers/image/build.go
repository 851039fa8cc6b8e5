package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths and identity inside the image.
const (
	BinaryPath   = "/rekindle"
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
	User         = "65532:65532"
	// StateDir is the agent's state directory: under /tmp, which the chart
	// mounts as an emptyDir (the root filesystem is read-only).
	StateDir = "/tmp/rekindle"
)

// DefaultCABundle is the host's CA bundle (Debian, Ubuntu, Alpine).
const DefaultCABundle = "/etc/ssl/certs/ca-certificates.crt"

// Entrypoint is the image's entrypoint: the arguments that follow are the agent's flags.
var Entrypoint = []string{BinaryPath, "agent"}

// epoch is every timestamp in the image: files, config, history.
var epoch = time.Unix(0, 0).UTC()

// Binary is one rekindle executable and the platform it runs on.
type Binary struct {
	Platform v1.Platform
	Path     string
}

// Options configure Build.
type Options struct {
	// Binaries, one per platform. Required.
	Binaries []Binary
	// CABundle is the PEM file copied to CABundlePath (default DefaultCABundle).
	CABundle string
	// Version is recorded in the org.opencontainers.image.version label.
	Version string
	// Source is recorded in the org.opencontainers.image.source label.
	Source string
}

// Artifact is a built image: Index is set when it holds several platforms,
// Image otherwise.
type Artifact struct {
	Image v1.Image
	Index v1.ImageIndex
}

// Digest is the manifest (or index) digest.
func (a Artifact) Digest() (v1.Hash, error) {
	if a.Index != nil {
		return a.Index.Digest()
	}
	return a.Image.Digest()
}

// Build assembles the image for opts.Binaries. The files are read when the
// layers are first used (digest, push or write) and must not change until then.
func Build(ctx context.Context, opts Options) (Artifact, error) {
	if len(opts.Binaries) == 0 {
		return Artifact{}, fmt.Errorf("build image: no binary given")
	}
	ca := opts.CABundle
	if ca == "" {
		ca = DefaultCABundle
	}
	caInfo, err := os.Stat(ca)
	if err != nil {
		return Artifact{}, fmt.Errorf("build image: CA bundle: %w", err)
	}
	if !caInfo.Mode().IsRegular() || caInfo.Size() == 0 {
		return Artifact{}, fmt.Errorf("build image: CA bundle %q is not a non-empty file", ca)
	}
	caLayer, err := fileLayer(ca, CABundlePath, 0o644)
	if err != nil {
		return Artifact{}, err
	}
	seen := map[string]bool{}
	var imgs []v1.Image
	for _, b := range opts.Binaries {
		if err := ctx.Err(); err != nil {
			return Artifact{}, err
		}
		key := b.Platform.String()
		if seen[key] {
			return Artifact{}, fmt.Errorf("build image: platform %s given twice", key)
		}
		seen[key] = true
		img, err := platformImage(b, caLayer, opts)
		if err != nil {
			return Artifact{}, err
		}
		imgs = append(imgs, img)
	}
	if len(imgs) == 1 {
		return Artifact{Image: imgs[0]}, nil
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, img := range imgs {
		p := opts.Binaries[i].Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return Artifact{Index: idx}, nil
}

// platformImage is one platform's image: the shared CA layer, then the binary.
func platformImage(b Binary, caLayer v1.Layer, opts Options) (v1.Image, error) {
	if err := CheckBinary(b.Path, b.Platform); err != nil {
		return nil, err
	}
	binLayer, err := fileLayer(b.Path, BinaryPath, 0o755)
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base,
		mutate.Addendum{Layer: caLayer, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "rekindle agent image: CA bundle " + CABundlePath}},
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "rekindle agent image: binary " + BinaryPath}},
	)
	if err != nil {
		return nil, fmt.Errorf("build image for %s: %w", b.Platform, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build image for %s: %w", b.Platform, err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch}
	cf.OS, cf.Architecture, cf.Variant = b.Platform.OS, b.Platform.Architecture, b.Platform.Variant
	labels := map[string]string{"org.opencontainers.image.title": "rekindle"}
	if opts.Version != "" {
		labels["org.opencontainers.image.version"] = opts.Version
	}
	if opts.Source != "" {
		labels["org.opencontainers.image.source"] = opts.Source
	}
	cf.Config = v1.Config{
		Entrypoint: append([]string(nil), Entrypoint...),
		User:       User,
		WorkingDir: "/",
		Env: []string{
			"PATH=/",
			"SSL_CERT_FILE=" + CABundlePath,
			"REKINDLE_STATE_DIR=" + StateDir,
		},
		Labels: labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("build image for %s: %w", b.Platform, err)
	}
	return img, nil
}

// fileLayer is a layer holding src at dst (an absolute path), with its
// parent directories, owned by root, at epoch.
func fileLayer(src, dst string, mode int64) (v1.Layer, error) {
	info, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("image layer %s: %w", dst, err)
	}
	size := info.Size()
	opener := func() (io.ReadCloser, error) {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			defer f.Close()
			pw.CloseWithError(writeFileTar(pw, f, size, dst, mode))
		}()
		return pr, nil
	}
	l, err := tarball.LayerFromOpener(opener, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("image layer %s: %w", dst, err)
	}
	return l, nil
}

// writeFileTar writes a tar of dst's parent directories and dst itself, with
// size bytes read from r.
func writeFileTar(w io.Writer, r io.Reader, size int64, dst string, mode int64) error {
	tw := tar.NewWriter(w)
	name := strings.TrimPrefix(path.Clean(dst), "/")
	var dirs []string
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(r, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s changed while it was read: %d of %d bytes", dst, n, size)
	}
	return tw.Close()
}
