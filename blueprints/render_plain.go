package blueprints

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Limits of one plain YAML workload: a repo with a hundred thousand files
// or gigabytes of YAML is refused with a clear error in bounded time and
// memory rather than read whole.
const (
	MaxWorkloadFiles = 10000
	MaxWorkloadBytes = 64 << 20
)

// renderPlain reads every .yaml, .yml and .json file under dir, recursively,
// in lexical order, each possibly holding many documents.
// A file encrypted with SOPS (a top-level sops: key) is decrypted first.
func (r *Repo) renderPlain(dir string, dec *decrypter) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	entries, total := 0, 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entries++; entries > MaxWorkloadFiles {
			return fmt.Errorf("%s holds more than %d files and directories; split it into several workloads", r.rel(dir), MaxWorkloadFiles)
		}
		if d.IsDir() {
			if path != dir && isKustomization(path) {
				return fmt.Errorf("%s holds a kustomization inside a plain YAML workload; point a workload of its own at it", r.rel(path))
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symlink; plain YAML workloads must hold regular files", r.rel(path))
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		data, err := readLimited(path)
		if err != nil {
			return err
		}
		if total += len(data); total > MaxWorkloadBytes {
			return fmt.Errorf("%s holds more than %d MiB of YAML; split it into several workloads", r.rel(dir), MaxWorkloadBytes>>20)
		}
		if data, err = dec.read(path, data); err != nil {
			return err
		}
		got, err := decodeObjects(data)
		if err != nil {
			return fmt.Errorf("%s: %w", r.rel(path), err)
		}
		objs = append(objs, got...)
		return nil
	})
	return objs, err
}

func (r *Repo) rel(path string) string {
	if rel, err := filepath.Rel(r.Dir, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}

// decodeObjects splits a multi-document YAML (or JSON) stream into objects,
// skipping empty documents and flattening List kinds. Numbers come out as
// int64 or float64, as client-go expects of unstructured objects.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if t := bytes.TrimSpace(js); bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte("{}")) {
			continue
		}
		if !bytes.HasPrefix(bytes.TrimSpace(js), []byte("{")) {
			return nil, fmt.Errorf("document %d: not a Kubernetes object: a mapping with apiVersion, kind and metadata is expected", doc)
		}
		// One decode, as unstructured.UnmarshalJSON does it (apimachinery's
		// json: integers as int64), so that a missing kind is named by
		// checkObject rather than by the scheme's error.
		u := &unstructured.Unstructured{}
		if err := utiljson.Unmarshal(js, &u.Object); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if !u.IsList() {
			if err := checkObject(u); err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			for i := range list.Items {
				item := list.Items[i]
				if err := checkObject(&item); err != nil {
					return nil, fmt.Errorf("document %d, item %d: %w", doc, i, err)
				}
				out = append(out, &item)
			}
			continue
		}
		out = append(out, u)
	}
}

func checkObject(u *unstructured.Unstructured) error {
	var missing []string
	if u.GetAPIVersion() == "" {
		missing = append(missing, "apiVersion")
	}
	if u.GetKind() == "" {
		missing = append(missing, "kind")
	}
	if u.GetName() == "" {
		missing = append(missing, "metadata.name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("not a Kubernetes object: missing %s", strings.Join(missing, ", "))
	}
	return nil
}
