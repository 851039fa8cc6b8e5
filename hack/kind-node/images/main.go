// Command images builds the container images preloaded into rekindle's
// offline kind node image (hack/kind-node-image.sh), with go-containerregistry
// and no registry: each image is a few layers of files taken from binaries
// built here and from the node's Debian root filesystem (glibc and, for
// kube-proxy, iptables), written to one docker-archive tarball that
// `ctr -n k8s.io images import` loads into the node's containerd.
//
//	images -rootfs DIR -out FILE IMAGE=BINARY[,EXTRA...] ...
//
// IMAGE is the reference the image is tagged with (kubeadm's names), BINARY
// the host file installed at /usr/local/bin/<base name> (and, for pause and
// coredns, at /<base name>, their upstream entrypoints). An EXTRA is
// "iptables", which adds the node's iptables, ip6tables and conntrack, or
// "applets", for a busybox BINARY: /bin/sh and the other applets that
// local-path-provisioner's helper scripts run, as links to it.
// Dynamically linked binaries get their shared libraries (from `ldd`, copied
// from -rootfs, the same Debian release as the build host).
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var epoch = time.Unix(0, 0).UTC()

// busyboxApplets are the commands of a busybox image ("applets" extra).
var busyboxApplets = []string{"/bin/sh", "/bin/mkdir", "/bin/rm", "/bin/ls", "/bin/cat", "/bin/chmod"}

// iptablesFiles are the node's iptables tools, as kube-proxy's upstream
// image (distroless-iptables) carries them; globs inside the root filesystem.
var iptablesFiles = []string{
	"/usr/sbin/iptables*", "/usr/sbin/ip6tables*", "/usr/sbin/xtables-*",
	"/usr/sbin/conntrack", "/usr/lib/x86_64-linux-gnu/xtables/*",
	"/etc/alternatives/iptables*", "/etc/alternatives/ip6tables*",
}

func main() {
	rootfs := flag.String("rootfs", "", "the node's root filesystem (shared libraries and iptables come from it)")
	out := flag.String("out", "", "the docker-archive tarball to write")
	flag.Parse()
	if *rootfs == "" || *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: images -rootfs DIR -out FILE IMAGE=BINARY[,iptables] ...")
		os.Exit(2)
	}
	if err := run(*rootfs, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "images: ERROR:", err)
		os.Exit(1)
	}
}

func run(rootfs, out string, specs []string) error {
	refs := map[name.Reference]v1.Image{}
	for _, s := range specs {
		ref, rest, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("image spec %q: want IMAGE=BINARY[,iptables]", s)
		}
		parts := strings.Split(rest, ",")
		tag, err := name.NewTag(ref)
		if err != nil {
			return fmt.Errorf("image spec %q: %w", s, err)
		}
		img, err := build(rootfs, parts[0], parts[1:])
		if err != nil {
			return fmt.Errorf("build %s: %w", ref, err)
		}
		refs[tag] = img
	}
	tmp := out + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

// build is one image: the binary's shared libraries (and extras) in one
// layer, the binary in another.
func build(rootfs, binary string, extras []string) (v1.Image, error) {
	base := path.Base(binary)
	files := map[string]source{} // image path -> its source
	elfs := []string{binary}
	var links []string
	for _, e := range extras {
		if e == "applets" {
			links = busyboxApplets
			continue
		}
		if e != "iptables" {
			return nil, fmt.Errorf("unknown extra %q", e)
		}
		for _, g := range iptablesFiles {
			matches, err := filepath.Glob(filepath.Join(rootfs, g))
			if err != nil {
				return nil, err
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("the root filesystem has no %s", g)
			}
			for _, m := range matches {
				files[strings.TrimPrefix(m, rootfs)] = source{path: m}
				if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() {
					elfs = append(elfs, m)
				}
			}
		}
	}
	for _, e := range elfs {
		libs, err := sharedLibs(e)
		if err != nil {
			return nil, err
		}
		for _, l := range libs {
			files[l] = source{path: filepath.Join(rootfs, l), follow: true}
		}
	}
	var layers []v1.Layer
	if len(files) > 0 {
		l, err := layer(files)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	bin := map[string]source{"/usr/local/bin/" + base: {path: binary, follow: true}}
	if base == "pause" || base == "coredns" {
		bin = map[string]source{"/" + base: {path: binary, follow: true}}
	}
	for _, l := range links {
		bin[l] = source{link: "/usr/local/bin/" + base}
	}
	bl, err := layer(bin)
	if err != nil {
		return nil, err
	}
	layers = append(layers, bl)
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch}
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for p, src := range bin {
		if src.link == "" {
			cf.Config.Entrypoint = []string{p}
		}
	}
	cf.Config.Labels = map[string]string{"org.opencontainers.image.source": "rekindle hack/kind-node-image.sh"}
	return mutate.ConfigFile(img, cf)
}

// sharedLibs lists the shared libraries `ldd` finds for an ELF file
// (none for a static one), with the dynamic loader.
func sharedLibs(file string) ([]string, error) {
	out, err := exec.Command("ldd", file).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %v: %s", file, err, out)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i, w := range f {
			if strings.HasPrefix(w, "/") && (i == 0 || f[i-1] == "=>") {
				libs = append(libs, w)
			}
		}
	}
	return libs, nil
}

// source is a file put in an image: symlinks stay symlinks unless follow
// (shared libraries, whose links point outside the image).
type source struct {
	path   string
	follow bool
	link   string // a symlink to this path instead of a file
}

// layer is a reproducible tar of files (image path -> source), owned by
// root, with their parent directories.
func layer(files map[string]source) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	dirs := map[string]bool{}
	for _, p := range paths {
		var parents []string
		for d := path.Dir(p); d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return nil, err
			}
		}
		if err := addFile(tw, files[p], strings.TrimPrefix(p, "/")); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

func addFile(tw *tar.Writer, s source, dst string) error {
	if s.link != "" {
		return tw.WriteHeader(&tar.Header{Name: dst, ModTime: epoch, Mode: 0o777, Typeflag: tar.TypeSymlink, Linkname: s.link})
	}
	src := s.path
	stat := os.Lstat
	if s.follow {
		stat = os.Stat
	}
	fi, err := stat(src)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: dst, ModTime: epoch, Mode: int64(fi.Mode().Perm())}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		h.Typeflag, h.Linkname = tar.TypeSymlink, target
		return tw.WriteHeader(h)
	}
	h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
