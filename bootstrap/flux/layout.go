package flux

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rekindle-dev/rekindle/blueprints"
)

// Layout is what rekindle reads from a cluster's Flux directory.
type Layout struct {
	// Components are Flux's own objects (CRDs, Namespace, RBAC, controllers).
	Components []*unstructured.Unstructured
	// Sync holds gotk-sync.yaml's GitRepository and root Kustomization.
	Sync []*unstructured.Unstructured
	// DecryptionSecrets are the Secrets the Kustomizations under the
	// cluster directory decrypt SOPS files with (their
	// spec.decryption.secretRef), in their namespaces.
	DecryptionSecrets []types.NamespacedName
	// DecryptionPaths are the repo directories those Kustomizations build
	// (their spec.path), whose SOPS files must decrypt with the age key.
	DecryptionPaths []string
}

// Root returns the root Kustomization of gotk-sync.yaml.
func (l *Layout) Root() *unstructured.Unstructured {
	for _, o := range l.Sync {
		if o.GroupVersionKind().GroupKind() == Kustomization.GroupKind() {
			return o
		}
	}
	return nil
}

// Source returns the GitRepository of gotk-sync.yaml.
func (l *Layout) Source() *unstructured.Unstructured {
	for _, o := range l.Sync {
		if o.GroupVersionKind().GroupKind() == GitRepository.GroupKind() {
			return o
		}
	}
	return nil
}

// LoadLayout reads the cluster's Flux files from the repo checkout dir.
func LoadLayout(repo *blueprints.Repo, f *blueprints.Flux) (*Layout, error) {
	comps, err := readFile(repo, f.FluxComponents())
	if err != nil {
		return nil, err
	}
	sync, err := readFile(repo, f.FluxSync())
	if err != nil {
		return nil, err
	}
	l := &Layout{Components: comps, Sync: sync}
	if l.Root() == nil || l.Source() == nil {
		return nil, fmt.Errorf("read %q: want a GitRepository and a Kustomization, as `flux bootstrap` writes", f.FluxSync())
	}
	dir, err := repo.Path(f.Path)
	if err != nil {
		return nil, err
	}
	secrets, paths, err := decryptionSecrets(dir)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", f.Path, err)
	}
	l.DecryptionSecrets, l.DecryptionPaths = secrets, paths
	return l, nil
}

func readFile(repo *blueprints.Repo, rel string) ([]*unstructured.Unstructured, error) {
	abs, err := repo.Path(rel)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", rel, err)
	}
	objs, err := utils.ReadObjects(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", rel, err)
	}
	return objs, nil
}

// decryptionSecrets lists the secretRefs of SOPS decryption in the
// Kustomizations of every YAML file under dir (where `flux bootstrap` and
// the Flux guides put the cluster's Kustomizations).
func decryptionSecrets(dir string) ([]types.NamespacedName, []string, error) {
	seen := map[types.NamespacedName]bool{}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte("decryption")) {
			return nil
		}
		objs, err := utils.ReadObjects(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, o := range objs {
			if o.GroupVersionKind().GroupKind() != Kustomization.GroupKind() {
				continue
			}
			provider, _, _ := unstructured.NestedString(o.Object, "spec", "decryption", "provider")
			if provider != "sops" {
				continue
			}
			name, _, _ := unstructured.NestedString(o.Object, "spec", "decryption", "secretRef", "name")
			if name == "" {
				name = DefaultDecryptionSecret
			}
			ns := o.GetNamespace()
			if ns == "" {
				ns = Namespace
			}
			seen[types.NamespacedName{Namespace: ns, Name: name}] = true
			if p, _, _ := unstructured.NestedString(o.Object, "spec", "path"); p != "" {
				paths = append(paths, strings.TrimPrefix(path.Clean("/"+p), "/"))
			}
		}
		return nil
	})
	out := make([]types.NamespacedName, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	sort.Strings(paths)
	return out, slices.Compact(paths), err
}
