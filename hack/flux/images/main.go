// Command images builds the container images of the Flux controllers that
// hack/install-flux.sh compiled, so that a kind cluster runs them as the real
// pods of gotk-components without pulling anything: each image is FROM
// scratch, as upstream's Dockerfiles build them on alpine, with
//
//   - the static controller binary at /usr/local/bin/<name> (the entrypoint);
//   - the host's CA bundle at /etc/ssl/certs/ca-certificates.crt (HTTPS Git,
//     Helm and OCI sources);
//   - /etc/passwd and /etc/group with root and nobody (65534), the user the
//     image runs as (USER 65534:65534 upstream, runAsNonRoot in the
//     Deployments); HOME=/ for Helm and Git, which look for it, and
//     GNUPGHOME=/tmp as kustomize-controller's image sets it.
//
// Upstream's images also hold tini, git, openssh-client and gnupg
// (kustomize-controller): these do not, so kustomize-controller here cannot
// decrypt SOPS files encrypted with PGP (sops runs gpg for them; age and
// the cloud KMSs are Go) nor build kustomize remote bases fetched with git.
// /tmp and /data are emptyDirs in the Deployments (the root filesystem is
// read-only), so the image holds neither. Each image goes to its own OCI
// layout tarball, tagged with the reference gotk-components names:
//
//	images -o DIR ghcr.io/fluxcd/source-controller:v1.9.5=BINARY ...
//
// writes DIR/ghcr.io_fluxcd_source-controller_v1.9.5.tar (the reference
// with / and : as _, which is where rekindle looks, see flux.ImageArchive).
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rekindle-dev/rekindle/providers/image"
)

var epoch = time.Unix(0, 0).UTC()

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
	group  = "root:x:0:\nnobody:x:65534:\n"
)

func main() {
	out := flag.String("o", "", "the directory the image tarballs go to")
	ca := flag.String("ca", image.DefaultCABundle, "the CA bundle copied into each image")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: images -o DIR REF=BINARY ...")
		os.Exit(2)
	}
	for _, arg := range flag.Args() {
		ref, bin, ok := strings.Cut(arg, "=")
		if !ok {
			fail(fmt.Errorf("argument %q: want REF=BINARY", arg))
		}
		start := time.Now()
		file, err := build(context.Background(), ref, bin, *ca, *out)
		if err != nil {
			fail(fmt.Errorf("%s: %w", ref, err))
		}
		fmt.Fprintf(os.Stderr, "images: %s -> %s in %s\n", ref, file, time.Since(start).Round(time.Millisecond))
	}
}

// ArchiveName is the file an image of ref is written to (flux.ImageArchive
// reads the same name).
func ArchiveName(ref string) string {
	return strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(ref) + ".tar"
}

func build(ctx context.Context, ref, bin, ca, outDir string) (string, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return "", err
	}
	plat := v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}
	// Static only: the image has no libc (install-flux.sh builds with CGO_ENABLED=0).
	if err := image.CheckBinary(bin, plat); err != nil {
		return "", err
	}
	caData, err := os.ReadFile(ca)
	if err != nil || len(caData) == 0 {
		return "", fmt.Errorf("CA bundle %s: %v (empty or unreadable)", ca, err)
	}
	base, err := memLayer(map[string]memFile{
		"etc/passwd":                        {data: []byte(passwd), mode: 0o644},
		"etc/group":                         {data: []byte(group), mode: 0o644},
		"etc/ssl/certs/ca-certificates.crt": {data: caData, mode: 0o644},
	})
	if err != nil {
		return "", err
	}
	ctrl := filepath.Base(bin)
	dst := "/usr/local/bin/" + ctrl
	binLayer, err := binaryLayer(bin, dst)
	if err != nil {
		return "", err
	}
	img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON),
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "rekindle hack/flux/images: /etc/passwd, /etc/group, CA bundle"}},
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "rekindle hack/flux/images: " + dst}},
	)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch}
	cf.OS, cf.Architecture = plat.OS, plat.Architecture
	cf.Config = v1.Config{
		Entrypoint: []string{dst},
		User:       "65534:65534",
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "GNUPGHOME=/tmp"},
		Labels: map[string]string{
			"org.opencontainers.image.title":   ctrl,
			"org.opencontainers.image.version": tag.TagStr(),
			"org.opencontainers.image.source":  "https://github.com/fluxcd/" + ctrl,
			"dev.rekindle.built-by":            "hack/flux/images",
		},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	file := filepath.Join(outDir, ArchiveName(ref))
	f, err := os.CreateTemp(outDir, ".image-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := image.WriteLayout(ctx, f, image.Artifact{Image: img}, tag.Name()); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return file, os.Rename(f.Name(), file)
}

type memFile struct {
	data []byte
	mode int64
}

// memLayer is a layer of small files (and their parent directories), owned
// by root, at epoch, in a fixed order.
func memLayer(files map[string]memFile) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := writeDirs(tw, n, dirs); err != nil {
			return nil, err
		}
		f := files[n]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// binaryLayer is a layer holding the binary at dst, mode 0755, streamed
// from the file when the layer is first read.
func binaryLayer(src, dst string) (v1.Layer, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			defer f.Close()
			tw := tar.NewWriter(pw)
			name := strings.TrimPrefix(dst, "/")
			err := writeDirs(tw, name, map[string]bool{})
			if err == nil {
				err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: size, ModTime: epoch, Format: tar.FormatUSTAR})
			}
			if err == nil {
				var n int64
				if n, err = io.Copy(tw, io.LimitReader(f, size)); err == nil && n != size {
					err = fmt.Errorf("%s changed while it was read", src)
				}
			}
			if err == nil {
				err = tw.Close()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// writeDirs writes the parent directories of name not written yet.
func writeDirs(tw *tar.Writer, name string, done map[string]bool) error {
	var dirs []string
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if done[d] {
			continue
		}
		done[d] = true
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "images: ERROR:", err)
	os.Exit(1)
}
