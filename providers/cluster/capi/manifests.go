package capi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// FieldManager owns the fields rekindle applies to the management cluster.
const FieldManager = "rekindle"

// LoadManifests reads every .yaml, .yml and .json file under dir
// (recursively, in lexical order, many documents per file, List kinds
// flattened) and sets namespace on objects that have none, except kinds
// known to be cluster-scoped.
func LoadManifests(dir, namespace string) ([]*unstructured.Unstructured, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read Cluster API manifests: %w", err)
	}
	sort.Strings(files)
	var out []*unstructured.Unstructured
	for _, f := range files {
		objs, err := decodeFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	for _, o := range out {
		if o.GetNamespace() == "" && !clusterScoped[o.GetKind()] {
			o.SetNamespace(namespace)
		}
	}
	return out, nil
}

// clusterScoped are the cluster-scoped kinds a Cluster API manifest may hold.
var clusterScoped = map[string]bool{
	"Namespace": true, "CustomResourceDefinition": true, "ClusterRole": true,
	"ClusterRoleBinding": true, "StorageClass": true, "PriorityClass": true,
}

func decodeFile(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("%s: document %d: apiVersion and kind are required", path, i+1)
		}
		if u.IsList() {
			err := u.EachListItem(func(o runtime.Object) error {
				item, ok := o.(*unstructured.Unstructured)
				if ok {
					out = append(out, item.DeepCopy())
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
			}
			continue
		}
		out = append(out, u)
	}
}

// checkCluster requires exactly one Cluster in objs, named name in namespace.
func checkCluster(objs []*unstructured.Unstructured, dir, namespace, name string) error {
	var clusters []string
	found := false
	for _, o := range objs {
		if o.GroupVersionKind().Group != clusterv1.GroupVersion.Group || o.GetKind() != "Cluster" {
			continue
		}
		clusters = append(clusters, o.GetNamespace()+"/"+o.GetName())
		if o.GetName() == name && o.GetNamespace() == namespace {
			found = true
		}
	}
	switch {
	case !found:
		return fmt.Errorf("the Cluster API manifests in %s hold no Cluster %s/%s (found: %s): the Cluster must be named like the blueprint's cluster", dir, namespace, name, orNone(clusters))
	case len(clusters) > 1:
		return fmt.Errorf("the Cluster API manifests in %s hold %d Clusters (%s): one directory makes one cluster", dir, len(clusters), strings.Join(clusters, ", "))
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// apply server-side applies the manifests for cluster name: CRDs and
// Namespaces first, then the rest. It never force-recreates an object.
func (p *provider) apply(ctx context.Context, m *management, name string) (int, error) {
	if p.opts.Manifests == "" {
		return 0, errors.New("no Cluster API manifests directory (capi.manifests)")
	}
	objs, err := LoadManifests(p.opts.Manifests, p.opts.Namespace)
	if err != nil {
		return 0, err
	}
	if err := checkCluster(objs, p.opts.Manifests, p.opts.Namespace, name); err != nil {
		return 0, err
	}
	rm := ssa.NewResourceManager(m.client, polling.NewStatusPoller(m.client, m.mapper, polling.Options{}), ssa.Owner{Field: FieldManager, Group: "rekindle.dev"})
	opts := ssa.DefaultApplyOptions()
	if _, err := rm.ApplyAllStaged(ctx, objs, opts); err != nil {
		if meta.IsNoMatchError(err) {
			return 0, fmt.Errorf("apply Cluster API manifests to management cluster %q: %w (are the providers that serve these kinds installed? pin them in capi.providers)", p.opts.ManagementName, err)
		}
		return 0, fmt.Errorf("apply Cluster API manifests to management cluster %q: %w", p.opts.ManagementName, err)
	}
	return len(objs), nil
}
