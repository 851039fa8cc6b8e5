package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// checkoutTTL is how long an unused checkout directory is kept.
const checkoutTTL = 24 * time.Hour

// checkout makes dir/checkouts/<sha> hold exactly the files of commit hash
// and returns its path. An existing directory is reused only if it still
// matches the commit; otherwise the tree is written again. The caller holds
// the cache lock.
func checkout(ctx context.Context, dir string, repo *gogit.Repository, hash plumbing.Hash) (string, error) {
	commit, err := repo.CommitObject(hash)
	if err != nil {
		return "", fmt.Errorf("read commit %s: %w", hash, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", fmt.Errorf("read tree of %s: %w", hash, err)
	}
	base := filepath.Join(dir, "checkouts")
	final := filepath.Join(base, hash.String())
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	defer prune(base, final)

	if _, err := os.Stat(final); err == nil {
		clean, err := matches(ctx, final, tree)
		if err != nil {
			return "", err
		}
		if clean {
			now := time.Now()
			_ = os.Chtimes(final, now, now) // mark as used, for prune
			return final, nil
		}
	}

	tmp, err := os.MkdirTemp(base, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	if err := writeTree(ctx, tmp, tree); err != nil {
		return "", fmt.Errorf("check out %s: %w", hash, err)
	}
	if _, err := os.Stat(final); err == nil {
		// Modified since it was written: move it aside, then replace it.
		old, err := os.MkdirTemp(base, ".old-")
		if err != nil {
			return "", err
		}
		if err := os.Rename(final, filepath.Join(old, "x")); err != nil {
			return "", err
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return final, nil
}

// writeTree writes every file of tree below dir. os.Root keeps writes inside
// dir even if the tree holds symlinks or hostile paths.
func writeTree(ctx context.Context, dir string, tree *object.Tree) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return tree.Files().ForEach(func(f *object.File) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("unsafe path %q in tree", f.Name)
		}
		if parent := path.Dir(f.Name); parent != "." {
			if err := root.MkdirAll(filepath.FromSlash(parent), 0o755); err != nil {
				return err
			}
		}
		switch f.Mode {
		case filemode.Symlink:
			target, err := f.Contents()
			if err != nil {
				return err
			}
			return root.Symlink(target, name)
		case filemode.Executable:
			return writeBlob(root, name, f, 0o755)
		default: // Regular, Deprecated
			return writeBlob(root, name, f, 0o644)
		}
	})
}

func writeBlob(root *os.Root, name string, f *object.File, perm os.FileMode) error {
	r, err := f.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	out, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return root.Chmod(name, perm) // umask may have narrowed it
}

// matches reports whether dir holds exactly tree's files: same paths, types,
// executable bits and contents (compared as Git blob hashes).
func matches(ctx context.Context, dir string, tree *object.Tree) (bool, error) {
	want := map[string]*object.File{}
	if err := tree.Files().ForEach(func(f *object.File) error {
		want[f.Name] = f
		return nil
	}); err != nil {
		return false, err
	}
	errDirty := errors.New("dirty")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, ok := want[filepath.ToSlash(rel)]
		if !ok {
			return errDirty
		}
		delete(want, f.Name)
		var content []byte
		switch {
		case f.Mode == filemode.Symlink:
			if d.Type()&fs.ModeSymlink == 0 {
				return errDirty
			}
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			content = []byte(target)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if (info.Mode()&0o100 != 0) != (f.Mode == filemode.Executable) || info.Size() != f.Size {
				return errDirty
			}
			if content, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return errDirty
		}
		if plumbing.ComputeHash(plumbing.BlobObject, content) != f.Hash {
			return errDirty
		}
		return nil
	})
	switch {
	case errors.Is(err, errDirty):
		return false, nil
	case err != nil:
		return false, err
	}
	return len(want) == 0, nil
}

// prune removes leftovers of interrupted runs and checkouts unused for
// checkoutTTL, except keep. Errors are ignored: pruning is housekeeping.
func prune(base, keep string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(base, e.Name())
		if p == keep {
			continue
		}
		if strings.HasPrefix(e.Name(), ".") {
			_ = os.RemoveAll(p) // .tmp-*, .old-*: only ever used under the lock
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > checkoutTTL {
			_ = os.RemoveAll(p)
		}
	}
}
