package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WriteLayout writes a as an OCI image layout in a tarball (oci-layout,
// index.json, blobs/sha256/...), the format `docker buildx --output
// type=oci`, skopeo (oci-archive:) and containerd's `ctr images import`
// read. refName, when set, is recorded as the org.opencontainers.image.ref.name
// annotation. The tarball is reproducible: entries in a fixed order, at epoch.
func WriteLayout(ctx context.Context, w io.Writer, a Artifact, refName string) error {
	lw := &layoutWriter{tw: tar.NewWriter(w), done: map[v1.Hash]bool{}}
	if err := lw.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := lw.dir("blobs/"); err != nil {
		return err
	}
	if err := lw.dir("blobs/sha256/"); err != nil {
		return err
	}
	var desc v1.Descriptor
	var err error
	if a.Index != nil {
		desc, err = lw.index(ctx, a.Index)
	} else {
		desc, err = lw.image(ctx, a.Image)
	}
	if err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	if refName != "" {
		desc.Annotations = map[string]string{"org.opencontainers.image.ref.name": refName}
	}
	top, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{desc}})
	if err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	if err := lw.file("index.json", top); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	if err := lw.tw.Close(); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	return nil
}

type layoutWriter struct {
	tw   *tar.Writer
	done map[v1.Hash]bool
}

func (lw *layoutWriter) dir(name string) error {
	return lw.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR})
}

func (lw *layoutWriter) file(name string, data []byte) error {
	return lw.stream(name, int64(len(data)), bytes.NewReader(data))
}

func (lw *layoutWriter) stream(name string, size int64, r io.Reader) error {
	if err := lw.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	n, err := io.Copy(lw.tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: wrote %d of %d bytes", name, n, size)
	}
	return err
}

func (lw *layoutWriter) blob(h v1.Hash, data []byte) error {
	if lw.done[h] {
		return nil
	}
	lw.done[h] = true
	return lw.file("blobs/"+h.Algorithm+"/"+h.Hex, data)
}

func (lw *layoutWriter) image(ctx context.Context, img v1.Image) (v1.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, l := range layers {
		if err := ctx.Err(); err != nil {
			return v1.Descriptor{}, err
		}
		h, err := l.Digest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		if lw.done[h] {
			continue
		}
		size, err := l.Size()
		if err != nil {
			return v1.Descriptor{}, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return v1.Descriptor{}, err
		}
		err = lw.stream("blobs/"+h.Algorithm+"/"+h.Hex, size, rc)
		rc.Close()
		if err != nil {
			return v1.Descriptor{}, err
		}
		lw.done[h] = true
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return v1.Descriptor{}, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := lw.blob(cfgName, cfg); err != nil {
		return v1.Descriptor{}, err
	}
	return lw.manifest(img)
}

func (lw *layoutWriter) index(ctx context.Context, idx v1.ImageIndex) (v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return v1.Descriptor{}, err
		}
		if _, err := lw.image(ctx, img); err != nil {
			return v1.Descriptor{}, err
		}
	}
	return lw.manifest(idx)
}

type manifested interface {
	RawManifest() ([]byte, error)
	Digest() (v1.Hash, error)
	MediaType() (types.MediaType, error)
}

func (lw *layoutWriter) manifest(m manifested) (v1.Descriptor, error) {
	raw, err := m.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	h, err := m.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := m.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := lw.blob(h, raw); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: h}, nil
}
