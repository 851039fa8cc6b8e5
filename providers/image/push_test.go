package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func multiArch(t *testing.T) Artifact {
	t.Helper()
	a, err := Build(context.Background(), Options{CABundle: caFile(t), Binaries: []Binary{
		{Platform: amd64(), Path: fakeELF(t, emX8664, "amd", false)},
		{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Path: fakeELF(t, emAArch64, "arm", false)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPushVerifiesTLS pushes to a registry served over TLS on loopback
// (go-containerregistry's registry): refused without its CA, pushed with it,
// and read back with the same digest.
func TestPushVerifiesTLS(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "registry-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	ref := host + "/rekindle:test"
	a := multiArch(t)
	opts := PushOptions{Keychain: authn.NewMultiKeychain()}
	if _, err := Push(ctx, a, ref, opts); err == nil {
		t.Fatal("pushed to a registry whose certificate is not trusted")
	}
	opts.CAFile = ca
	pinned, err := Push(ctx, a, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := a.Digest()
	if pinned != host+"/rekindle@"+want.String() {
		t.Errorf("pushed %s, want %s/rekindle@%s", pinned, host, want)
	}
	tr, err := transport(ca)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref)
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != want {
		t.Errorf("registry has %s, want %s", desc.Digest, want)
	}
}

func TestTransportRefusesPlainHTTPOffLoopback(t *testing.T) {
	tr, err := transport("")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://10.0.0.5:5000/v2/", "http://192.168.1.2/v2/", "http://registry.example/v2/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
			t.Errorf("%s: %v, want a refusal", u, err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("loopback plain HTTP: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("loopback status %d", resp.StatusCode)
	}
}

// TestWriteLayout writes the OCI layout tarball, unpacks it and reads it
// back with go-containerregistry's layout reader.
func TestWriteLayout(t *testing.T) {
	ctx := context.Background()
	a := multiArch(t)
	var buf, again bytes.Buffer
	if err := WriteLayout(ctx, &buf, a, "rekindle:test"); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(ctx, &again, a, "rekindle:test"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two writes of the same image differ")
	}
	dir := t.TempDir()
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		data, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := a.Digest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "rekindle:test" {
		t.Fatalf("index.json %+v, want one manifest %s", im.Manifests, want)
	}
	inner, err := idx.ImageIndex(want)
	if err != nil {
		t.Fatal(err)
	}
	innerM, _ := inner.IndexManifest()
	for _, d := range innerM.Manifests {
		img, err := inner.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		// Reading every layer verifies each blob against its digest.
		ls, _ := img.Layers()
		for _, l := range ls {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("layer of %s: %v", d.Platform, err)
			}
			rc.Close()
		}
	}
}
