package main

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/rekindle-dev/rekindle/bootstrap/flux"
)

// A controller's image, as rekindle finds and loads it: tagged with the
// reference gotk-components names, in the archive flux.ImageArchive names,
// running the binary as nobody with passwd, group and the CA bundle; a
// dynamically linked binary is refused (the image has no libc).
func TestBuildControllerImage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "source-controller")
	build := exec.Command("go", "build", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REKINDLE_FLUX_DIR", filepath.Join(dir, "flux"))
	const ref = "ghcr.io/fluxcd/source-controller:v1.9.5"
	file, err := buildInto(t, ref, bin, ca)
	if err != nil {
		t.Fatal(err)
	}
	if file != flux.ImageArchive(ref) {
		t.Errorf("archive %s, rekindle looks for %s", file, flux.ImageArchive(ref))
	}
	if got, err := flux.ArchiveRef(file); err != nil || got != ref {
		t.Errorf("ArchiveRef = %q, %v; want %q", got, err, ref)
	}

	// Read the image back from the layout.
	lp := filepath.Join(dir, "layout")
	untar(t, file, lp)
	idx, err := layout.ImageIndexFromPath(lp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("index: %v %+v", err, m)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65534:65534" || strings.Join(cf.Config.Entrypoint, " ") != "/usr/local/bin/source-controller" || cf.OS != "linux" {
		t.Errorf("config: user %q, entrypoint %v, os %s", cf.Config.User, cf.Config.Entrypoint, cf.OS)
	}
	files := map[string]int64{}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				files[h.Name] = h.Mode
			}
		}
		rc.Close()
	}
	for name, mode := range map[string]int64{"usr/local/bin/source-controller": 0o755, "etc/passwd": 0o644, "etc/group": 0o644, "etc/ssl/certs/ca-certificates.crt": 0o644} {
		if got, ok := files[name]; !ok || got != mode {
			t.Errorf("file %s: mode %o, present %v; want %o (files %v)", name, got, ok, mode, files)
		}
	}

	// A binary linked with cgo is refused, naming the fix.
	if _, err := exec.LookPath("gcc"); err == nil {
		cgo := filepath.Join(dir, "cgo", "helm-controller")
		csrc := filepath.Join(dir, "cgo.go")
		os.WriteFile(csrc, []byte("package main\nimport \"C\"\nfunc main() {}\n"), 0o644)
		b := exec.Command("go", "build", "-o", cgo, csrc)
		b.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("go build with cgo: %v\n%s", err, out)
		}
		if _, err := buildInto(t, "ghcr.io/fluxcd/helm-controller:v1.6.4", cgo, ca); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Errorf("a dynamically linked binary: %v, want it refused", err)
		}
	}
}

func buildInto(t *testing.T, ref, bin, ca string) (string, error) {
	return build(t.Context(), ref, bin, ca, flux.ImageDir())
}

func untar(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
