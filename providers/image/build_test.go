package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fakeELF writes a minimal 64-bit little-endian ELF executable header for
// machine, plus payload (so that two binaries can differ), and returns its
// path. interp adds a PT_INTERP program header (a dynamically linked binary).
func fakeELF(t *testing.T, machine uint16, payload string, interp bool) string {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&b, le, v) }
	phnum := uint16(0)
	phoff := uint64(0)
	if interp {
		phnum, phoff = 1, 64
	}
	w(uint16(2)) // ET_EXEC
	w(machine)
	w(uint32(1))
	w(uint64(0x400000)) // entry
	w(phoff)
	w(uint64(0)) // shoff
	w(uint32(0))
	w(uint16(64)) // ehsize
	w(uint16(56)) // phentsize
	w(phnum)
	w(uint16(64)) // shentsize
	w(uint16(0))
	w(uint16(0))
	if interp {
		w(uint32(3)) // PT_INTERP
		w(uint32(4))
		w(uint64(0))
		w(uint64(0))
		w(uint64(0))
		w(uint64(0))
		w(uint64(0))
		w(uint64(1))
	}
	b.WriteString(payload)
	path := filepath.Join(t.TempDir(), "rekindle")
	if err := os.WriteFile(path, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	emX8664   = 62
	emAArch64 = 183
)

func caFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func amd64() v1.Platform { return v1.Platform{OS: "linux", Architecture: "amd64"} }

type entry struct {
	mode     int64
	uid, gid int
	typ      byte
	mtime    time.Time
	data     string
}

// files reads every layer's tar, in order, keyed by name.
func files(t *testing.T, img v1.Image) (map[string]entry, []string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]entry{}
	var order []string
	for _, l := range layers {
		mt, _ := l.MediaType()
		if mt != types.OCILayer {
			t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(tr)
			out[h.Name] = entry{mode: h.Mode, uid: h.Uid, gid: h.Gid, typ: h.Typeflag, mtime: h.ModTime, data: string(data)}
			order = append(order, h.Name)
		}
		rc.Close()
	}
	return out, order
}

