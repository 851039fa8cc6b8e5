package bootstrap

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rekindle-dev/rekindle/blueprints"
	"github.com/rekindle-dev/rekindle/providers/sops"
)

// validateFlux is the validate step's part for Flux clusters, before any
// infrastructure: each cluster's Flux layout loads, and every SOPS file in
// the directories its Kustomizations decrypt decrypts with the age key
// (the key must exist when any Kustomization decrypts). It returns those
// files, for the step's detail and for placing the key.
func (r *run) validateFlux(env *blueprints.Environment, keyErr error) ([]blueprints.EncryptedFile, error) {
	var files []blueprints.EncryptedFile
	seen := map[string]bool{}
	for _, c := range env.Clusters {
		if !isFlux(c) {
			continue
		}
		layout, _, _, err := r.fluxRefs(c)
		if err != nil {
			return nil, &UsageError{fmt.Sprintf("cluster %q: %v", c.Name, err)}
		}
		if len(layout.DecryptionSecrets) > 0 && r.keys.Empty() {
			msg := fmt.Sprintf("cluster %q: Kustomizations decrypt SOPS files with Secret %s, and no age key is set (%s); stopped before infra", c.Name, layout.DecryptionSecrets[0], sops.KeyHint)
			if keyErr != nil {
				msg = fmt.Sprintf("cluster %q: Kustomizations decrypt SOPS files with Secret %s, and %v", c.Name, layout.DecryptionSecrets[0], keyErr)
			}
			return nil, &UsageError{msg}
		}
		for _, rel := range layout.DecryptionPaths {
			dir, err := r.repo.Path(rel)
			if err != nil {
				return nil, &UsageError{fmt.Sprintf("cluster %q: a decrypting Kustomization's path: %v", c.Name, err)}
			}
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || seen[p] {
					return err
				}
				seen[p] = true
				data, err := os.ReadFile(p)
				if err != nil || !sops.IsEncrypted(p, data) {
					return err
				}
				name, _ := filepath.Rel(r.repo.Dir, p)
				_, derr := sops.Decrypt(name, p, data, r.keys)
				files = append(files, blueprints.EncryptedFile{Path: filepath.ToSlash(name), Err: derr})
				return nil
			})
			if err != nil && !os.IsNotExist(err) {
				return nil, fmt.Errorf("read %q: %w", rel, err)
			}
		}
	}
	if err := undecryptable(files, r.keys, keyErr); err != nil {
		return nil, err
	}
	return files, nil
}

// fluxKeyNote is the validate step's note on the files Flux decrypts.
func fluxKeyNote(files []blueprints.EncryptedFile) string {
	if len(files) == 0 {
		return ""
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Path
	}
	return fmt.Sprintf("; %d SOPS file(s) Flux decrypts (%s) decrypt with the age key", len(files), strings.Join(names, ", "))
}
