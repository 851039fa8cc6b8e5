package flux

import (
	"archive/tar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/ssa/utils"
)

// The images rekindle loads for a layout are those its Deployments name,
// found in the tools cache under the name hack/flux/images writes; an
// archive tagged with another reference is refused, not loaded.
func TestLocalImages(t *testing.T) {
	data, err := os.ReadFile("../../test/e2e/testdata/flux/gotk-components.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := utils.ReadObjects(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	l := &Layout{Components: objs}
	want := []string{"ghcr.io/fluxcd/source-controller:v1.9.5", "ghcr.io/fluxcd/kustomize-controller:v1.9.5", "ghcr.io/fluxcd/helm-controller:v1.6.4"}
	if got := l.Images(); !slices.Equal(got, want) {
		t.Fatalf("Images = %v, want %v", got, want)
	}
	dir := t.TempDir()
	t.Setenv("REKINDLE_FLUX_DIR", dir)
	if a := ImageArchive(want[0]); a != filepath.Join(dir, "images", "ghcr.io_fluxcd_source-controller_v1.9.5.tar") {
		t.Errorf("ImageArchive = %s", a)
	}
	local, missing, err := LocalImages(l)
	if err != nil || len(local) != 0 || !slices.Equal(missing, want) {
		t.Errorf("empty cache: %v %v %v", local, missing, err)
	}
	writeIndex := func(ref, as string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(ImageArchive(ref)), 0o755)
		f, err := os.Create(ImageArchive(ref))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tw := tar.NewWriter(f)
		idx := `{"schemaVersion":2,"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"` + as + `"}}]}`
		tw.WriteHeader(&tar.Header{Name: "blobs/sha256/00", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
		tw.Write([]byte("abc"))
		tw.WriteHeader(&tar.Header{Name: "index.json", Mode: 0o644, Size: int64(len(idx)), Typeflag: tar.TypeReg})
		tw.Write([]byte(idx))
		tw.Close()
	}
	writeIndex(want[0], want[0])
	local, missing, err = LocalImages(l)
	if err != nil || len(local) != 1 || local[0].Ref != want[0] || !slices.Equal(missing, want[1:]) {
		t.Errorf("one cached: %v %v %v", local, missing, err)
	}
	writeIndex(want[1], "ghcr.io/fluxcd/kustomize-controller:v1.8.0")
	if _, _, err := LocalImages(l); err == nil || !strings.Contains(err.Error(), "v1.8.0") {
		t.Errorf("an archive of another tag: %v, want it refused", err)
	}
}
