package blueprints

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes as rekindle.yaml: Load must return a
// blueprint or an error, never panic, and render whatever it accepts.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*", FileName))
	seeds = append(seeds, filepath.Join("examples", "local", FileName))
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "apps", "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Load(dir)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, e := range r.Blueprint.Spec.Environments {
			for _, c := range e.Clusters {
				_, _ = r.Render(ctx, e.Name, c.Name, RenderOptions{})
			}
		}
	})
}

// FuzzDecodeObjects feeds arbitrary bytes as a workload file.
func FuzzDecodeObjects(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems: []\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"kind":"x"}]}`))
	f.Add([]byte(billionLaughs))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := decodeObjects(data)
		if err != nil {
			return
		}
		for _, o := range objs {
			if o.GetKind() == "" || o.GetName() == "" || o.GetAPIVersion() == "" {
				t.Fatalf("decoded an object without identity: %v", o.Object)
			}
		}
	})
}

// billionLaughs is a YAML alias bomb: nine levels of nine-fold expansion.
const billionLaughs = `apiVersion: v1
kind: ConfigMap
metadata: {name: lol}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// TestYAMLBombIsRefused: a workload file that expands to billions of nodes
// fails fast with an error instead of eating the machine's memory.
func TestYAMLBombIsRefused(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := decodeObjects([]byte(billionLaughs))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("an alias bomb decoded without error")
		}
		t.Logf("refused: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("decoding an alias bomb did not finish in 10s")
	}
}

// TestHugeWorkloadIsRefused: a workload directory of 100,000 files is
// refused after reading at most MaxWorkloadFiles entries.
func TestHugeWorkloadIsRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(FileName, "apiVersion: rekindle.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: t}\nspec:\n  environments:\n  - name: dev\n    clusters:\n    - name: a\n      provider: kwok\n      workloads:\n      - {name: apps, path: apps}\n")
	for i := 0; i < 100000; i++ {
		write(filepath.Join("apps", fmt.Sprintf("d%03d", i/1000), fmt.Sprintf("f%05d.txt", i)), "")
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Render(context.Background(), "dev", "a", RenderOptions{})
	if err == nil || !strings.Contains(err.Error(), "more than 10000 files") {
		t.Fatalf("err = %v, want the file limit named", err)
	}
}
