package blueprints

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// renderKustomize builds a kustomization in process, as `kubectl kustomize`
// does, decrypting every SOPS-encrypted file it reads (resources,
// secretGenerator envs and files) as it reads it: the repo is not copied and
// no plaintext is written anywhere. Remote Git bases are checked out by
// rekindle's Git code (see remoteBasesFS), never by the git CLI.
func (r *Repo) renderKustomize(ctx context.Context, dir string, d *decrypter) ([]*unstructured.Unstructured, error) {
	fs, err := r.newRemoteBasesFS(ctx, decryptingFS{FileSystem: filesys.MakeFsOnDisk(), d: d})
	if err != nil {
		return nil, err
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(fs, dir)
	if err != nil && fs.err != nil {
		return nil, fmt.Errorf("kustomize build: remote base: %w", fs.err)
	}
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	var out []*unstructured.Unstructured
	for _, r := range res.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build: %s: %w", r.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("kustomize build: %s: %w", r.CurId(), err)
		}
		if err := checkObject(u); err != nil {
			return nil, fmt.Errorf("kustomize build: %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// decryptingFS is the on-disk file system, with SOPS files decrypted on read.
// Kustomize reads every input through ReadFile.
type decryptingFS struct {
	filesys.FileSystem
	d *decrypter
}

func (f decryptingFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return f.d.read(path, data)
}
