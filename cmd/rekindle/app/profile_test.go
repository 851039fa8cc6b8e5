package app

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfileFlags(t *testing.T) {
	for _, name := range []string{"cpu", "heap", "goroutine"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name+".pprof")
			if code, _, stderr := run(t, "--profile", name, "--profile-output", out, "blueprint", "render", "-b", example); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// pprof's format: a gzip-compressed protocol buffer.
			z, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("%s is not a pprof profile: %v", out, err)
			}
			b, err := io.ReadAll(z)
			if err != nil || len(b) == 0 {
				t.Errorf("%s profile: %d bytes, %v", name, len(b), err)
			}
		})
	}
	t.Run("unknown profile", func(t *testing.T) {
		code, _, stderr := run(t, "--profile", "wall", "version")
		if code != ExitUsage || !strings.Contains(stderr, "--profile must be one of") {
			t.Errorf("exit %d, stderr %q; want 2 naming --profile", code, stderr)
		}
	})
	t.Run("unwritable output", func(t *testing.T) {
		code, _, stderr := run(t, "--profile", "cpu", "--profile-output", filepath.Join(t.TempDir(), "no", "such", "dir", "p"), "version")
		if code != ExitUsage || !strings.Contains(stderr, "--profile-output") {
			t.Errorf("exit %d, stderr %q; want 2 naming --profile-output", code, stderr)
		}
	})
}