func TestBuildLayoutUserEntrypoint(t *testing.T) {
	ctx := context.Background()
	bin := fakeELF(t, emX8664, "payload-1", false)
	ca := caFile(t)
	a, err := Build(ctx, Options{Binaries: []Binary{{Platform: amd64(), Path: bin}}, CABundle: ca, Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Index != nil || a.Image == nil {
		t.Fatalf("one platform gives an image, not an index: %+v", a)
	}
	mt, _ := a.Image.MediaType()
	if mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	cf, err := a.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Entrypoint; len(got) != 2 || got[0] != "/rekindle" || got[1] != "agent" {
		t.Errorf("entrypoint %q", got)
	}
	if len(cf.Config.Cmd) != 0 {
		t.Errorf("cmd %q, want none", cf.Config.Cmd)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q", cf.Config.User)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("created %s, want the epoch", cf.Created.Time)
	}
	if cf.Config.Labels["org.opencontainers.image.version"] != "v1.2.3" {
		t.Errorf("labels %v", cf.Config.Labels)
	}
	wantEnv := map[string]bool{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt": true, "REKINDLE_STATE_DIR=/tmp/rekindle": true}
	for _, e := range cf.Config.Env {
		delete(wantEnv, e)
	}
	if len(wantEnv) != 0 {
		t.Errorf("env %q lacks %v", cf.Config.Env, wantEnv)
	}
	fs, order := files(t, a.Image)
	wantOrder := []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt", "rekindle"}
	if len(order) != len(wantOrder) {
		t.Fatalf("files %q, want %q", order, wantOrder)
	}
	for i := range order {
		if order[i] != wantOrder[i] {
			t.Fatalf("files %q, want %q", order, wantOrder)
		}
	}
	caData, _ := os.ReadFile(ca)
	binData, _ := os.ReadFile(bin)
	if e := fs["etc/ssl/certs/ca-certificates.crt"]; e.data != string(caData) || e.mode != 0o644 {
		t.Errorf("CA bundle: mode %o, %d bytes", e.mode, len(e.data))
	}
	if e := fs["rekindle"]; e.data != string(binData) || e.mode != 0o755 || e.typ != tar.TypeReg {
		t.Errorf("binary: mode %o type %c, %d bytes", e.mode, e.typ, len(e.data))
	}
	for name, e := range fs {
		if e.uid != 0 || e.gid != 0 || !e.mtime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: owner %d:%d mtime %s, want 0:0 at the epoch", name, e.uid, e.gid, e.mtime)
		}
	}
}

func TestDigestStable(t *testing.T) {
	ctx := context.Background()
	bin := fakeELF(t, emX8664, "payload-1", false)
	ca := caFile(t)
	build := func() v1.Hash {
		t.Helper()
		a, err := Build(ctx, Options{Binaries: []Binary{{Platform: amd64(), Path: bin}}, CABundle: ca, Version: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := build()
	// A later build, with the files touched, gives the same digest.
	later := time.Now().Add(time.Hour)
	for _, p := range []string{bin, ca} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if again := build(); again != first {
		t.Fatalf("same binary, new digest: %s then %s", first, again)
	}
	// Another binary gives another digest.
	data, _ := os.ReadFile(bin)
	if err := os.WriteFile(bin, append(data, 'x'), 0o755); err != nil {
		t.Fatal(err)
	}
	if changed := build(); changed == first {
		t.Fatalf("a different binary kept digest %s", first)
	}
}

func TestBuildMultiPlatformIndex(t *testing.T) {
	ctx := context.Background()
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	a, err := Build(ctx, Options{CABundle: caFile(t), Binaries: []Binary{
		{Platform: amd64(), Path: fakeELF(t, emX8664, "amd", false)},
		{Platform: arm, Path: fakeELF(t, emAArch64, "arm", false)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Index == nil {
		t.Fatal("two platforms give an index")
	}
	im, err := a.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests", im.MediaType, len(im.Manifests))
	}
	var caLayers []v1.Hash
	for i, want := range []string{"amd64", "arm64"} {
		d := im.Manifests[i]
		if d.Platform == nil || d.Platform.Architecture != want || d.Platform.OS != "linux" {
			t.Errorf("manifest %d platform %v, want linux/%s", i, d.Platform, want)
		}
		img, err := a.Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.Architecture != want {
			t.Errorf("image %d config architecture %s", i, cf.Architecture)
		}
		ls, _ := img.Layers()
		h, _ := ls[0].Digest()
		caLayers = append(caLayers, h)
	}
	if caLayers[0] != caLayers[1] {
		t.Errorf("the CA layer differs between platforms: %v", caLayers)
	}
}

func TestBuildRefusesWrongBinaries(t *testing.T) {
	ctx := context.Background()
	ca := caFile(t)
	notELF := filepath.Join(t.TempDir(), "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	for name, b := range map[string]Binary{
		"wrong architecture": {Platform: amd64(), Path: fakeELF(t, emAArch64, "", false)},
		"not an executable":  {Platform: amd64(), Path: notELF},
		"dynamically linked": {Platform: amd64(), Path: fakeELF(t, emX8664, "", true)},
	} {
		if _, err := Build(ctx, Options{CABundle: ca, Binaries: []Binary{b}}); err == nil {
			t.Errorf("%s: built an image", name)
		}
	}
	if _, err := Build(ctx, Options{CABundle: filepath.Join(t.TempDir(), "missing"), Binaries: []Binary{{Platform: amd64(), Path: fakeELF(t, emX8664, "", false)}}}); err == nil {
		t.Error("missing CA bundle: built an image")
	}
}

func TestResolveBinaries(t *testing.T) {
	amd := fakeELF(t, emX8664, "", false)
	arm := fakeELF(t, emAArch64, "", false)
	got, err := ResolveBinaries(nil, []string{"linux/arm64=" + arm, amd}, "/self")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Platform.Architecture != "arm64" || got[0].Path != arm || got[1].Platform.Architecture != "amd64" || got[1].Path != amd {
		t.Errorf("got %+v", got)
	}
	got, err = ResolveBinaries([]string{"linux/amd64", "linux/arm64"}, []string{"linux/arm64=" + arm, "linux/amd64=" + amd}, "/self")
	if err != nil || len(got) != 2 || got[0].Path != amd {
		t.Errorf("by --platform order: %+v %v", got, err)
	}
	for _, bad := range [][2][]string{
		{{"windows/amd64"}, nil},
		{{"linux/amd64", "linux/amd64"}, nil},
		{{"linux/riscv64"}, nil},
		{{"linux/amd64"}, {"linux/arm64=" + arm}},
		{nil, {"linux/arm64=" + arm, "linux/arm64=" + arm}},
	} {
		// riscv64: no binary given, and these tests do not run on riscv64.
		if got, err := ResolveBinaries(bad[0], bad[1], "/self"); err == nil {
			t.Errorf("platforms %q binaries %q: accepted %+v", bad[0], bad[1], got)
		}
	}
}
