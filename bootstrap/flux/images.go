package flux

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ImageDir is where hack/install-flux.sh writes the controllers' images
// (hack/flux/images): ToolsDir()/images.
func ImageDir() string { return filepath.Join(ToolsDir(), "images") }

// ImageArchive is the OCI layout tarball that holds image ref, tagged ref:
// ImageDir()/<ref with / and : as _>.tar, as hack/flux/images names it.
func ImageArchive(ref string) string {
	return filepath.Join(ImageDir(), strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(ref)+".tar")
}

// Images lists the images of the containers (and init containers) of the
// Deployments in the layout's components, each once, in order: what the
// controllers' pods run.
func (l *Layout) Images() []string {
	var out []string
	seen := map[string]bool{}
	for _, o := range l.Components {
		if o.GetKind() != "Deployment" {
			continue
		}
		for _, field := range []string{"initContainers", "containers"} {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", field)
			for _, c := range cs {
				m, _ := c.(map[string]any)
				if img, _ := m["image"].(string); img != "" && !seen[img] {
					seen[img] = true
					out = append(out, img)
				}
			}
		}
	}
	return out
}

// LocalImage is a controller image found in the tools cache.
type LocalImage struct {
	Ref     string
	Archive string
}

// LocalImages splits the layout's images into those the tools cache holds
// (an archive at ImageArchive tagged with the same reference) and the rest,
// which the nodes must pull. An archive that holds another reference is an
// error: it was not built for this layout.
func LocalImages(l *Layout) (local []LocalImage, missing []string, err error) {
	for _, ref := range l.Images() {
		a := ImageArchive(ref)
		if _, serr := os.Stat(a); serr != nil {
			missing = append(missing, ref)
			continue
		}
		got, rerr := ArchiveRef(a)
		if rerr != nil {
			return nil, nil, rerr
		}
		if got != ref {
			return nil, nil, fmt.Errorf("image archive %s holds %q, not %q (rebuild it with hack/install-flux.sh)", a, got, ref)
		}
		local = append(local, LocalImage{Ref: ref, Archive: a})
	}
	return local, missing, nil
}

// ArchiveRef reads the reference an OCI layout tarball's index.json names
// (the org.opencontainers.image.ref.name of its one manifest), skipping the
// blobs without reading them.
func ArchiveRef(archive string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("image archive %s: no index.json (not an OCI layout)", archive)
		}
		if err != nil {
			return "", fmt.Errorf("image archive %s: %w", archive, err)
		}
		if strings.TrimPrefix(h.Name, "./") != "index.json" {
			continue
		}
		var idx struct {
			Manifests []struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.NewDecoder(tr).Decode(&idx); err != nil {
			return "", fmt.Errorf("image archive %s: index.json: %w", archive, err)
		}
		if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] == "" {
			return "", fmt.Errorf("image archive %s: want one manifest with a reference name", archive)
		}
		return idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"], nil
	}
}
